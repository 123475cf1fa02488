#!/usr/bin/env bash
# The convolution harness (`rdna1-vmfix check`): the host backend's whole pipeline through the CLI
# (profiles, planted faults, reports, exit codes, --compare-modes on a fake sysfs), and the HIP build
# for gfx1010/gfx1011/gfx1012 (+ gfx1030 for the override experiment) with its code objects checked.
# Budget: 5 minutes on 2 cores (the hipcc build is most of it).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools cmake ninja jq

suite_start harness-build "rdna1-vmfix or the host worker did not build" rdna1-vmfix rdna1-vmfix-check-host
result harness-build PASS "rdna1-vmfix and rdna1-vmfix-check-host built"

# check ARGS... ; sets rc, output in $tmp/out, stderr in $tmp/err. The run is the leader of a
# session of its own (sid in $tmp/sid): its workers are counted there, never by name, so other
# runs of the same binary on this machine do not disturb the test nor the test them.
check() {
	capture "$tmp/out" "$tmp/err" in_session "$tmp/sid" "$tool" check --no-progress "$@"
}

# 1. quick profile on the host backend: every case passes, one JSON document, exit 0.
check --backend=host --profile=quick --json
total=$(jq '.runs[0].cases | length' "$tmp/out" 2>/dev/null || echo 0)
passed=$(jq '.runs[0].summary.pass' "$tmp/out" 2>/dev/null || echo 0)
kinds=$(jq -r '[.runs[0].cases[].memory] | unique | length' "$tmp/out" 2>/dev/null || echo 0)
if [ "$rc" -eq 0 ] && [ "$total" -gt 0 ] && [ "$passed" -eq "$total" ] && [ "$kinds" -eq 7 ]; then
	result host-quick PASS "$total cases pass in 7 memory kinds, exit 0"
else
	result host-quick FAIL "rc=$rc total=$total pass=$passed kinds=$kinds: $(tail -n 3 "$tmp/err")"
fi

# 2. planted faults among good cases: each gets its verdict, the run goes on, exit 1, no worker left.
check --backend=host --cases='planted.*,*.mbv2_dw_c960.dev_coarse' --timeout=2 --jobs=2 --json
verdicts=$(jq -r '[.runs[0].cases[] | select(.planted) | "\(.planted)=\(.verdict)"] | sort | join(" ")' "$tmp/out" 2>/dev/null || true)
others=$(jq -r '[.runs[0].cases[] | select(.planted | not) | .verdict] | unique | join(" ")' "$tmp/out" 2>/dev/null || true)
want="gpu_fault=gpu_fault hang=hang segv=crash wrong=wrong_result"
if [ "$rc" -eq 1 ] && [ "$verdicts" = "$want" ] && [ "$others" = "pass" ]; then
	result planted-faults PASS "$verdicts; other cases pass; exit 1"
else
	result planted-faults FAIL "rc=$rc verdicts='$verdicts' others='$others'"
fi
# The hang's worker was killed as a group; nothing this run started may still be alive.
sleep 0.2
left=$(session_procs "$(cat "$tmp/sid")")
if [ -n "$left" ]; then
	result no-orphans FAIL "a worker outlived the run: $(head -n 2 <<<"$left")"
else
	result no-orphans PASS "no process of the run's session after it ended"
fi
max_err=$(jq '.runs[0].cases[] | select(.planted == "wrong") | .max_abs_err' "$tmp/out" 2>/dev/null || echo 0)
if awk -v e="$max_err" 'BEGIN { exit !(e > 0.49 && e < 0.51) }'; then
	result wrong-result-error PASS "planted.wrong reports max abs error $max_err"
else
	result wrong-result-error FAIL "planted.wrong max abs error '$max_err', want 0.5"
fi

# 3. text and markdown reports of the same run; SIGTERM during a hang stops cleanly.
check --backend=host --cases='planted.wrong,depthwise.fp32.mbv2_dw_c960.dev_coarse' --format=markdown
# shellcheck disable=SC2016 # the backquotes are Markdown, matched literally
if [ "$rc" -eq 1 ] && grep -q '^| `planted.wrong` | wrong_result |' "$tmp/out" && grep -q '^| case | verdict' "$tmp/out"; then
	result markdown PASS "markdown table with per-case verdicts"
else
	result markdown FAIL "rc=$rc: $(head -n 5 "$tmp/out")"
fi
check --backend=host --cases='planted.wrong'
if [ "$rc" -eq 1 ] && grep -qE '^planted.wrong +wrong_result +5.00e-01' "$tmp/out" && grep -q '^result: FAILURES' "$tmp/out"; then
	result text-report PASS "text table row and result line"
else
	result text-report FAIL "rc=$rc: $(cat "$tmp/out")"
fi
rm -f "$tmp/sid"
in_session "$tmp/sid" "$tool" check --backend=host --cases='planted.hang' --timeout=60 --no-progress >"$tmp/out" 2>&1 &
job=$!
# SIGTERM once the hanging worker runs (a process of the session other than the tool itself).
for _ in $(seq 50); do
	[ -s "$tmp/sid" ] && [ -n "$(session_procs "$(cat "$tmp/sid")" "$(cat "$tmp/sid")")" ] && break
	sleep 0.1
done
sid=$(cat "$tmp/sid" 2>/dev/null || echo 0)
workers=$(session_procs "$sid" "$sid" | wc -l)
kill -TERM "$sid"
rc=0
wait "$job" || rc=$?
sleep 0.2
left=$(session_procs "$sid")
if [ "$rc" -eq 4 ] && [ "$workers" -ge 1 ] && [ -z "$left" ]; then
	result sigterm PASS "SIGTERM mid-case: exit 4, its $workers worker process(es) gone"
else
	result sigterm FAIL "rc=$rc, workers before: $workers, left: $(head -n 2 <<<"$left")"
fi

# 4. usage errors and missing backends.
usage_ok=1
for args in "--backend=opencl" "--profile=huge" "--cases=no-such-case" "--timeout=0" "--backend=host --override-experiment" \
	"--backend=host --compare-modes --override-experiment" "--bogus"; do
	# shellcheck disable=SC2086 # each entry is a list of arguments
	check $args
	if [ "$rc" -ne 2 ]; then
		usage_ok=0
		log "check $args: exit $rc, want 2"
	fi
done
if [ "$usage_ok" -eq 1 ]; then result usage-errors PASS "7 bad invocations exit 2"; else result usage-errors FAIL "see above"; fi
VMFIX_CHECK_WORKER_DIR=/nonexistent check --backend=cuda
if [ "$rc" -eq 3 ] && grep -q 'no cuda backend' "$tmp/err"; then
	result no-backend PASS "a build without the cuda worker exits 3 with a clear error"
elif [ "$rc" -eq 3 ]; then
	result no-backend PASS "cuda worker present but no NVIDIA device: exit 3"
else
	result no-backend FAIL "rc=$rc: $(cat "$tmp/err")"
fi

# 5. --compare-modes: absent module is a clear runtime error; a fake sysfs runs audit then enforce and restores.
VMFIX_SYSFS_ROOT="$tmp/empty" check --backend=host --compare-modes --cases='depthwise.fp32.*.dev_coarse'
if [ "$rc" -eq 4 ] && grep -q 'rdna1_vmfix module is not loaded' "$tmp/err"; then
	result compare-modes-absent PASS "module absent: exit 4, clear error"
else
	result compare-modes-absent FAIL "rc=$rc: $(cat "$tmp/err")"
fi
fake="$tmp/sysfs"
mkdir -p "$fake/sys/module/rdna1_vmfix/parameters" "$fake/sys/kernel/rdna1_vmfix"
echo off >"$fake/sys/module/rdna1_vmfix/parameters/mode"
printf 'schema 1\ndevice bdf=0000:03:00.0 ranges=1 seen_cc=0 rewritten=0\nother ranges=0\n' >"$fake/sys/kernel/rdna1_vmfix/counters"
VMFIX_SYSFS_ROOT="$fake" check --backend=host --compare-modes --cases='depthwise.fp32.*.dev_coarse' --json
variants=$(jq -r '[.runs[].variant] | join(",")' "$tmp/out" 2>/dev/null || true)
restored=$(cat "$fake/sys/module/rdna1_vmfix/parameters/mode")
if [ "$rc" -eq 0 ] && [ "$variants" = "audit,enforce" ] && [ "$restored" = off ] &&
	jq -e '.runs[1].module_counters_delta["device 0000:03:00.0"].ranges == 0' "$tmp/out" >/dev/null; then
	result compare-modes-fake PASS "audit then enforce, counter deltas reported, mode restored to off"
else
	result compare-modes-fake FAIL "rc=$rc variants=$variants restored=$restored: $(tail -n 3 "$tmp/err")"
fi
# A mode parameter the user may not write (as root: run the check as nobody through setpriv).
chmod 0444 "$fake/sys/module/rdna1_vmfix/parameters/mode"
as_user=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	chmod 0755 "$tmp"
fi
if [ "$(id -u)" -ne 0 ] || [ ${#as_user[@]} -gt 0 ]; then
	rc=0
	VMFIX_SYSFS_ROOT="$fake" "${as_user[@]}" "$tool" check --no-progress --backend=host --compare-modes \
		--cases='depthwise.fp32.*.dev_coarse' >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -eq 4 ] && grep -q 'permission denied' "$tmp/err" && [ "$(cat "$fake/sys/module/rdna1_vmfix/parameters/mode")" = off ]; then
		result compare-modes-eperm PASS "mode parameter not writable: exit 4, permission denied, mode unchanged"
	else
		result compare-modes-eperm FAIL "rc=$rc: $(cat "$tmp/err")"
	fi
else
	result compare-modes-eperm SKIP "root without setpriv: file modes do not bind root"
fi

# 6. The lab's plain build line (scripts/lab-cuda.sh without cmake) still compiles and links: it lists
# sources by hand, so a new library dependency must show up here rather than on the GPU machine.
rc=0
OUT="$tmp/lab" VMFIX_LAB_OPT=-O0 VMFIX_LAB_BUILD="$tmp/build-lab" "$VMFIX_ROOT/scripts/lab-cuda.sh" --plain --build-only \
	>"$tmp/lab.log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
	result lab-plain-build PASS "$(grep -E '^build: plain in' "$tmp/lab.log")"
else
	tail -n 20 "$tmp/lab.log"
	result lab-plain-build FAIL "scripts/lab-cuda.sh --plain --build-only exited $rc"
fi

# 7. libFuzzer: kmsg records, kernel-log attribution and case ids on arbitrary input.
fuzz_suite_run kmsg "${VMFIX_FUZZ_SECONDS:-10}"

# 8. The HIP build: native worker with gfx1010/1011/1012 code objects, gfx1030 worker for the override
# experiment; the dot2 kernel is v_dot2 on gfx1030 and absent from every gfx101x object.
if ! command -v hipcc >/dev/null 2>&1; then
	result hip-build SKIP "hipcc not installed (scripts/setup.sh hip)"
	report_counts
	exit $?
fi
need_tools clang-offload-bundler-15 llvm-readelf-15 llvm-objdump-15 objcopy
start=$(date +%s)
if ! ninja -C "$build" harness-hip >"$tmp/hip.log" 2>&1; then
	tail -n 40 "$tmp/hip.log"
	result hip-build FAIL "hipcc build of the workers failed"
	report_counts
	exit 1
fi
result hip-build PASS "rdna1-vmfix-check-hip and -hip-gfx1030 built with hipcc in $(($(date +%s) - start)) s"
# code_objects BIN: extracts every amdgcn entry of BIN's .hip_fatbin into $tmp/co/, prints the ids.
code_objects() {
	local bin=$1 id
	rm -rf "$tmp/co" && mkdir -p "$tmp/co"
	objcopy -O binary --only-section=.hip_fatbin "$bin" "$tmp/co/fat.hipfb"
	for id in $(clang-offload-bundler-15 --list --type=o --input="$tmp/co/fat.hipfb" | grep amdgcn); do
		clang-offload-bundler-15 --unbundle --type=o --input="$tmp/co/fat.hipfb" --targets="$id" \
			--output="$tmp/co/${id##*--}.co"
		printf '%s\n' "${id##*--}"
	done
}
declare -A mach=([gfx1010]=0x33 [gfx1011]=0x34 [gfx1012]=0x35 [gfx1030]=0x36)
for pair in "rdna1-vmfix-check-hip:gfx1010 gfx1011 gfx1012" "rdna1-vmfix-check-hip-gfx1030:gfx1030"; do
	bin="$build/userspace/${pair%%:*}"
	want="${pair#*:}"
	got=$(code_objects "$bin" | sort | tr '\n' ' ' | sed 's/ $//')
	bad=""
	for t in $want; do
		flags=$(llvm-readelf-15 -h "$tmp/co/$t.co" | awk '/Flags:/ {print $2}')
		[ $((flags & 0xff)) -eq $((${mach[$t]})) ] || bad="$bad $t:e_flags=$flags"
		dots=$(llvm-objdump-15 -d "$tmp/co/$t.co" | grep -cE '^\s+v_dot' || true)
		if [ "$t" = gfx1030 ]; then [ "$dots" -gt 0 ] || bad="$bad $t:no-v_dot2"; else [ "$dots" -eq 0 ] || bad="$bad $t:has-v_dot"; fi
	done
	if [ "$got" = "$want" ] && [ -z "$bad" ]; then
		result "code-objects-${pair%%:*}" PASS "targets $got, e_flags machine matches, v_dot only in gfx1030"
	else
		result "code-objects-${pair%%:*}" FAIL "targets '$got' (want '$want')$bad"
	fi
done
# No AMD GPU here: the hip backend must say so with exit 3, not crash.
check --backend=hip
if [ "$rc" -eq 3 ]; then
	result hip-no-device PASS "no AMD GPU: exit 3 ($(head -c 100 "$tmp/err"))"
else
	result hip-no-device FAIL "rc=$rc: $(cat "$tmp/err")"
fi
report_counts
