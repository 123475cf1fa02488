#!/usr/bin/env bash
# rdna1-vmfix post-upgrade check: runs `rdna1-vmfix check --profile=quick --json` once per kernel
# release, records the outcome in the journal (stdout/stderr of the unit, with syslog priority
# prefixes) and in the state directory, and never blocks or fails boot for anything but a found
# problem. Run by rdna1-vmfix-postupgrade.service; safe to run by hand.
#
# Usage: postupgrade-check [--state-dir DIR] [--tool PATH] [--kernel KVER] [--timeout SECONDS]
#                          [--force] [--verbose]
# State (default /var/lib/rdna1-vmfix):
#   last-checked       kernel release of the last completed check
#   last-result        one line: KVER VERDICT EXIT_CODE UTC_TIME
#   last-result.json   stdout of the last check (one JSON document)
# Exit: 0 nothing to do, passed, no GPU or check not available; 1 the check found a problem;
#       2 usage; 4 the check failed to run (error or timeout).
set -euo pipefail

state_dir=/var/lib/rdna1-vmfix
tool=@VMFIX_TOOL@
kver=""
timeout_s=240
force=0

usage() { sed -n '7,8p' "$0" | sed 's/^# //'; }
say() { printf '<%d>rdna1-vmfix-postupgrade: %s\n' "$1" "$2"; } # syslog priority prefix for journald

opts=$(getopt -o h --long state-dir:,tool:,kernel:,timeout:,force,verbose,help -n postupgrade-check -- "$@") || {
	usage >&2
	exit 2
}
eval set -- "$opts"
while true; do
	case "$1" in
	--state-dir) state_dir=$2 && shift 2 ;;
	--tool) tool=$2 && shift 2 ;;
	--kernel) kver=$2 && shift 2 ;;
	--timeout) timeout_s=$2 && shift 2 ;;
	--force) force=1 && shift ;;
	--verbose) set -x && shift ;;
	-h | --help) usage && exit 0 ;;
	--) shift && break ;;
	esac
done
[ $# -eq 0 ] || { usage >&2 && exit 2; }
case "$timeout_s" in '' | *[!0-9]*) say 3 "--timeout needs whole seconds, got '$timeout_s'" && exit 2 ;; esac
[ -n "$kver" ] || kver=$(uname -r)

mkdir -p "$state_dir"
last=""
[ -r "$state_dir/last-checked" ] && last=$(head -n1 "$state_dir/last-checked")
if [ "$force" -eq 0 ] && [ "$last" = "$kver" ]; then
	say 6 "kernel $kver already checked ($(cat "$state_dir/last-result" 2>/dev/null || echo 'no result recorded')); nothing to do"
	exit 0
fi

record() { # VERDICT EXIT_CODE: result line, and mark this kernel as checked
	printf '%s %s %s %s\n' "$kver" "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$state_dir/last-result.tmp"
	mv -f "$state_dir/last-result.tmp" "$state_dir/last-result"
	printf '%s\n' "$kver" >"$state_dir/last-checked.tmp"
	mv -f "$state_dir/last-checked.tmp" "$state_dir/last-checked"
}

# Not installed, or a version without `check`: say so and try again next boot (nothing is marked).
if ! [ -x "$tool" ]; then
	say 4 "kernel changed (${last:-none} -> $kver) but $tool is not installed; no check run"
	exit 0
fi
if ! "$tool" check --help >/dev/null 2>&1; then
	say 4 "kernel changed (${last:-none} -> $kver) but this $tool has no 'check' command; no check run"
	exit 0
fi

say 6 "kernel changed (${last:-none} -> $kver): running $tool check --profile=quick"
out="$state_dir/last-result.json.tmp"
rc=0
timeout --kill-after=10 "$timeout_s" "$tool" check --profile=quick --json >"$out" 2>"$state_dir/last-result.err" || rc=$?
mv -f "$out" "$state_dir/last-result.json"
case "$rc" in
0) record pass 0 && say 6 "check passed on $kver" && exit 0 ;;
1) record problem 1 && say 3 "check found a problem on $kver; details: $state_dir/last-result.json, or run: $tool check --profile=quick" && exit 1 ;;
3) record no-gpu 3 && say 6 "no RDNA1 GPU found on $kver; nothing to check" && exit 0 ;;
124 | 137) record timeout "$rc" && say 3 "check timed out after ${timeout_s}s on $kver (a GPU hang?); see: journalctl -k -b" && exit 4 ;;
*)
	record error "$rc"
	say 3 "check could not run on $kver (exit $rc): $(tail -n1 "$state_dir/last-result.err" 2>/dev/null)"
	exit 4
	;;
esac
