# shellcheck shell=bash disable=SC2034 # OUT, summary, fail, rc, secs, p, u, n belong to the calling script
# What the lab scripts (lab-cuda.sh, lab-torch.sh) share: the results folder, the summary they
# write as they go, timings, expectations and the runs of the check command. Sets OUT (absolute,
# created), summary and fail.

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

# lab_run NAME ARGS...: one run of the check command in the caller's `tool` array with ARGS and
# --no-progress; its output (stdout and stderr) to $OUT/NAME.txt, its JSON report to $OUT/NAME.json.
# Sets rc and secs and says the run's "N cases:" line. With LAB_SIDFILE set, the run is the leader
# of a session of its own whose id goes to that file (in_session), so that the caller counts
# exactly this run's processes afterwards (session_procs).
lab_run() {
	local name=$1 t
	shift
	local cmd=("${tool[@]}" --no-progress --save-json="$OUT/$name.json" "$@")
	[ -z "${LAB_SIDFILE:-}" ] || cmd=(in_session "$LAB_SIDFILE" "${cmd[@]}")
	t=$(date +%s.%N)
	rc=0
	"${cmd[@]}" >"$OUT/$name.txt" 2>&1 || rc=$?
	secs=$(since "$t")
	say "run $name: exit $rc in ${secs} s: $(grep -E '^[0-9]+ cases:' "$OUT/$name.txt" | head -n1)"
}

# lab_all_pass NAME: sets p, u and n (cases passed, unsupported, run) from $OUT/NAME.json (0 0 0
# when it is missing or unreadable); true when the last lab_run exited 0 and ran cases that all
# passed or were unsupported.
lab_all_pass() {
	read -r p u n < <(jq -r '.runs[0] | "\(.summary.pass // 0) \(.summary.unsupported // 0) \(.cases | length)"' \
		"$OUT/$1.json" 2>/dev/null || echo "0 0 0")
	[ "$rc" -eq 0 ] && [ "$n" -gt 0 ] && [ $((p + u)) -eq "$n" ]
}

# lab_expect_planted NAME: the expectation on a run of the four planted cases: exit 1, and each
# planted fault reported as what it is.
lab_expect_planted() {
	local got want="gpu_fault=gpu_fault hang=hang segv=crash wrong=wrong_result"
	got=$(jq -r '[.runs[0].cases[] | select(.planted) | "\(.planted)=\(.verdict)"] | sort | join(" ")' "$OUT/$1.json" 2>/dev/null || true)
	if [ "$rc" -eq 1 ] && [ "$got" = "$want" ]; then
		expect "$1" PASS "$got"
	else
		expect "$1" FAIL "exit $rc, got '$got', want '$want'"
	fi
}
