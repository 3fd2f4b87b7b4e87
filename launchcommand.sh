#!/usr/bin/env bash
# PERRINN 424 telemetry platform entry point.
#
#   ./launchcommand.sh [up|down|status|logs|test|replay|simulate|sessions|laps|train|...] [--mode native|compose]
#
# This script only makes sure the platform's own pinned Python environment exists (uv, then
# requirements/platform.lock), then hands over to the Python launcher (`python -m launcher`),
# which does everything else. Run `./launchcommand.sh --help` for the commands.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG_FILE="${P424_CONFIG_FILE:-$ROOT/toolchain-config.env}"

# Setting lookup with the platform's precedence for the few values bash needs:
# environment > --set KEY=VALUE on the command line > toolchain-config.env > default.
setting() {
  local key=$1 default=$2 value="" arg prev=""
  for arg in "$@"; do
    if [[ "$prev" == "--set" && "$arg" == "$key="* ]]; then value="${arg#*=}"; fi
    prev=$arg
  done
  if [[ -n "${!key-}" ]]; then value="${!key}"; fi
  if [[ -z "$value" && -f "$CONFIG_FILE" ]]; then
    value="$(grep -E "^${key}=" "$CONFIG_FILE" | tail -n 1 | cut -d= -f2- || true)"
  fi
  echo "${value:-$default}"
}

STATE_DIR="$(setting PLATFORM_STATE_DIR .platform "$@")"
[[ "$STATE_DIR" = /* ]] || STATE_DIR="$ROOT/$STATE_DIR"
PYTHON_VERSION="$(setting PYTHON_VERSION 3.11 "$@")"
UV_VERSION="$(setting UV_VERSION 0.13.9 "$@")"

say() { printf '\033[1m[launch]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[launch] error:\033[0m %s\n' "$*" >&2; exit 1; }

PYTHON_BIN="$(command -v "python${PYTHON_VERSION}" || true)"
[[ -n "$PYTHON_BIN" ]] || die "python${PYTHON_VERSION} was not found on PATH. Install Python ${PYTHON_VERSION} (see README, Requirements)."

mkdir -p "$STATE_DIR/tools" "$STATE_DIR/venvs" "$STATE_DIR/logs"
UV_HOME="$STATE_DIR/tools/uv-$UV_VERSION"
UV="$UV_HOME/bin/uv"
if [[ ! -x "$UV" ]]; then
  say "installing uv $UV_VERSION (Python package installer) into $UV_HOME"
  rm -rf "$UV_HOME"
  "$PYTHON_BIN" -m venv "$UV_HOME" || die "could not create a virtual environment; on Debian install python${PYTHON_VERSION}-venv"
  "$UV_HOME/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION" \
    || die "pip could not install uv==$UV_VERSION from PyPI: check that PyPI is reachable"
fi

VENV="$STATE_DIR/venvs/platform"
LOCK="$ROOT/requirements/platform.lock"
STAMP="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [[ ! -f "$VENV/.p424-stamp" || "$(cat "$VENV/.p424-stamp")" != "$STAMP" ]]; then
  say "preparing the platform Python environment ($VENV) from requirements/platform.lock"
  [[ -x "$VENV/bin/python" ]] || "$UV" venv --quiet --python "$PYTHON_BIN" "$VENV"
  VIRTUAL_ENV="$VENV" "$UV" pip sync --quiet "$LOCK" \
    || die "installing requirements/platform.lock failed (see the messages above); PyPI must be reachable"
  VIRTUAL_ENV="$VENV" "$UV" pip install --quiet --no-deps -e "$ROOT" || die "installing the platform package failed"
  echo "$STAMP" > "$VENV/.p424-stamp"
fi

export P424_UV="$UV" P424_PYTHON_BIN="$PYTHON_BIN" P424_CONFIG_FILE="$CONFIG_FILE"
cd "$ROOT"
exec "$VENV/bin/python" -m launcher "$@"
