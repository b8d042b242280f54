#!/bin/sh
# A throwaway PostgreSQL cluster for cio's tests, examples and benchmarks.
#
#   pg_fixture.sh start [STATEFILE]   initdb in a fresh temp dir, start the
#                                     server on 127.0.0.1 on a free port,
#                                     print the DSN (and write DIR and DSN
#                                     lines to STATEFILE when given)
#   pg_fixture.sh stop DIR|STATEFILE  stop the server and remove the dir
#   pg_fixture.sh restart DIR         stop (fast) and start again, same port
#   pg_fixture.sh halt DIR            stop the server (fast), keep the cluster
#   pg_fixture.sh resume DIR          start a halted server again, same port
#
# PostgreSQL refuses to run as root: as root, the cluster runs as the user
# $CIO_PG_OS_USER, else `postgres` if it exists, else `cio-test` (created).
# fsync is off: the data is thrown away anyway.
set -eu

pgbin=""
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && pgbin=$d
done
if [ -z "$pgbin" ]; then
    echo "pg_fixture: no PostgreSQL server found (apt-get install postgresql)" >&2
    exit 1
fi

run_as() { "$@"; }
osuser=$(id -un)
if [ "$(id -u)" = 0 ]; then
    osuser=${CIO_PG_OS_USER:-}
    if [ -z "$osuser" ]; then
        if id postgres >/dev/null 2>&1; then osuser=postgres; else osuser=cio-test; fi
    fi
    if ! id "$osuser" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$osuser"
    fi
    run_as() { setpriv --reuid="$osuser" --regid="$(id -g "$osuser")" --clear-groups -- "$@"; }
fi

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_start() { # dir port
    cd "$1" # the server's user may not be allowed into the caller's directory
    run_as "$pgbin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 -s \
        -o "-p $2 -k $1 -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB" start
}

cmd=${1:-}
case "$cmd" in
start)
    dir=$(mktemp -d /tmp/cio-pg.XXXXXX)
    chmod 755 "$dir"
    chown "$osuser" "$dir" 2>/dev/null || true
    cd "$dir"
    run_as "$pgbin/initdb" -D "$dir/data" -U cio --auth=trust -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # TLS with a throwaway self-signed certificate, so that tests can use
    # sslmode=require (plain connections keep working).
    if command -v openssl >/dev/null 2>&1 &&
        openssl req -new -x509 -days 2 -nodes -subj "/CN=127.0.0.1" \
            -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1; then
        chmod 600 "$dir/data/server.key"
        chown "$osuser" "$dir/data/server.key" "$dir/data/server.crt" 2>/dev/null || true
        echo "ssl = on" >>"$dir/data/postgresql.conf"
    fi
    ok=""
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if server_start "$dir" "$port" 2>>"$dir/start.log"; then ok=1; break; fi
    done
    if [ -z "$ok" ]; then
        cat "$dir/server.log" >&2 || true
        rm -rf "$dir"
        exit 1
    fi
    echo "$port" >"$dir/port"
    dsn="host=127.0.0.1 port=$port user=cio dbname=postgres"
    if [ -n "${2:-}" ]; then
        printf 'DIR=%s\nDSN=%s\n' "$dir" "$dsn" >"$2"
    fi
    echo "$dsn"
    ;;
stop | restart | halt | resume)
    arg=${2:?usage: pg_fixture.sh $cmd DIR|STATEFILE}
    if [ -f "$arg" ]; then
        dir=$(sed -n 's/^DIR=//p' "$arg")
    else
        dir=$arg
    fi
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        echo "pg_fixture: no cluster in '$arg'" >&2
        [ "$cmd" = stop ] && exit 0 # stopping is idempotent: nothing left to clean up
        exit 1
    fi
    if [ "$cmd" = restart ]; then
        run_as "$pgbin/pg_ctl" -D "$dir/data" -w -t 60 -s -m fast stop
        server_start "$dir" "$(cat "$dir/port")"
    elif [ "$cmd" = halt ]; then
        run_as "$pgbin/pg_ctl" -D "$dir/data" -w -t 60 -s -m fast stop
    elif [ "$cmd" = resume ]; then
        server_start "$dir" "$(cat "$dir/port")"
    else
        run_as "$pgbin/pg_ctl" -D "$dir/data" -w -t 60 -s -m immediate stop || true
        rm -rf "$dir"
        [ -f "$arg" ] && rm -f "$arg"
    fi
    ;;
*)
    echo "usage: pg_fixture.sh start [STATEFILE] | stop DIR|STATEFILE | restart|halt|resume DIR" >&2
    exit 2
    ;;
esac
