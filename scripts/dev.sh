#!/usr/bin/env bash
# scripts/dev.sh: the local development loop behind `make run` and
# `make send-test-event` (the Makefile builds ./bin/syncd first).
#
# Usage: scripts/dev.sh COMMAND
#
#   run              find or start Postgres (scripts/postgres.sh url-for-run),
#                    run `syncd migrate up`, make sure a webhook secret exists,
#                    print how to reach the server, then exec `syncd serve`
#   send-test-event  sign a sample Clerk event with the same secret and POST it
#                    to the running server (TYPE=user.updated picks the type)
#   secret           print the webhook secret `run` uses
#   webhook-url      print the webhook URL `run` serves
#
# The webhook secret is $CLERK_WEBHOOK_SECRET when set; otherwise a dev
# secret, `whsec_` + base64 of 32 random bytes, generated once and kept in
# ./.data/dev-webhook-secret so it survives restarts (delete it for a new one).
# The URL is http://localhost:<port of SYNCD_ADDR, default 8080>/webhooks/clerk;
# WEBHOOK_URL overrides it for send-test-event.

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
SYNCD="$ROOT/bin/syncd"
SECRET_FILE="$ROOT/.data/dev-webhook-secret"

log() { printf 'dev.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

need_binary() {
	[[ -x $SYNCD ]] || die "$SYNCD is missing: build it with \`make build\`"
}

# dev_secret prints the dev secret, creating ./.data/dev-webhook-secret once.
dev_secret() {
	if [[ ! -s $SECRET_FILE ]]; then
		mkdir -p "$ROOT/.data"
		local tmp raw
		raw=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
		[[ ${#raw} -eq 44 ]] || die "could not generate a webhook secret (head -c 32 /dev/urandom | base64 gave '${raw}')"
		tmp=$(umask 077 && mktemp "$ROOT/.data/.dev-webhook-secret.XXXXXX")
		printf 'whsec_%s\n' "$raw" >"$tmp"
		# Another `make run` may have written one meanwhile: keep the first.
		if [[ -s $SECRET_FILE ]]; then
			rm -f -- "$tmp"
		else
			mv -f -- "$tmp" "$SECRET_FILE"
			log "generated a dev webhook secret in .data/dev-webhook-secret"
		fi
	fi
	local secret
	secret=$(tr -d '[:space:]' <"$SECRET_FILE")
	[[ $secret == whsec_?* ]] || die "$SECRET_FILE does not hold a whsec_... secret; delete it and a new one is generated"
	printf '%s\n' "$secret"
}

# secret prints CLERK_WEBHOOK_SECRET if set, else the dev secret.
secret() {
	if [[ -n ${CLERK_WEBHOOK_SECRET:-} ]]; then
		printf '%s\n' "$CLERK_WEBHOOK_SECRET"
	else
		dev_secret
	fi
}

# listen_port prints the port of SYNCD_ADDR (":8080", "0.0.0.0:9000",
# "[::1]:9000", "localhost:9000"; default 8080).
listen_port() {
	local addr=${SYNCD_ADDR:-:8080} port
	port=${addr##*:}
	[[ $port =~ ^[0-9]+$ ]] || die "SYNCD_ADDR=$addr has no port; set it like :8080 or 127.0.0.1:8080"
	printf '%s\n' "$port"
}

webhook_url() {
	if [[ -n ${WEBHOOK_URL:-} ]]; then
		printf '%s\n' "$WEBHOOK_URL"
	else
		printf 'http://localhost:%s/webhooks/clerk\n' "$(listen_port)"
	fi
}

run() {
	need_binary
	local own_db=1
	[[ -n ${DATABASE_URL:-} ]] && own_db=0
	DATABASE_URL=$("$SCRIPT_DIR/postgres.sh" url-for-run)
	export DATABASE_URL

	log "applying migrations: syncd migrate up"
	"$SYNCD" migrate up

	local secret_note
	if [[ -n ${CLERK_WEBHOOK_SECRET:-} ]]; then
		secret_note="(from CLERK_WEBHOOK_SECRET)"
	else
		CLERK_WEBHOOK_SECRET=$(dev_secret)
		secret_note="(dev secret, kept in .data/dev-webhook-secret)"
	fi
	export CLERK_WEBHOOK_SECRET

	local url
	url=$(webhook_url)
	cat <<EOF

======================================================================
 syncd is starting (Ctrl-C stops it)

   Webhook URL:     $url
   Webhook secret:  $CLERK_WEBHOOK_SECRET
                    $secret_note
   DATABASE_URL:    $DATABASE_URL

 Send a signed test event (from another terminal, in this checkout):

   make send-test-event

EOF
	if ((own_db)); then
		cat <<'EOF'
 Postgres keeps running after Ctrl-C, for next time:
   make stop-db stops it, make clean-db deletes its data (./.data/pg).
EOF
	fi
	cat <<'EOF'
======================================================================

EOF
	exec "$SYNCD" serve
}

send_test_event() {
	need_binary
	if [[ -z ${CLERK_WEBHOOK_SECRET:-} ]]; then
		[[ -s $SECRET_FILE ]] || die "no dev webhook secret yet: start the server with \`make run\` first (it creates .data/dev-webhook-secret), or set CLERK_WEBHOOK_SECRET to the secret the server uses"
		CLERK_WEBHOOK_SECRET=$(dev_secret)
	fi
	export CLERK_WEBHOOK_SECRET
	local args=(send-test-event --url "$(webhook_url)")
	[[ -n ${TYPE:-} ]] && args+=(--type "$TYPE")
	log "running: bin/syncd ${args[*]}"
	exec "$SYNCD" "${args[@]}"
}

case ${1:-} in
run) run ;;
send-test-event) send_test_event ;;
secret) secret ;;
webhook-url) webhook_url ;;
*)
	sed -n '2,/^$/{s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}" >&2
	exit 2
	;;
esac
