#!/usr/bin/env bash
# Runs the test suites (tests/suites/NN-name.sh) and prints one closing line for all of them.
# Usage: tests/run.sh [--verbose] [SUITE...]     (default: every suite; VMFIX_SUITES also selects)
# Each suite prints "ITEM PASS|FAIL|SKIP reason" lines and writes "passed failed skipped" to
# $VMFIX_RESULT_FILE; a suite that dies without counts is one failure.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"

want=()
for a in "$@"; do
	case "$a" in
	--verbose) export VMFIX_VERBOSE=1 ;;
	--help | -h)
		sed -n '2,5p' "$0" | sed 's/^# //'
		exit 0
		;;
	-*) die "unknown option $a" 2 ;;
	*) want+=("$a") ;;
	esac
done
[ ${#want[@]} -gt 0 ] || read -r -a want <<<"${VMFIX_SUITES:-}"

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
total_p=0 total_f=0 total_s=0
summary=()
for suite in "$VMFIX_ROOT"/tests/suites/*.sh; do
	name=$(basename "$suite" .sh)
	name=${name#[0-9][0-9]-}
	if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
		continue
	fi
	printf '=== suite %s ===\n' "$name"
	start=$(date +%s)
	rc=0
	VMFIX_RESULT_FILE="$results/$name" bash "$suite" || rc=$?
	p=0 f=0 s=0
	if [ -s "$results/$name" ]; then
		read -r p f s <"$results/$name"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=$((f + 1))
		printf '%s FAIL suite exited with status %d\n' "$name" "$rc"
	fi
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
	summary+=("$(printf '%-14s %4d passed, %d failed, %d skipped (%ds)' "$name" "$p" "$f" "$s" $(($(date +%s) - start)))")
done
printf '=== summary ===\n'
printf '%s\n' "${summary[@]}"
printf '%d passed, %d failed, %d skipped\n' "$total_p" "$total_f" "$total_s"
[ "$total_f" -eq 0 ]
