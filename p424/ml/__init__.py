"""Lap-outcome ML: predict a lap's final time and net energy from the lap so far, per track.

Modules, pure first:
- ``features``: feature definitions derived from the channel catalog, and ``LapSoFar``, the one
  accumulator that turns a lap's windows (stored rows or live WindowMessages) into features.
- ``baseline``: the baselines a model must beat (pace extrapolation; the pit wall's reference lap,
  chosen in time order).
- ``model``: the scikit-learn estimator (a median lap plus a learned correction).
- ``dataset`` (which laps, which folds), ``evaluate`` (errors overall and by third of the lap against
  every baseline), ``promotion`` (who becomes a track's champion), ``card`` (the model card),
  ``tracks`` (a session's track, a track's registered model): decisions, tested without services.
- ``steps`` and ``typed``: the frozen records the steps pass each other as JSON.
- ``source`` (where training reads: the ``TrainingSource`` protocol, Cassandra through
  ``p424.storage.reader``), ``tracking`` (MLflow), ``pipeline`` (the steps the DAG runs),
  ``quality`` (data-quality checks) and ``live`` (the prediction service) do the I/O.

This package file imports nothing heavy: Airflow's environment imports ``p424.ml.quality`` and
``p424.ml.settings`` only.
"""
