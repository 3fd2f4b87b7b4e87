"""The session archive: every closed session as Parquet in the object store (bronze, silver, gold).

- ``layout``: the keys; ``build``: rows -> deterministic Parquet (pure); ``writer``: Cassandra ->
  archive (idempotent, with the archive state in ``sessions``); ``reader``: sessions by id, windows
  recomputed as the stream computed them, DuckDB over ``s3://``; ``training``: the ML dataset's
  inputs from gold and silver. See the README, "Archive".
"""

from p424.archive.layout import FORMAT_VERSION, SessionKeys
from p424.archive.reader import ArchiveReader, NotArchivedError, duckdb_connection
from p424.archive.store import ArchiveStore

__all__ = ["FORMAT_VERSION", "ArchiveReader", "ArchiveStore", "NotArchivedError", "SessionKeys", "duckdb_connection"]
