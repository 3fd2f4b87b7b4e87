"""Lap-outcome ML: predict a lap's final time and net energy from the lap so far.

Modules, pure first:
- ``features``: feature definitions derived from the channel catalog, and ``LapSoFar``, the one
  accumulator that turns a lap's windows (Cassandra rows or live WindowMessages) into features.
- ``baseline``: the honest baseline (extrapolate the pace and energy rate so far).
- ``model``: the scikit-learn estimator (baseline plus a learned correction).
- ``evaluate`` and ``promotion``: metrics and the rules that move the ``champion`` alias.
- ``dataset`` (Cassandra), ``tracking`` (MLflow), ``pipeline`` (the steps the DAG runs),
  ``quality`` (data-quality checks) and ``live`` (the prediction service) do the I/O.

This package file imports nothing heavy: Airflow's environment imports ``p424.ml.quality`` and
``p424.ml.settings`` only.
"""
