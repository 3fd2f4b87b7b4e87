"""Bridge between the PERRINN 424 Unity simulator and the telemetry platform (protocol v1 over UDP)."""
