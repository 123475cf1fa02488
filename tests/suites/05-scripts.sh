#!/usr/bin/env bash
# The shell the other suites stand on (scripts/lib/common.sh, tests/run.sh): the runner lists every
# skip with its reason and fails a required suite that skipped; in_session/session_procs count only
# the processes a test started; publish_log's copies are whole; parse_args; the checkpatch preparation keeps downloads out of the
# judged output. Seconds, no root, no network.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The runs of tests/run.sh below judge their own suites: CI's requirements (.ci/run exports them)
# must not reach them.
unset VMFIX_REQUIRED_SUITES VMFIX_ALLOWED_SKIPS

# --- tests/run.sh on a suites directory of its own: one suite passes, one skips
mkdir -p "$tmp/suites"
cat >"$tmp/suites/10-good.sh" <<'SUITE'
. "$VMFIX_ROOT/scripts/lib/common.sh"
result one PASS "fine"
report_counts
SUITE
cat >"$tmp/suites/20-rooty.sh" <<'SUITE'
. "$VMFIX_ROOT/scripts/lib/common.sh"
result dkms SKIP "needs root and dkms"
report_counts
SUITE
capture "$tmp/out" "$tmp/err" env VMFIX_SUITES_DIR="$tmp/suites" "$VMFIX_ROOT/tests/run.sh"
if [ "$rc" -eq 0 ] && grep -q '^=== skipped (1): what did not run, and why ===$' "$tmp/out" &&
	grep -qE '^rooty +dkms: needs root and dkms$' "$tmp/out" && [ "$(tail -n1 "$tmp/out")" = "1 passed, 0 failed, 1 skipped" ]; then
	result runner-lists-skips PASS "a skip is listed with suite, item and reason before the closing line"
else
	result runner-lists-skips FAIL "rc=$rc: $(tail -n 4 "$tmp/out")"
fi
capture "$tmp/out" "$tmp/err" env VMFIX_SUITES_DIR="$tmp/suites" "$VMFIX_ROOT/tests/run.sh" --require=all
if [ "$rc" -ne 0 ] && grep -q '^dkms FAIL skipped, but suite rooty must run in full' "$tmp/out" &&
	[ "$(tail -n1 "$tmp/out")" = "1 passed, 1 failed, 0 skipped" ]; then
	result runner-required-skip PASS "--require=all: the skip of a required suite is a failure, exit $rc"
else
	result runner-required-skip FAIL "rc=$rc: $(tail -n 4 "$tmp/out")"
fi
capture "$tmp/out" "$tmp/err" env VMFIX_SUITES_DIR="$tmp/suites" VMFIX_REQUIRED_SUITES=rooty \
	VMFIX_ALLOWED_SKIPS='^rooty/dkms$' "$VMFIX_ROOT/tests/run.sh"
if [ "$rc" -eq 0 ] && [ "$(tail -n1 "$tmp/out")" = "1 passed, 0 failed, 1 skipped" ]; then
	result runner-allowed-skip PASS "a skip matching VMFIX_ALLOWED_SKIPS stays a skip"
else
	result runner-allowed-skip FAIL "rc=$rc: $(tail -n 4 "$tmp/out")"
fi

# A failure is listed again, with its reason, before the closing line (a CI log shows only its end).
mkdir -p "$tmp/suites-fail"
cp "$tmp/suites/10-good.sh" "$tmp/suites-fail/"
cat >"$tmp/suites-fail/30-bad.sh" <<'SUITE'
. "$VMFIX_ROOT/scripts/lib/common.sh"
result broken FAIL "the reason it broke"
report_counts
SUITE
capture "$tmp/out" "$tmp/err" env VMFIX_SUITES_DIR="$tmp/suites-fail" "$VMFIX_ROOT/tests/run.sh"
if [ "$rc" -ne 0 ] && [ "$(tail -n 3 "$tmp/out" | head -n 2 | tr '\n' '|')" = "=== failed (1) ===|bad      broken: the reason it broke|" ] &&
	[ "$(tail -n1 "$tmp/out")" = "1 passed, 1 failed, 0 skipped" ]; then
	result runner-lists-failures PASS "a failure is listed with suite, item and reason right before the closing line"
else
	result runner-lists-failures FAIL "rc=$rc: $(tail -n 4 "$tmp/out")"
fi

# --- in_session / session_procs: a child that outlives its parent is found in the session, and
# a look-alike process outside the session (same command line) is not counted.
sleep 30 &
lookalike=$!
capture "$tmp/out" "$tmp/err" in_session "$tmp/sid" sh -c 'sleep 30 & exit 3'
sid=$(cat "$tmp/sid")
left=$(session_procs "$sid")
n=$(grep -c 'sleep 30' <<<"$left" || true)
if [ "$rc" -eq 3 ] && [ "$n" -eq 1 ] && ! grep -qw "$lookalike" <<<"$(awk '{print $1}' <<<"$left")"; then
	result session-counts-own PASS "exit status kept (3); the orphaned child found in session $sid, the look-alike outside not"
else
	result session-counts-own FAIL "rc=$rc n=$n left='$left'"
fi
while read -r p _; do kill "$p" 2>/dev/null || true; done <<<"$left"
kill "$lookalike" 2>/dev/null || true
wait "$lookalike" 2>/dev/null || true

# --- publish_log: two runs publishing their logs to one name at once; every read of that name
# finds one run's whole log (never a mix or a cut), and no temporary copy is left.
head -c 300000 /dev/zero | tr '\0' a >"$tmp/log-a"
head -c 300000 /dev/zero | tr '\0' b >"$tmp/log-b"
mkdir -p "$tmp/pub"
publish_log "$tmp/log-a" "$tmp/pub/x.log"
(for _ in $(seq 15); do publish_log "$tmp/log-a" "$tmp/pub/x.log"; done) &
pa=$!
(for _ in $(seq 15); do publish_log "$tmp/log-b" "$tmp/pub/x.log"; done) &
pb=$!
reads=0 torn=0
while kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null; do
	reads=$((reads + 1))
	cp "$tmp/pub/x.log" "$tmp/seen"
	cmp -s "$tmp/seen" "$tmp/log-a" || cmp -s "$tmp/seen" "$tmp/log-b" || torn=$((torn + 1))
done
wait "$pa" "$pb"
left=$(find "$tmp/pub" -type f ! -name x.log | wc -l)
if [ "$torn" -eq 0 ] && [ "$left" -eq 0 ] && [ "$(stat -c %a "$tmp/pub/x.log")" = 644 ]; then
	result publish-log-whole PASS "2 writers x 15 copies of 300 kB: $reads reads, every one a whole log, no temporary left"
else
	result publish-log-whole FAIL "$torn of $reads reads torn, $left temporary file(s) left"
fi

# shellcheck disable=SC2016 # the inner shells expand their own variables
# --- parse_args: switches, values in both spellings, positionals, unknown option = exit 2
capture "$tmp/out" "$tmp/err" bash -c '. "$VMFIX_ROOT/scripts/lib/common.sh"; opt_fresh="" opt_runs=5
parse_args "runs= fresh" --runs 7 a --fresh -- --b; echo "$opt_runs $opt_fresh ${ARGS[*]}"
parse_args "runs=" --runs=9; echo "$opt_runs"'
# shellcheck disable=SC2016
capture "$tmp/out2" "$tmp/err2" bash -c '. "$VMFIX_ROOT/scripts/lib/common.sh"; parse_args "runs=" --walk'
if [ "$(tr '\n' '|' <"$tmp/out")" = "7 1 a --b|9|" ] && [ "$rc" -eq 2 ] && grep -q 'unknown option --walk' "$tmp/err2"; then
	result parse-args PASS "switch, --opt V, --opt=V, --, positionals; unknown option exits 2"
else
	result parse-args FAIL "$(cat "$tmp/out") rc=$rc $(cat "$tmp/err2")"
fi

# --- checkpatch.sh: what the download prints never reaches its output (a fake fetch that talks)
fake="$tmp/root"
mkdir -p "$fake/scripts/lib" "$fake/kernel"
cp "$VMFIX_ROOT/scripts/checkpatch.sh" "$fake/scripts/"
cp "$VMFIX_ROOT/scripts/lib/common.sh" "$fake/scripts/lib/"
mkdir -p "$tmp/src/linux/scripts"
printf '#!/usr/bin/perl\nprint "total: 0 errors, 0 warnings, 0 checks, 1 lines checked\\n";\n' >"$tmp/src/linux/scripts/checkpatch.pl"
: >"$tmp/src/linux/scripts/spelling.txt"
: >"$tmp/src/linux/scripts/const_structs.checkpatch"
tar -cJf "$tmp/linux-source.tar.xz" -C "$tmp/src" linux
cat >"$fake/scripts/lib/kernels.sh" <<STUB
fetch_linux_source() {
	echo "Get:1 http://archive linux-source-7.2 [150 MB]" >&2
	echo "W: download is performed unsandboxed" >&2
	echo "$tmp/linux-source.tar.xz"
}
STUB
printf 'int x;\n' >"$fake/kernel/x.c"
capture "$tmp/out" "$tmp/err" env VMFIX_ROOT="$fake" VMFIX_CACHE="$tmp/cache" "$fake/scripts/checkpatch.sh" "$fake/kernel/x.c"
if [ "$rc" -eq 0 ] && [ "$(cat "$tmp/out" "$tmp/err")" = "total: 0 errors, 0 warnings, 0 checks, 1 lines checked" ] &&
	[ -f "$tmp/cache/checkpatch/7.2/.vmfix-ready" ]; then
	result checkpatch-quiet-download PASS "first run: apt's lines kept out of stdout and stderr, only checkpatch's verdict"
else
	result checkpatch-quiet-download FAIL "rc=$rc: $(head -c 300 "$tmp/out") / $(head -c 300 "$tmp/err")"
fi
# --- lab.sh: lab_run (output, JSON path, exit status, a session of its own), lab_all_pass and
# lab_expect_planted, on a fake check command that leaves a child behind
cat >"$tmp/fake-check" <<'FAKE'
#!/bin/sh
printf '%s\n' "$@" >"$FAKE_ARGS"
for a; do case $a in --save-json=*) cp "$FAKE_JSON" "${a#--save-json=}" ;; esac; done
echo "4 cases: 3 pass, 1 unsupported"
echo "a warning" >&2
sleep 30 &
exit "$FAKE_RC"
FAKE
chmod +x "$tmp/fake-check"
printf '%s\n' '{"runs":[{"summary":{"pass":3,"unsupported":1},"cases":[{},{},{},{}]}]}' >"$tmp/all.json"
printf '%s\n' '{"runs":[{"cases":[{"planted":"segv","verdict":"crash"},{"planted":"hang","verdict":"hang"},' \
	'{"planted":"wrong","verdict":"wrong_result"},{"planted":"gpu_fault","verdict":"gpu_fault"},{"verdict":"pass"}]}]}' >"$tmp/planted.json"
cat >"$tmp/lab-test.sh" <<'LAB'
set -euo pipefail
. "$VMFIX_ROOT/scripts/lib/common.sh"
. "$VMFIX_ROOT/scripts/lib/lab.sh"
lab_start "$1/lab-out" >/dev/null
tool=("$1/fake-check" --backend=x)
LAB_SIDFILE="$1/sid"
FAKE_ARGS="$1/args" FAKE_JSON="$1/all.json" FAKE_RC=0 lab_run all --profile=quick >/dev/null
lab_all_pass all && echo "all: rc $rc, $p $u $n, $(tr '\n' '|' <"$OUT/all.txt")"
session_procs "$(cat "$LAB_SIDFILE")" | awk '{ print $1 }' >"$1/left"
echo "args: $(tr '\n' ' ' <"$1/args")"
lab_all_pass missing || echo "missing: $p $u $n"
unset LAB_SIDFILE
FAKE_ARGS="$1/args" FAKE_JSON="$1/planted.json" FAKE_RC=1 lab_run planted >/dev/null
lab_expect_planted planted >/dev/null
echo "fail $fail"
cat "$summary"
LAB
capture "$tmp/out" "$tmp/err" env FAKE_ARGS= FAKE_JSON= FAKE_RC= bash "$tmp/lab-test.sh" "$tmp"
nleft=$(wc -w <"$tmp/left" 2>/dev/null || echo 0)
[ ! -f "$tmp/left" ] || while read -r p; do kill "$p" 2>/dev/null || true; done <"$tmp/left"
want="all: rc 0, 3 1 4, 4 cases: 3 pass, 1 unsupported|a warning|
args: --backend=x --no-progress --save-json=$tmp/lab-out/all.json --profile=quick 
missing: 0 0 0
fail 0"
if [ "$rc" -eq 0 ] && [ "$(head -n 4 "$tmp/out")" = "$want" ] && [ "$nleft" -eq 1 ] &&
	grep -qE '^run all: exit 0 in [0-9.]+ s: 4 cases: 3 pass, 1 unsupported$' "$tmp/out" &&
	grep -qE '^run planted: exit 1 in [0-9.]+ s: 4 cases:' "$tmp/out" &&
	grep -qx 'planted PASS gpu_fault=gpu_fault hang=hang segv=crash wrong=wrong_result' "$tmp/out"; then
	result lab-run PASS "lab_run: output, --save-json path, exit status, its session's leftover child found; lab_all_pass, lab_expect_planted"
else
	result lab-run FAIL "rc=$rc left=$nleft: $(head -c 600 "$tmp/out") / $(head -c 300 "$tmp/err")"
fi
report_counts
