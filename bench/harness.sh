#!/usr/bin/env bash
# Harness time-to-verdict: wall time of `rdna1-vmfix check --backend=host` for the quick and full
# profiles on this machine (every case in its own worker process, CPU reference included), from
# start to the printed verdict. Goals: quick <= 10 s, full <= 60 s. Wall time depends on what else
# runs (the load average is printed); CPU time (user+sys of every worker) much less, so it is given too.
# The cuda figures come from the lab run (scripts/lab-cuda.sh), not from here.
#
# usage: bench/harness.sh [--runs N] [--verbose]      (best of N runs per profile, default 1)
# Prints "BENCH<TAB>name<TAB>value<TAB>unit<TAB>goal<TAB>PASS|FAIL|INFO<TAB>notes" lines.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"

runs=1
opts=$(getopt -o h -l runs:,verbose,help -n harness.sh -- "$@") || exit 2
eval set -- "$opts"
while true; do
	case "$1" in
	--runs) runs=$2; shift ;;
	--verbose) set -x ;;
	-h | --help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
	--) shift; break ;;
	esac
	shift
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number" 2
need_tools cmake ninja

build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}"
cmake -S "$VMFIX_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" rdna1-vmfix rdna1-vmfix-check-host >&2
tool="$build/userspace/rdna1-vmfix"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for profile in quick full; do
	goal=$([ "$profile" = quick ] && echo 10 || echo 60)
	best="" best_cpu="" cases="" rc=0
	for _ in $(seq "$runs"); do
		load=$(cut -d' ' -f1 /proc/loadavg)
		# user+sys of finished children before and after: the workers' CPU time.
		read -r u0 s0 < <(awk '{print $14 + $16, $15 + $17}' /proc/$$/stat)
		t0=$(date +%s.%N)
		rc=0
		"$tool" check --backend=host --profile="$profile" --no-progress >"$out" 2>&1 || rc=$?
		t1=$(date +%s.%N)
		read -r u1 s1 < <(awk '{print $14 + $16, $15 + $17}' /proc/$$/stat)
		[ "$rc" -eq 0 ] || die "check --profile=$profile exited $rc: $(tail -n 3 "$out")" 4
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		cpu=$(awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (u + s) / hz }')
		cases=$(grep -oE '^[0-9]+ cases' "$out" | head -n1)
		log "harness: $profile: ${wall} s wall, ${cpu} s CPU, $cases, load $load"
		if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$wall best_cpu=$cpu best_load=$load
		fi
	done
	verdict=$(awk -v s="$best" -v g="$goal" 'BEGIN { print (s <= g) ? "PASS" : "FAIL" }')
	printf 'BENCH\tharness_host_%s_time_to_verdict\t%s\ts\t<= %s\t%s\t%s all pass; %s s CPU; %s CPUs, load %s; best of %s\n' \
		"$profile" "$best" "$goal" "$verdict" "$cases" "$best_cpu" "$(nproc)" "$best_load" "$runs"
done
