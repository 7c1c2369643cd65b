#!/usr/bin/env bash
# scripts/fuzz.sh: run every Fuzz* target in the module, one after the other,
# each for $FUZZTIME (default 30s). Targets are discovered with
# `go test -list '^Fuzz' ./...`; a target that finds a failure writes the
# input under its package's testdata/fuzz/ (keep it: it is a regression test).
#
# Usage: scripts/fuzz.sh [PACKAGES...]   (default ./...)
# Environment: FUZZTIME (30s), GO (go).

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
cd -- "$SCRIPT_DIR/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
[[ $# -gt 0 ]] || set -- ./...

log() { printf 'fuzz.sh: %s\n' "$*" >&2; }

listing=$("$GO" test -list '^Fuzz' "$@") || {
	printf '%s\n' "$listing" >&2
	log "go test -list failed"
	exit 1
}

# The listing prints each package's target names, then "ok  <package> <time>".
targets=() # "package target" pairs
pending=()
while IFS= read -r line; do
	case $line in
	Fuzz*)
		[[ $line =~ ^Fuzz[A-Za-z0-9_]*$ ]] && pending+=("$line")
		;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for name in ${pending[@]+"${pending[@]}"}; do
			targets+=("$pkg $name")
		done
		pending=()
		;;
	esac
done <<<"$listing"

if [[ ${#targets[@]} -eq 0 ]]; then
	log "no Fuzz* targets found in $*"
	exit 0
fi

log "${#targets[@]} fuzz target(s), $FUZZTIME each"
failed=()
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	log "== $name ($pkg)"
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"; then
		failed+=("$name ($pkg)")
	fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
	log "FAILED: ${failed[*]}"
	log "a new failing input is saved under its package's testdata/fuzz/<Target>/ (commit it: it becomes a regression test); rerun it with: go test -run '<Target>/<file>' <package>"
	exit 1
fi
log "all ${#targets[@]} fuzz target(s) passed"
