#!/usr/bin/env bash
# Airflow API server for compose mode. The simple auth manager opens its passwords file for
# writing (it adds users that are missing), so instead of a read-only mount the admin password
# from the generated credentials (AIRFLOW_ADMIN_PASSWORD) is written to a private file first.
set -euo pipefail
umask 077
python - <<'PY'
import json
import os

with open(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"], "w") as f:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
PY
exec airflow api-server "$@"
