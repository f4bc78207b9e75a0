#!/bin/sh
# The image's entrypoint (run by tini, PID 1): starts the binary named by ENGAGE_SERVICE.
#
#   docker run IMAGE                      -> $ENGAGE_SERVICE (excs, exas, excp or exrp)
#   docker run IMAGE --check-config       -> $ENGAGE_SERVICE --check-config (also --help, --version)
#   docker run IMAGE excp --version       -> that binary (excs, exas, excp, exrp, exec)
#   docker run IMAGE sh                   -> any other command, as given
#
# The binary replaces this shell (exec), so it receives tini's SIGTERM directly and its exit
# code is the container's.
set -eu

bindir=/usr/local/bin
services="excs exas excp exrp"
tools="$services exec"

is_one_of() { # word list
  for w in $2; do [ "$1" = "$w" ] && return 0; done
  return 1
}

first="${1:-}"
if [ -n "$first" ] && is_one_of "$first" "$tools"; then
  shift
  # A full path: `exec` alone would be the shell's builtin, not our binary.
  exec "$bindir/$first" "$@"
fi

case "$first" in
  "" | -*)
    svc="${ENGAGE_SERVICE:-}"
    if [ -z "$svc" ]; then
      echo "engage-entrypoint: set ENGAGE_SERVICE to one of: $services (or give the binary as the first argument)" >&2
      exit 64
    fi
    if ! is_one_of "$svc" "$services"; then
      echo "engage-entrypoint: ENGAGE_SERVICE=$svc is not one of: $services" >&2
      exit 64
    fi
    exec "$bindir/$svc" "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
