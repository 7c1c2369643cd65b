#!/usr/bin/env bash
# scripts/fuzz.sh: run every Fuzz* target, one after the other (go test
# fuzzes one target per invocation), each for $FUZZTIME (default 30s).
#
# Targets are found in the packages whose _test.go files declare a
# `func Fuzz...`, and listed with `go test -list` (so only targets that
# build count). Every target runs even after one fails; the script then
# exits 1 and names the failures. A target that finds a failing input saves
# it under its package's testdata/fuzz/<Target>/: once the bug is fixed,
# commit it there and it runs as a regression test in every `go test`.
#
# Usage: scripts/fuzz.sh [PACKAGES...]   (default: every package with a target)
# Environment: FUZZTIME (30s), GO (go), FUZZFLAGS (extra go test flags,
# e.g. FUZZFLAGS='-parallel 4').
#
#   make fuzz         30 s each
#   make fuzz-short   3 s each (CI: .ci/run)

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
cd -- "$SCRIPT_DIR/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
read -r -a extra <<<"${FUZZFLAGS:-}"

log() { printf 'fuzz.sh: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
	# Packages (as ./dir) with a Fuzz target in a test file; vendored code,
	# testdata and the local database directory are not searched.
	mapfile -t dirs < <(grep -rlE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' \
		--exclude-dir=.git --exclude-dir=.data --exclude-dir=vendor --exclude-dir=testdata . |
		xargs -r -n1 dirname | sort -u)
	if [[ ${#dirs[@]} -eq 0 ]]; then
		log "no Fuzz* targets found"
		exit 0
	fi
	set -- "${dirs[@]}"
fi

if ! listing=$("$GO" test -list '^Fuzz' "$@" 2>&1); then
	printf '%s\n' "$listing" >&2
	log "go test -list failed: the packages do not build"
	exit 1
fi

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
summary=()
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	log "== $name ($pkg)"
	start=$SECONDS
	if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" ${extra[@]+"${extra[@]}"} "$pkg"; then
		summary+=("ok   $name ($pkg) $((SECONDS - start))s")
	else
		summary+=("FAIL $name ($pkg) $((SECONDS - start))s")
		failed+=("$name ($pkg)")
	fi
done

printf 'fuzz.sh: %s\n' "${summary[@]}" >&2
if [[ ${#failed[@]} -gt 0 ]]; then
	log "FAILED: ${failed[*]}"
	log "the failing input is saved under the package's testdata/fuzz/<Target>/; rerun it with: go test -run '<Target>/<file>' <package>"
	exit 1
fi
log "all ${#targets[@]} fuzz target(s) passed"
