"""The launcher's structure: one explicit command table, no import cycle, every module importable alone."""

from __future__ import annotations

import ast
import contextlib
import inspect
import signal
import subprocess
import sys
from pathlib import Path

from launcher import cli
from launcher.command_table import COMMANDS
from p424.config import REPO_ROOT

LAUNCHER = REPO_ROOT / "launcher"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in LAUNCHER.rglob("*.py") if p.name != "__main__.py")


def imported_launcher_modules(path: Path) -> set[str]:
    """Launcher modules ``path`` imports anywhere (functions included), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from launcher import console` imports the module launcher.console
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return {m for m in found if m in MODULES}


def test_the_launcher_has_no_import_cycle() -> None:
    graph = {module_name(p): imported_launcher_modules(p) for p in LAUNCHER.rglob("*.py") if p.name != "__main__.py"}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
        if module in done:
            return
        for dep in sorted(graph.get(module, set()) - {"launcher"}):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert "launcher.cli" not in set().union(*(deps for m, deps in graph.items() if m != "launcher.__main__"))


def test_every_launcher_module_imports_on_its_own() -> None:
    # One fresh interpreter forks a child per module, so each import starts with no launcher module
    # imported. Third-party libraries are loaded once, before forking: only our import order is tested.
    script = (
        "import importlib, os, sys\n"
        "import cassandra.cluster, kafka, minio, requests, confluent_kafka\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except BaseException as err:\n"
        "            print(f'{name}: {type(err).__name__}: {err}', flush=True)\n"
        "            os._exit(1)\n"
        "        os._exit(0)\n"
        "    if os.waitpid(pid, 0)[1] != 0:\n"
        "        failed.append(name)\n"
        "sys.exit(1 if failed else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *MODULES], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_command_is_a_table_entry_with_a_plain_function_from_a_commands_module() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]
    for name, command in COMMANDS.items():
        assert inspect.isfunction(command.run), name
        assert command.run.__module__.startswith("launcher.commands"), name
        assert command.help, name
    assert {"up", "down", "status", "logs", "test", "replay", "simulate", "laps", "train", "grafana-sync"} <= set(
        COMMANDS
    )


def test_calling_the_cli_in_process_leaves_sigpipe_as_it_was() -> None:
    """`python -m launcher` restores the default SIGPIPE (a closed pipe ends it quietly); main() itself
    must not, or a test calling it would turn any later write to a closed socket into the death of the
    whole pytest run (as CI saw: exit -13 in a TLS handshake test after a test had called main())."""
    before = signal.getsignal(signal.SIGPIPE)
    with contextlib.suppress(SystemExit):
        cli.main(["--help"])
    assert signal.getsignal(signal.SIGPIPE) == before
    # The entry point still does, in its own process.
    probe = ("import runpy, signal, sys; sys.argv = ['launcher', '--help']\n"
             "try:\n    runpy.run_module('launcher', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr
