#!/usr/bin/env bash
# Lab run of `check --backend=torch` (the C++ runner and its torch worker) on an NVIDIA GPU with a
# CUDA build of PyTorch: the quick and full profiles, the planted-fault cases, and the CPU device of
# the same torch; writes results and timings under $OUT (default ./lab-out-torch).
# Usage: scripts/lab-torch.sh [--verbose] [--python PATH]
#   --python  the interpreter whose torch to test (default: /opt/torch/.venv/bin/python when it
#             exists, else python3 on PATH)
# Builds the check command as scripts/lab-cuda.sh --build-only --plain does (g++ and fmt, CLI11,
# nlohmann-json headers). Files in $OUT: summary.txt, build, torch-{quick,full,planted,cpu}.{txt,json}.
# Exit 0 when every expectation held, 1 when one did not, 4 when the build, torch or the GPU is missing.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/lab.sh
. "$(dirname "$0")/lib/lab.sh"

opt_python=""
parse_args "python=" "$@"
[ ${#ARGS[@]} -eq 0 ] || die "unknown argument '${ARGS[0]}' (see --help)" 2
python=$opt_python
[ -n "$python" ] || { [ -x /opt/torch/.venv/bin/python ] && python=/opt/torch/.venv/bin/python; } || python=python3
cd "$VMFIX_ROOT"
lab_start ./lab-out-torch
command -v jq >/dev/null || die "jq not found (it reads the JSON reports)" 4
gpu=$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -n1 || true)
[ -n "$gpu" ] || die "no NVIDIA GPU visible (nvidia-smi)" 4
torch_line=$("$python" -c 'import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.backends.cudnn.version())' 2>&1) ||
	die "no working torch in $python: $torch_line" 4
say "lab-torch: $(date -u +%Y-%m-%dT%H:%M:%SZ) host $(uname -n) kernel $(uname -r) $(nproc) CPUs"
say "gpu: $gpu; python, torch, cuda, cudnn: $torch_line ($python)"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (VERSION $(cat VERSION))"

t0=$(date +%s.%N)
export VMFIX_LAB_BUILD="$OUT/build"
OUT="$OUT/build" scripts/lab-cuda.sh --build-only --plain >/dev/null
tool=("$VMFIX_LAB_BUILD/userspace/rdna1-vmfix-check" --backend=torch --python="$python")
say "build: plain g++ in $(since "$t0") s"

for profile in quick full; do
	lab_run "torch-$profile" --profile="$profile"
	if lab_all_pass "torch-$profile"; then
		expect "torch-$profile" PASS "$p of $n cases pass, $u unsupported, in $secs s"
	else
		expect "torch-$profile" FAIL "exit $rc, $p of $n pass: $(jq -r '[.runs[0].cases[] | select(.verdict != "pass" and .verdict != "unsupported") | "\(.id)=\(.verdict)"] | .[:5] | join(" ")' "$OUT/torch-$profile.json" 2>/dev/null)"
	fi
done

lab_run torch-planted --cases='planted.*,fwd.fp32.nchw.heur.mbv2_conv1.device' --timeout=5
lab_expect_planted torch-planted
others=$(jq -r '[.runs[0].cases[] | select(.planted | not) | .verdict] | unique | join(",")' "$OUT/torch-planted.json" 2>/dev/null || true)
if [ "$others" = pass ]; then
	expect torch-run-continues PASS "the normal cases beside the planted ones still pass"
else
	expect torch-run-continues FAIL "normal case verdicts '$others'"
fi

lab_run torch-cpu --torch-device=cpu --profile=quick
if lab_all_pass torch-cpu; then
	expect torch-cpu PASS "$p of $n cases pass on torch's CPU device, $u unsupported"
else
	expect torch-cpu FAIL "exit $rc, $p of $n pass"
fi
say ""
say "lab-torch: $([ "$fail" -eq 0 ] && echo ALL EXPECTATIONS HELD || echo SOME EXPECTATIONS FAILED) (results in $OUT)"
exit "$fail"
