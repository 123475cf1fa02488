#!/usr/bin/env bash
# Boots one matrix kernel under QEMU (TCG) with the real amdgpu.ko, rdna1_vmfix and the test-only
# companion, runs a guest scenario and prints one "KVER check PASS|FAIL|SKIP reason" line per check.
# Usage: scripts/qemu/run.sh [--kernel LABEL] [--scenario checks|demo|bench] [--log FILE]
#                            [--timeout SECONDS] [--verbose]
# Exit: 0 all checks passed, 1 a check failed, 2 usage, 4 environment (download, build, boot).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
# shellcheck source=scripts/lib/qemu.sh
. "$VMFIX_ROOT/scripts/lib/qemu.sh"

label=7.2 scenario=checks log="" limit=600
opts=$(getopt -o h --long kernel:,scenario:,log:,timeout:,verbose,help -n run.sh -- "$@") || exit 2
eval set -- "$opts"
while true; do
	case "$1" in
	--kernel) label=$2; shift 2 ;;
	--scenario) scenario=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--verbose) set -x; shift ;;
	-h | --help) sed -n '2,6p' "$0" | sed 's/^# //'; exit 0 ;;
	--) shift; break ;;
	esac
done
kernel_suite "$label" >/dev/null
[ -f "$QEMU_GUEST_DIR/$scenario.sh" ] || die "unknown scenario '$scenario'" 2
if [ -z "$log" ]; then
	# a name of this run's own: a parallel run of the same kernel and scenario writes another
	mkdir -p "$VMFIX_CACHE/qemu/logs"
	log=$(mktemp "$VMFIX_CACHE/qemu/logs/$label-$scenario.XXXXXX.log")
	log "qemu: guest log $log"
fi
mkdir -p "$(dirname "$log")"

rc=0
qemu_run "$label" "$scenario" "$log" "$limit" || rc=$?
[ "$rc" -eq 124 ] && log "qemu: timed out after ${limit}s"
if [ "$scenario" = checks ]; then
	qemu_parse_tap "$QEMU_KVER" "$log"
	report_counts
else
	tr -d '\r' <"$log"
	[ "$rc" -eq 0 ] || exit 4
fi
