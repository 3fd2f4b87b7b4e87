"""Grafana for the PERRINN 424 platform: dashboards as code, the Live pusher and provisioning.

- ``grafana.boards``: dashboards built from the channel catalog with grafana-foundation-sdk.
- ``grafana.generate`` (``python -m grafana generate [--check]``): writes the dashboards and the
  provisioning files kept in the repository (``grafana/dashboards``, ``grafana/provisioning``).
- ``grafana.live`` (``python -m grafana.live``): windows and predictions from Kafka to Grafana Live.
- ``grafana.sync``: creates or updates folder, datasources, dashboards and the pusher's service
  account in a running Grafana through its HTTP API (``./launchcommand.sh grafana-sync``).
"""
