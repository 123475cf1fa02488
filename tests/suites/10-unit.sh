#!/usr/bin/env bash
# Unit tests: configure, build (-Werror) and run every Catch2 binary through ctest.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
need_tools cmake ninja ctest

build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}"
cmake -S "$VMFIX_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMFIX_BUILD_TESTS=ON >/dev/null
if ! ninja -C "$build" >"$build/build.log" 2>&1; then
	tail -n 60 "$build/build.log"
	result unit-build FAIL "build failed"
	report_counts
	exit 1
fi
result unit-build PASS "userspace and tests built with -Werror"
log_file="$build/ctest.log"
rc=0
(cd "$build" && ctest -j"$(nproc)" --output-on-failure) >"$log_file" 2>&1 || rc=$?
grep -E 'Test +#|tests passed|Failed|\*\*\*' "$log_file" | grep -vE 'Passed' || true
passed=$(grep -cE 'Test +#[0-9]+: .* Passed' "$log_file" || true)
VMFIX_PASSED=$((VMFIX_PASSED + passed))
# Each failed test by name, so tests/run.sh lists it in its closing list of failures.
while read -r name; do
	result "$name" FAIL "ctest -R '$name' --output-on-failure"
done < <(sed -nE 's/.*Test +#[0-9]+: (.*[^ ]) \.*\*\*\*(Failed|Exception|Timeout|Not Run).*/\1/p' "$log_file")
# Each skipped test by name, so tests/run.sh lists it with the others (the reason is in the log).
while read -r name; do
	result "$name" SKIP "the test skipped itself (reason: ctest -R '$name' --output-on-failure)"
done < <(sed -nE 's/.*Test +#[0-9]+: (.*[^ ]) \.*\*\*\*Skipped.*/\1/p' "$log_file")
if [ "$rc" -ne 0 ] && [ "$VMFIX_FAILED" -eq 0 ]; then
	tail -n 40 "$log_file"
	result ctest FAIL "ctest exited with $rc"
fi
tail -n 3 "$log_file"
report_counts
