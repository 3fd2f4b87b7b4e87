"""Cassandra storage: schema (versioned CQL plus catalog-derived columns), migration, access."""
