"""Kafka topics of the platform and the admin operations on them."""
