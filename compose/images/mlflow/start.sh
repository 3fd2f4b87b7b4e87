#!/bin/sh
# The MLflow server in compose mode: `mlflow "$@"`, with auth on (P424_MLFLOW_APP=basic-auth, from
# compose-auth/mlflow.env) as MLflow's basic-auth app, configured as native mode configures it
# (launcher/services/mlflow.py basic_auth_ini; line breaks written as \n in the env file).
set -eu
if [ -n "${P424_MLFLOW_APP:-}" ]; then
  mkdir -p /var/lib/mlflow-auth /tmp/p424-mlflow
  chmod 700 /tmp/p424-mlflow
  printf '%b' "$P424_MLFLOW_AUTH_INI" > /tmp/p424-mlflow/basic_auth.ini
  export MLFLOW_AUTH_CONFIG_PATH=/tmp/p424-mlflow/basic_auth.ini
  exec mlflow "$@" --app-name "$P424_MLFLOW_APP"
fi
exec mlflow "$@"
