"""The Flink job's code digest covers every module of ours the job imports, so changing one of them
makes the running job stale (``launcher.flink_submit.JOB_CODE``)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from launcher.flink_submit import JOB_CODE
from p424.config import REPO_ROOT

LOADED = "import sys; print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.startswith('p424.')))"


def job_imports() -> list[str]:
    """The job's imports of p424, as statements (PyFlink itself is not installed in this environment)."""
    found = []
    for path in sorted((REPO_ROOT / "flink_jobs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("p424"):
                found.append(ast.unparse(node))
    return found


def test_every_module_the_job_loads_is_in_its_code_digest() -> None:
    program = "\n".join([*job_imports(), LOADED])
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    loaded = [Path(line).resolve().relative_to(REPO_ROOT) for line in out.stdout.split()]
    assert any(p.as_posix() == "p424/storage/writes.py" for p in loaded)
    # Package markers hold docstrings only; every module with code must be hashed.
    uncovered = [
        p.as_posix()
        for p in loaded
        if p.name != "__init__.py" and not any(p == Path(entry) or Path(entry) in p.parents for entry in JOB_CODE)
    ]
    assert not uncovered, f"add to launcher/flink_submit.py JOB_CODE: {uncovered}"
