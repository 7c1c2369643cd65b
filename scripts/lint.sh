#!/usr/bin/env bash
# scripts/lint.sh: the checks of `make lint`, in order:
#   1. gofmt -l lists no Go file (and parses them all)
#   2. go vet ./...
#   3. golangci-lint run ./... with .golangci.yml
#   4. shellcheck on every shell script (*.sh, and files whose first line
#      is a sh or bash shebang, such as .ci/run)
# Every step runs even when one before it failed, so one pass shows all
# findings; the exit status is 1 if any failed. Skips .data, bin, .git,
# vendor and testdata. `make lint` installs golangci-lint and shellcheck
# first (make lint-tools).
# Environment: GO (go), GOFMT (gofmt), GOLANGCI_LINT (bin/golangci-lint),
# SHELLCHECK (shellcheck).

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
cd -- "$SCRIPT_DIR/.."

GO=${GO:-go}
GOFMT=${GOFMT:-gofmt}
GOLANGCI_LINT=${GOLANGCI_LINT:-bin/golangci-lint}
SHELLCHECK=${SHELLCHECK:-shellcheck}

failed=()

# Regular files outside the pruned directories, NUL-separated, sorted.
tree_files() {
	find . \( -path ./.data -o -path ./.git -o -path ./bin -o -name vendor -o -name testdata \) -prune \
		-o -type f "$@" -print0 | sort -z
}

go_files=()
while IFS= read -r -d '' f; do
	go_files+=("$f")
done < <(tree_files -name '*.go')

if [[ ${#go_files[@]} -gt 0 ]]; then
	echo "$GOFMT -l (${#go_files[@]} files)"
	if ! unformatted=$("$GOFMT" -l "${go_files[@]}"); then
		echo "lint: gofmt could not parse the files named above" >&2
		failed+=(gofmt)
	elif [[ -n $unformatted ]]; then
		printf '%s\n' "$unformatted"
		echo "lint: the files above are not gofmt-formatted; run \`make fmt\` (gofmt -w)" >&2
		failed+=(gofmt)
	fi
fi

echo "$GO vet ./..."
"$GO" vet ./... || failed+=("go vet")

echo "$GOLANGCI_LINT run ./..."
"$GOLANGCI_LINT" run ./... || failed+=(golangci-lint)

shell_files=()
while IFS= read -r -d '' f; do
	if [[ $f == *.sh ]] || head -n 1 -- "$f" | grep -Eq '^#!(/usr)?/bin/(env +)?(ba)?sh([[:space:]]|$)'; then
		shell_files+=("$f")
	fi
done < <(tree_files -not -name '*.go')

if [[ ${#shell_files[@]} -gt 0 ]]; then
	echo "$SHELLCHECK (${shell_files[*]})"
	"$SHELLCHECK" -- "${shell_files[@]}" || failed+=(shellcheck)
fi

if [[ ${#failed[@]} -gt 0 ]]; then
	echo "lint: failed: ${failed[*]}" >&2
	exit 1
fi
echo "lint: ok"
