"""Authentication and authorisation: verified tokens, registered clients, people\x27s roles, masking."""
