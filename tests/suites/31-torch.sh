#!/usr/bin/env bash
# `rdna1-vmfix check --backend=torch`: the Python torch worker (userspace/check/workers/torch_worker.py)
# on Debian's CPU build of PyTorch (scripts/setup.sh torch): its protocol, its case table against the
# C++ one, the missing-code-object verdict, and what a missing or broken torch gives.
# Budget: about a minute on 2 cores (Python and torch start-up is seconds per process).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools jq

worker="$VMFIX_ROOT/userspace/check/workers/torch_worker.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The interpreter with torch: $VMFIX_TORCH_PYTHON, else python3 on PATH, else Debian's /usr/bin/python3.
py=""
for c in ${VMFIX_TORCH_PYTHON:-} python3 /usr/bin/python3; do
	if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import torch' 2>/dev/null; then
		py=$(command -v "$c")
		break
	fi
done
if [ -z "$py" ]; then
	result torch-python SKIP "no python3 with torch (scripts/setup.sh torch installs Debian's python3-torch)"
	report_counts
	exit $?
fi
result torch-python PASS "$py: torch $("$py" -c 'import torch; print(torch.__version__)')"

# worker ARGS...: runs the worker with $py; rc, stdout in $work/out, stderr in $work/err.
worker() {
	rc=0
	"$py" "$worker" "$@" >"$work/out" 2>"$work/err" || rc=$?
}
results() { sed -n 's/^VMFIX-RESULT //p' "$work/out"; }

# 1. The case table: unique ids that the worker parses back; bad ids are usage errors.
worker --list quick
quick=$(sed -n 's/^VMFIX-CASE //p' "$work/out" | jq -r .id)
worker --list full
sed -n 's/^VMFIX-CASE //p' "$work/out" >"$work/full.jsonl"
full=$(jq -r .id "$work/full.jsonl")
nq=$(wc -l <<<"$quick")
nf=$(wc -l <<<"$full")
dups=$(printf '%s\n%s\n' "$quick" "$full" | sort | uniq -d | wc -l)
if [ "$nq" -gt 100 ] && [ "$nf" -gt "$nq" ] && [ "$dups" -eq "$nq" ] && ! grep -q planted <<<"$full"; then
	result torch-case-table PASS "quick $nq cases, full $nf (quick is a subset), ids unique, no planted case listed"
else
	result torch-case-table FAIL "quick=$nq full=$nf shared=$dups"
fi
bad=0
for args in "--run fwd.fp32.nchw.heur.no_such_shape.device" "--run planted.nope" "--list huge" "" "--device=tpu --probe"; do
	# shellcheck disable=SC2086 # each entry is a list of arguments
	worker $args
	[ "$rc" -eq 2 ] || {
		bad=1
		log "worker $args: exit $rc, want 2"
	}
done
if [ "$bad" -eq 0 ]; then result torch-usage PASS "5 bad invocations exit 2"; else result torch-usage FAIL "see above"; fi

# 2. The shapes the C++ harness also has are the same layers (userspace/harness/cases.cpp kShapes).
cxx=$(find "$VMFIX_ROOT/userspace" -name cases.cpp -path '*harness*' -o -name cases.cpp -path '*check*' | head -n 1)
sed -n 's/^ *{"\([a-z0-9_]*\)", *"[^"]*", *\([0-9, ]*\), *\(true\|false\), *\(true\|false\)},$/\1 \2 \3/p' "$cxx" |
	tr ',' ' ' | awk '{ dw = ($10 == "true") ? $2 : 1; print $1, $2, $3, $4, $5, $6, $7, $8, $9, 1, dw }' | sort >"$work/cxx"
jq -r '.shape | "\(.name) \(.c) \(.h) \(.w) \(.k) \(.r) \(.s) \(.stride) \(.pad) \(.dilation) \(.groups)"' "$work/full.jsonl" | sort -u >"$work/py"
diffs=$(comm -23 "$work/cxx" "$work/py")
if [ "$(wc -l <"$work/cxx")" -ge 15 ] && [ -z "$diffs" ]; then
	result torch-shapes-match PASS "all $(wc -l <"$work/cxx") C++ layers have the same numbers in the torch table ($(wc -l <"$work/py") layers there)"
else
	result torch-shapes-match FAIL "C++ layers missing or different in the torch table: $diffs"
fi

# 3. Probe: the CPU device is labelled; without a GPU the default device is "no device" (exit 3).
worker --device=cpu --probe
if [ "$rc" -eq 0 ] && sed -n 's/^VMFIX-PROBE //p' "$work/out" |
	jq -e '.backend == "torch" and .arch == "cpu" and (.device | startswith("cpu (")) and (.torch_version | length > 0) and .python != null' >/dev/null; then
	result torch-probe-cpu PASS "$(sed -n 's/^VMFIX-PROBE //p' "$work/out" | jq -r '"\(.device); torch \(.torch_version) at \(.torch_path)"')"
else
	result torch-probe-cpu FAIL "rc=$rc: $(cat "$work/out" "$work/err")"
fi
if "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
	result torch-no-gpu SKIP "this torch has a GPU device"
else
	worker --probe
	if [ "$rc" -eq 3 ] && grep -q 'no GPU device for torch' "$work/err"; then
		result torch-no-gpu PASS "GPU device asked of a torch without one: exit 3 ($(head -c 90 "$work/err"))"
	else
		result torch-no-gpu FAIL "rc=$rc: $(cat "$work/err")"
	fi
fi

# 4. An interpreter without torch exits 3, a torch that fails to import exits 4, both with a clear line.
printf '#!/bin/sh\nexec %s -S "$@"\n' "$py" >"$work/python-no-site"
chmod +x "$work/python-no-site"
rc=0
"$work/python-no-site" "$worker" --device=cpu --probe >"$work/out" 2>"$work/err" || rc=$?
if [ "$rc" -eq 3 ] && grep -q 'has no torch module' "$work/err"; then
	result torch-missing PASS "no torch: exit 3 ($(head -c 100 "$work/err"))"
else
	result torch-missing FAIL "rc=$rc: $(cat "$work/err")"
fi
mkdir -p "$work/broken/torch"
echo 'raise ImportError("libtorch_cpu.so: cannot open shared object file (simulated)")' >"$work/broken/torch/__init__.py"
rc=0
PYTHONPATH="$work/broken" "$py" "$worker" --device=cpu --probe >"$work/out" 2>"$work/err" || rc=$?
if [ "$rc" -eq 4 ] && grep -q '^VMFIX-ERROR import torch: ImportError: .*cannot load' "$work/err"; then
	result torch-broken PASS "broken torch: exit 4 ($(head -n 1 "$work/err" | head -c 110))"
else
	result torch-broken FAIL "rc=$rc: $(cat "$work/err")"
fi

# 5. A device target the build has no code for: every case gets missing_code_object before any kernel
# runs (test seam: the CPU device pretends to be a gfx1010 with a gfx900/gfx1030 build), unless an
# override is set.
ids="fwd.fp32.nchw.heur.mbv2_dw_c960.device planted.segv wgrad.bf16.nhwc.bench.mbv2_conv1.pinned_mapped"
# shellcheck disable=SC2086 # a list of ids
VMFIX_TORCH_TEST_ARCH=gfx1010:xnack- VMFIX_TORCH_TEST_ARCH_LIST=gfx900,gfx1030 worker --device=cpu --run $ids
verdicts=$(results | jq -r .verdict | sort -u | tr '\n' ' ')
if [ "$rc" -eq 0 ] && [ "$verdicts" = "missing_code_object " ] && [ "$(results | wc -l)" -eq 3 ] &&
	results | head -n 1 | jq -e '.reason | test("no code objects for gfx1010") and test("gfx1010 code")' >/dev/null; then
	result torch-missing-code-object PASS "3 cases (one planted crash among them) get missing_code_object, nothing ran"
else
	result torch-missing-code-object FAIL "rc=$rc verdicts='$verdicts': $(head -c 300 "$work/out")"
fi
HSA_OVERRIDE_GFX_VERSION=10.3.0 VMFIX_TORCH_TEST_ARCH=gfx1010:xnack- VMFIX_TORCH_TEST_ARCH_LIST=gfx900,gfx1030 \
	worker --device=cpu --run fwd.fp32.nchw.heur.mbv2_dw_c960.device
if [ "$rc" -eq 0 ] && [ "$(results | jq -r .verdict)" = pass ]; then
	result torch-override-runs PASS "with HSA_OVERRIDE_GFX_VERSION set the case runs (the override experiment judges it)"
else
	result torch-override-runs FAIL "rc=$rc: $(cat "$work/out" "$work/err")"
fi

# 6. The worker on its own, one process: quick-profile cases of every pass, dtype and layout, and the
# planted wrong result, on the CPU device.
VMFIX_REF_CACHE="$work" worker --device=cpu --run fwd.fp32.nchw.heur.mbv2_conv1.device dgrad.fp32.nhwc.heur.resnext_g32_3x3.device \
	wgrad.bf16.nchw.heur.deeplab_aspp_d2.device fwd.fp16.nchw.heur.mbv2_dw_c960.device \
	fwd.fp32.nchw.bench.r50_conv1_crop.device fwd.fp32.nchw.heur.mbv2_conv1.pinned_mapped planted.wrong
got=$(results | jq -r '"\(.id)=\(.verdict)"' | tr '\n' ' ')
fp16=$(results | jq -r 'select(.id | startswith("fwd.fp16")) | .verdict')
want_fp16=pass want_pass=4
"$py" -c 'import torch, torch.nn.functional as F; F.conv2d(torch.ones(1,1,3,3,dtype=torch.half), torch.ones(1,1,1,1,dtype=torch.half))' \
	2>/dev/null || { want_fp16=unsupported; want_pass=3; }
if [ "$rc" -eq 0 ] && [ "$(results | jq -r 'select(.verdict == "pass") | .id' | wc -l)" -eq "$want_pass" ] &&
	[ "$fp16" = "$want_fp16" ] && results | jq -e 'select(.id == "planted.wrong") | .verdict == "wrong_result" and .max_abs_err > 0.49 and .max_abs_err < 0.51' >/dev/null &&
	[ "$(results | jq -r 'select(.verdict == "unsupported") | .reason' | grep -c 'cuDNN/MIOpen\|GPU build\|fp16\|Half')" -ge 2 ] &&
	ls "$work"/torch.*.pt >/dev/null 2>&1; then
	result torch-worker-cpu PASS "$got"
else
	result torch-worker-cpu FAIL "rc=$rc: $got $(tail -n 3 "$work/err")"
fi

# 7. Through `rdna1-vmfix check --backend=torch` (the C++ runner: isolation, batching, reports).
build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}"
tool="$build/userspace/rdna1-vmfix"
need_tools cmake ninja
build_targets "$build" torch-cli-build "rdna1-vmfix did not build" rdna1-vmfix
if [ ! -r "$build/userspace/torch_worker.py" ]; then
	result torch-cli-build FAIL "torch_worker.py is not next to rdna1-vmfix"
	report_counts
	exit 1
fi
# check ARGS...: rc, stdout in $work/out, stderr in $work/err, seconds in $secs. The command runs
# as the leader of a session of its own (id in $work/sid): the orphan check counts only its workers.
check() {
	rc=0
	local t0
	t0=$(date +%s%N)
	in_session "$work/sid" "$tool" check --no-progress --backend=torch "$@" >"$work/out" 2>"$work/err" || rc=$?
	secs=$((($(date +%s%N) - t0) / 1000000))
	secs="$((secs / 1000)).$(printf '%03d' $((secs % 1000)))"
}
check --python="$py" --torch-device=cpu --profile=quick --json
total=$(jq '.runs[0].cases | length' "$work/out" 2>/dev/null || echo 0)
pass=$(jq '.runs[0].summary.pass' "$work/out" 2>/dev/null || echo 0)
unsup=$(jq '.runs[0].summary.unsupported' "$work/out" 2>/dev/null || echo 0)
if [ "$rc" -eq 0 ] && [ "$total" -eq "$nq" ] && [ "$pass" -gt 0 ] && [ $((pass + unsup)) -eq "$total" ] &&
	jq -e --arg py "$py" '(.device.device | startswith("cpu (")) and .device.python == $py and .options.batch == 256' "$work/out" >/dev/null &&
	jq -e '[.runs[0].cases[] | select(.verdict == "unsupported") | .reason | length > 0] | all' "$work/out" >/dev/null; then
	result torch-cli-quick-cpu PASS "$total cases: $pass pass, $unsup unsupported (with reasons) on the labelled CPU device, exit 0, in ${secs} s"
else
	result torch-cli-quick-cpu FAIL "rc=$rc total=$total pass=$pass unsupported=$unsup: $(tail -n 3 "$work/err")"
fi

# Planted faults in one batch: each is classified (the crash re-run alone), the good case passes, the
# emulated GPU fault's kernel-log lines are attributed by pid, no worker is left.
: >"$work/kmsg"
VMFIX_KMSG="$work/kmsg" VMFIX_TEST_KMSG_FILE="$work/kmsg" check --python="$py" --torch-device=cpu --timeout=3 --json \
	--cases='planted.*,fwd.fp32.nchw.heur.mbv2_dw_c960.device'
verdicts=$(jq -r '[.runs[0].cases[] | select(.planted) | "\(.planted)=\(.verdict)"] | sort | join(" ")' "$work/out" 2>/dev/null || true)
others=$(jq -r '[.runs[0].cases[] | select(.planted | not) | .verdict] | unique | join(" ")' "$work/out" 2>/dev/null || true)
want="gpu_fault=gpu_fault hang=hang segv=crash wrong=wrong_result"
if [ "$rc" -eq 1 ] && [ "$verdicts" = "$want" ] && [ "$others" = pass ] &&
	jq -e '.runs[0].cases[] | select(.planted == "segv") | .reason | test("re-run alone; first crash in a batch")' "$work/out" >/dev/null &&
	jq -e '.runs[0].cases[] | select(.planted == "gpu_fault") | .kernel_log | length == 3' "$work/out" >/dev/null &&
	jq -e '.runs[0].cases[] | select(.planted == "wrong") | .max_abs_err > 0.49 and .max_abs_err < 0.51' "$work/out" >/dev/null; then
	result torch-cli-planted PASS "$verdicts; the crash confirmed alone; kernel log attributed; other case passes; exit 1; ${secs} s"
else
	result torch-cli-planted FAIL "rc=$rc verdicts='$verdicts' others='$others': $(tail -n 3 "$work/err")"
fi
sleep 0.2
left=$(session_procs "$(cat "$work/sid")")
if [ -n "$left" ]; then
	result torch-cli-no-orphans FAIL "a worker of this run outlived it: $(printf '%s\n' "$left" | head -n 2)"
else
	result torch-cli-no-orphans PASS "no process of the run's session after it (its torch workers included)"
fi

# Missing or broken torch, a bad interpreter, options of another backend.
check --python="$work/python-no-site" --torch-device=cpu
miss_rc=$rc miss_err=$(head -c 300 "$work/err")
PYTHONPATH="$work/broken" check --python="$py" --torch-device=cpu
broken_rc=$rc broken_err=$(head -c 300 "$work/err")
check --python=/nonexistent/python3
none_rc=$rc
"$tool" check --backend=host --python="$py" >/dev/null 2>&1 && usage_rc=0 || usage_rc=$?
if [ "$miss_rc" -eq 3 ] && grep -q 'has no torch module' <<<"$miss_err" && [ "$broken_rc" -eq 4 ] &&
	grep -q 'import torch: ImportError' <<<"$broken_err" && [ "$none_rc" -eq 3 ] && [ "$usage_rc" -eq 2 ]; then
	result torch-cli-missing-broken PASS "no torch: exit 3; broken torch: exit 4; no interpreter: exit 3; --python without torch backend: exit 2"
else
	result torch-cli-missing-broken FAIL "no torch rc=$miss_rc ($miss_err); broken rc=$broken_rc ($broken_err); none rc=$none_rc; usage rc=$usage_rc"
fi

# A build without code for the device: every case missing_code_object, exit 1, the report says why.
VMFIX_TORCH_TEST_ARCH=gfx1010:xnack- VMFIX_TORCH_TEST_ARCH_LIST=gfx900,gfx1030 \
	check --python="$py" --torch-device=cpu --cases='*.mbv2_dw_c960.device'
if [ "$rc" -eq 1 ] && grep -q '^missing code objects: this torch carries no code objects for gfx1010' "$work/out" &&
	grep -qE '^[0-9]+ cases: 0 pass, [0-9]+ missing_code_object' "$work/out"; then
	result torch-cli-missing-code-object PASS "$(grep -E '^[0-9]+ cases:' "$work/out")"
else
	result torch-cli-missing-code-object FAIL "rc=$rc: $(head -n 5 "$work/out") $(cat "$work/err")"
fi

# --override-experiment: native and HSA_OVERRIDE_GFX_VERSION=10.3.0 side by side, separate workers.
HSA_OVERRIDE_GFX_VERSION=10.3.0 check --python="$py" --torch-device=cpu --override-experiment --json \
	--cases='fwd.*.nchw.heur.mbv2_dw_c960.device'
if [ "$rc" -eq 0 ] && [ "$(jq -r '[.runs[].variant] | join(",")' "$work/out")" = native,override ] &&
	jq -e '.runs[1].env.HSA_OVERRIDE_GFX_VERSION == "10.3.0" and (.runs[0].env | has("HSA_OVERRIDE_GFX_VERSION") | not)' "$work/out" >/dev/null &&
	jq -e '.device.hsa_override_gfx_version == null and ([.runs[].cases[].pid] | unique | length == 2)' "$work/out" >/dev/null &&
	grep -q 'not gfx101x' "$work/err"; then
	result torch-cli-override PASS "native (override unset) and override runs side by side in separate workers"
else
	result torch-cli-override FAIL "rc=$rc: $(head -c 400 "$work/out") $(cat "$work/err")"
fi
report_counts
