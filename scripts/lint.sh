#!/usr/bin/env bash
# scripts/lint.sh: fail if `gofmt -l` lists any Go file (or cannot parse one),
# then run `go vet ./...`. Skips .data, bin, .git, vendor and testdata.
# Environment: GO (go), GOFMT (gofmt).

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
cd -- "$SCRIPT_DIR/.."

GO=${GO:-go}
GOFMT=${GOFMT:-gofmt}

files=()
while IFS= read -r f; do
	files+=("$f")
done < <(find . \( -path ./.data -o -path ./.git -o -path ./bin -o -name vendor -o -name testdata \) -prune \
	-o -type f -name '*.go' -print | sort)

if [[ ${#files[@]} -gt 0 ]]; then
	echo "$GOFMT -l ($((${#files[@]})) files)"
	if ! unformatted=$("$GOFMT" -l "${files[@]}"); then
		echo "lint: gofmt could not parse the files named above" >&2
		exit 1
	fi
	if [[ -n $unformatted ]]; then
		printf '%s\n' "$unformatted"
		echo "lint: the files above are not gofmt-formatted; run \`make fmt\` (gofmt -w)" >&2
		exit 1
	fi
fi

echo "$GO vet ./..."
"$GO" vet ./...
