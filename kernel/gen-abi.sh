#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Write kernel/generated/abi.h: every fact the hook handlers rely on, derived
# from the BTF of the amdgpu.ko that the target kernel will really load.
#
#  - the module: AMDGPU_KO, else what modinfo/depmod resolve for the target
#    kernel (an amdgpu-dkms copy under updates/ wins), else the search order
#    of depmod (updates/, extra/, kernel/);
#  - its .BTF section is hashed (SHA-256, size): at arm time the module
#    compares that with /sys/kernel/btf/amdgpu and refuses to arm on any
#    difference, so an ABI is only ever used on the amdgpu it came from;
#  - the BTF is decoded with bpftool against the kernel's base BTF
#    (VMFIX_BTF_BASE, else KDIR/vmlinux, else /sys/kernel/btf/vmlinux when
#    building for the running kernel) and every assumption is checked: the
#    argument index and type of each argument read or written, each struct
#    member offset and type dereferenced;
#  - without a base BTF, a row of the checked table (ABI_TABLE below, keyed
#    by the same hash) may supply the values; with one, a row must agree.
# Anything unproven yields VMFIX_ABI_OK 0 and a reason: the module then
# loads, never arms, and says why.
#
# usage: gen-abi.sh KDIR OUTPUT
set -euo pipefail

kdir=${1:?usage: gen-abi.sh KDIR OUTPUT}
out=${2:?usage: gen-abi.sh KDIR OUTPUT}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$out")"

die() {
	echo "gen-abi.sh: $*" >&2
	exit 1
}

# The checked table: one row per exact amdgpu.ko, keyed by the SHA-256 of its
# .BTF section, with the ABI this script derived from that BTF (same syntax as
# its "abi" line; label without blanks). Used only when there is no base BTF
# to decode against (a 6.1 build for a kernel that is not running); whenever
# the BTF can be decoded the derivation must equal the row. The module still
# compares the hash with /sys/kernel/btf/amdgpu before arming, so a row only
# ever applies to the very module it was checked on. Rows: the matrix kernels
# of 2026-12-01 (scripts/kernel-matrix.sh --btf re-derives and compares them).
ABI_TABLE='
849a84c59cd96c429650b2f8f19d75b4cd12826d0316558c3eb472a1b3486324 6.1.0-57-amd64_(6.1.192-3) ptes=0,1,2,4 params_adev=0 adev_dev=0 gvp=0,2 mm=0
a4cbc9a61337bee647df04a06399006a42b1ea59169d012253dd592d150f680a 6.12.95+deb12-amd64_(6.12.95-1~bpo12+1) ptes=0,1,2,4 params_adev=0 adev_dev=0 gvp=0,2 mm=0
3433d86e24664bde467fc97c52e854dce4c408ce9ea402ef7bb5fbbbed7cff29 7.2.13+deb14-amd64_(7.2.13-1) ptes=0,1,2,4 params_adev=0 adev_dev=0 gvp=0,4 mm=-
6a51295cc22d15fc2fa4b0ccfee1a9f60f77eb96767246db9fec6090e626e314 7.3-amd64_(7.3~rc7-1~exp1) ptes=0,1,2,4 params_adev=0 adev_dev=0 gvp=0,4 mm=-
'

command -v bpftool >/dev/null 2>&1 ||
	die "bpftool is required to derive the amdgpu hook ABI (Debian: apt-get install bpftool)"
command -v objcopy >/dev/null 2>&1 || die "objcopy (binutils) is required"

# Prints the amdgpu.ko modprobe would load for kernel $1.
resolve_amdgpu() {
	local kver=$1 p d
	if [ -n "${AMDGPU_KO:-}" ]; then
		echo "$AMDGPU_KO"
		return
	fi
	p=$(modinfo -k "$kver" -n amdgpu 2>/dev/null || true)
	if [ -n "$p" ] && [ -f "$p" ]; then
		echo "$p"
		return
	fi
	for d in updates extra kernel; do
		p=$(find "/lib/modules/$kver/$d" -name 'amdgpu.ko*' 2>/dev/null | LC_ALL=C sort | head -n1)
		[ -n "$p" ] && echo "$p" && return
	done
	return 0
}

# Base BTF of the target kernel, to decode the split module BTF against.
resolve_base() {
	local kver=$1
	if [ -n "${VMFIX_BTF_BASE:-}" ]; then
		echo "$VMFIX_BTF_BASE"
	elif [ -s "$kdir/vmlinux" ]; then
		echo "$kdir/vmlinux"
	elif [ "$kver" = "$(uname -r)" ] && [ -r /sys/kernel/btf/vmlinux ]; then
		echo /sys/kernel/btf/vmlinux
	fi
}

# The checked-table row for a BTF hash: the ABI line, or nothing.
table_row() {
	awk -v h="$1" '$1 == h { $1 = ""; $2 = ""; sub(/^  /, ""); print }' <<<"$ABI_TABLE"
}

table_label() {
	awk -v h="$1" '$1 == h { print $2 }' <<<"$ABI_TABLE"
}

# Decodes the dump (base types first, then amdgpu's) and prints either
# "abi KEY=VALUE..." or "refuse REASON" (REASON: one token).
analyse() {
	awk -f - "$@" <<'AWK'
function attr(s, key,   m) {
	if (!match(s, "(^| )" key "=[^ ]+"))
		return ""
	m = substr(s, RSTART, RLENGTH)
	sub(/^ /, "", m)
	return substr(m, length(key) + 2)
}
function quoted(s,   a, b) {
	a = index(s, "'")
	b = index(substr(s, a + 1), "'")
	NAMETAIL = substr(s, a + b + 1)
	return substr(s, a + 1, b - 1)
}
/^\[[0-9]+\] / {
	cur = substr($1, 2, length($1) - 2) + 0
	kind[cur] = $2
	name[cur] = quoted($0)
	ref[cur] = attr(NAMETAIL, "type_id")
	if (ref[cur] == "")
		ref[cur] = attr(NAMETAIL, "ret_type_id")
	size[cur] = attr(NAMETAIL, "size")
	enc[cur] = attr(NAMETAIL, "encoding")
	n[cur] = 0
	if ($2 == "FUNC" || $2 == "STRUCT") {
		if ((($2, name[cur]) in byname))
			dup[$2, name[cur]] = 1
		byname[$2, name[cur]] = cur
	}
	next
}
/^\t'/ {
	i = n[cur]++
	mname[cur, i] = quoted($0)
	mtype[cur, i] = attr(NAMETAIL, "type_id")
	moff[cur, i] = attr(NAMETAIL, "bits_offset")
	mbits[cur, i] = attr(NAMETAIL, "bitfield_size")
}
function strip(t) {
	while (kind[t] ~ /^(TYPEDEF|CONST|VOLATILE|RESTRICT|TYPE_TAG)$/)
		t = ref[t]
	return t
}
function is_u64(t) {
	t = strip(t)
	return kind[t] == "INT" && size[t] == 8 && enc[t] == "(none)"
}
function is_ptr_u64(t) {
	t = strip(t)
	return kind[t] == "PTR" && is_u64(ref[t])
}
function is_ptr_struct(t, s) {
	t = strip(t)
	if (kind[t] != "PTR")
		return 0
	t = strip(ref[t])
	return kind[t] == "STRUCT" && name[t] == s
}
# passed in one general-purpose register on x86-64
function is_reg(t) {
	t = strip(t)
	return kind[t] == "PTR" || (kind[t] ~ /^(INT|ENUM|ENUM64)$/ && size[t] <= 8)
}
function fail(why) {
	if (REASON == "")
		REASON = why
	return -1
}
# Prototype of FUNC fn, or -1.
function proto(fn,   f) {
	if (!(("FUNC", fn) in byname))
		return fail(fn "_missing")
	if (("FUNC", fn) in dup)
		return fail(fn "_ambiguous")
	f = byname["FUNC", fn]
	if (kind[ref[f]] != "FUNC_PROTO")
		return fail(fn "_no_prototype")
	return ref[f]
}
# Index of parameter pn of prototype p, checked with the type test ty.
function arg(p, fn, pn, ty,   i, k, t, hit) {
	hit = -1
	for (i = 0; i < n[p]; i++)
		if (mname[p, i] == pn) {
			if (hit >= 0)
				return fail(fn "_" pn "_ambiguous")
			hit = i
		}
	if (hit < 0)
		return fail(fn "_no_arg_" pn)
	if (hit > 5)
		return fail(fn "_" pn "_not_in_register")
	for (k = 0; k <= hit; k++)
		if (!is_reg(mtype[p, k]))
			return fail(fn "_arg" k "_not_register_sized")
	t = mtype[p, hit]
	if (ty == "u64" && !is_u64(t))
		return fail(fn "_" pn "_not_u64")
	if (ty == "u64*" && !is_ptr_u64(t))
		return fail(fn "_" pn "_not_u64_pointer")
	if (ty ~ /^struct / && !is_ptr_struct(t, substr(ty, 8)))
		return fail(fn "_" pn "_not_" substr(ty, 8) "_pointer")
	return hit
}
# Byte offset of member mn of struct sn, pointing to struct target.
function member(sn, mn, target,   s, i) {
	if (!(("STRUCT", sn) in byname))
		return fail(sn "_missing")
	if (("STRUCT", sn) in dup)
		return fail(sn "_ambiguous")
	s = byname["STRUCT", sn]
	for (i = 0; i < n[s]; i++) {
		if (mname[s, i] != mn)
			continue
		if (mbits[s, i] != "" || moff[s, i] % 8)
			return fail(sn "_" mn "_bitfield")
		if (!is_ptr_struct(mtype[s, i], target))
			return fail(sn "_" mn "_not_" target "_pointer")
		return moff[s, i] / 8
	}
	return fail(sn "_no_member_" mn)
}
# One hook's facts, or "" with REASON set.
function ptes(   p, a, b, c, d, e, f) {
	p = proto("amdgpu_vm_ptes_update")
	if (p < 0)
		return ""
	a = arg(p, "amdgpu_vm_ptes_update", "params", "struct amdgpu_vm_update_params")
	b = arg(p, "amdgpu_vm_ptes_update", "start", "u64")
	c = arg(p, "amdgpu_vm_ptes_update", "end", "u64")
	d = arg(p, "amdgpu_vm_ptes_update", "flags", "u64")
	e = member("amdgpu_vm_update_params", "adev", "amdgpu_device")
	f = member("amdgpu_device", "dev", "device")
	if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0 || f < 0)
		return ""
	return "ptes=" a "," b "," c "," d " params_adev=" e " adev_dev=" f
}
function gvp(   p, a, b) {
	p = proto("gmc_v10_0_get_vm_pte")
	if (p < 0)
		return ""
	a = arg(p, "gmc_v10_0_get_vm_pte", "adev", "struct amdgpu_device")
	b = arg(p, "gmc_v10_0_get_vm_pte", "flags", "u64*")
	return a < 0 || b < 0 ? "" : a "," b
}
function mm(   p, a) {
	if (!(("FUNC", "gmc_v10_0_map_mtype") in byname))
		return "-"
	p = proto("gmc_v10_0_map_mtype")
	if (p < 0)
		return ""
	a = arg(p, "gmc_v10_0_map_mtype", "adev", "struct amdgpu_device")
	if (a < 0)
		return ""
	if (!is_u64(ref[p])) {
		fail("gmc_v10_0_map_mtype_return_not_u64")
		return ""
	}
	return a
}
END {
	core = ptes()
	if (core == "") {
		print "refuse " REASON
		exit
	}
	REASON = ""
	g = gvp()
	if (g == "")
		g = "-:" REASON
	REASON = ""
	m = mm()
	if (m == "")
		m = "-:" REASON
	print "abi " core " gvp=" g " mm=" m
}
AWK
}

write_header() {
	local ok=$1 source=$2 reason=$3 abi=$4 ptes gvp mm
	ptes=$(sed -n 's/.*ptes=\([^ ]*\).*/\1/p' <<<"$abi")
	gvp=$(sed -n 's/.*gvp=\([^ ]*\).*/\1/p' <<<"$abi")
	mm=$(sed -n 's/.*mm=\([^ ]*\).*/\1/p' <<<"$abi")
	IFS=, read -r p_params p_start p_end p_flags <<<"${ptes:-0,0,0,0}"
	IFS=, read -r g_adev g_flags <<<"$gvp"
	{
		printf '/* generated by gen-abi.sh; do not edit */\n'
		printf '/* amdgpu: %s */\n' "$ko"
		printf '#define VMFIX_ABI_OK\t\t\t%s\n' "$ok"
		printf '#define VMFIX_ABI_SOURCE\t\t"%s"\n' "$source"
		printf '#define VMFIX_ABI_REASON\t\t"%s"\n' "$reason"
		printf '#define VMFIX_ABI_BTF_SIZE\t\t%sUL\n' "${btf_size:-0}"
		printf '#define VMFIX_ABI_BTF_SHA256\t\t"%s"\n' "${btf_sha:-}"
		printf '#define VMFIX_ABI_PTES_PARAMS_ARG\t%s\n' "$p_params"
		printf '#define VMFIX_ABI_PTES_START_ARG\t%s\n' "$p_start"
		printf '#define VMFIX_ABI_PTES_END_ARG\t\t%s\n' "$p_end"
		printf '#define VMFIX_ABI_PTES_FLAGS_ARG\t%s\n' "$p_flags"
		printf '#define VMFIX_ABI_PARAMS_ADEV_OFF\t%s\n' "$(sed -n 's/.*params_adev=\([0-9]*\).*/\1/p' <<<"$abi" | grep . || echo 0)"
		printf '#define VMFIX_ABI_ADEV_DEV_OFF\t\t%s\n' "$(sed -n 's/.*adev_dev=\([0-9]*\).*/\1/p' <<<"$abi" | grep . || echo 0)"
		case "$gvp" in
		[0-9]*) printf '#define VMFIX_ABI_GVP_OK\t\t1\n#define VMFIX_ABI_GVP_WHY\t\t"-"\n' ;;
		*) printf '#define VMFIX_ABI_GVP_OK\t\t0\n#define VMFIX_ABI_GVP_WHY\t\t"%s"\n' "${gvp#-:}"; g_adev=0 g_flags=0 ;;
		esac
		printf '#define VMFIX_ABI_GVP_ADEV_ARG\t\t%s\n#define VMFIX_ABI_GVP_FLAGS_ARG\t\t%s\n' "${g_adev:-0}" "${g_flags:-0}"
		case "$mm" in
		[0-9]*) printf '#define VMFIX_ABI_MM_OK\t\t\t1\n#define VMFIX_ABI_MM_WHY\t\t"-"\n#define VMFIX_ABI_MM_ADEV_ARG\t\t%s\n' "$mm" ;;
		-) printf '#define VMFIX_ABI_MM_OK\t\t\t0\n#define VMFIX_ABI_MM_WHY\t\t"absent"\n#define VMFIX_ABI_MM_ADEV_ARG\t\t0\n' ;;
		*) printf '#define VMFIX_ABI_MM_OK\t\t\t0\n#define VMFIX_ABI_MM_WHY\t\t"%s"\n#define VMFIX_ABI_MM_ADEV_ARG\t\t0\n' "${mm#-:}" ;;
		esac
	} >"$tmp/abi.h"
	mv "$tmp/abi.h" "$out"
	if [ "$ok" = 1 ]; then
		echo "  ABI     $source from $ko: $abi"
	else
		echo "  ABI     none ($reason): the module will refuse to arm"
	fi
}

kver=$(cat "$kdir/include/config/kernel.release" 2>/dev/null) || die "no include/config/kernel.release in $kdir"
ko=$(resolve_amdgpu "$kver")
btf_size="" btf_sha=""
if [ -z "$ko" ] || [ ! -f "$ko" ]; then
	ko="(none)"
	write_header 0 none "no_amdgpu_ko_for_$kver" ""
	exit 0
fi
case "$ko" in
*.xz) xz -dc "$ko" >"$tmp/amdgpu.ko" ;;
*.zst) zstd -qdc "$ko" >"$tmp/amdgpu.ko" ;;
*) cp "$ko" "$tmp/amdgpu.ko" ;;
esac
if ! objcopy --dump-section .BTF="$tmp/btf.bin" "$tmp/amdgpu.ko" "$tmp/scratch.ko" 2>/dev/null || [ ! -s "$tmp/btf.bin" ]; then
	write_header 0 none "amdgpu_ko_has_no_btf" ""
	exit 0
fi
btf_size=$(stat -c %s "$tmp/btf.bin")
btf_sha=$(sha256sum "$tmp/btf.bin" | cut -c1-64)
row=$(table_row "$btf_sha")

base=$(resolve_base "$kver")
if [ -z "$base" ]; then
	if [ -n "$row" ]; then
		write_header 1 "table:$(table_label "$btf_sha")" "-" "abi $row"
	else
		write_header 0 none "no_base_btf_for_$kver" ""
	fi
	exit 0
fi
{
	bpftool btf dump file "$base" && bpftool -B "$base" btf dump file "$tmp/amdgpu.ko"
} >"$tmp/btf.txt" 2>"$tmp/bpftool.err" || die "bpftool cannot decode $ko against $base: $(head -n1 "$tmp/bpftool.err")"
verdict=$(analyse "$tmp/btf.txt")
case "$verdict" in
abi\ *)
	if [ -n "$row" ] && [ "abi $row" != "$verdict" ]; then
		die "BTF of $ko ($verdict) disagrees with the checked table row $(table_label "$btf_sha") ($row)"
	fi
	write_header 1 btf "-" "$verdict"
	;;
refuse\ *) write_header 0 none "${verdict#refuse }" "" ;;
*) die "BTF analysis of $ko gave no verdict" ;;
esac
