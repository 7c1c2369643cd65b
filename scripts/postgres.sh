#!/usr/bin/env bash
# scripts/postgres.sh: find, or start, the Postgres that `make run` and
# `make test` use. The one place this logic lives; the Makefile only calls it.
#
# Usage: scripts/postgres.sh COMMAND
#
#   url-for-run    print the DATABASE_URL for `make run`, trying in order:
#                    1. $DATABASE_URL
#                    2. a throwaway cluster in ./.data/pg (database syncd)
#                    3. `docker compose up -d postgres` (database syncd)
#                    4. otherwise: an error saying what to install or set
#   url-for-test   print the server URL the tests use (a superuser that may
#                  CREATE DATABASE and CREATE ROLE), trying in order:
#                    1. $SYNCD_TEST_DATABASE_URL
#                    2. $DATABASE_URL
#                    3. the machine's server, postgres://postgres@127.0.0.1:5432/postgres,
#                       if it answers
#                    4. the throwaway cluster in ./.data/pg (database postgres)
#                    5. docker compose (database postgres)
#                    6. otherwise: the same error
#   with-test-db CMD [ARG...]
#                  export SYNCD_TEST_DATABASE_URL (as url-for-test finds it)
#                  and exec CMD
#   start          start (or reuse) the throwaway cluster; print its URL
#   status         say whether the throwaway cluster runs (URL on stdout if so)
#   stop           stop the throwaway cluster (nothing to do if it is down)
#   clean          stop it and delete ./.data/pg
#
# Only URLs go to stdout; every message goes to stderr, so
# `DATABASE_URL=$(scripts/postgres.sh url-for-run)` is safe. Works from any
# directory. Idempotent: a running throwaway cluster is reused, a stopped one
# is started again (on its previous port if that is still free), and a stale
# postmaster.pid left by a crash is handled by pg_ctl.
#
# The throwaway cluster: initdb/pg_ctl from $PG_BIN, else from PATH, else the
# newest /usr/lib/postgresql/*/bin (or /usr/pgsql-*/bin); trust auth,
# superuser `postgres`, listening on 127.0.0.1 only (no Unix socket), on the
# first free port from 54329. initdb and postgres refuse to run as root, so as
# root they run as the `postgres` system user, which owns ./.data/pg.
# Durability is traded for speed (fsync=off): it is for development only.
#
# Knobs (environment):
#   PG_BIN                  directory holding initdb, pg_ctl and postgres
#   SYNCD_PG_PORT           first port probed for the throwaway cluster (54329)
#   SYNCD_PG_USER           system user that runs it when we are root (postgres)
#   SYNCD_SKIP_SYSTEM_PG=1  url-for-test does not try the server on 127.0.0.1:5432
#   SYNCD_NO_DOCKER=1       never fall back to docker compose
#   POSTGRES_PORT           host port docker-compose.yml publishes Postgres on (5432)

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
DATA_PARENT="$ROOT/.data"
DATA_DIR="$DATA_PARENT/pg"
LOG_FILE="$DATA_DIR/server.log"
LOCK_FILE="$DATA_PARENT/.pg.lock"
FIRST_PORT="${SYNCD_PG_PORT:-54329}"
SYSTEM_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
COMPOSE_FILE="$ROOT/docker-compose.yml"

# Set by find_pg_bin / pick_run_as.
INITDB="" PG_CTL="" PSQL="" PG_ISREADY="" RUN_AS=""
# Why each option was not usable, for the final error message.
REASONS=""

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
note_reason() { REASONS="${REASONS}  - $*"$'\n'; log "$*"; }

die_nothing_found() {
	local what=$1 # DATABASE_URL or SYNCD_TEST_DATABASE_URL
	{
		echo
		echo "postgres.sh: error: no PostgreSQL server available for syncd."
		if [[ -n $REASONS ]]; then
			echo "What was tried:"
			printf '%s' "$REASONS"
		fi
		echo "Do one of these, then run the command again:"
		echo "  - set $what to a server you can use, e.g."
		echo "      export $what='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'"
		echo "  - install the PostgreSQL server binaries (initdb, pg_ctl); a throwaway"
		echo "    cluster is then created in ./.data/pg:"
		echo "      Debian/Ubuntu: sudo apt-get install postgresql"
		echo "      Fedora/RHEL:   sudo dnf install postgresql-server"
		echo "      macOS:         brew install postgresql@16"
		echo "  - install Docker with the compose plugin and start its engine;"
		echo "    \`docker compose up -d postgres\` is then used"
	} >&2
	exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

url_for_port() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable\n' "$1" "$2"; }

# ---------------------------------------------------------------------------
# Locating the PostgreSQL binaries

bin_major() { # DIR -> major version of the initdb in DIR ("15"), or nothing
	"$1/initdb" --version 2>/dev/null | sed -n 's/.*(PostgreSQL) \([0-9][0-9]*\).*/\1/p' | head -n 1
}

usable_bin_dir() { [[ -x $1/initdb && -x $1/pg_ctl ]]; }

candidate_dirs() { # PATH's binaries first, then every installed version, newest first
	local d
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname -- "$(command -v initdb)"
	fi
	for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql@*/bin /usr/local/opt/postgresql@*/bin; do
		[[ -d $d ]] && printf '%s\n' "$d"
	done | awk '{ v = $0; gsub(/[^0-9.]+/, " ", v); split(v, a, " "); print a[1] "\t" $0 }' |
		sort -t "$(printf '\t')" -k1,1nr | cut -f2-
}

# find_pg_bin sets INITDB, PG_CTL, PSQL and PG_ISREADY. An existing cluster
# needs binaries of its own major version; a new one gets PATH's, else the
# newest installed.
find_pg_bin() {
	local want="" dir found=""
	if [[ -r $DATA_DIR/PG_VERSION ]]; then
		want=$(tr -d '[:space:]' <"$DATA_DIR/PG_VERSION")
	fi
	if [[ -n ${PG_BIN:-} ]]; then
		if ! usable_bin_dir "$PG_BIN"; then
			note_reason "PG_BIN=$PG_BIN does not hold initdb and pg_ctl"
			return 1
		fi
		found=$PG_BIN
	else
		while IFS= read -r dir; do
			usable_bin_dir "$dir" || continue
			if [[ -z $want || $(bin_major "$dir") == "$want" ]]; then
				found=$dir
				break
			fi
		done < <(candidate_dirs)
	fi
	if [[ -z $found ]]; then
		if [[ -n $want ]]; then
			note_reason "./.data/pg is a PostgreSQL $want cluster but no PostgreSQL $want server binaries were found (remove it with \`make clean-db\` to start over with the installed version)"
		else
			note_reason "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin"
		fi
		return 1
	fi
	if [[ -n $want && $(bin_major "$found") != "$want" ]]; then
		note_reason "./.data/pg is a PostgreSQL $want cluster but $found holds PostgreSQL $(bin_major "$found") (run \`make clean-db\` to start over)"
		return 1
	fi
	INITDB="$found/initdb"
	PG_CTL="$found/pg_ctl"
	PSQL="$found/psql"
	[[ -x $PSQL ]] || PSQL=$(command -v psql 2>/dev/null || true)
	PG_ISREADY="$found/pg_isready"
	[[ -x $PG_ISREADY ]] || PG_ISREADY=$(command -v pg_isready 2>/dev/null || true)
	return 0
}

# ---------------------------------------------------------------------------
# Running as the right user

file_owner() { stat -c %U -- "$1" 2>/dev/null || stat -f %Su -- "$1"; }

# pick_run_as sets RUN_AS: empty (run as ourselves) unless we are root, in
# which case the owner of an existing cluster, else the postgres system user.
pick_run_as() {
	RUN_AS=""
	is_root || return 0
	local owner=""
	if [[ -f $DATA_DIR/PG_VERSION ]]; then
		owner=$(file_owner "$DATA_DIR")
	fi
	if [[ -n $owner && $owner != root ]]; then
		RUN_AS=$owner
	else
		RUN_AS=${SYNCD_PG_USER:-postgres}
	fi
	if ! id -u "$RUN_AS" >/dev/null 2>&1; then
		note_reason "running as root, and initdb/postgres refuse root, but there is no '$RUN_AS' system user to run them as (create one: useradd --system --create-home $RUN_AS)"
		return 1
	fi
	return 0
}

# as_pg runs a command as RUN_AS (from /, which that user can always enter).
# fd 9 (the lock) is closed for it: a postmaster started by pg_ctl must not
# inherit the lock and hold it for as long as it runs.
as_pg() {
	if [[ -z $RUN_AS ]]; then
		"$@" 9>&-
	elif command -v runuser >/dev/null 2>&1; then
		(cd / && runuser -u "$RUN_AS" -- "$@") 9>&-
	elif command -v sudo >/dev/null 2>&1; then
		(cd / && sudo -n -u "$RUN_AS" -- "$@") 9>&-
	else
		# shellcheck disable=SC2016 # $0 and $@ are expanded by the inner shell
		(cd / && su -s /bin/sh "$RUN_AS" -c 'exec "$0" "$@"' "$@") 9>&-
	fi
}

# ---------------------------------------------------------------------------
# Small helpers

with_lock() { # run "$@" holding an exclusive lock on ./.data/.pg.lock
	mkdir -p "$DATA_PARENT"
	command -v flock >/dev/null 2>&1 || {
		"$@"
		return
	}
	# The lock is taken in this shell (not a subshell) so that what "$@"
	# records in REASONS reaches the final error message.
	local rc=0
	exec 9>"$LOCK_FILE"
	if ! flock -w 120 9; then
		exec 9>&-
		note_reason "timed out waiting for the lock $LOCK_FILE"
		return 1
	fi
	"$@" || rc=$?
	exec 9>&-
	return "$rc"
}

port_in_use() {
	local p=$1
	if command -v ss >/dev/null 2>&1; then
		if ss -Htan state listening 2>/dev/null | awk '{print $3}' | grep -Eq "[:.]$p\$"; then
			return 0
		fi
	fi
	# Anything accepting a connection on 127.0.0.1:$p also makes it unusable.
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		return 0
	fi
	return 1
}

free_port_from() {
	local p=$1 last=$(($1 + 200))
	while ((p <= last)); do
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	log "no free TCP port in $1-$last"
	return 1
}

# answers URL: 0 if the server at URL accepts a login and runs a query.
answers() {
	local url=$1 psql=${PSQL:-}
	[[ -n $psql ]] || psql=$(command -v psql 2>/dev/null || true)
	if [[ -n $psql ]]; then
		PGCONNECT_TIMEOUT=3 "$psql" -X -w -q -t -A -d "$url" -c 'select 1' >/dev/null 2>&1
		return
	fi
	local isready=${PG_ISREADY:-}
	[[ -n $isready ]] || isready=$(command -v pg_isready 2>/dev/null || true)
	[[ -n $isready ]] || return 1
	"$isready" -q -t 3 -d "$url" >/dev/null 2>&1
}

wait_until_answers() { # URL SECONDS
	local url=$1 i=0
	while ! answers "$url"; do
		i=$((i + 1))
		if ((i > $2 * 2)); then
			return 1
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------------------
# The throwaway cluster in ./.data/pg

cluster_pid() { # pid from postmaster.pid, if the file is there
	[[ -r $DATA_DIR/postmaster.pid ]] || return 1
	sed -n 1p "$DATA_DIR/postmaster.pid"
}

cluster_port() { # port of the running cluster, from postmaster.pid line 4
	sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null | tr -d '[:space:]'
}

previous_port() { # port of the last start, from postmaster.opts
	[[ -r $DATA_DIR/postmaster.opts ]] || return 0
	sed -n 's/.*"-p" "\([0-9][0-9]*\)".*/\1/p' "$DATA_DIR/postmaster.opts" | head -n 1
}

# A crash can leave a postmaster.pid whose pid now belongs to an unrelated
# process (likely in containers, where pids restart from 1); pg_ctl would then
# believe the server runs. Remove such a file; pg_ctl handles the rest.
clear_foreign_pidfile() {
	local pid comm
	pid=$(cluster_pid 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 0
	comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
	case $comm in
	postgres | postmaster | "") return 0 ;;
	esac
	log "removing stale $DATA_DIR/postmaster.pid (pid $pid is now '$comm', not postgres)"
	rm -f -- "$DATA_DIR/postmaster.pid"
}

cluster_running() {
	[[ -f $DATA_DIR/PG_VERSION ]] || return 1
	clear_foreign_pidfile
	as_pg "$PG_CTL" -D "$DATA_DIR" status >/dev/null 2>&1
}

init_cluster() {
	mkdir -p "$DATA_PARENT"
	if [[ -e $DATA_DIR && ! -f $DATA_DIR/PG_VERSION ]]; then
		log "removing incomplete $DATA_DIR (no PG_VERSION: an interrupted initdb?)"
		rm -rf -- "$DATA_DIR"
	fi
	local owner_note=""
	[[ -n $RUN_AS ]] && owner_note=" (owned by the '$RUN_AS' user)"
	log "creating a throwaway PostgreSQL $(bin_major "$(dirname -- "$INITDB")") cluster in $DATA_DIR$owner_note"
	mkdir -m 700 "$DATA_DIR"
	if [[ -n $RUN_AS ]]; then
		# The postgres user must be able to reach the directory.
		chmod a+x "$DATA_PARENT" 2>/dev/null || true
		chown "$RUN_AS": "$DATA_DIR"
		if ! as_pg test -w "$DATA_DIR"; then
			rm -rf -- "$DATA_DIR"
			note_reason "the '$RUN_AS' user cannot reach $DATA_DIR (a parent directory is not searchable by it, e.g. a checkout under /root); move the checkout, or set DATABASE_URL"
			return 1
		fi
	fi
	local out
	if ! out=$(as_pg "$INITDB" -D "$DATA_DIR" -U postgres --auth=trust --encoding=UTF8 --no-locale 2>&1); then
		printf '%s\n' "$out" >&2
		rm -rf -- "$DATA_DIR"
		note_reason "initdb failed (output above)"
		return 1
	fi
	# Appending keeps the file's owner; root may write it, and so may its owner.
	cat >>"$DATA_DIR/postgresql.conf" <<'EOF'

# ---- added by scripts/postgres.sh: a throwaway development/test cluster ----
listen_addresses = '127.0.0.1'
unix_socket_directories = ''	# TCP only: no socket directory to own, no path-length limit
max_connections = 200		# tests clone a database per test and run packages in parallel
# Durability is not wanted here; speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

start_cluster() { # start a stopped cluster on a free port
	local port prev attempt
	prev=$(previous_port)
	for attempt in 1 2 3; do
		if [[ -n $prev ]] && ! port_in_use "$prev"; then
			port=$prev
		else
			port=$(free_port_from "$FIRST_PORT") || return 1
		fi
		log "starting it on 127.0.0.1:$port (log: $LOG_FILE)"
		if as_pg "$PG_CTL" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 -o "-p $port" start >&2; then
			return 0
		fi
		if tail -n 20 "$LOG_FILE" 2>/dev/null | grep -Eq 'could not bind|could not create any TCP/IP sockets|Address already in use'; then
			log "port $port was taken meanwhile (attempt $attempt); trying another"
			prev=""
			FIRST_PORT=$((port + 1))
			continue
		fi
		break
	done
	log "pg_ctl start failed; the end of $LOG_FILE:"
	tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
	note_reason "the throwaway cluster in ./.data/pg did not start (log above)"
	return 1
}

ensure_database() { # PORT DB
	local port=$1 db=$2 exists
	[[ $db == postgres ]] && return 0
	if [[ -z $PSQL ]]; then
		note_reason "psql not found: cannot create database $db"
		return 1
	fi
	exists=$("$PSQL" -X -w -q -t -A -d "$(url_for_port "$port" postgres)" \
		-c "select 1 from pg_database where datname = '$db'") || return 1
	if [[ $exists != 1 ]]; then
		log "creating database $db"
		"$PSQL" -X -w -q -d "$(url_for_port "$port" postgres)" -c "create database \"$db\"" >&2 || return 1
	fi
}

# cluster_url DB: start or reuse the throwaway cluster and print its URL for
# database DB. Fails (with REASONS noted) if it cannot be had.
cluster_url() {
	local db=$1 port
	find_pg_bin || return 1
	pick_run_as || return 1
	if [[ ! -f $DATA_DIR/PG_VERSION ]]; then
		init_cluster || return 1
	elif [[ -n $RUN_AS && $(file_owner "$DATA_DIR") == root ]]; then
		log "handing $DATA_DIR to the '$RUN_AS' user"
		chown -R "$RUN_AS": "$DATA_DIR"
	fi
	if cluster_running; then
		port=$(cluster_port)
		log "reusing the throwaway cluster already running on 127.0.0.1:$port"
	else
		start_cluster || return 1
		port=$(cluster_port)
	fi
	if [[ ! $port =~ ^[0-9]+$ ]]; then
		note_reason "cannot read the port of the throwaway cluster from $DATA_DIR/postmaster.pid"
		return 1
	fi
	if ! wait_until_answers "$(url_for_port "$port" postgres)" 30; then
		note_reason "the throwaway cluster on 127.0.0.1:$port does not answer (see $LOG_FILE)"
		return 1
	fi
	ensure_database "$port" "$db" || return 1
	url_for_port "$port" "$db"
}

locked_cluster_url() { with_lock cluster_url "$@"; }

stop_cluster() {
	if [[ ! -f $DATA_DIR/PG_VERSION ]]; then
		log "no throwaway cluster in $DATA_DIR: nothing to stop"
		return 0
	fi
	if find_pg_bin && pick_run_as; then
		if cluster_running; then
			log "stopping the throwaway cluster in $DATA_DIR"
			as_pg "$PG_CTL" -D "$DATA_DIR" -m fast -w -t 60 stop >&2
		else
			log "the throwaway cluster in $DATA_DIR is not running"
		fi
		return 0
	fi
	# No matching binaries any more: signal the postmaster directly.
	local pid
	if pid=$(cluster_pid) && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
		log "stopping postmaster $pid (fast shutdown)"
		kill -INT "$pid"
		local i
		for i in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || return 0
			sleep 0.5
		done
		log "postmaster $pid did not stop"
		return 1
	fi
	log "the throwaway cluster in $DATA_DIR is not running"
}

clean_cluster() {
	stop_cluster
	if [[ -e $DATA_DIR ]]; then
		log "removing $DATA_DIR"
		rm -rf -- "$DATA_DIR"
	fi
}

status_cluster() {
	if [[ ! -f $DATA_DIR/PG_VERSION ]]; then
		log "no throwaway cluster in $DATA_DIR"
		return 3
	fi
	find_pg_bin || return 1
	pick_run_as || return 1
	if cluster_running; then
		log "the throwaway cluster in $DATA_DIR is running"
		url_for_port "$(cluster_port)" syncd
		return 0
	fi
	log "the throwaway cluster in $DATA_DIR is stopped"
	return 3
}

# ---------------------------------------------------------------------------
# docker compose

docker_usable() {
	if [[ ${SYNCD_NO_DOCKER:-} == 1 ]]; then
		note_reason "docker compose: skipped (SYNCD_NO_DOCKER=1)"
		return 1
	fi
	if ! command -v docker >/dev/null 2>&1; then
		note_reason "docker: not installed"
		return 1
	fi
	if ! docker compose version >/dev/null 2>&1; then
		note_reason "docker: the compose plugin is missing (\`docker compose version\` fails)"
		return 1
	fi
	if ! docker info >/dev/null 2>&1; then
		note_reason "docker: no engine answers (\`docker info\` fails); start Docker"
		return 1
	fi
}

compose() {
	# Compose interpolates the whole file, so the syncd service's required
	# CLERK_WEBHOOK_SECRET must have a value even to start only postgres.
	CLERK_WEBHOOK_SECRET="${CLERK_WEBHOOK_SECRET:-whsec_unused_by_postgres}" \
		docker compose --project-directory "$ROOT" -f "$COMPOSE_FILE" "$@"
}

compose_url() { # DB
	local db=$1 cid status i
	docker_usable || return 1
	log "starting Postgres with \`docker compose up -d postgres\`"
	if ! compose up -d postgres >&2; then
		note_reason "\`docker compose up -d postgres\` failed (output above)"
		return 1
	fi
	cid=$(compose ps -q postgres)
	log "waiting for the postgres container's healthcheck"
	for i in $(seq 1 120); do
		status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$cid" 2>/dev/null || echo gone)
		case $status in
		healthy) break ;;
		unhealthy | exited | dead | gone)
			compose logs --tail 30 postgres >&2 || true
			note_reason "the compose postgres container is $status (logs above)"
			return 1
			;;
		esac
		if ((i == 120)); then
			note_reason "the compose postgres container was not healthy after 60s"
			return 1
		fi
		sleep 0.5
	done
	url_for_port "${POSTGRES_PORT:-5432}" "$db"
}

# ---------------------------------------------------------------------------
# The two search orders

url_for_run() {
	if [[ -n ${DATABASE_URL:-} ]]; then
		log "using DATABASE_URL from the environment"
		printf '%s\n' "$DATABASE_URL"
		return 0
	fi
	locked_cluster_url syncd && return 0
	compose_url syncd && return 0
	die_nothing_found DATABASE_URL
}

url_for_test() {
	if [[ -n ${SYNCD_TEST_DATABASE_URL:-} ]]; then
		log "using SYNCD_TEST_DATABASE_URL from the environment"
		printf '%s\n' "$SYNCD_TEST_DATABASE_URL"
		return 0
	fi
	if [[ -n ${DATABASE_URL:-} ]]; then
		log "using DATABASE_URL from the environment"
		printf '%s\n' "$DATABASE_URL"
		return 0
	fi
	if [[ ${SYNCD_SKIP_SYSTEM_PG:-} == 1 ]]; then
		log "not trying 127.0.0.1:5432 (SYNCD_SKIP_SYSTEM_PG=1)"
	elif answers "$SYSTEM_URL"; then
		log "using the local server on 127.0.0.1:5432"
		printf '%s\n' "$SYSTEM_URL"
		return 0
	else
		note_reason "no server answers as postgres@127.0.0.1:5432"
	fi
	locked_cluster_url postgres && return 0
	compose_url postgres && return 0
	die_nothing_found SYNCD_TEST_DATABASE_URL
}

usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}" >&2
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	url-for-run) url_for_run ;;
	url-for-test) url_for_test ;;
	with-test-db)
		if [[ $# -eq 0 ]]; then
			log "with-test-db needs a command to run"
			exit 2
		fi
		local url
		url=$(url_for_test)
		export SYNCD_TEST_DATABASE_URL="$url"
		log "SYNCD_TEST_DATABASE_URL=$url"
		exec "$@"
		;;
	start)
		locked_cluster_url syncd || die_nothing_found DATABASE_URL
		;;
	status) status_cluster ;;
	stop) with_lock stop_cluster ;;
	clean) with_lock clean_cluster ;;
	-h | --help | help) usage ;;
	*)
		usage
		[[ -n $cmd ]] && log "unknown command: $cmd"
		exit 2
		;;
	esac
}

main "$@"
