#!/usr/bin/env bash
# census end to end on a machine without an AMD GPU: the errors it must give (exit 3 and what is
# missing when there is no /dev/kfd), usage errors, and the cached result that doctor/report read.
# The census logic itself is unit-tested (tests/unit/census/). Budget: seconds.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools cmake ninja

suite_start census-build "rdna1-vmfix did not build" rdna1-vmfix

# expect_rc ITEM WANT CMD...: runs CMD, checks its exit status (stdout in $tmp/out, stderr in $tmp/err).
expect_rc() {
	local item=$1 want=$2 rc=0
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -eq "$want" ]; then
		result "$item" PASS "exit $rc"
	else
		result "$item" FAIL "exit $rc, want $want: $(head -c 300 "$tmp/err")"
	fi
}
# expect_grep ITEM PATTERN FILE WHY
expect_grep() {
	if grep -q -- "$2" "$3"; then
		result "$1" PASS "$4"
	else
		result "$1" FAIL "no '$2' in: $(head -c 300 "$3")"
	fi
}

export VMFIX_STATE_DIR="$tmp/state"

expect_rc census-help 0 "$tool" census --help
expect_grep census-help-text 'ROCT thunk' "$tmp/out" "--help describes the command"
expect_rc census-bad-size 2 "$tool" census --size 1000
expect_rc census-bad-option 2 "$tool" census --bogus

if [ -e /dev/kfd ]; then
	result census-no-kfd SKIP "/dev/kfd exists on this machine"
	result census-no-kfd-json SKIP "/dev/kfd exists on this machine"
else
	expect_rc census-no-kfd 3 "$tool" census
	if grep -q '/dev/kfd' "$tmp/err" && grep -q 'modprobe amdgpu' "$tmp/err" && [ ! -s "$tmp/out" ]; then
		result census-no-kfd-message PASS "says /dev/kfd is missing and how to get it; no table"
	else
		result census-no-kfd-message FAIL "$(head -c 300 "$tmp/err")"
	fi
	expect_rc census-no-kfd-json 3 "$tool" census --json
	if jq -e '.error.exit_code == 3 and (.error.context == "/dev/kfd")' "$tmp/out" >/dev/null; then
		result census-no-kfd-json-doc PASS "one JSON error document"
	else
		result census-no-kfd-json-doc FAIL "$(head -c 300 "$tmp/out")"
	fi
	if [ ! -e "$VMFIX_STATE_DIR/census.json" ]; then
		result census-no-kfd-no-cache PASS "nothing cached"
	else
		result census-no-kfd-no-cache FAIL "a failed census wrote $VMFIX_STATE_DIR/census.json"
	fi
fi

expect_rc census-cached-none 3 "$tool" census --cached
expect_grep census-cached-none-msg 'has not run' "$tmp/err" "says census never ran"
mkdir -p "$VMFIX_STATE_DIR"
cp "$VMFIX_ROOT/tests/data/census/cache.json" "$VMFIX_STATE_DIR/census.json"
expect_rc census-cached 0 "$tool" census --cached
expect_grep census-cached-text 'no allocation kind is mapped CC' "$tmp/out" "prints the cached conclusion"
expect_grep census-cached-date '2026-12-01T08:00:00Z' "$tmp/out" "with its date"
expect_rc census-cached-json 0 "$tool" census --cached --json
if jq -e '.command == "census" and .schema == 1 and .run.kernel == "6.12.95+deb12-amd64"' "$tmp/out" >/dev/null; then
	result census-cached-json-doc PASS "the cached document with provenance"
else
	result census-cached-json-doc FAIL "$(head -c 300 "$tmp/out")"
fi
printf '{"command":"census","schema":7}\n' >"$VMFIX_STATE_DIR/census.json"
expect_rc census-cached-schema 4 "$tool" census --cached
expect_grep census-cached-schema-msg 'schema 7' "$tmp/err" "refuses an unknown schema"

report_counts
