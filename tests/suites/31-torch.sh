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
report_counts
