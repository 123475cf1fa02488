#!/usr/bin/env bash
# Long libFuzzer runs of the diagnostics parsers (fault-log reader, sysfs parsers): CI runs them for
# 20 s each (tests/suites/35-diag.sh); this runs each for FUZZ_SECONDS (default 600) with the corpus
# kept in $VMFIX_CACHE/fuzz-diag/ between runs, and reports executions per second and corpus size.
# Usage: bench/fuzz.sh [--verbose]
# Prints "BENCH<TAB>name<TAB>value<TAB>unit<TAB>goal<TAB>PASS|FAIL|INFO<TAB>notes" lines (bench/run.sh).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
maybe_verbose "$@"
secs=${FUZZ_SECONDS:-600}
build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}/fuzz-diag"
"$VMFIX_ROOT/tests/fuzz/build-diag.sh" "$build" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for target in faults sysfs; do
	corpus="$VMFIX_CACHE/fuzz-diag/corpus-$target"
	mkdir -p "$corpus"
	cp -n "$build/corpus-$target"/* "$corpus/" 2>/dev/null || true
	rc=0
	"$build/fuzz_$target" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
		-artifact_prefix="$VMFIX_CACHE/fuzz-diag/crash-$target-" "$corpus" >"$tmp/log" 2>&1 || rc=$?
	runs=$(grep -oE '^Done [0-9]+ runs' "$tmp/log" | grep -oE '[0-9]+' || echo 0)
	files=$(find "$corpus" -type f | wc -l)
	verdict=PASS
	[ "$rc" -eq 0 ] || verdict=FAIL
	printf 'BENCH\tfuzz_%s_execs\t%d\texec/s\tno finding\t%s\t%d runs in %d s, corpus %d files, exit %d\n' \
		"$target" $((runs / secs)) "$verdict" "$runs" "$secs" "$files" "$rc"
done
