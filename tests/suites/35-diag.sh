#!/usr/bin/env bash
# Diagnostics: `faults`, `status` and `doctor` end to end (exit codes, JSON, bad input), then a
# short libFuzzer run of every parser target (tests/fuzz/) with the real logs as seed corpus.
# Budget: 3 minutes on 2 cores. VMFIX_FUZZ_SECONDS sets the time per target (default 20).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools cmake ninja

# Incremental: the unit suite has usually built everything already.
suite_start diag-build "rdna1-vmfix did not build" rdna1-vmfix
data="$VMFIX_ROOT/tests/data/faults"

# expect_rc ITEM WANT CMD...: runs CMD, checks its exit status.
expect_rc() {
	local item=$1 want=$2
	shift 2
	capture "$tmp/out" "$tmp/err" "$@"
	if [ "$rc" -eq "$want" ]; then
		result "$item" PASS "exit $rc"
	else
		result "$item" FAIL "exit $rc, want $want: $(head -c 300 "$tmp/err")"
	fi
}

# expect_grep ITEM PATTERN WHY [FILE]: checks the last command's stdout (or FILE) for PATTERN.
expect_grep() {
	local file=${4:-$tmp/out}
	if grep -q -- "$2" "$file"; then
		result "$1" PASS "$3"
	else
		result "$1" FAIL "no '$2' in: $(head -c 300 "$file")"
	fi
}

# --- the real-report corpus: every report well-formed, the recorded split unchanged
if python3 "$VMFIX_ROOT/scripts/faults-corpus.py" check >"$tmp/corpus.out" 2>&1; then
	result faults-corpus PASS "$(tail -n 1 "$tmp/corpus.out")"
else
	result faults-corpus FAIL "$(head -c 300 "$tmp/corpus.out")"
fi

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

# --- faults on hostile logs: each under a time and address-space bound, nothing skipped silently.
# bounded CMD...: at most 20 s and 1 GiB of address space.
bounded() { timeout 20 prlimit --as=$((1 << 30)) -- "$@"; }
body=$(tail -n +12 "$data/022.txt")
{
	head -c 9000 /dev/zero | tr '\0' x
	printf ' %s\n' "$(head -n1 <<<"$body")"
} >"$tmp/longline.log"
expect_rc faults-long-line 1 bounded "$tool" faults --json "$tmp/longline.log"
expect_grep faults-long-line-event '"class":' "a fault at the end of a 9 KB line is read"
# A 6.6 MB line of crash messages: each crash needle may be followed by a more specific error on the same
# line, which is looked for a bounded number of times (one scan per needle was quadratic).
{
	for _ in $(seq 1 2000); do printf 'Segmentation fault (core dumped) %.0s' $(seq 1 100); done
	printf '\n'
} >"$tmp/crashline.log"
expect_rc faults-crash-line 1 bounded "$tool" faults --json "$tmp/crashline.log"
expect_grep faults-crash-line-event '"class":"unknown"' "a line of a million crash messages is one weak crash, read in bounded time"
{
	head -n 5 <<<"$body"
	head -c 65536 /dev/zero
	tail -n +6 <<<"$body"
} >"$tmp/nulrun.log"
expect_rc faults-nul-run 1 bounded "$tool" faults "$tmp/nulrun.log"
expect_grep faults-nul-run-said 'skipped 65536 NUL bytes in 1 run' "the NUL run is skipped, said so, and the log read on"
{
	printf '\xff\xfe'
	iconv -f UTF-8 -t UTF-16LE <<<"$body"
} >"$tmp/utf16.log"
expect_rc faults-utf16 1 bounded "$tool" faults "$tmp/utf16.log"
expect_grep faults-utf16-said 'read as utf-16le' "UTF-16LE by its BOM"
{
	printf 'Jan 01 12:00:00 h\xf4te kernel: caf\xe9 d\xe9marr\xe9\n'
	printf '%s\n' "$body"
} >"$tmp/latin1.log"
expect_rc faults-latin1 1 bounded "$tool" faults "$tmp/latin1.log"
expect_grep faults-latin1-said 'read as latin-1' "Latin-1 decoded"
expect_rc faults-latin1-json 1 bounded "$tool" faults --json "$tmp/latin1.log"
if jq -e '.input.encoding == "latin-1"' "$tmp/out" >/dev/null 2>&1; then
	result faults-latin1-json-input PASS "JSON names the encoding (.input.encoding)"
else
	result faults-latin1-json-input FAIL "$(head -c 300 "$tmp/out")"
fi

# --- status on fake sysfs trees
fake="$tmp/sys-rdna1"
node="$fake/sys/class/kfd/kfd/topology/nodes/1"
pci="$fake/sys/bus/pci/devices/0000:03:00.0"
mkdir -p "$node" "$pci" "$fake/sys/bus/pci/drivers/amdgpu" "$fake/sys/module/rdna1_vmfix/parameters" "$fake/sys/kernel/rdna1_vmfix"
printf 'gfx_target_version 100100\nvendor_id 4098\ndevice_id 29471\nlocation_id 768\ndomain 0\ndrm_render_minor 128\n' >"$node/properties"
printf '0x1002\n' >"$pci/vendor"
printf '0x731f\n' >"$pci/device"
printf '0x030000\n' >"$pci/class"
ln -s ../../../bus/pci/drivers/amdgpu "$pci/driver"
printf 'audit\n' >"$fake/sys/module/rdna1_vmfix/parameters/mode"
printf 'schema 1\nversion 0.1.0\nkernel 6.1.0-amd64\nstate armed\nreason -\nabi 6.1\nmode audit\ncc_to nc\ncoherent snoop\ndevices auto\n' \
	>"$fake/sys/kernel/rdna1_vmfix/status"
expect_rc status-rdna1 0 "$tool" status --sysfs-root "$fake"
expect_grep status-rdna1-gfx 'gfx1010' "KFD gfx_target_version 100100 read as gfx1010"
expect_rc status-rdna1-json 0 "$tool" status --json --sysfs-root "$fake"
expect_grep status-rdna1-json-state '"state":"armed"' "module state in JSON"
mkdir -p "$tmp/sys-empty/sys"
expect_rc status-no-gpu 3 "$tool" status --sysfs-root "$tmp/sys-empty"
printf 'schema 2\nversion 9\n' >"$fake/sys/kernel/rdna1_vmfix/status"
expect_rc status-unknown-schema 4 "$tool" status --sysfs-root "$fake"
expect_grep status-unknown-schema-msg 'schema 2 is not supported' "clear schema message" "$tmp/err"
expect_rc status-bad-root 2 "$tool" status --sysfs-root "$tmp/nope"
expect_rc status-help 0 "$tool" status --help

# --- doctor on the same fake tree (status file restored to schema 1)
printf 'schema 1\nversion 0.1.0\nkernel 6.1.0-amd64\nstate armed\nreason -\nabi 6.1\nmode audit\ncc_to nc\ncoherent snoop\ndevices auto\n' \
	>"$fake/sys/kernel/rdna1_vmfix/status"
expect_rc doctor-healthy 0 env -u HSA_OVERRIDE_GFX_VERSION "$tool" doctor --no-libs --sysfs-root "$fake" --from-log "$tmp/quiet.log"
expect_grep doctor-healthy-verdict '^Verdict: healthy' "quiet log, no override, no libraries"
expect_rc doctor-override 1 env HSA_OVERRIDE_GFX_VERSION=10.3.0 "$tool" doctor --no-libs --json --sysfs-root "$fake" --from-log "$data/011.txt"
expect_grep doctor-override-verdict '"class":"isa_mismatch"' "override 10.3.0 on gfx1010 -> isa_mismatch"
mkdir -p "$tmp/libs/rocblas/library"
: >"$tmp/libs/rocblas/library/TensileLibrary_gfx1030.co"
: >"$tmp/libs/rocblas/library/TensileLibrary_gfx90a.co"
expect_rc doctor-missing-co 1 env -u HSA_OVERRIDE_GFX_VERSION "$tool" doctor --lib-dir "$tmp/libs" --sysfs-root "$fake" --from-log "$tmp/quiet.log"
expect_grep doctor-missing-co-verdict '^Verdict: missing_code_object' "Tensile files for gfx1030/gfx90a only"
expect_rc doctor-no-gpu 3 "$tool" doctor --no-libs --sysfs-root "$tmp/sys-empty"
expect_rc doctor-bad-log 2 "$tool" doctor --no-libs --sysfs-root "$fake" --from-log "$tmp/garbage.bin"
expect_rc doctor-missing-log 2 "$tool" doctor --no-libs --sysfs-root "$fake" --from-log "$tmp/none.log"
printf 'schema 2\n' >"$fake/sys/kernel/rdna1_vmfix/status"
expect_rc doctor-module-schema 4 env -u HSA_OVERRIDE_GFX_VERSION "$tool" doctor --no-libs --sysfs-root "$fake" --from-log "$tmp/quiet.log"
expect_rc doctor-help 0 "$tool" doctor --help
printf 'schema 1\nversion 0.1.0\nkernel 6.1.0-amd64\nstate armed\nreason -\nabi 6.1\nmode audit\ncc_to nc\ncoherent snoop\ndevices auto\n' \
	>"$fake/sys/kernel/rdna1_vmfix/status"
expect_rc doctor-override-invalid 1 env HSA_OVERRIDE_GFX_VERSION=banana "$tool" doctor --no-libs --sysfs-root "$fake" --from-log "$tmp/quiet.log"
if grep -q 'HSA_OVERRIDE_GFX_VERSION=banana is set and invalid' "$tmp/out" && ! grep -q 'is not set' "$tmp/out"; then
	result doctor-override-invalid-said PASS "HSA_OVERRIDE_GFX_VERSION=banana: reported as set and invalid, not as unset"
else
	result doctor-override-invalid-said FAIL "$(head -c 400 "$tmp/out")"
fi

# --- libFuzzer: regression inputs, then short runs of the diagnostics parsers (long: make fuzz)
for t in faults sysfs status policy_params; do
	fuzz_suite_run "$t" "${VMFIX_FUZZ_SECONDS:-20}"
done
report_counts
