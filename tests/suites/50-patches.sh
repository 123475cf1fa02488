#!/usr/bin/env bash
# The amdgpu patch series (patches/): applies, checkpatch --strict, compiles with -Werror and matches the
# policy core's vectors on every matrix kernel. All the work is in scripts/patches-check.sh.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"

if [ "$(id -u)" -ne 0 ]; then
	# Headers, the sid chroot and kenv_run need root; CI runs as root.
	result patches SKIP "needs root for kernel headers and the sid chroot"
	report_counts
	exit 0
fi
verbose=()
[ -n "${VMFIX_VERBOSE:-}" ] && verbose=(--verbose)
exec "$VMFIX_ROOT/scripts/patches-check.sh" "${verbose[@]}"
