#!/usr/bin/env bash
# Rebuild cost after a kernel upgrade: `dkms build` of rdna1_vmfix (and its plain kbuild) vs an
# out-of-tree build of the whole amdgpu module from Debian's linux-source of the same kernel (what an
# amdgpu-dkms style package rebuilds). Kernel: the bookworm 6.1 of the matrix. The amdgpu build takes
# minutes: it runs once per machine and its figure is cached with date and kernel in
# $VMFIX_CACHE/bench/; --remeasure-amdgpu runs it again, --no-amdgpu skips it when nothing is cached.
# Goal: dkms build <= 10 s and <= 1/100 of the amdgpu build, on 2 cores. Wall time depends on what
# else runs (the load is printed); CPU time (user+sys of every child) much less, so the ratio is given
# for both. The amdgpu build runs under nice -n 19 so that it does not slow down other work.
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
# Runs CMD with output appended to LOG; appends "wall cpu" seconds (cpu = user+sys of all children)
# to TIMES. Usage: timed TIMES LOG CMD...
timed() {
	local times=$1 out=$2 t rc=0
	shift 2
	t=$(mktemp)
	{
		TIMEFORMAT='%R %U %S'
		time "$@" >>"$out" 2>&1
	} 2>"$t" || rc=$?
	awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$t" >>"$times"
	rm -f "$t"
	return "$rc"
}
col() { awk -v c="$1" '{ print $c }'; }
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
	timed "$tmp/dkms.times" "$tmp/dkms.log" "${dk[@]}" build -m rdna1-vmfix -v "$version" -k "$rel" \
		--kernelsourcedir "$kdir" --force || { tail -n 30 "$tmp/dkms.log" >&2; die "dkms build failed"; }
done
dkms_s=$(col 1 <"$tmp/dkms.times" | median)
dkms_cpu=$(col 2 <"$tmp/dkms.times" | median)

# 2. The plain kbuild of the module (what dkms build wraps, without DKMS's own steps and signing).
: >"$tmp/kbuild.times"
for ((i = 0; i < runs; i++)); do
	rm -rf "$tmp/kb"
	mkdir -p "$tmp/kb"
	cp -r "$stage/." "$tmp/kb/"
	timed "$tmp/kbuild.times" "$tmp/kbuild.log" make -C "$tmp/kb/kernel" KDIR="$kdir" -j2 ||
		{ tail -n 30 "$tmp/kbuild.log" >&2; die "kbuild failed"; }
done
kbuild_s=$(col 1 <"$tmp/kbuild.times" | median)
kbuild_cpu=$(col 2 <"$tmp/kbuild.times" | median)
busy="load $load_before-$(load) on $(nproc) cores"

# 3. The whole amdgpu module out of tree (build-notes.md recipe), cached per machine and kernel.
cache=$VMFIX_CACHE/bench/amdgpu-build-$rel.txt
measure_amdgpu() {
	local src s l0
	src=$(fetch_linux_source "$label")
	log "rebuild: extracting drivers/gpu/drm/amd of $(basename "$src")"
	tar -xJf "$src" -C "$tmp" --wildcards '*/drivers/gpu/drm/amd/*'
	s=$(compgen -G "$tmp/linux-source-*" | head -n1)
	mkdir -p "$s/include/trace"
	log "rebuild: building the whole amdgpu module with -j2 (several minutes)"
	l0=$(load)
	timed "$tmp/amdgpu.times" "$tmp/amdgpu.log" nice -n 19 make -C "$kdir" M="$s/drivers/gpu/drm/amd/amdgpu" \
		FULL_AMD_PATH="$s/drivers/gpu/drm/amd" KCFLAGS="-I$s/include/trace" -j2 modules ||
		{ tail -n 30 "$tmp/amdgpu.log" >&2; return 1; }
	[ -f "$s/drivers/gpu/drm/amd/amdgpu/amdgpu.ko" ] || return 1
	mkdir -p "$(dirname "$cache")"
	# wall cpu date release debian-version load-before load-after
	# written under another name and renamed: a parallel run reads the old figure or the new, whole
	printf '%s %s %s %s %s %s\n' "$(cat "$tmp/amdgpu.times")" "$(date -u +%Y-%m-%dT%H:%MZ)" "$rel" "$pkgver" "$l0" "$(load)" >"$cache.$$"
	mv -f "$cache.$$" "$cache"
	rm -rf "$s"
}
if [ "$amdgpu" = remeasure ] || { [ "$amdgpu" = auto ] && [ ! -s "$cache" ]; }; then
	measure_amdgpu || log "rebuild: the amdgpu build failed; no figure"
fi

goal_ok=PASS
le "$dkms_s" 10 || goal_ok=FAIL
bench rebuild-dkms-rdna1_vmfix "$dkms_s" s "<= 10 s" "$goal_ok" "dkms build --force, $rel, median of $runs, cpu $dkms_cpu s, $busy"
bench rebuild-kbuild-rdna1_vmfix "$kbuild_s" s "-" INFO "make -C kernel (gen-abi + kbuild), $rel, median of $runs, cpu $kbuild_cpu s"
ratio() {
	local r verdict=PASS
	r=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.4f", a / b }')
	le "$r" 0.01 || verdict=FAIL
	bench "$1" "$r" x "<= 0.01" "$verdict" "$4 (1/$(awk -v r="$r" 'BEGIN { printf "%.0f", 1 / r }'))"
}
if [ -s "$cache" ]; then
	read -r amd_s amd_cpu amd_date amd_rel amd_ver amd_l0 amd_l1 <"$cache"
	bench rebuild-amdgpu-full "$amd_s" s "-" INFO "out-of-tree amdgpu.ko from linux-source $amd_ver, -j2, nice 19, $amd_rel, cpu $amd_cpu s, measured $amd_date, load $amd_l0-$amd_l1"
	ratio rebuild-ratio-cpu "$dkms_cpu" "$amd_cpu" "CPU time: dkms build of rdna1_vmfix / full amdgpu build"
	ratio rebuild-ratio-wall "$dkms_s" "$amd_s" "wall time (loads differ between the two runs)"
else
	bench rebuild-amdgpu-full - s "-" INFO "not measured on this machine yet (bench/rebuild.sh --remeasure-amdgpu)"
fi
