#!/usr/bin/env bash
# Human output (issue 16 §5): width on a pty and in a pipe, colour only on a terminal and never with
# NO_COLOR, JSON usage errors, faults with several files / --gfx validation / --follow latency, pte
# input and alignment. The terminal cases run the tool under script(1), a real pty.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools cmake ninja script jq

suite_start output-build "rdna1-vmfix did not build" rdna1-vmfix rdna1-vmfix-check-host
data="$VMFIX_ROOT/tests/data"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# on_pty COLS OUTFILE CMD...: runs CMD on a pty COLS wide; its output (CR stripped) goes to OUTFILE.
on_pty() {
	local cols=$1 out=$2
	shift 2
	local cmd
	cmd=$(printf '%q ' "$@")
	script -qec "stty cols $cols rows 50; $cmd" /dev/null </dev/null | tr -d '\r' >"$out" || true
}

# fits ITEM WIDTH FILE: no line wider than WIDTH unless it is one unbreakable token.
fits() {
	local bad
	bad=$(sed 's/\x1b\[[0-9;]*m//g' "$3" | awk -v w="$2" '{ line = $0; sub(/^ +/, "", line) }
		length($0) > w && line ~ / / { print length($0) ": " $0 }' | head -n 3)
	if [ -z "$bad" ]; then
		result "$1" PASS "every line within $2 columns (or one unbreakable token)"
	else
		result "$1" FAIL "$bad"
	fi
}

faultlog="$data/faults/022.txt"

# --- width
for cols in 60 100; do
	on_pty "$cols" "$tmp/pty.txt" "$tool" faults "$faultlog"
	fits "width-faults-pty-$cols" "$cols" "$tmp/pty.txt"
	on_pty "$cols" "$tmp/pty.txt" "$tool" pte 0x0002000000000073
	fits "width-pte-pty-$cols" "$cols" "$tmp/pty.txt"
done
"$tool" faults "$faultlog" >"$tmp/pipe.txt" || true
fits width-faults-pipe-80 80 "$tmp/pipe.txt"
"$tool" pte 0x0002000000000073 >"$tmp/pipe.txt"
fits width-pte-pipe-80 80 "$tmp/pipe.txt"
"$tool" --help >"$tmp/pipe.txt"
fits width-help-pipe-80 80 "$tmp/pipe.txt"
"$tool" check --backend=host --cases='direct.fp32.mbv2_*' --no-progress >"$tmp/pipe.txt" 2>/dev/null || true
fits width-check-pipe-80 80 "$tmp/pipe.txt"
on_pty 100 "$tmp/pty.txt" "$tool" check --backend=host --cases='direct.fp32.mbv2_*' --no-progress
fits width-check-pty-100 100 "$tmp/pty.txt"
if grep -q 'pass' "$tmp/pty.txt" && [ "$(grep -c 'pass' "$tmp/pty.txt")" -ge 1 ]; then
	result check-table-ran PASS "the host backend produced the table"
else
	result check-table-ran FAIL "$(head -c 300 "$tmp/pty.txt")"
fi

# Notes (a crash, a wrong result) beside 40-column case ids: at 80 and 100 columns they go under
# their row whole (as a column they would be a few words a line); the verdicts stay aligned.
notes_ok() { # FILE: the segv note in one piece and VERDICT/crash in one column
	sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '
		/^CASE / { col = index($0, "VERDICT") }
		/^planted\.segv / { seg = index($0, "crash") }
		/worker killed by SIGSEGV/ { whole = 1 }
		END { exit !(col > 0 && seg == col && whole) }'
}
planted=(check --backend=host --cases='planted.segv,planted.wrong,direct.fp32.mbv2_*' --timeout=5 --no-progress)
"$tool" "${planted[@]}" >"$tmp/pipe.txt" 2>/dev/null || true
fits width-check-notes-pipe-80 80 "$tmp/pipe.txt"
if notes_ok "$tmp/pipe.txt" && grep -q '^  note: worker killed by SIGSEGV' "$tmp/pipe.txt"; then
	result check-notes-80 PASS "80 columns: each note under its row in one piece, verdicts aligned"
else
	result check-notes-80 FAIL "$(head -c 600 "$tmp/pipe.txt")"
fi
on_pty 100 "$tmp/pty.txt" "$tool" "${planted[@]}"
fits width-check-notes-pty-100 100 "$tmp/pty.txt"
if notes_ok "$tmp/pty.txt" && sed 's/\x1b\[[0-9;]*m//g' "$tmp/pty.txt" | grep -q '^  note: worker killed by SIGSEGV'; then
	result check-notes-100 PASS "100 columns: each note under its row in one piece, verdicts aligned"
else
	result check-notes-100 FAIL "$(head -c 600 "$tmp/pty.txt")"
fi

# --- progress: a live "[n/N] case verdict" line on a terminal's stderr, nothing on a pipe
on_pty 100 "$tmp/pty.txt" sh -c "\"\$0\" check --backend=host --cases='direct.fp32.mbv2_*' >/dev/null" "$tool"
"$tool" check --backend=host --cases='direct.fp32.mbv2_*' 2>"$tmp/progress-pipe.txt" >/dev/null || true
if grep -q '\[14/14\] direct\.fp32\.mbv2_.* pass' "$tmp/pty.txt" && [ ! -s "$tmp/progress-pipe.txt" ]; then
	result progress-pty PASS "progress counts to [14/14] on a terminal, stderr silent on a pipe"
else
	result progress-pty FAIL "pty: $(tr '\r' '\n' <"$tmp/pty.txt" | tail -n 2 | head -c 200); pipe: $(head -c 200 "$tmp/progress-pipe.txt")"
fi

# --- colour
on_pty 100 "$tmp/pty.txt" env -u NO_COLOR TERM=xterm "$tool" faults "$faultlog"
if grep -q $'\x1b\[' "$tmp/pty.txt"; then result colour-pty PASS "verdict coloured on a terminal"; else result colour-pty FAIL "no escape sequence on a pty"; fi
on_pty 100 "$tmp/pty.txt" env NO_COLOR=1 TERM=xterm "$tool" faults "$faultlog"
if grep -q $'\x1b\[' "$tmp/pty.txt"; then result colour-no-color FAIL "escape sequence despite NO_COLOR"; else result colour-no-color PASS "NO_COLOR: none"; fi
TERM=xterm "$tool" faults "$faultlog" >"$tmp/pipe.txt" || true
if grep -q $'\x1b\[' "$tmp/pipe.txt"; then result colour-pipe FAIL "escape sequence in a pipe"; else result colour-pipe PASS "pipe: none"; fi

# --- pte: no X -> X when unchanged; the MTYPE column lines up for every MTYPE value
"$tool" pte 0x0000000000000073 >"$tmp/pte.txt"
if grep -Eq '(\b[A-Z0-9]+\b) -> \1\b' "$tmp/pte.txt"; then
	result pte-no-same-arrow FAIL "$(grep -E '(\b[A-Z0-9]+\b) -> \1\b' "$tmp/pte.txt" | head -n 2)"
else
	result pte-no-same-arrow PASS "no 'X -> X' where nothing changed"
fi
cols=()
for m in 0 1 2 3 4 5 6 7; do
	v=$(printf '0x%016x' $(((m << 48) | 0x73)))
	"$tool" pte "$v" >"$tmp/pte-$m.txt"
	# column where the rules column starts on the mode=off row (after the MTYPE column)
	c=$(awk '$1 == "off" { print index($0, "no rule") }' "$tmp/pte-$m.txt")
	cols+=("${c:-0}")
done
if [ "$(printf '%s\n' "${cols[@]}" | sort -u | wc -l)" -eq 1 ] && [ "${cols[0]}" -gt 0 ]; then
	result pte-mtype-aligned PASS "rules column at the same position for all 8 MTYPE values"
else
	result pte-mtype-aligned FAIL "positions: ${cols[*]}"
fi
rc=0
"$tool" pte 0002000000000073 >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" -eq 2 ] && grep -q '0x' "$tmp/err"; then
	result pte-hex-without-0x PASS "rejected with a hint to write 0x"
else
	result pte-hex-without-0x FAIL "exit $rc: $(head -c 200 "$tmp/err")"
fi
rc=0
"$tool" pte 115 >"$tmp/out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then result pte-decimal PASS "plain decimal still accepted"; else result pte-decimal FAIL "exit $rc"; fi

# --- JSON usage errors
for args in "faults --json --bogus" "pte --json" "census --json --size 1000" "isa --json --target gfx9999 /bin/true"; do
	rc=0
	# shellcheck disable=SC2086
	"$tool" $args >"$tmp/out" 2>"$tmp/err" || rc=$?
	item="json-usage-${args%% *}"
	if [ "$rc" -eq 2 ] && [ -s "$tmp/out" ] && jq -e '.error.exit_code == 2 and .schema == 1' "$tmp/out" >/dev/null 2>&1; then
		result "$item" PASS "exit 2 with a JSON error document"
	else
		result "$item" FAIL "exit $rc, stdout: $(head -c 200 "$tmp/out")"
	fi
done

# --- faults: several files, --gfx validated
rc=0
"$tool" faults "$faultlog" "$data/faults/011.txt" >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" -eq 1 ] && grep -q '022.txt' "$tmp/out" && grep -q '011.txt' "$tmp/out"; then
	result faults-several-files PASS "both files reported"
else
	result faults-several-files FAIL "exit $rc: $(head -c 300 "$tmp/err")"
fi
rc=0
"$tool" faults --json "$faultlog" "$data/faults/011.txt" >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" -eq 1 ] && jq -e '.files | length == 2' "$tmp/out" >/dev/null 2>&1; then
	result faults-several-files-json PASS "one document, two files"
else
	result faults-several-files-json FAIL "exit $rc: $(head -c 300 "$tmp/out")"
fi
rc=0
"$tool" faults --gfx gfx9999 "$faultlog" >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" -eq 2 ] && grep -q 'gfx9999' "$tmp/err"; then result faults-gfx-invalid PASS "unknown GPU rejected"; else result faults-gfx-invalid FAIL "exit $rc"; fi
rc=0
"$tool" faults --gfx gfx1010 "$faultlog" >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" -eq 1 ]; then result faults-gfx-valid PASS "gfx1010 accepted"; else result faults-gfx-valid FAIL "exit $rc: $(head -c 200 "$tmp/err")"; fi

# --- faults --follow: says it waits, shows a fault within a second of it being logged
: >"$tmp/live.log"
setsid "$tool" faults --follow "$tmp/live.log" >"$tmp/follow.out" 2>"$tmp/follow.err" &
pids+=($!)
sleep 1
if grep -qi 'waiting' "$tmp/follow.err"; then result follow-waiting PASS "says it is waiting"; else result follow-waiting FAIL "stderr: $(head -c 200 "$tmp/follow.err")"; fi
sed -n '/^\[/p' "$faultlog" >>"$tmp/live.log"
start=$(date +%s%N)
seen=""
while [ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ]; do
	if grep -q 'vm_fault' "$tmp/follow.out"; then
		seen=$((($(date +%s%N) - start) / 1000000))
		break
	fi
	sleep 0.05
done
if [ -n "$seen" ] && [ "$seen" -le 1000 ]; then
	result follow-latency PASS "event shown ${seen} ms after it was logged"
else
	result follow-latency FAIL "event not shown within 1 s (${seen:-none} ms)"
fi
kill -- "-${pids[0]}" 2>/dev/null || true

report_counts
