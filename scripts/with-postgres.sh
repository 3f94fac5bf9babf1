#!/usr/bin/env bash
# Runs its arguments with a throwaway PostgreSQL cluster: initdb's a fresh cluster in a temp
# dir (as an unprivileged user when run as root: initdb refuses root), starts it on a private
# port with its socket in that dir (no TCP listener), exports SWITCHYARD_TEST_PG_URL, runs the
# command, then stops the server and removes the cluster, pass or fail. Exits with the
# command's status. Needs PostgreSQL's initdb, pg_ctl and postgres (PATH, /usr/local/bin or
# /usr/lib/postgresql/*/bin); PG_BIN overrides where they are.
#   scripts/with-postgres.sh cargo test -p switchyard --lib store::
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  for d in /usr/local/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  echo "with-postgres.sh: initdb not found; install PostgreSQL or set PG_BIN" >&2
  exit 1
}
BIN="$(find_bin)"

DIR="$(mktemp -d /tmp/switchyard-pg.XXXXXX)"
chmod 755 "$DIR"
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb and postgres refuse to run as root: the cluster belongs to nobody.
  chown nobody "$DIR"
  RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi

# A free port (the socket lives in $DIR, but the port number names the socket file).
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cleanup() {
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"${RUN_AS[@]}" "$BIN/initdb" -D "$DIR/data" -U switchyard --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-p $PORT -k $DIR -c listen_addresses='' -c max_connections=300 ${PG_EXTRA_OPTS--c fsync=off}" start >/dev/null \
  || { cat "$DIR/server.log" >&2; exit 1; }

export SWITCHYARD_TEST_PG_URL="host=$DIR port=$PORT user=switchyard dbname=postgres"
echo "with-postgres.sh: PostgreSQL on $DIR (port $PORT)" >&2
set +e
"$@"
STATUS=$?
set -e
exit "$STATUS"
