"""Native service definitions, one module per server."""
