"""Where the platform keeps its state: everything lives under one git-ignored directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from p424.config import Config


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @classmethod
    def of(cls, cfg: Config) -> StatePaths:
        return cls(cfg.state_dir)

    @property
    def install(self) -> Path:  # downloaded jars, built binaries
        return self.root / "install"

    @property
    def venvs(self) -> Path:
        return self.root / "venvs"

    @property
    def data(self) -> Path:  # service data: kept by `down`, removed by `down --wipe`
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:  # PID files
        return self.root / "run"

    @property
    def conf(self) -> Path:  # generated service configuration files
        return self.root / "conf"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.env"

    def venv(self, name: str) -> Path:
        return self.venvs / name

    def venv_python(self, name: str) -> Path:
        return self.venv(name) / "bin" / "python"

    def ensure(self) -> None:
        for p in (self.install, self.venvs, self.data, self.logs, self.run, self.conf):
            p.mkdir(parents=True, exist_ok=True)
