#!/usr/bin/env bash
# Formats hearth's C sources with .clang-format; --check only reports files
# that differ (the test command runs it that way).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
	if ! clang-format --dry-run -Werror "${files[@]}" 2>"${TMPDIR:-/tmp}/hearth-format.$$"; then
		grep -o '^[^:]*:[0-9]*' "${TMPDIR:-/tmp}/hearth-format.$$" | sort -u | head -20 >&2
		rm -f "${TMPDIR:-/tmp}/hearth-format.$$"
		echo "format: files above differ from .clang-format; run scripts/format.sh" >&2
		exit 1
	fi
	rm -f "${TMPDIR:-/tmp}/hearth-format.$$"
	echo "format: ${#files[@]} files ok"
else
	clang-format -i "${files[@]}"
fi
