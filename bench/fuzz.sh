#!/usr/bin/env bash
# The fuzzing campaign (make fuzz): every libFuzzer target of tests/fuzz/ in turn, one at a time under
# nice -n 19, until it has run --runs inputs (default 10 million) or --seconds (default 1800) have
# passed, from its seed corpus plus what earlier campaigns found (kept in $VMFIX_CACHE/fuzz/corpus/,
# each target under its own flock). Prints a table of executions, coverage and findings per target,
# then the BENCH lines of bench/run.sh. A finding's input is kept in $VMFIX_CACHE/fuzz/artifacts/;
# turn it into a regression input under tests/data/fuzz/TARGET/ once fixed.
# Usage: bench/fuzz.sh [--verbose] [--runs=N] [--seconds=N] [--workers=N] [--fresh] [--no-build] [TARGET...]
#   --fresh     start from the seed corpus alone (a new corpus directory, the figure of docs/performance.md)
#   --workers N libFuzzer processes per target (default 1: one job at a time, for a shared machine)
#   --no-build  use the binaries already in the fuzz build directory (a machine without clang-15)
#   FUZZ_RUNS and FUZZ_SECONDS give the defaults of --runs and --seconds.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
opt_runs=${FUZZ_RUNS:-10000000} opt_seconds=${FUZZ_SECONDS:-1800} opt_fresh="" opt_workers=1 opt_no_build=""
parse_args "runs= seconds= workers= fresh no-build" "$@"
all=(isa_containers faults kmsg sysfs status policy_params log_decode)
targets=("${ARGS[@]}")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
[ -n "$opt_no_build" ] || nice -n 19 "$VMFIX_ROOT/tests/fuzz/build.sh" "${targets[@]}" >/dev/null
base="$VMFIX_CACHE/fuzz"
mkdir -p "$base/corpus" "$base/artifacts" "$VMFIX_CACHE/locks"
corpus="$base/corpus"
[ -z "$opt_fresh" ] || corpus=$(mktemp -d "$base/fresh.XXXXXX")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=()
rc=0
for t in "${targets[@]}"; do
	log "fuzz: $t: up to $opt_runs runs or $opt_seconds s ..."
	line=$( (
		flock 9
		"$VMFIX_ROOT/tests/fuzz/run.sh" --nice --runs="$opt_runs" --seconds="$opt_seconds" --workers="$opt_workers" \
			--corpus="$corpus" --artifacts="$base/artifacts" "$t"
	) 9>"$VMFIX_CACHE/locks/fuzz-$t.lock" 2>"$tmp/$t.log" | tail -n1) || rc=1
	[ -n "$line" ] || line="$t	FAIL	0	0	0	0	?	0	0	0	run.sh failed: $(tail -n1 "$tmp/$t.log")"
	rows+=("$line")
done
printf '%-16s %-7s %12s %7s %7s %8s %8s %8s %9s %8s\n' target verdict execs cov ft corpus crashes seconds exec/s rss_MB
for r in "${rows[@]}"; do
	IFS=$'\t' read -r t v e c f n x s eps rss _ <<<"$r"
	printf '%-16s %-7s %12s %7s %7s %8s %8s %8s %9s %8s\n' "$t" "$v" "$e" "$c" "$f" "$n" "$x" "$s" "$eps" "$rss"
done
for r in "${rows[@]}"; do
	IFS=$'\t' read -r t v e c f n x s eps rss note <<<"$r"
	verdict=INFO
	[ "$v" = PASS ] || verdict=FAIL
	[ "$v" != PASS ] || [ "$e" -lt "$opt_runs" ] || verdict=PASS
	printf 'BENCH\tfuzz_%s\t%s\truns\t>= %s runs, 0 findings\t%s\tcov %s, ft %s, corpus %s, %s findings, %s s, %s exec/s, peak %s MB; %s\n' \
		"$t" "$e" "$opt_runs" "$verdict" "$c" "$f" "$n" "$x" "$s" "$eps" "$rss" "$note"
done
exit "$rc"
