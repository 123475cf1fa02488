#!/usr/bin/env bash
# Diagnostics: `faults`, `status` and `doctor` end to end (exit codes, JSON, bad input), then a
# short libFuzzer run of every parser target (tests/fuzz/) with the real logs as seed corpus.
# Budget: 3 minutes on 2 cores. VMFIX_FUZZ_SECONDS sets the time per target (default 20).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools cmake ninja

build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}"
tool="$build/userspace/rdna1-vmfix"
data="$VMFIX_ROOT/tests/data/faults"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$tool" ]; then
	cmake -S "$VMFIX_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	if ! ninja -C "$build" rdna1-vmfix >"$tmp/build.log" 2>&1; then
		tail -n 40 "$tmp/build.log"
		result diag-build FAIL "rdna1-vmfix did not build"
		report_counts
		exit 1
	fi
fi

# expect_rc ITEM WANT CMD...: runs CMD, checks its exit status.
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

# expect_grep ITEM PATTERN WHY: checks the last command's stdout for PATTERN.
expect_grep() {
	if grep -q -- "$2" "$tmp/out"; then
		result "$1" PASS "$3"
	else
		result "$1" FAIL "no '$2' in: $(head -c 300 "$tmp/out")"
	fi
}

# --- faults
expect_rc faults-fixture-events 1 "$tool" faults "$data/022.txt"
expect_grep faults-fixture-verdict '^verdict: vm_fault_bad_address' "022 -> vm_fault_bad_address"
expect_rc faults-json 1 "$tool" faults --json "$data/011.txt"
if grep -q '"schema":1' "$tmp/out" && grep -q '"class":"isa_mismatch"' "$tmp/out" && [ "$(wc -l <"$tmp/out")" -eq 1 ]; then
	result faults-json-doc PASS "one JSON document, front-matter context gives isa_mismatch"
else
	result faults-json-doc FAIL "$(head -c 300 "$tmp/out")"
fi
expect_rc faults-stdin 1 sh -c "tail -n +12 '$data/036.txt' | '$tool' faults -"
printf '[    0.000000] Linux version 6.1.0-amd64\n' >"$tmp/quiet.log"
expect_rc faults-no-events 0 "$tool" faults "$tmp/quiet.log"
: >"$tmp/empty.log"
expect_rc faults-empty 2 "$tool" faults "$tmp/empty.log"
expect_rc faults-missing 2 "$tool" faults "$tmp/does-not-exist.log"
expect_rc faults-directory 2 "$tool" faults "$tmp"
head -c 4096 /dev/urandom >"$tmp/garbage.bin"
expect_rc faults-binary 2 "$tool" faults "$tmp/garbage.bin"
expect_rc faults-binary-json 2 "$tool" faults --json "$tmp/garbage.bin"
expect_grep faults-binary-json-error '"error"' "error document on stdout"
expect_rc faults-bad-override 2 "$tool" faults --override 10.3 "$data/022.txt"
expect_rc faults-help 0 "$tool" faults --help
expect_grep faults-help-exit-codes 'Exit codes' "--help lists exit codes"
# --follow on a file that grows: the event appears before the input ends.
tail -n +12 "$data/022.txt" >"$tmp/grow.log"
timeout 6 "$tool" faults --follow --json "$tmp/grow.log" >"$tmp/follow.out" 2>&1 &
fpid=$!
sleep 1
tail -n +12 "$data/036.txt" >>"$tmp/grow.log"
wait "$fpid" || true
if grep -q '"class":"vm_fault_bad_address"' "$tmp/follow.out" && grep -q '"class":"hang_or_reset"' "$tmp/follow.out"; then
	result faults-follow PASS "events streamed as JSON lines while the file grew"
else
	result faults-follow FAIL "$(head -c 300 "$tmp/follow.out")"
fi

report_counts
