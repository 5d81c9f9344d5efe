#!/usr/bin/env bash
# A private PostgreSQL 15 for the tests (Debian's postgresql package): initdb in a
# temporary directory, pg_ctl starts it listening on 127.0.0.1 only, on a random
# free port, with its socket in that directory; stop removes everything. Run as
# root, the cluster belongs to the postgres user (initdb refuses root).
#
# As a script:
#   eval "$(tests/lib/pg.sh start)"   # prints shell assignments:
#     PG_DIR (all state; stop removes it)  PG_PORT  PG_URL (postgresql://…, no password)
#     PG_ADMIN_URL (the superuser's)  PG_PASSWORD_FILE (0600, the agent user's password)
#   tests/lib/pg.sh stop "$PG_DIR"
# As a library: source it; pg_start sets those variables, pg_stop stops and removes;
# pg_down stops the server only (fast shutdown, as an operator would), pg_up starts
# it again on the same port; pg_sql SQL runs SQL as the superuser (psql -At).
# Exits non-zero with the server's log on stderr when it cannot start: a test that
# needs PostgreSQL fails then, it does not skip.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# runs a command as the cluster's owner
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local i pw
	[ -x "$PG_BIN/initdb" ] || { echo "pg.sh: no $PG_BIN/initdb (Debian's postgresql package)" >&2; return 1; }
	PG_DIR=$(mktemp -d /tmp/s2i-agent-pg.XXXXXX) || return 1
	chmod 755 "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
	pw=pw-$RANDOM$RANDOM$RANDOM
	printf '%s\n' "$pw" >"$PG_DIR/agentpw.in"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 \
		>"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	# password logins over TCP for the agent's user; the superuser over the socket
	cat >"$PG_DIR/data/pg_hba.conf" <<HBA
local all postgres trust
host all agent 127.0.0.1/32 scram-sha-256
HBA
	for i in 1 2 3 4 5; do
		PG_PORT=$(pg_free_port)
		if pg_up; then
			break
		fi
		PG_PORT=
	done
	if [ -z "$PG_PORT" ]; then
		echo "pg.sh: PostgreSQL did not start:" >&2
		cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2 2>/dev/null
		return 1
	fi
	PG_ADMIN_URL="postgresql://postgres@/postgres?host=$PG_DIR&port=$PG_PORT"
	pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_ADMIN_URL" \
		-c "CREATE ROLE agent LOGIN PASSWORD '$pw'" -c "CREATE DATABASE s2i OWNER agent" \
		>"$PG_DIR/setup.log" 2>&1 || { cat "$PG_DIR/setup.log" >&2; return 1; }
	PG_PASSWORD_FILE=$PG_DIR/agentpw
	mv "$PG_DIR/agentpw.in" "$PG_PASSWORD_FILE"
	chmod 600 "$PG_PASSWORD_FILE"
	PG_URL="postgresql://agent@127.0.0.1:$PG_PORT/s2i"
}

pg_up() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=100" \
		start >"$PG_DIR/pg_ctl.log" 2>&1
}

pg_down() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >>"$PG_DIR/pg_ctl.log" 2>&1
}

pg_sql() {
	pg_as "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "postgresql://postgres@/s2i?host=$PG_DIR&port=$PG_PORT" -c "$1"
}

pg_stop() {	# [dir]
	local dir=${1:-${PG_DIR:-}}
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	[ -d "$dir/data" ] && pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start)
		pg_start || { pg_stop; exit 1; }
		printf 'PG_DIR=%q\nPG_PORT=%q\nPG_URL=%q\nPG_ADMIN_URL=%q\nPG_PASSWORD_FILE=%q\n' \
			"$PG_DIR" "$PG_PORT" "$PG_URL" "$PG_ADMIN_URL" "$PG_PASSWORD_FILE"
		;;
	stop) pg_stop "${2:-}" ;;
	*) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
	esac
fi
