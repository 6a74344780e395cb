"""Development tools, apart from the hub itself: the local Kafka broker and Keycloak that the
embedded default and the tests start, and the guided demonstration."""
