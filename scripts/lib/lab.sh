# shellcheck shell=bash disable=SC2034 # OUT, summary and fail belong to the calling script
# What the lab scripts (lab-cuda.sh, lab-torch.sh) share: the results folder, the summary they
# write as they go, timings and expectations. Sets OUT (absolute, created), summary and fail.

# lab_start DEFAULT_OUT: OUT from the environment or DEFAULT_OUT; an empty summary.txt in it.
lab_start() {
	OUT=${OUT:-$1}
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	summary="$OUT/summary.txt"
	: >"$summary"
	fail=0
}
say() { printf '%s\n' "$*" | tee -a "$summary"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
expect() { # NAME PASS|FAIL TEXT: a FAIL makes the script's exit status 1
	say "$1 $2 $3"
	[ "$2" = PASS ] || fail=1
}
