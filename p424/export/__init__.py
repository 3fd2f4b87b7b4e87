"""Stored sessions written out: the simulator's lap-file CSV (``simcsv``) and Parquet (``parquet``);
``session`` reads a session's laps and writes them with progress."""
