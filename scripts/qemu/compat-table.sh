#!/usr/bin/env bash
# Renders the QEMU suite's result lines ("KVER check PASS|FAIL|SKIP reason", e.g. from
# tests/run.sh qemu) as the Markdown table of docs/compatibility.md: one row per check, one column
# per kernel release. Usage: tests/run.sh qemu | scripts/qemu/compat-table.sh
set -euo pipefail
case "${1:-}" in -h | --help) sed -n '2,4p' "$0" | sed 's/^# //'; exit 0 ;; esac
awk '
$3 ~ /^(PASS|FAIL|SKIP)$/ && $1 ~ /^[0-9]+\.[0-9]+/ {
	if (!($1 in seen_k)) { seen_k[$1] = 1; kernels[++nk] = $1 }
	if (!($2 in seen_c)) { seen_c[$2] = 1; checks[++nc] = $2 }
	v[$1, $2] = $3
}
END {
	if (nk == 0) { print "no result lines on stdin" > "/dev/stderr"; exit 1 }
	printf "| check |"; for (i = 1; i <= nk; i++) printf " %s |", kernels[i]; printf "\n|---|"
	for (i = 1; i <= nk; i++) printf "---|"; printf "\n"
	for (c = 1; c <= nc; c++) {
		printf "| %s |", checks[c]
		for (i = 1; i <= nk; i++) { r = v[kernels[i], checks[c]]; printf " %s |", (r == "" ? "-" : r) }
		printf "\n"
	}
}'
