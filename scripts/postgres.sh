# Start and stop a throwaway PostgreSQL server for the tests.
# Sets HEARD_TEST_POSTGRES_URL. Works as root (runs the server as `postgres`)
# or as an ordinary user. Uses the machine's PostgreSQL binaries, installing
# Debian's package if none are found.

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

start_postgres() {
  PG_BIN="$(find_pg_bin)"
  if [ -z "$PG_BIN" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      PG_BIN="$(find_pg_bin)"
    fi
  fi
  if [ -z "$PG_BIN" ]; then
    echo "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql" >&2
    return 1
  fi
  PG_DIR="$(mktemp -d /tmp/heard-pg.XXXXXX)"
  PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U heard -A trust -E UTF8 --no-locale >/dev/null
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o \
    "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
  export HEARD_TEST_POSTGRES_URL="postgresql+psycopg://heard@127.0.0.1:$PG_PORT/postgres"
  PG_RUN=("${run[@]}")
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
