"""Grouping upserts into few Cassandra requests: the shared rule of every writer in the platform."""

from __future__ import annotations

from collections.abc import Sequence

from cassandra.query import BatchStatement, BatchType, PreparedStatement, Statement

Row = tuple[PreparedStatement, Sequence[object]]


def unlogged_batches(rows: Sequence[Row], size: int, consistency: int | None = None) -> list[Statement]:
    """``rows`` as requests: a lone row bound on its own, otherwise unlogged batches of ``size`` rows.

    Unlogged: no batch log, because every row the platform writes is an idempotent upsert that a
    replay rewrites anyway. ``consistency`` applies to the batches (a bound row keeps its statement's).
    """
    if len(rows) == 1:
        statement, params = rows[0]
        return [statement.bind(params)]
    out: list[Statement] = []
    for i in range(0, len(rows), size):
        batch = BatchStatement(BatchType.UNLOGGED, consistency_level=consistency)
        for statement, params in rows[i : i + size]:
            batch.add(statement, params)
        out.append(batch)
    return out

