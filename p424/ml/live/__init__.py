"""Live lap-outcome predictions: ``python -m p424.ml.live`` (see ``service``; the state is in ``state``)."""
