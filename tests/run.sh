#!/usr/bin/env bash
# Runs the test suites (tests/suites/NN-name.sh) and prints one closing line for all of them.
# Usage: tests/run.sh [--verbose] [--require=SUITES] [SUITE...]   (default: every suite)
#   VMFIX_SUITES also selects suites (VMFIX_SUITES_DIR: another suites directory, for tests of this). --require (or VMFIX_REQUIRED_SUITES) names suites that must
#   run in full, comma- or space-separated, "all" for every selected one: a SKIP there counts as a
#   failure unless its "suite/item" matches the extended regex VMFIX_ALLOWED_SKIPS (.ci/run uses it).
# Each suite prints "ITEM PASS|FAIL|SKIP reason" lines and writes "passed failed skipped" to
# $VMFIX_RESULT_FILE; a suite that dies without counts is one failure. Every skip is listed with
# its reason before the closing line, and every failure too (a CI log shows only its end).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"

opt_require=${VMFIX_REQUIRED_SUITES:-}
parse_args "require=" "$@"
# --verbose reaches the suites as VMFIX_VERBOSE; the runner itself stays quiet.
set +x
want=("${ARGS[@]}")
[ ${#want[@]} -gt 0 ] || read -r -a want <<<"${VMFIX_SUITES:-}"
read -r -a required <<<"${opt_require//,/ }"
allowed=${VMFIX_ALLOWED_SKIPS:-}

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
total_p=0 total_f=0 total_s=0
summary=()
skips=()
fails=()
for suite in "${VMFIX_SUITES_DIR:-$VMFIX_ROOT/tests/suites}"/*.sh; do
	name=$(basename "$suite" .sh)
	name=${name#[0-9][0-9]-}
	if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
		continue
	fi
	printf '=== suite %s ===\n' "$name"
	start=$(date +%s)
	rc=0
	: >"$results/$name.skips"
	: >"$results/$name.fails"
	VMFIX_RESULT_FILE="$results/$name" VMFIX_SKIP_FILE="$results/$name.skips" \
		VMFIX_FAIL_FILE="$results/$name.fails" bash "$suite" || rc=$?
	p=0 f=0 s=0
	if [ -s "$results/$name" ]; then
		read -r p f s <"$results/$name"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=$((f + 1))
		printf '%s FAIL suite exited with status %d\n' "$name" "$rc"
		printf '%s\tsuite exited with status %d\n' "$name" "$rc" >>"$results/$name.fails"
	fi
	is_required=0
	for r in "${required[@]}"; do
		[ "$r" != all ] && [ "$r" != "$name" ] || is_required=1
	done
	while IFS=$'\t' read -r item reason; do
		skips+=("$(printf '%-8s %s: %s' "$name" "$item" "$reason")")
		if [ "$is_required" -eq 1 ] && ! { [ -n "$allowed" ] && grep -qE "$allowed" <<<"$name/$item"; }; then
			printf '%s FAIL skipped, but suite %s must run in full here: %s\n' "$item" "$name" "$reason"
			printf '%s\tskipped, but the suite must run in full here\n' "$item" >>"$results/$name.fails"
			f=$((f + 1)) s=$((s - 1))
		fi
	done <"$results/$name.skips"
	while IFS=$'\t' read -r item reason; do
		fails+=("$(printf '%-8s %s: %s' "$name" "$item" "$reason")")
	done <"$results/$name.fails"
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
	summary+=("$(printf '%-14s %4d passed, %d failed, %d skipped (%ds)' "$name" "$p" "$f" "$s" $(($(date +%s) - start)))")
done
printf '=== summary ===\n'
printf '%s\n' "${summary[@]}"
if [ ${#skips[@]} -gt 0 ]; then
	printf '=== skipped (%d): what did not run, and why ===\n' "${#skips[@]}"
	printf '%s\n' "${skips[@]}"
fi
if [ ${#fails[@]} -gt 0 ]; then
	printf '=== failed (%d) ===\n' "${#fails[@]}"
	printf '%s\n' "${fails[@]}"
fi
printf '%d passed, %d failed, %d skipped\n' "$total_p" "$total_f" "$total_s"
[ "$total_f" -eq 0 ]
