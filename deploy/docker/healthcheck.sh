#!/bin/sh
# The image's HEALTHCHECK: GET http://127.0.0.1:PORT/health of the service named by
# ENGAGE_SERVICE; healthy on 200, unhealthy otherwise (the services answer 503 while a
# dependency is down; the body names it).
#
# The port: ENGAGE_PORT when set, else the service's own port variable (EXCS_PORT, EXAS_PORT,
# EXCP_PORT or the bootstrap's EXCP_1_PORT, EXRP_PORT, as in .env), else its default
# (3640, 3630, 3650, 8080). ENGAGE_HEALTH_PATH (default /health) can point the check at
# /metrics, which answers 200 while the process serves HTTP (e.g. for a standby EXAS, whose
# /health reports the outbox lease held elsewhere as down).
set -eu

svc="${ENGAGE_SERVICE:-}"
case "$svc" in
  excs) port="${EXCS_PORT:-3640}" ;;
  exas) port="${EXAS_PORT:-3630}" ;;
  excp) port="${EXCP_PORT:-${EXCP_1_PORT:-3650}}" ;;
  exrp) port="${EXRP_PORT:-8080}" ;;
  *)
    echo "engage-healthcheck: ENGAGE_SERVICE must be excs, exas, excp or exrp (is '$svc')" >&2
    exit 1
    ;;
esac
port="${ENGAGE_PORT:-$port}"
path="${ENGAGE_HEALTH_PATH:-/health}"

exec curl --fail --silent --show-error --max-time 4 --output /dev/null \
  "http://127.0.0.1:${port}${path}"
