"""
### PERRINN 424: archive closed sessions to the object store

Writes every **closed** session (silent for longer than `ARCHIVE_CLOSED_AFTER_S`, one hour by
default: the stream job's forget horizon, after which it holds no state of the session and its
stored rows are final) to the `telemetry` bucket as Parquet: `bronze/` (every frame as received),
`silver/` (per lap, decoded, on the session clock and every 10 m, with quality flags), `gold/`
(lap summaries, session quality, predictions). Layout: README, "Archive"; code: `p424.archive`.

Why a scheduled DAG and not the stream job's idle signal: the job's `flush` fires after two
seconds of silence, while a session may still resume (its lap rows are provisional until then),
so archiving there would write sessions that are not final and put object-store I/O on the job's
hot path, inside its checkpoints. A schedule that picks up closed sessions from Cassandra is
idempotent by construction (the same rows give the same objects), retries a failed session on
the next run, archives again a session that changed after it was archived, and catches up on
everything stored before the archive existed.

Retention: Cassandra's raw frames and windows expire after `CASSANDRA_RAW_TTL_DAYS` /
`CASSANDRA_WINDOWS_TTL_DAYS` (30 days by default); with this DAG every `ARCHIVE_SCHEDULE` (15 min)
a session is archived about an hour after it ends, so a session gets hundreds of attempts before
its rows expire. A session the archive refuses (frames missing against the stream's count) is
reported and the run **fails** after archiving all others, so it shows.

Tasks: `resolve_settings` (Airflow: connection and params) -> `find_sessions` -> `archive`
(platform environment via `@task.external_python`; object store settings from the platform
configuration the launcher hands to DAG tasks). Params: `session_ids` (archive these, closed or
not), `closed_after_s`, `prefix` (keys under this prefix: tests).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Connection, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from p424.config import load_config


def _platform_python() -> str:
    default = load_config().state_dir / "venvs" / "platform" / "bin" / "python"
    return os.environ.get("P424_PLATFORM_PYTHON") or str(default)


def _schedule() -> str | None:
    value = os.environ.get("AIRFLOW_VAR_P424_ARCHIVE_SCHEDULE") or load_config().archive_schedule or "*/15 * * * *"
    return None if value.strip().lower() in ("none", "off", "manual") else value.strip()


@dag(  # type: ignore[untyped-decorator]  # Airflow is not installed where mypy runs
    dag_id="p424_archive",
    schedule=_schedule(),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=60),
    doc_md=__doc__,
    tags=["archive", "p424"],
    default_args={
        "owner": "p424-data",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=45),
    },
    params={
        "session_ids": Param(
            [],
            type="array",
            items={"type": ["integer", "string"]},
            description="archive these sessions (closed or not)",
        ),
        "closed_after_s": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            description="silence that closes a session; empty: the platform's",
        ),
        "prefix": Param("", type="string", description="key prefix inside the bucket; empty: the platform's"),
    },
)
def p424_archive() -> None:
    @task  # type: ignore[untyped-decorator]
    def resolve_settings() -> dict[str, Any]:
        params = get_current_context()["params"]
        cassandra = Connection.get("p424_cassandra")
        cfg = load_config()
        closed_after = params.get("closed_after_s")
        return {
            "host": str(cassandra.host),
            "port": int(cassandra.port or 9042),
            "keyspace": str(cassandra.schema or "telemetry"),
            "session_ids": [int(s) for s in params.get("session_ids") or ()],
            "closed_after_s": int(cfg.archive_closed_after_s if closed_after is None else closed_after),
            "prefix": str(params.get("prefix") or ""),
        }

    @task.external_python(python=_platform_python(), expect_airflow=False)  # type: ignore[untyped-decorator]
    def find_sessions(settings: dict[str, Any]) -> list[int]:
        """Closed sessions not archived in this format, or changed since (or the ones asked for)."""
        from cassandra.query import dict_factory

        from p424.archive.writer import sessions_to_archive
        from p424.config import load_config
        from p424.storage.cluster import connect

        if settings["session_ids"]:
            return list(settings["session_ids"])
        cfg = load_config().replace(cassandra_host=settings["host"], cassandra_port=settings["port"])
        cluster, session = connect(cfg, settings["keyspace"], row_factory=dict_factory)
        try:
            found = sessions_to_archive(session, settings["keyspace"], settings["closed_after_s"])
        finally:
            cluster.shutdown()
        print(f"{len(found)} session(s) to archive: {found}", flush=True)
        return found

    @task.external_python(python=_platform_python(), expect_airflow=False)  # type: ignore[untyped-decorator]
    def archive(settings: dict[str, Any], session_ids: list[int]) -> dict[str, Any]:
        """Archive each session (idempotent); report what was written and what was refused."""
        from cassandra.query import dict_factory

        from p424.archive.store import ArchiveStore
        from p424.archive.writer import archive_sessions, smallest_window_ms
        from p424.config import load_config
        from p424.storage.cluster import connect

        cfg = load_config().replace(cassandra_host=settings["host"], cassandra_port=settings["port"])
        store = ArchiveStore.from_config(cfg, prefix=settings["prefix"] or None)
        cluster, session = connect(cfg, settings["keyspace"], row_factory=dict_factory)
        try:
            done, failed = archive_sessions(session, settings["keyspace"], store, session_ids, smallest_window_ms(cfg))
        finally:
            cluster.shutdown()
        for a in done:
            print(f"archived session {a.session_id}: {a.frames} frames, laps {a.laps}, {a.bytes} bytes", flush=True)
        return {"archived": [a.as_dict() for a in done], "failed": {str(k): v for k, v in failed.items()}}

    @task  # type: ignore[untyped-decorator]
    def enforce(report: dict[str, Any]) -> dict[str, Any]:
        """Fail the run (after every other session was archived) when a session was refused."""
        if report["failed"]:
            lines = [f"session {sid}: {why}" for sid, why in report["failed"].items()]
            raise AirflowFailException("sessions not archived:\n" + "\n".join(lines))
        return {"archived": len(report["archived"])}

    settings = resolve_settings()
    enforce(archive(settings, find_sessions(settings)))


p424_archive()
