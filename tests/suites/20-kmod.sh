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
for abi in 6.12 7.2 7.3; do
	if grep -E "^[^ ]*${abi//./\\.}[^ ]* PASS" "$tmp/matrix.out" | grep -q 'abi from BTF'; then
		result "abi-btf-$abi" PASS "ABI derived from amdgpu.ko BTF agrees with the checked table (strict build)"
	else
		result "abi-btf-$abi" FAIL "no BTF-derived ABI in the matrix build of $abi"
	fi
done

# 2. The ABI check can fail: 6.12 headers with a generated abi.h that claims the 7.x prototypes
#    (5-argument get_vm_pte, no map_mtype) must not build in strict mode.
rel612=$(kernel_release 6.12)
kdir612=$(ensure_headers 6.12)
mkdir -p "$tmp/mismatch/kernel/generated"
cp "$VMFIX_ROOT/VERSION" "$tmp/mismatch/"
cp "$VMFIX_ROOT"/kernel/*.[ch] "$VMFIX_ROOT"/kernel/{Makefile,Kbuild,gen-abi.sh} "$tmp/mismatch/kernel/"
rm -f "$tmp/mismatch/kernel/"*.mod.c
printf '#define VMFIX_BTF_PTES_UPDATE_ARGS 5\n#define VMFIX_BTF_GET_VM_PTE_ARGS 5\n#define VMFIX_BTF_MAP_MTYPE 0\n' \
	>"$tmp/mismatch/kernel/generated/abi.h"
if make -C "$tmp/mismatch/kernel" KDIR="$kdir612" VMFIX_GEN_ABI=0 VMFIX_WERROR=1 >"$tmp/mismatch.log" 2>&1; then
	result abi-mismatch FAIL "a 6.12 build with a 7.x BTF ABI succeeded"
elif grep -q 'disagrees with the checked ABI table' "$tmp/mismatch.log"; then
	result abi-mismatch PASS "6.12 headers + 7.x BTF ABI: strict build refused (#error)"
else
	tail -n 20 "$tmp/mismatch.log"
	result abi-mismatch FAIL "build failed for another reason"
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
