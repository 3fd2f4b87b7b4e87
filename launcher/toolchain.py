"""System tools the test suite needs beyond the per-component environments.

Mono compiles and runs the Unity sender's C# against stand-ins (tests/test_unity_sender.py).
Debian packages are installed with apt-get when running as root; otherwise the message says
which packages to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from launcher import console
from launcher.console import PlatformError

APT_PACKAGES = {"mcs": "mono-mcs", "mono": "mono-runtime"}


def ensure_test_tools() -> None:
    missing = sorted({pkg for tool, pkg in APT_PACKAGES.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PlatformError(
            f"the tests need {', '.join(missing)}: install them (Debian/Ubuntu: sudo apt-get install -y "
            f"{' '.join(missing)})"
        )
    with console.step(f"install {', '.join(missing)} (Debian packages, for the Unity sender's C# tests)"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        update = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, env=env)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            capture_output=True,
            text=True,
            env=env,
        )
        if result.returncode != 0:
            raise PlatformError(
                f"apt-get install {' '.join(missing)} failed:\n{update.stderr[-1000:]}{result.stderr[-2000:]}"
            )
