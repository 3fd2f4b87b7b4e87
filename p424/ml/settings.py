"""What a training run needs to know, as one immutable, JSON-able object.

Built from the platform configuration (``from_config``: the example and the CLI) or from what the
Airflow DAG resolved from its connections, variables and params (``from_dict``). Standard library
only: the DAG files import it in Airflow's own environment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from p424.config import Config

# Default resolution of the model's reference lap, metres; not the stored distance profile's step
# (p424.storage.schema.PROFILE_STEP_M), which the model does not read.
REFERENCE_LAP_STEP_M = 100.0


@dataclass(frozen=True)
class Hyperparameters:
    max_iter: int = 100
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    profile_step_m: float = REFERENCE_LAP_STEP_M  # resolution of the reference lap


@dataclass(frozen=True)
class TrainingSettings:
    cassandra_host: str
    cassandra_port: int
    keyspace: str
    mlflow_uri: str
    model_name: str
    min_laps: int = 6
    window_ms: int = 1000  # stored window size the features are built from
    validation_fraction: float = 0.25
    max_loss_ratio: float = 0.01  # sessions that lost more frames than this are left out (gaps distort laps)
    session_ids: tuple[int, ...] = ()  # empty: every stored session
    default_track: str = "Nordschleife"  # the track of sessions whose sender named none (DEFAULT_TRACK)
    source: str = "archive"  # where the dataset is read from (TRAINING_SOURCE; p424.ml.source.SOURCES)
    archive_prefix: str = ""  # the archive's keys start here inside the telemetry bucket (ARCHIVE_PREFIX)
    work_dir: str = ""  # where a run's dataset is kept between tasks
    run_label: str = ""  # e.g. the Airflow run id, recorded as a tag
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)

    def __post_init__(self) -> None:
        if self.min_laps < 2:
            raise ValueError("min_laps must be at least 2 (one lap to train on, one to validate)")
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be between 0 and 1")
        if not self.model_name:
            raise ValueError("model_name is empty: set MODEL_NAME in toolchain-config.env")
        if not self.default_track.strip():
            raise ValueError("default_track is empty: set DEFAULT_TRACK in toolchain-config.env")

    @property
    def experiment(self) -> str:
        return self.model_name

    @property
    def dataset_dir(self) -> Path:
        return Path(self.work_dir) / "datasets"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["session_ids"] = list(self.session_ids)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training settings {sorted(unknown)}; known: {sorted(known)}")
        values = dict(d)
        values["session_ids"] = tuple(int(s) for s in values.get("session_ids") or ())
        hp = values.get("hyperparameters") or {}
        values["hyperparameters"] = hp if isinstance(hp, Hyperparameters) else Hyperparameters(**hp)
        for name, kind in (
            ("cassandra_port", int),
            ("min_laps", int),
            ("window_ms", int),
            ("validation_fraction", float),
            ("max_loss_ratio", float),
        ):
            if name in values:
                values[name] = kind(values[name])
        return cls(**values)

    @classmethod
    def from_config(cls, cfg: Config, **overrides: Any) -> TrainingSettings:
        base: dict[str, Any] = {
            "cassandra_host": cfg.cassandra_contact,
            "cassandra_port": cfg.cassandra_port,
            "keyspace": cfg.cassandra_keyspace,
            "mlflow_uri": cfg.mlflow_url,
            "model_name": cfg.model_name,
            "min_laps": cfg.min_training_laps,
            "default_track": cfg.default_track,
            "window_ms": max(cfg.window_sizes),
            "work_dir": str(cfg.state_dir / "data" / "ml"),
            "source": cfg.training_source,
            "archive_prefix": cfg.archive_prefix,
        }
        base.update(overrides)
        return cls.from_dict(base)
