"""The hub's HTTP surface: REST ingress, operations API, health, metrics and AsyncAPI."""
