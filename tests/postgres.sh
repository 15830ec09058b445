# Sourced by tests/run: a PostgreSQL server for the collector tests. One already answering at
# $FEDHARDEN_TEST_PG (default postgres@127.0.0.1:5432, trust auth) is used as it is; otherwise
# Debian's postgresql package is installed if needed and a throwaway cluster of our own is
# started on a free loopback port, data under tests/.cache, and stopped when the run ends.
# Exports FEDHARDEN_TEST_PG (an admin URL) either way.

pg_answers() { # $1 = URL
    .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
}

pg_stop_own() {
    [ -n "${pg_own_data:-}" ] || return 0
    pg_as_owner "$pg_bin/pg_ctl" -D "$pg_own_data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_own_data"
}

pg_as_owner() { # PostgreSQL refuses to run as root: run its programs as the postgres user then
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

FEDHARDEN_TEST_PG=${FEDHARDEN_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}
if ! pg_answers "$FEDHARDEN_TEST_PG"; then
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        echo "tests/run: installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
    pg_bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
    pg_port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_own_data=$PWD/tests/.cache/pg-$pg_port
    rm -rf "$pg_own_data" && mkdir -p "$pg_own_data"
    [ "$(id -u)" = 0 ] && chown postgres: "$pg_own_data"
    echo "tests/run: no PostgreSQL at $FEDHARDEN_TEST_PG; starting a throwaway cluster on 127.0.0.1:$pg_port" >&2
    pg_as_owner "$pg_bin/initdb" -D "$pg_own_data" -U postgres --auth=trust -E UTF8 >tests/.cache/initdb.log 2>&1 \
        || { tail -20 tests/.cache/initdb.log >&2; exit 1; }
    trap pg_stop_own EXIT
    pg_as_owner "$pg_bin/pg_ctl" -D "$pg_own_data" -l "$pg_own_data/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories= -c fsync=off" start >/dev/null \
        || { tail -20 "$pg_own_data/server.log" >&2; exit 1; }
    FEDHARDEN_TEST_PG=postgresql://postgres@127.0.0.1:$pg_port/postgres
fi
export FEDHARDEN_TEST_PG
