"""PyFlink jobs of the platform: wiring only; the logic lives in p424.processing."""
