#!/usr/bin/env bash
# Lab run of the convolution harness on an NVIDIA GPU (cuda backend): builds it, runs the quick and
# full profiles and the planted-fault cases (a real illegal-address fault must be isolated and
# reported), and writes results and timings under $OUT (default ./lab-out).
# Usage: scripts/lab-cuda.sh [--verbose] [--arch sm_XX] [--jobs N] [--plain] [--build-only]
#   --plain: skip cmake; --build-only: build the driver and host worker and stop (no GPU or nvcc
#   needed; CI checks the plain build line so)
# Needs nvcc (PATH or /usr/local/cuda/bin) and g++ >= 10; uses cmake+ninja when they configure the
# project, else a plain nvcc + g++ build (needs fmt, CLI11 and nlohmann-json headers).
# Files in $OUT: summary.txt, build.log, cuda-{quick,full,planted}.{txt,json}. Exit 0 when every
# expectation held, 1 when one did not, 4 when the build or the GPU is missing.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/lab.sh
. "$(dirname "$0")/lib/lab.sh"
# shellcheck source=scripts/lib/sources.sh
. "$(dirname "$0")/lib/sources.sh"

opt_arch="" opt_jobs=4 opt_plain="" opt_build_only=""
parse_args "arch= jobs= plain build-only" "$@"
[ ${#ARGS[@]} -eq 0 ] || die "unknown argument '${ARGS[0]}' (see --help)" 2
arch=$opt_arch jobs=$opt_jobs plain_only=${opt_plain:-0} build_only=${opt_build_only:-0}
cd "$VMFIX_ROOT"
lab_start ./lab-out

# --- tools and GPU --------------------------------------------------------------------------------
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; } || true
command -v g++ >/dev/null || die "g++ not found" 4
if [ "$build_only" -eq 0 ]; then
	[ -n "$nvcc" ] || die "nvcc not found (PATH, /usr/local/cuda/bin)" 4
	command -v jq >/dev/null || die "jq not found (it reads the JSON reports)" 4
	gpu=$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -n1 || true)
	[ -n "$gpu" ] || die "no NVIDIA GPU visible (nvidia-smi)" 4
	if [ -z "$arch" ]; then
		cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')
		arch="sm_${cap:-90}"
	fi
else
	gpu="none (build only)"
	arch=${arch:-sm_90}
fi
say "lab-cuda: $(date -u +%Y-%m-%dT%H:%M:%SZ) host $(uname -n) kernel $(uname -r) $(nproc) CPUs"
say "gpu: $gpu; nvcc: $([ -n "$nvcc" ] && "$nvcc" --version | tail -n1 || echo none); arch $arch; g++: $(g++ -dumpfullversion)"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (VERSION $(cat VERSION))"

# --- build ----------------------------------------------------------------------------------------
build="${VMFIX_LAB_BUILD:-$VMFIX_ROOT/build-lab}"
bin="$build/userspace"
log="$OUT/build.log"
: >"$log"
t0=$(date +%s.%N)
built=""
if [ "$plain_only" -eq 0 ] && [ -n "$nvcc" ] && command -v cmake >/dev/null && command -v ninja >/dev/null &&
	cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVMFIX_BUILD_TESTS=OFF -DVMFIX_HARNESS_CUDA=ON \
		-DVMFIX_CUDA_ARCH="$arch" -DVMFIX_NVCC="$nvcc" >>"$log" 2>&1 &&
	ninja -C "$build" rdna1-vmfix rdna1-vmfix-check-host harness-cuda >>"$log" 2>&1; then
	tool=("$bin/rdna1-vmfix" check)
	built="cmake"
else
	say "build: plain nvcc + g++ build (cmake skipped, unavailable or failed: see build.log)"
	rm -rf "$build" && mkdir -p "$bin"
	ver=$(cat VERSION)
	opt=${VMFIX_LAB_OPT:--O2} # the CI check of this build line uses -O0: it only has to link
	src=() worker_src=()
	userspace_sources src check-main check-cli check check-kmsg faults status common
	userspace_sources worker_src worker
	plain() { # CMD...: logged, and the first failure stops the build
		printf '+ %s\n' "$*" >>"$log"
		"$@" >>"$log" 2>&1 || {
			tail -n 30 "$log"
			die "plain build failed: $1 (full log: $log)" 4
		}
	}
	if [ -n "$nvcc" ] && [ "$build_only" -eq 0 ]; then
		plain "$nvcc" -std=c++17 -O3 -x cu -arch="$arch" -DVMFIX_BACKEND_CUDA "${worker_src[@]}" \
			-o "$bin/rdna1-vmfix-check-cuda"
	fi
	plain g++ -std=c++17 "$opt" -pthread -DVMFIX_BACKEND_HOST "${worker_src[@]}" -o "$bin/rdna1-vmfix-check-host"
	# the torch backend's worker lives next to the command, as CMake's build puts it
	plain cp userspace/check/workers/torch_worker.py "$bin/"
	plain g++ -std=c++20 "$opt" -DVMFIX_VERSION="\"$ver\"" -Iuserspace -Ikernel "${src[@]}" \
		-lfmt -o "$bin/rdna1-vmfix-check"
	tool=("$bin/rdna1-vmfix-check")
	built="plain"
fi
build_s=$(since "$t0")
say "build: $built in ${build_s} s"
if [ "$build_only" -eq 1 ]; then
	"${tool[@]}" --backend=host --cases='depthwise.fp32.*.dev_coarse' --no-progress >>"$log" 2>&1 ||
		die "the built check does not run (log: $log)" 4
	say "lab-cuda: build only: ${tool[*]} runs"
	exit 0
fi

# --- runs -----------------------------------------------------------------------------------------
# Every run is a session of its own (lab_run): the orphan check counts only the planted run's workers.
LAB_SIDFILE=$(mktemp)
trap 'rm -f "$LAB_SIDFILE"' EXIT
bench=()
for profile in quick full; do
	lab_run "cuda-$profile" --backend=cuda --profile="$profile" --jobs="$jobs"
	if lab_all_pass "cuda-$profile"; then
		expect "cuda-$profile" PASS "$p of $n cases pass ($u unsupported)"
	else
		expect "cuda-$profile" FAIL "exit $rc, $p of $n pass: $(jq -r '[.runs[0].cases[] | select(.verdict != "pass") | "\(.id)=\(.verdict)"] | .[:5] | join(" ")' "$OUT/cuda-$profile.json" 2>/dev/null)"
	fi
	goal=$([ "$profile" = quick ] && echo 10 || echo 60)
	verdict=$(awk -v s="$secs" -v g="$goal" 'BEGIN { print (s <= g) ? "PASS" : "FAIL" }')
	bench+=("$(printf 'BENCH\tharness_cuda_%s_time_to_verdict\t%s\ts\t<=%s\t%s\t%s cases, jobs %s, %s' "$profile" "$secs" "$goal" "$verdict" "$n" "$jobs" "$gpu")")
done

lab_run cuda-planted --backend=cuda --cases='planted.*,depthwise.fp32.mbv2_dw_c960.dev_coarse' --timeout=5 --jobs="$jobs"
lab_expect_planted cuda-planted
fault=$(jq -r '.runs[0].cases[] | select(.planted == "gpu_fault") | .reason' "$OUT/cuda-planted.json" 2>/dev/null || true)
if printf '%s' "$fault" | grep -qiE 'illegal (memory )?address|IllegalAddress'; then
	expect cuda-illegal-address PASS "isolated and reported: $fault"
else
	expect cuda-illegal-address FAIL "reason '$fault'"
fi
after=$(jq -r '.runs[0].cases[] | select(.planted | not) | .verdict' "$OUT/cuda-planted.json" 2>/dev/null || true)
if [ "$after" = pass ]; then
	expect cuda-run-continues PASS "a normal case in the same run still passes"
else
	expect cuda-run-continues FAIL "normal case verdict '$after'"
fi
left=$(session_procs "$(cat "$LAB_SIDFILE")")
if [ -n "$left" ]; then
	expect cuda-no-orphans FAIL "processes of the planted run left: $(printf '%s\n' "$left" | head -n 3)"
else
	expect cuda-no-orphans PASS "no process of the planted run's session left"
fi

# The host backend on this machine's CPUs, for the time-to-verdict table.
for profile in quick full; do
	t=$(date +%s.%N)
	rc=0
	"${tool[@]}" --no-progress --backend=host --profile="$profile" >"$OUT/host.tmp" 2>&1 || rc=$?
	secs=$(since "$t")
	goal=$([ "$profile" = quick ] && echo 10 || echo 60)
	verdict=$(awk -v s="$secs" -v g="$goal" -v rc="$rc" 'BEGIN { print (rc == 0 && s <= g) ? "PASS" : "FAIL" }')
	say "run host-$profile: exit $rc in ${secs} s: $(grep -E '^[0-9]+ cases:' "$OUT/host.tmp" | head -n1)"
	bench+=("$(printf 'BENCH\tharness_host_%s_time_to_verdict\t%s\ts\t<=%s\t%s\t%s CPUs (lab machine), exit %s' "$profile" "$secs" "$goal" "$verdict" "$(nproc)" "$rc")")
done
rm -f "$OUT/host.tmp"

say ""
say "time to verdict:"
for b in "${bench[@]}"; do say "$b"; done
say ""
say "per-kernel device time (ms, cuda full profile, dev_coarse, fp32):"
jq -r '.runs[0].cases[] | select(.memory == "dev_coarse" and .dtype == "fp32" and .kernel_ms) | "  \(.id)  \(.kernel_ms)"' \
	"$OUT/cuda-full.json" 2>/dev/null | tee -a "$summary" >/dev/null || true
say ""
say "lab-cuda: $([ "$fail" -eq 0 ] && echo ALL EXPECTATIONS HELD || echo SOME EXPECTATIONS FAILED) (results in $OUT)"
exit "$fail"
