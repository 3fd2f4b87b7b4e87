"""Grafana Live path: Kafka windows and predictions -> Influx line protocol -> /api/live/push.

``lines`` holds the pure message -> line protocol functions, ``pusher`` the bounded, rate-limited
HTTP sender, ``service`` the Kafka consumer loop with its health and metrics endpoint.
"""
