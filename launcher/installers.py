"""Idempotent installers: pinned Python environments (uv), Maven classpaths, Java agents and Go binaries.

Every install records a stamp (a hash of what it was built from); a later run with the same
inputs does nothing, a changed pin rebuilds. Output goes to ``<state>/logs/install-*.log``; a
failure prints that log's tail and what to check.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from launcher import console
from launcher.console import PlatformError
from launcher.paths import StatePaths
from p424.config import REPO_ROOT, Config


def _digest(*parts: str | Path) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.read_bytes() if isinstance(p, Path) else p.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class Installer:
    def __init__(self, cfg: Config, paths: StatePaths) -> None:
        self.cfg = cfg
        self.paths = paths
        self.uv = os.environ.get("P424_UV") or shutil.which("uv") or ""
        self.python = os.environ.get("P424_PYTHON_BIN") or shutil.which(f"python{cfg.python_version}") or ""

    # ---------- helpers ----------
    def _run(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        log = self.paths.logs / f"install-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"\n$ {' '.join(argv)}\n".encode())
            out.flush()
            result = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
            )
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise PlatformError(
                f"installing {name} failed (exit {result.returncode}). Last lines of {log}:\n{tail}\n"
                "Check that the package registries (PyPI, Maven Central, the Go module proxy) are reachable, "
                "then run the command again."
            )

    @staticmethod
    def _stamped(stamp_file: Path, digest: str) -> bool:
        return stamp_file.exists() and stamp_file.read_text().strip() == digest

    # ---------- Python environments ----------
    def venv(self, name: str, lock: Path, install_project: bool = True) -> Path:
        """A virtual environment synced exactly to ``lock``, with this repository installed editable."""
        venv = self.paths.venv(name)
        stamp = venv / ".p424-stamp"
        digest = _digest(lock, REPO_ROOT / "pyproject.toml", self.cfg.python_version)
        if self._stamped(stamp, digest):
            return venv
        if not self.uv:
            raise PlatformError("uv is not available; run the platform through ./launchcommand.sh, which installs it")
        with console.step(f"install Python environment '{name}' from {lock.relative_to(REPO_ROOT)}"):
            if not (venv / "bin" / "python").exists():
                self._run(
                    f"venv-{name}",
                    [self.uv, "venv", "--quiet", "--python", self.python or self.cfg.python_version, str(venv)],
                )
            self._run(f"venv-{name}", [self.uv, "pip", "sync", str(lock)], env={"VIRTUAL_ENV": str(venv)})
            if install_project:
                self._run(
                    f"venv-{name}",
                    [self.uv, "pip", "install", "--no-deps", "-e", str(REPO_ROOT)],
                    env={"VIRTUAL_ENV": str(venv)},
                )
            stamp.write_text(digest)
        return venv

    # ---------- Maven ----------
    def maven_classpath(self, name: str, properties: dict[str, str]) -> Path:
        """Copy the runtime dependencies of build/maven/<name>/pom.xml into <install>/<name>-<digest>/libs."""
        pom = REPO_ROOT / "build" / "maven" / name / "pom.xml"
        digest = _digest(pom, *(f"{k}={v}" for k, v in sorted(properties.items())))
        dest = self.paths.install / f"{name}-{digest}"
        libs = dest / "libs"
        if self._stamped(dest / ".stamp", digest):
            return libs
        if not shutil.which("mvn"):
            raise PlatformError("Maven (mvn) is not on PATH: install Maven 3.8+ (Debian: apt-get install maven)")
        with console.step(
            f"resolve {name} jars from Maven Central ({', '.join(f'{k}={v}' for k, v in properties.items())})"
        ):
            shutil.rmtree(dest, ignore_errors=True)
            argv = [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
                *(f"-D{k}={v}" for k, v in properties.items()),
            ]
            self._run(f"maven-{name}", argv)
            (dest / ".stamp").write_text(digest)
        return libs

    def java_agent_jar(self, name: str, properties: dict[str, str]) -> Path:
        """Where java_agent builds build/java/<name> with these Maven properties (nothing is built here)."""
        root = REPO_ROOT / "build" / "java"
        inputs = [root / "build-agent.sh", root / name / "MANIFEST.MF", *sorted((root / name / "src").rglob("*.java"))]
        digest = _digest(*inputs, REPO_ROOT / "build" / "maven" / name / "pom.xml",
                         *(f"{k}={v}" for k, v in sorted(properties.items())))
        return self.paths.install / f"{name}-{digest}" / f"{name}.jar"

    def java_agent(self, name: str, properties: dict[str, str]) -> Path:
        """Build the Java agent in build/java/<name> (build/java/build-agent.sh, against build/maven/<name>'s
        classpath) into <install>/<name>-<digest>/<name>.jar, its libraries beside it."""
        agent = self.java_agent_jar(name, properties)
        dest, digest = agent.parent, agent.parent.name.rsplit("-", 1)[1]
        if self._stamped(dest / ".stamp", digest):
            return agent
        libs = self.maven_classpath(name, properties)
        for tool in ("javac", "jar"):
            if not shutil.which(tool):
                raise PlatformError(
                    f"{tool} is not on PATH: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)"
                )
        with console.step(f"build the {name} Java agent"):
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            script = REPO_ROOT / "build" / "java" / "build-agent.sh"
            self._run(f"java-{name}", ["sh", str(script), name, str(libs), str(dest)])
            (dest / ".stamp").write_text(digest)
        return agent

    # ---------- Go ----------
    def go_binary(self, name: str, module: str, version: str) -> Path:
        """``go install module@version`` into <install>/<name>-<version>/bin (statically linked)."""
        dest = self.paths.install / f"{name}-{version}"
        binary = dest / "bin" / module.rsplit("/", 1)[-1]
        if binary.exists():
            return binary
        if not shutil.which("go"):
            raise PlatformError("Go is not on PATH: install Go 1.24+ to build MinIO from source")
        with console.step(f"build {name} {version} from source (go install; a few minutes the first time)"):
            self._run(
                name, ["go", "install", f"{module}@{version}"], env={"GOBIN": str(dest / "bin"), "CGO_ENABLED": "0"}
            )
        return binary


def run_parallel(tasks: Sequence[Callable[[], object]], workers: int = 3) -> None:
    """Run independent install tasks concurrently; re-raise the first failure after all finish."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(t) for t in tasks]
        errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
