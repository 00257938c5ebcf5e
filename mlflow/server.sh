#!/usr/bin/env sh
# A shared MLflow tracking server for request-dse studies (see mlflow/README.md).
#
#   HOST       address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)
#   PORT       port (default 5000)
#   BACKEND    backend store URI (default: SQLite in mlflow/server/mlflow.db)
#   ARTIFACTS  where artifacts go (default: mlflow/server/artifacts; s3://..., gs://... work too)
#   WORKERS    server worker processes (default 2)
#
# Studies point at it with `tracking: {uri: http://HOST:PORT}` or MLFLOW_TRACKING_URI.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/server"
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
BACKEND=${BACKEND:-sqlite:///$here/server/mlflow.db}
ARTIFACTS=${ARTIFACTS:-$here/server/artifacts}
WORKERS=${WORKERS:-2}
MLFLOW=${MLFLOW:-mlflow}
if [ -x "$here/../.venv/bin/mlflow" ] && [ "$MLFLOW" = mlflow ]; then MLFLOW="$here/../.venv/bin/mlflow"; fi
echo "MLflow tracking server: http://$HOST:$PORT (store $BACKEND, artifacts $ARTIFACTS)"
case "$HOST" in
  127.*|localhost|::1) ;;
  *) echo "warning: listening on $HOST: anyone who can reach port $PORT can read and change every" \
          "experiment, run and artifact; firewall it or put it behind an authenticating proxy" >&2 ;;
esac
exec "$MLFLOW" server --host "$HOST" --port "$PORT" --workers "$WORKERS" \
    --backend-store-uri "$BACKEND" --artifacts-destination "$ARTIFACTS" "$@"
