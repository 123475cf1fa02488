#!/usr/bin/env bash
# Rebuild cost after a kernel upgrade: `dkms build` of rdna1_vmfix (and its plain kbuild) vs an
# out-of-tree build of the whole amdgpu module from Debian's linux-source of the same kernel (what an
# amdgpu-dkms style package rebuilds). Kernel: the bookworm 6.1 of the matrix. The amdgpu build takes
# minutes: it runs once per machine and its figure is cached with date and kernel in
# $VMFIX_CACHE/bench/; --remeasure-amdgpu runs it again, --no-amdgpu skips it when nothing is cached.
# Goal: dkms build <= 10 s and <= 1/100 of the amdgpu build, on 2 cores.
#
# usage: bench/rebuild.sh [--runs N] [--remeasure-amdgpu] [--no-amdgpu] [--verbose]
# Prints "BENCH<TAB>name<TAB>value<TAB>unit<TAB>goal<TAB>PASS|FAIL|INFO<TAB>notes" lines.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"

runs=3
amdgpu=auto
opts=$(getopt -o h -l runs:,remeasure-amdgpu,no-amdgpu,verbose,help -n rebuild.sh -- "$@") || exit 2
eval set -- "$opts"
while true; do
	case "$1" in
	--runs) runs=$2; shift ;;
	--remeasure-amdgpu) amdgpu=remeasure ;;
	--no-amdgpu) amdgpu=skip ;;
	--verbose) set -x ;;
	-h | --help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
	--) shift; break ;;
	esac
	shift
done
need_tools dkms make tar xz

label=6.1
rel=$(kernel_release "$label")
pkgver=$(kernel_pkgver "$label")
kdir=$(ensure_headers "$label")
tmp=$(mktemp -d /tmp/vmfix-bench-rebuild.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
load() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
# Seconds between two `now` stamps, 2 decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# 1. dkms build of rdna1_vmfix in a private DKMS tree (the host's stays untouched).
root=$tmp/dkms
mkdir -p "$root/var/lib/dkms" "$root/usr/src" "$root/lib/modules/$rel"
dk=(dkms --dkmstree "$root/var/lib/dkms" --sourcetree "$root/usr/src" --installtree "$root/lib/modules" --no-depmod)
export mok_signing_key=$root/var/lib/dkms/mok.key mok_certificate=$root/var/lib/dkms/mok.pub
version=$(cat "$VMFIX_ROOT/VERSION")
stage=$tmp/stage/rdna1-vmfix-$version
mkdir -p "$stage/kernel"
cp "$VMFIX_ROOT/dkms.conf" "$VMFIX_ROOT/VERSION" "$stage/"
cp "$VMFIX_ROOT"/kernel/*.[ch] "$VMFIX_ROOT"/kernel/{Makefile,Kbuild,gen-abi.sh} "$stage/kernel/"
rm -f "$stage/kernel/"*.mod.c
"${dk[@]}" add "$stage" >"$tmp/dkms.log" 2>&1 || { cat "$tmp/dkms.log" >&2; die "dkms add failed"; }
load_before=$(load)
: >"$tmp/dkms.times"
for ((i = 0; i < runs; i++)); do
	t0=$(now)
	"${dk[@]}" build -m rdna1-vmfix -v "$version" -k "$rel" --kernelsourcedir "$kdir" --force >>"$tmp/dkms.log" 2>&1 ||
		{ tail -n 30 "$tmp/dkms.log" >&2; die "dkms build failed"; }
	elapsed "$t0" "$(now)" >>"$tmp/dkms.times"
done
dkms_s=$(median <"$tmp/dkms.times")

# 2. The plain kbuild of the module (what dkms build wraps, without DKMS's own steps and signing).
: >"$tmp/kbuild.times"
for ((i = 0; i < runs; i++)); do
	rm -rf "$tmp/kb"
	mkdir -p "$tmp/kb"
	cp -r "$stage/." "$tmp/kb/"
	t0=$(now)
	make -C "$tmp/kb/kernel" KDIR="$kdir" -j2 >"$tmp/kbuild.log" 2>&1 || { tail -n 30 "$tmp/kbuild.log" >&2; die "kbuild failed"; }
	elapsed "$t0" "$(now)" >>"$tmp/kbuild.times"
done
kbuild_s=$(median <"$tmp/kbuild.times")
busy="load $load_before-$(load) on $(nproc) cores"

# 3. The whole amdgpu module out of tree (build-notes.md recipe), cached per machine and kernel.
cache=$VMFIX_CACHE/bench/amdgpu-build-$rel.txt
measure_amdgpu() {
	local src s t0 t1 l0
	src=$(fetch_linux_source "$label")
	log "rebuild: extracting drivers/gpu/drm/amd of $(basename "$src")"
	tar -xJf "$src" -C "$tmp" --wildcards '*/drivers/gpu/drm/amd/*'
	s=$(compgen -G "$tmp/linux-source-*" | head -n1)
	mkdir -p "$s/include/trace"
	log "rebuild: building the whole amdgpu module with -j2 (several minutes)"
	l0=$(load)
	t0=$(now)
	make -C "$kdir" M="$s/drivers/gpu/drm/amd/amdgpu" FULL_AMD_PATH="$s/drivers/gpu/drm/amd" \
		KCFLAGS="-I$s/include/trace" -j2 modules >"$tmp/amdgpu.log" 2>&1 ||
		{ tail -n 30 "$tmp/amdgpu.log" >&2; return 1; }
	t1=$(now)
	[ -f "$s/drivers/gpu/drm/amd/amdgpu/amdgpu.ko" ] || return 1
	mkdir -p "$(dirname "$cache")"
	printf '%s %s %s %s %s\n' "$(elapsed "$t0" "$t1")" "$(date -u +%Y-%m-%d)" "$rel" "$pkgver" "load $l0-$(load)" >"$cache"
	rm -rf "$s"
}
if [ "$amdgpu" = remeasure ] || { [ "$amdgpu" = auto ] && [ ! -s "$cache" ]; }; then
	measure_amdgpu || log "rebuild: the amdgpu build failed; no figure"
fi

goal_ok=PASS
le "$dkms_s" 10 || goal_ok=FAIL
bench rebuild-dkms-rdna1_vmfix "$dkms_s" s "<= 10 s" "$goal_ok" "dkms build --force, $rel, median of $runs, $busy"
bench rebuild-kbuild-rdna1_vmfix "$kbuild_s" s "-" INFO "make -C kernel (gen-abi + kbuild), $rel, median of $runs"
if [ -s "$cache" ]; then
	read -r amd_s amd_date amd_rel amd_ver amd_load <"$cache"
	bench rebuild-amdgpu-full "$amd_s" s "-" INFO "out-of-tree amdgpu.ko from linux-source $amd_ver, -j2, $amd_rel, measured $amd_date ($amd_load)"
	ratio=$(awk -v a="$dkms_s" -v b="$amd_s" 'BEGIN { printf "%.4f", a / b }')
	verdict=PASS
	le "$ratio" 0.01 || verdict=FAIL
	bench rebuild-ratio "$ratio" "x" "<= 0.01" "$verdict" "dkms build of rdna1_vmfix / full amdgpu build (1/$(awk -v r="$ratio" 'BEGIN { printf "%.0f", 1 / r }'))"
else
	bench rebuild-amdgpu-full - s "-" INFO "not measured on this machine yet (bench/rebuild.sh --remeasure-amdgpu)"
fi
