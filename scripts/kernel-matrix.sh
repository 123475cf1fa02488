#!/usr/bin/env bash
# Build the rdna1_vmfix module with -Werror against every kernel of the matrix (Debian 6.1 bookworm,
# 6.12 bookworm-backports, 7.2 sid, 7.3-rc experimental), each with its own suite's compiler.
# The hook ABI is derived from the BTF of that kernel's amdgpu.ko when its image is in the cache
# (fetch_kernel_tree; --btf fetches it), decoded against the headers' vmlinux (6.12+) or the one inside
# vmlinuz (6.1); a row of the checked table for that module must agree, else the build fails. Without
# the image the module still builds, with no ABI (it would refuse to arm).
#
# usage: scripts/kernel-matrix.sh [--btf] [--keep] [--verbose] [LABEL...]
# Prints "KVER PASS|FAIL|SKIP reason" per kernel and the totals; exit 0 if nothing failed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"

usage() {
	cat <<'USAGE'
usage: scripts/kernel-matrix.sh [--btf] [--keep] [--verbose] [LABEL...]
  LABEL      6.1 6.12 7.2 7.3 (default: all)
  --btf      fetch each kernel's image so the ABI always comes from its amdgpu.ko BTF
  --keep     keep the build directories (their path is printed)
  --verbose  trace every command (set -x)
USAGE
}

btf=0
keep=0
opts=$(getopt -o h -l btf,keep,verbose,help -n kernel-matrix.sh -- "$@") || { usage >&2; exit 2; }
eval set -- "$opts"
while true; do
	case "$1" in
	--btf) btf=1 ;;
	--keep) keep=1 ;;
	--verbose) set -x ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	esac
	shift
done
# shellcheck disable=SC2046 # labels are single words
[ $# -gt 0 ] || set -- $(matrix_labels)
need_tools make getopt

work=$(mktemp -d /tmp/vmfix-matrix.XXXXXX)
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT

# The compiler a kernel was built with, e.g. "x86_64-linux-gnu-gcc-16 16.2.0".
cc_of() {
	sed -n 's/^CONFIG_CC_VERSION_TEXT="\(.*\)"$/\1/p' "$1/.config" 2>/dev/null | awk '{print $1, $NF}'
}

# A private copy: DKMS also builds from a copy (VERSION + kernel/), and labels must not share objects.
stage_source() {
	local src=$1
	mkdir -p "$src"
	cp "$VMFIX_ROOT/VERSION" "$src/"
	cp -r "$VMFIX_ROOT/kernel" "$src/kernel"
	rm -rf "$src/kernel/generated"
	find "$src/kernel" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete
}

# Writes SRC/kernel/generated/abi.h for LABEL on the host (bpftool); prints the ABI summary.
stage_abi() {
	local label=$1 rel=$2 host_kdir=$3 src=$4 log=$5
	if [ "$btf" = 1 ] || [ -f "$VMFIX_CACHE/kernels/$rel/.vmfix-ready" ]; then
		kernel_gen_abi "$label" "$host_kdir" "$src/kernel/generated/abi.h" >>"$log" 2>&1 || return 1
	else
		AMDGPU_KO=/nonexistent "$src/kernel/gen-abi.sh" "$host_kdir" "$src/kernel/generated/abi.h" >>"$log" 2>&1 ||
			return 1
	fi
	sed -n 's/^  ABI     //p' "$log" | sed 's/ from [^:]*:/:/'
}

build_one() {
	local label=$1 rel kdir host_kdir src log abi
	if ! rel=$(kernel_release "$label" 2>"$work/$label.err"); then
		result "$label" FAIL "cannot resolve the kernel: $(tail -n1 "$work/$label.err")"
		return
	fi
	if ! kdir=$(ensure_headers "$label" 2>"$work/$label.err") || ! host_kdir=$(host_headers "$label"); then
		tail -n 20 "$work/$label.err"
		result "$rel" FAIL "headers unavailable"
		return
	fi
	src="$work/$label"
	log="$work/$label.log"
	stage_source "$src"
	if ! abi=$(stage_abi "$label" "$rel" "$host_kdir" "$src" "$log"); then
		tail -n 20 "$log" >&2
		result "$rel" FAIL "hook ABI step failed"
		return
	fi
	if kenv_run "$label" make -C "$src/kernel" KDIR="$kdir" VMFIX_WERROR=1 VMFIX_GEN_ABI=0 -j2 >>"$log" 2>&1 &&
		[ -f "$src/kernel/rdna1_vmfix.ko" ]; then
		result "$rel" PASS "-Werror, $(cc_of "$host_kdir"), abi ${abi:-?}"
	else
		log "---- $rel build log (tail) ----"
		tail -n 40 "$log" >&2
		result "$rel" FAIL "build failed (abi ${abi:-?})"
	fi
}

for label in "$@"; do
	case " $(matrix_labels) " in
	*" $label "*) build_one "$label" ;;
	*) result "$label" SKIP "unknown kernel label (known: $(matrix_labels))" ;;
	esac
done
[ "$keep" = 1 ] && log "build directories kept in $work"
report_counts
