#!/usr/bin/env bash
# QEMU system tests: every matrix kernel (Debian 6.1, 6.12 bookworm-backports, 7.2 sid, 7.3 experimental)
# boots under TCG with its real amdgpu.ko, rdna1_vmfix and the test-only companion (tests/qemu/);
# one "KVER check PASS|FAIL|SKIP reason" line per check and kernel. Kernels run one after another
# (2 cores); downloads, initramfs pieces and module builds are cached under $VMFIX_CACHE.
# VMFIX_QEMU_KERNELS="6.1 7.2" narrows the matrix (default: all four).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
# shellcheck source=scripts/lib/qemu.sh
. "$VMFIX_ROOT/scripts/lib/qemu.sh"

if [ "$(id -u)" -ne 0 ]; then
	result qemu SKIP "needs root (kernel packages, sid chroot); run as root or in CI"
	report_counts
	exit 0
fi
need_tools qemu-system-x86_64 busybox cpio xz depmod modprobe

# Each run writes its guest logs privately (a parallel run on the machine boots the same kernels);
# a copy of each goes to $VMFIX_CACHE/qemu/logs/ afterwards (publish_log), for people to read.
logs="$VMFIX_CACHE/qemu/logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r -a labels <<<"${VMFIX_QEMU_KERNELS:-$(matrix_labels)}"
for label in "${labels[@]}"; do
	log_file="$work/$label-checks.log"
	if ! kver=$(kernel_release "$label"); then
		result "$label" FAIL "kernel release unknown (archive unreachable?)"
		continue
	fi
	rc=0
	# a subshell: a failed download or build ends this kernel's run, not the suite
	(qemu_run "$label" checks "$log_file" 480) || rc=$?
	[ ! -f "$log_file" ] || publish_log "$log_file" "$logs/$label-checks.log" || log "qemu: could not copy the log to $logs"
	if [ ! -s "$log_file" ]; then
		result "$kver setup" FAIL "no boot (download or module build failed, status $rc)"
		continue
	fi
	[ "$rc" -ne 124 ] || log "qemu: $label timed out after 480s"
	qemu_parse_tap "$kver" "$log_file"
	tr -d '\r' <"$log_file" | grep -a '^# ' | grep -avE '^# (vmfix-guest|t=)' | sed "s/^/$kver /" >&2 || true
done
report_counts
