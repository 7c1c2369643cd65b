#!/usr/bin/env bash
# scripts/check-tree.sh: fail when git tracks something that was built rather
# than written: a file over 1 MiB, or a compiled binary (ELF, Mach-O, PE or a
# Go test binary), wherever it sits. Build outputs belong in .gitignore.

set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

limit=$((1024 * 1024))
bad=0
while IFS= read -r -d '' f; do
	[[ -f $f ]] || continue
	size=$(wc -c <"$f")
	if ((size > limit)); then
		echo "check-tree: $f is $size bytes (over 1 MiB): large files are not committed" >&2
		bad=1
	fi
	magic=$(head -c 4 -- "$f" | od -An -tx1 | tr -d ' \n')
	case $magic in
	7f454c46 | cffaedfe | cefaedfe | feedface | feedfacf | 4d5a*)
		echo "check-tree: $f is a compiled binary: build outputs are not committed" >&2
		bad=1
		;;
	esac
done < <(git ls-files -z)
if ((bad)); then
	exit 1
fi
echo "check-tree: no tracked file over 1 MiB and no compiled binary"
