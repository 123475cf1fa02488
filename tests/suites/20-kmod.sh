#!/usr/bin/env bash
# The rdna1_vmfix kernel module: -Werror build on every matrix kernel (ABI from amdgpu.ko BTF, checked
# against the table), a BTF/table disagreement failing the build, checkpatch --strict, dkms.conf vs
# VERSION, and DKMS add/build/install (6.1) + autoinstall (6.12 headers) + failure paths + uninstall in a
# private tree.
# Needs root for DKMS; the host's DKMS tree, /lib/modules and /etc are not touched.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
[ -z "${VMFIX_VERBOSE:-}" ] || set -x

tmp=$(mktemp -d /tmp/vmfix-kmod.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
version=$(cat "$VMFIX_ROOT/VERSION")

# 1. Kernel matrix: one result per kernel, re-emitted from scripts/kernel-matrix.sh.
matrix_rc=0
"$VMFIX_ROOT/scripts/kernel-matrix.sh" --btf >"$tmp/matrix.out" 2>"$tmp/matrix.err" || matrix_rc=$?
while read -r kver verdict reason; do
	case "$verdict" in PASS | FAIL | SKIP) result "matrix-$kver" "$verdict" "$reason" ;; esac
done < <(grep -E '^[^ ]+ (PASS|FAIL|SKIP) ' "$tmp/matrix.out")
if [ "$matrix_rc" -ne 0 ]; then
	tail -n 40 "$tmp/matrix.err"
	grep -qE ' FAIL ' "$tmp/matrix.out" || result matrix FAIL "kernel-matrix.sh exited with $matrix_rc"
fi
for label in $(matrix_labels); do
	if grep -E "^$(kernel_release "$label" | sed 's/[.+]/\\&/g') PASS" "$tmp/matrix.out" | grep -q 'abi btf:'; then
		result "abi-btf-$label" PASS "hook ABI derived field by field from this kernel's amdgpu.ko BTF"
	else
		result "abi-btf-$label" FAIL "no BTF-derived ABI in the matrix build of $label"
	fi
done

# 2. gen-abi.sh follows the BTF and refuses what it cannot prove (6.12's amdgpu.ko with one assumption
#    changed by tests/qemu/btf-mutate.py), and the checked table is used and checked as documented.
rel612=$(kernel_release 6.12)
kdir612=$(ensure_headers 6.12)
ko612=$(tree_amdgpu 6.12)
base612=$(kernel_base_btf 6.12)
xz -dc "$ko612" >"$tmp/amdgpu.ko"
# gen_abi NAME [ENV...]: gen-abi.sh on 6.12's headers, its summary line in $tmp/NAME.out
gen_abi() {
	local name=$1
	shift
	env "$@" "$VMFIX_ROOT/kernel/gen-abi.sh" "$kdir612" "$tmp/$name.h" >"$tmp/$name.out" 2>&1
}
# expect_abi NAME MUTATION PATTERN WHAT: the derivation from the mutated module matches PATTERN
expect_abi() {
	local name=$1 m=$2 want=$3 what=$4
	if python3 "$VMFIX_ROOT/tests/qemu/btf-mutate.py" "$base612" "$tmp/amdgpu.ko" "$tmp/$m.ko" "$m" &&
		gen_abi "$m" AMDGPU_KO="$tmp/$m.ko" VMFIX_BTF_BASE="$base612" && grep -q -- "$want" "$tmp/$m.out"; then
		result "$name" PASS "$what: $(sed -n 's/^  ABI     //p' "$tmp/$m.out" | sed 's/ from [^:]*:/:/')"
	else
		cat "$tmp/$m.out"
		result "$name" FAIL "$what: want '$want'"
	fi
}
if gen_abi real AMDGPU_KO="$tmp/amdgpu.ko" VMFIX_BTF_BASE="$base612" &&
	grep -q 'abi ptes=0,1,2,4 params_adev=0 adev_dev=0 gvp=0,2 mm=0' "$tmp/real.out"; then
	result gen-abi-real PASS "6.12 as shipped: $(sed -n 's/^  ABI     //p' "$tmp/real.out" | sed 's/ from [^:]*:/:/')"
else
	cat "$tmp/real.out"
	result gen-abi-real FAIL "6.12's amdgpu.ko did not give the known ABI"
fi
expect_abi gen-abi-flags-index flags-index 'ptes=0,1,2,3 ' "flags swapped with dst"
expect_abi gen-abi-flags-type flags-type 'none (amdgpu_vm_ptes_update_flags_not_u64)' "flags made a pointer"
expect_abi gen-abi-adev-offset adev-offset 'params_adev=8 ' "params->adev moved to byte 8"
sha=$(objcopy --dump-section .BTF=/dev/stdout "$tmp/amdgpu.ko" "$tmp/scratch.ko" | sha256sum | cut -c1-64)
# the checked table's row for this very module, made to disagree with its BTF, fails the build
mkdir -p "$tmp/tab"
sed "/^$sha /s/ptes=0,1,2,4 /ptes=0,1,2,3 /" "$VMFIX_ROOT/kernel/gen-abi.sh" >"$tmp/tab/gen-abi.sh"
chmod +x "$tmp/tab/gen-abi.sh"
if ! AMDGPU_KO="$tmp/amdgpu.ko" VMFIX_BTF_BASE="$base612" "$tmp/tab/gen-abi.sh" "$kdir612" "$tmp/tab.h" >"$tmp/tab.out" 2>&1 &&
	grep -q 'disagrees with the checked table row' "$tmp/tab.out"; then
	result abi-table-disagrees PASS "a checked-table row that contradicts the module's BTF fails the build"
else
	cat "$tmp/tab.out"
	result abi-table-disagrees FAIL "a contradicting table row was accepted (or the 6.12 row is missing)"
fi
# without a base BTF: the table row naming this module's BTF hash is used; a module no row names
# (the flags-index copy) gets no ABI at all
mkdir -p "$tmp/nobase/include/config"
echo "$rel612" >"$tmp/nobase/include/config/kernel.release"
AMDGPU_KO="$tmp/amdgpu.ko" "$VMFIX_ROOT/kernel/gen-abi.sh" "$tmp/nobase" "$tmp/row.h" >"$tmp/row.out" 2>&1 || true
AMDGPU_KO="$tmp/flags-index.ko" "$VMFIX_ROOT/kernel/gen-abi.sh" "$tmp/nobase" "$tmp/norow.h" >"$tmp/norow.out" 2>&1 || true
if grep -q "VMFIX_ABI_SOURCE.*\"table:$rel612" "$tmp/row.h" && grep -q 'VMFIX_ABI_OK[[:space:]]*1' "$tmp/row.h" &&
	grep -q 'VMFIX_ABI_OK[[:space:]]*0' "$tmp/norow.h" && grep -q 'no_base_btf' "$tmp/norow.h"; then
	result abi-table-fallback PASS "no base BTF: the $rel612 row is used for its own amdgpu.ko; a module no row names gets no ABI"
else
	cat "$tmp/row.out" "$tmp/norow.out"
	result abi-table-fallback FAIL "table fallback did not behave as documented"
fi

# 3. checkpatch --strict over every module source.
if "$VMFIX_ROOT/scripts/checkpatch.sh" >"$tmp/checkpatch.log" 2>&1 &&
	! grep -vE '^total: 0 errors, 0 warnings, 0 checks' "$tmp/checkpatch.log" | grep -q .; then
	result checkpatch PASS "checkpatch.pl --strict: $(grep -c '^total' "$tmp/checkpatch.log") files clean"
else
	grep -vE '^total: 0 errors, 0 warnings, 0 checks' "$tmp/checkpatch.log" | tail -n 30
	result checkpatch FAIL "checkpatch.pl --strict reports problems"
fi

# 4. dkms.conf agrees with VERSION and names what DKMS needs.
conf="$VMFIX_ROOT/dkms.conf"
conf_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$conf")
missing=()
for d in 'PACKAGE_NAME="rdna1-vmfix"' 'BUILT_MODULE_NAME\[0\]="rdna1_vmfix"' 'BUILT_MODULE_LOCATION\[0\]="kernel/"' \
	'AUTOINSTALL="yes"' 'BUILD_EXCLUSIVE_CONFIG="CONFIG_KPROBES CONFIG_KRETPROBES CONFIG_DRM_AMDGPU"' \
	'MAKE\[0\]="make -C kernel KDIR=\$\{kernel_source_dir\}"'; do
	grep -qE "^$d\$" "$conf" || missing+=("$d")
done
if [ "$conf_version" != "$version" ]; then
	result dkms-conf FAIL "PACKAGE_VERSION '$conf_version' != VERSION '$version'"
elif [ ${#missing[@]} -gt 0 ]; then
	result dkms-conf FAIL "dkms.conf lacks: ${missing[*]}"
else
	result dkms-conf PASS "PACKAGE_VERSION = VERSION = $version, required directives present"
fi

# 5. DKMS in a private tree: install for bookworm 6.1, autoinstall for the 6.12 headers, uninstall.
if [ "$(id -u)" -ne 0 ] || ! command -v dkms >/dev/null; then
	for t in dkms-install dkms-autoinstall dkms-uninstall; do result "$t" SKIP "needs root and dkms"; done
	report_counts
	exit
fi
root="$tmp/dkms"
rel61=$(kernel_release 6.1)
kdir61=$(ensure_headers 6.1)
host_had=$([ -e /var/lib/dkms/rdna1-vmfix ] && echo 1 || echo 0)
ko="$root/lib/modules/$rel61/updates/dkms/rdna1_vmfix.ko"
if "$VMFIX_ROOT/scripts/dkms.sh" install --root "$root" --kernel "$rel61" --kernelsourcedir "$kdir61" >"$tmp/dkms-install.log" 2>&1 &&
	[ -f "$ko" ] && [ "$(modinfo -F version "$ko")" = "$version" ] &&
	modinfo -F vermagic "$ko" | grep -q "^$rel61 " &&
	grep -qx 'softdep amdgpu post: rdna1_vmfix' "$root/etc/modprobe.d/rdna1-vmfix.conf" &&
	grep -qx '#options rdna1_vmfix mode=enforce' "$root/etc/modprobe.d/rdna1-vmfix.conf" &&
	grep -qx 'rdna1_vmfix' "$root/etc/modules-load.d/rdna1-vmfix.conf"; then
	if [ "$host_had" = 0 ] && [ -e /var/lib/dkms/rdna1-vmfix ]; then
		result dkms-install FAIL "the host DKMS tree was modified"
	else
		result dkms-install PASS "dkms add/build/install for $rel61: version $version, softdep + modules-load written"
	fi
else
	tail -n 40 "$tmp/dkms-install.log"
	result dkms-install FAIL "dkms install for $rel61 failed or left wrong files"
fi

# Parameter descriptions state their defaults (modinfo of the DKMS-built module).
if [ -f "$ko" ] && [ "$(modinfo -F parm "$ko" | grep -c '\[default: [a-z0-9]*\]')" -eq 5 ] &&
	[ "$(modinfo -F license "$ko")" = "Dual MIT/GPL" ]; then
	result module-info PASS "5 parameters each with [default: X], license Dual MIT/GPL"
else
	modinfo "$ko" 2>&1 | grep -E '^(parm|license)' || true
	result module-info FAIL "parameter descriptions or license wrong"
fi

mkdir -p "$root/lib/modules/$rel612"
ko612="$root/lib/modules/$rel612/updates/dkms/rdna1_vmfix.ko"
if dkms --dkmstree "$root/var/lib/dkms" --sourcetree "$root/usr/src" --installtree "$root/lib/modules" --no-depmod \
	autoinstall -k "$rel612" --kernelsourcedir "$kdir612" >"$tmp/dkms-auto.log" 2>&1 &&
	[ -f "$ko612" ] && modinfo -F vermagic "$ko612" | grep -q "^$rel612 "; then
	result dkms-autoinstall PASS "dkms autoinstall built and installed it for the new $rel612 headers"
else
	tail -n 40 "$tmp/dkms-auto.log"
	tail -n 20 "$root/var/lib/dkms/rdna1-vmfix/$version/build/make.log" 2>/dev/null || true
	result dkms-autoinstall FAIL "dkms autoinstall for $rel612 did not install the module"
fi

# A broken build shows DKMS's make.log and keeps dkms's failure status; a VERSION that differs from
# dkms.conf is refused before DKMS is touched.
brk="$tmp/broken"
mkdir -p "$brk"
cp -r "$VMFIX_ROOT/VERSION" "$VMFIX_ROOT/dkms.conf" "$VMFIX_ROOT/scripts" "$brk/"
mkdir -p "$brk/kernel"
cp "$VMFIX_ROOT"/kernel/*.[ch] "$VMFIX_ROOT"/kernel/{Makefile,Kbuild,gen-abi.sh} "$brk/kernel/"
rm -f "$brk/kernel/"*.mod.c
echo 'int vmfix_broken(void) { return vmfix_no_such_symbol; }' >>"$brk/kernel/main.c"
rc=0
VMFIX_ROOT=$brk "$brk/scripts/dkms.sh" build --root "$brk/root" --kernel "$rel61" --kernelsourcedir "$kdir61" >"$tmp/broken.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && grep -q -- '---- .*/make.log ----' "$tmp/broken.log" &&
	grep -q "vmfix_no_such_symbol.*undeclared" "$tmp/broken.log"; then
	result dkms-build-failure PASS "exit $rc from dkms kept, make.log with the compiler error printed"
else
	tail -n 20 "$tmp/broken.log"
	result dkms-build-failure FAIL "exit $rc, make.log or the error not shown"
fi
echo 9.9.9 >"$brk/VERSION"
rc=0
VMFIX_ROOT=$brk "$brk/scripts/dkms.sh" build --root "$brk/root2" --kernel "$rel61" >"$tmp/version.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && grep -q 'differs from VERSION' "$tmp/version.log" && [ ! -e "$brk/root2/usr/src/rdna1-vmfix-9.9.9" ]; then
	result dkms-version-guard PASS "dkms.conf $version vs VERSION 9.9.9: refused, nothing added"
else
	cat "$tmp/version.log"
	result dkms-version-guard FAIL "exit $rc: a version mismatch was not refused"
fi

"$VMFIX_ROOT/scripts/dkms.sh" uninstall --root "$root" --kernel "$rel61" >"$tmp/dkms-uninstall.log" 2>&1 || true
left=$(find "$root" -iname '*rdna1*' | head -n 5)
if [ -z "$left" ] && [ -z "$(dkms --dkmstree "$root/var/lib/dkms" --sourcetree "$root/usr/src" --installtree "$root/lib/modules" status 2>/dev/null)" ]; then
	result dkms-uninstall PASS "removed from both kernels, DKMS source and config files gone"
else
	tail -n 20 "$tmp/dkms-uninstall.log"
	result dkms-uninstall FAIL "leftovers: ${left:-dkms status not empty}"
fi

report_counts
