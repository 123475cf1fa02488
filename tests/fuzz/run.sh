#!/usr/bin/env bash
# Runs libFuzzer targets built by tests/fuzz/build.sh. For each TARGET: every regression input under
# tests/data/fuzz/TARGET/ (crashes and hangs found before) is replayed once, then the fuzzer runs on
# its seed corpus (tests/fuzz/corpus/TARGET/ plus the real data named in seeds_of) until --runs
# executions or --seconds have passed, whichever comes first. A crash, a leak, a hang of more than
# 10 s on one input or more than 2 GiB RSS is a finding; its input is kept in --artifacts.
# Usage: tests/fuzz/run.sh [--seconds=N] [--runs=N] [--workers=N] [--corpus=DIR] [--artifacts=DIR] [--nice] TARGET...
#   --corpus DIR   keep the working corpus in DIR/TARGET (default: a scratch copy, removed after)
#   --nice         run the fuzzer under nice -n 19 (long campaigns on a shared machine)
#   --workers N    N libFuzzer processes on one shared corpus, --runs split between them; execs is
#                  their sum, cov and ft are measured afterwards over the corpus they left
# Prints one line per target, tab-separated:
#   TARGET PASS|FAIL execs cov ft corpus_files crashes seconds exec_per_s peak_rss_mb note
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
opt_seconds=20 opt_runs=0 opt_workers=1 opt_corpus="" opt_artifacts="" opt_nice=""
parse_args "seconds= runs= workers= corpus= artifacts= nice" "$@"
[ ${#ARGS[@]} -gt 0 ] || die "no target given (see --help)" 2
build=$(fuzz_build_dir)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
art=${opt_artifacts:-$build/artifacts}
mkdir -p "$art"
prefix=()
[ -z "$opt_nice" ] || prefix=(nice -n 19)
# Throughput: the targets allocate a string per log line, and ASan's defaults (a 256 MB quarantine
# cycled through fresh pages, 4 KB of fill per malloc, 30-frame malloc stacks) took half the time
# (perf, fuzz_kmsg: 786 -> 1389 exec/s). Reports keep 8 frames; replay a finding with the defaults.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16:max_malloc_fill_size=0:malloc_context_size=8}

# seeds_of TARGET: the seed files of TARGET, one path a line.
seeds_of() {
	find "$VMFIX_ROOT/tests/fuzz/corpus/$1" -type f 2>/dev/null || true
	case "$1" in
	faults | log_decode) find "$VMFIX_ROOT/tests/data/faults" -name '[0-9]*.txt' ;;
	kmsg) find "$VMFIX_ROOT/tests/data/harness" -name '*.txt' ;;
	isa_containers)
		# the hipcc-built fixtures when the unit build made them (small ones only)
		find "${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}/isa-fixtures" -maxdepth 1 -type f \
			\( -name '*.co' -o -name '*.hipfb' -o -name '*.offload' \) -size -64k 2>/dev/null || true
		;;
	esac
}

# regressions_of TARGET: inputs that once crashed or hung TARGET.
regressions_of() {
	find "$VMFIX_ROOT/tests/data/fuzz/$1" -type f 2>/dev/null || true
	[ "$1" != isa_containers ] || find "$VMFIX_ROOT/tests/data/isa/fuzz-regressions" -type f 2>/dev/null || true
}

# Largest input. Text targets: 4 KiB holds every fault-log seed whole (the largest is 2.5 KiB) and
# a fault block with its context. The parsers' cost grows with the input, and libFuzzer lets inputs
# grow toward -max_len as a campaign goes on (-len_control); at 16 KiB fuzz_faults was the slowest
# target. Long lines are the line reader's business (read_log_file, unit-tested), not the parsers'.
# isa: the hipcc fixtures are up to ~30 KiB.
max_len_of() {
	case "$1" in
	isa_containers) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

rc_all=0
for t in "${ARGS[@]}"; do
	bin="$build/tests/fuzz/fuzz_$t"
	[ -x "$bin" ] || die "no fuzz target $bin (tests/fuzz/build.sh $t)" 2
	flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -max_len="$(max_len_of "$t")"
		-print_final_stats=1 -artifact_prefix="$art/$t-")
	note=""
	# 1. regressions: each input once (libFuzzer runs file arguments without fuzzing)
	mapfile -t regs < <(regressions_of "$t")
	if [ ${#regs[@]} -gt 0 ]; then
		if ! "$bin" "${flags[@]}" "${regs[@]}" >"$tmp/reg.log" 2>&1; then
			tail -n 30 "$tmp/reg.log" >&2
			printf '%s\tFAIL\t0\t0\t0\t0\t1\t0\t0\t0\ta regression input crashes again\n' "$t"
			rc_all=1
			continue
		fi
		note="${#regs[@]} regression inputs replayed"
	fi
	# 2. fuzzing
	if [ -n "$opt_corpus" ]; then corpus="$opt_corpus/$t"; else corpus="$tmp/corpus-$t"; fi
	mkdir -p "$corpus"
	while read -r f; do
		[ -z "$f" ] || cp -n "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null || true
	done < <(seeds_of "$t")
	before=$(find "$art" -maxdepth 1 -name "$t-*" -type f | wc -l)
	lim=(-max_total_time="$opt_seconds")
	start=$(date +%s.%N)
	fr=0
	if [ "$opt_workers" -le 1 ]; then
		[ "$opt_runs" -eq 0 ] || lim+=(-runs="$opt_runs")
		# -reload=0: one process has no other writer to the corpus to pick up; re-reading the corpus
		# directory every few seconds was 4.5 % of fuzz_faults' time (perf).
		"${prefix[@]}" "$bin" "${flags[@]}" "${lim[@]}" -reload=0 "$corpus" >"$tmp/fuzz.log" 2>&1 || fr=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/fuzz.log" | tail -n1)
		rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$tmp/fuzz.log" | tail -n1)
	else
		[ "$opt_runs" -eq 0 ] || lim+=(-runs="$(((opt_runs + opt_workers - 1) / opt_workers))")
		mkdir -p "$tmp/jobs-$t"
		(cd "$tmp/jobs-$t" && "${prefix[@]}" "$bin" "${flags[@]}" "${lim[@]}" -jobs="$opt_workers" \
			-workers="$opt_workers" "$corpus" >"$tmp/fuzz-parent.log" 2>&1) || fr=$?
		execs=$(cat "$tmp/jobs-$t"/fuzz-*.log | sed -n 's/^stat::number_of_executed_units: *//p' | awk '{ s += $1 } END { print s + 0 }')
		rss=$(cat "$tmp/jobs-$t"/fuzz-*.log | sed -n 's/^stat::peak_rss_mb: *//p' | sort -n | tail -n1)
		# coverage of what the workers found together: one pass over the corpus, no fuzzing
		"$bin" "${flags[@]}" -runs=0 "$corpus" >"$tmp/fuzz.log" 2>&1 || true
		cat "$tmp/jobs-$t"/fuzz-*.log >>"$tmp/fuzz.log"
	fi
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
	crashes=$(($(find "$art" -maxdepth 1 -name "$t-*" -type f | wc -l) - before))
	eps=$(awk -v e="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? e / s : 0) }')
	if [ "$opt_workers" -le 1 ]; then
		last=$(grep -E '^#[0-9]+.*cov: ' "$tmp/fuzz.log" | tail -n1)
	else
		last=$(grep -E '^#[0-9]+.*INITED.*cov: ' "$tmp/fuzz.log" | head -n1)
	fi
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	files=$(find "$corpus" -type f | wc -l)
	verdict=PASS
	if [ "$fr" -ne 0 ] || [ "$crashes" -gt 0 ]; then
		verdict=FAIL
		rc_all=1
		grep -h -A 30 -E '^==[0-9]+==ERROR|^SUMMARY|deadly signal|Timeout' "$tmp/fuzz.log" "$tmp"/jobs-"$t"/fuzz-*.log 2>/dev/null | head -n 60 >&2 ||
			tail -n 40 "$tmp/fuzz.log" >&2
		note="fuzzer exit $fr; inputs kept as $art/$t-*${note:+; $note}"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$verdict" "${execs:-0}" "${cov:-0}" "${ft:-0}" \
		"$files" "$crashes" "$secs" "${eps:-0}" "${rss:-0}" "${note:--}"
done
exit "$rc_all"
