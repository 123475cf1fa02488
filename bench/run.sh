#!/usr/bin/env bash
# Runs every benchmark (bench/<name>.sh) and prints one table of figures with the machine, kernel and
# date. Usage: bench/run.sh [--verbose] [--markdown FILE] [NAME...]
# A benchmark prints lines "BENCH<TAB>name<TAB>value<TAB>unit<TAB>goal<TAB>PASS|FAIL|INFO<TAB>notes";
# anything else it prints is progress and goes to stderr. Benchmarks are not tests: a missed goal is
# reported, and the exit status is 0 unless a benchmark could not run at all.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"

opt_markdown=""
parse_args "markdown=" "$@"
markdown=$opt_markdown
want=("${ARGS[@]}")

machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
header="machine: $machine; host kernel: $(uname -r); date: $(date -u +%Y-%m-%dT%H:%MZ)"
rows=()
broken=0
for b in "$VMFIX_ROOT"/bench/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
		continue
	fi
	log "bench: $name ..."
	out=$(bash "$b" 2> >(sed "s/^/  [$name] /" >&2)) || {
		log "bench: $name could not run (status $?)"
		broken=$((broken + 1))
	}
	while IFS= read -r line; do
		case "$line" in BENCH$'\t'*) rows+=("${line#BENCH$'\t'}") ;; esac
	done <<<"$out"
done

table() {
	printf '%s\n\n' "$header"
	printf '| benchmark | figure | unit | goal | verdict | notes |\n|---|---|---|---|---|---|\n'
	local r
	for r in "${rows[@]}"; do
		IFS=$'\t' read -r n v u g verdict notes <<<"$r"
		printf '| %s | %s | %s | %s | %s | %s |\n' "$n" "$v" "$u" "$g" "$verdict" "$notes"
	done
}
table
if [ -n "$markdown" ]; then
	table >"$markdown"
fi
[ "$broken" -eq 0 ]
