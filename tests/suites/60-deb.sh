#!/usr/bin/env bash
# Debian packages (the post-upgrade check's own logic: 62-postupgrade.sh):
#  2. both packages built by dpkg-buildpackage, lintian (errors fail);
#  3. install, upgrade (a second build with VERSION+test1) and purge in a clean bookworm root
#     (scripts/lib/testroot.sh) where dh-dkms makes DKMS build, sign and install the real module
#     for the root's kernel headers; then nothing of the packages may be left.
# Budget: about 6 minutes from a fresh machine (the test root tarball is cached in $VMFIX_CACHE;
# it is made while the packages build). The upgrade build is -O0, without HIP workers (--fast).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/testroot.sh
. "$VMFIX_ROOT/scripts/lib/testroot.sh"
maybe_verbose "$@"

work="$VMFIX_ROOT/out/deb-test"
mkdir -p "$work"
tmp=$(mktemp -d)
testroot_pid=""
# A test root still being made is waited for, so the cache is complete for the next run.
trap '[ -z "$testroot_pid" ] || wait "$testroot_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------------------------
# 2./3. packages (root, dpkg-buildpackage, debootstrap)
if [ "$(id -u)" -ne 0 ]; then
	result deb-build SKIP "needs root (test root, dpkg -i)"
	report_counts
	exit $?
fi
for t in dpkg-buildpackage lintian debootstrap zstd unshare rsync; do
	command -v "$t" >/dev/null 2>&1 || {
		result deb-build FAIL "missing tool $t (scripts/setup.sh packaging)"
		report_counts
		exit 1
	}
done
if [ ! -f "$VMFIX_ROOT/dkms.conf" ]; then
	result deb-build SKIP "no dkms.conf in the tree yet: the module's DKMS source is not complete"
	report_counts
	exit $?
fi

# The test root (debootstrap + apt, network-bound) is made while the packages build (CPU-bound).
testroot_tarball >"$tmp/testroot.out" 2>&1 &
testroot_pid=$!

t0=$(date +%s)
v1=$(cat "$VMFIX_ROOT/VERSION")
v2="$v1+test1"
if "$VMFIX_ROOT/scripts/build-deb.sh" --out "$work/v1" --profiles nocheck >"$work/v1.log" 2>&1; then
	result deb-build PASS "rdna1-vmfix-dkms and rdna1-vmfix $v1 built by dpkg-buildpackage ($(($(date +%s) - t0)) s)"
else
	tail -n 40 "$work/v1.log"
	result deb-build FAIL "dpkg-buildpackage or lintian failed (log: $work/v1.log)"
	report_counts
	exit 1
fi
lint_e=$(grep -c '^E: ' "$work/v1/lintian.log" || true)
lint_w=$(grep -c '^W: ' "$work/v1/lintian.log" || true)
result deb-lintian PASS "lintian: $lint_e errors, $lint_w warnings ($(grep -cE '^[IP]: ' "$work/v1/lintian.log" || true) info/pedantic)"

# Version check: a changelog that disagrees with VERSION must stop the build.
tree_bad="$tmp/tree-bad"
mkdir -p "$tree_bad"
rsync -a --exclude=/.git --exclude=/out --exclude=/build --filter=':- .gitignore' "$VMFIX_ROOT"/ "$tree_bad"/
echo "$v2" >"$tree_bad/VERSION"
if (cd "$tree_bad" && debian/check-version) >"$tmp/cv.out" 2>&1; then
	result deb-version-check FAIL "debian/check-version accepted VERSION $v2 with changelog $v1"
elif grep -q "VERSION has $v2" "$tmp/cv.out"; then
	result deb-version-check PASS "changelog $v1 vs VERSION $v2 is refused before the build"
else
	result deb-version-check FAIL "unexpected check-version output: $(head -n1 "$tmp/cv.out")"
fi

# Second version for the upgrade: the same tree with VERSION and changelog at $v2.
tree2="$work/tree-v2"
mkdir -p "$tree2"
rsync -a --delete --exclude=/.git --exclude=/out --exclude=/build --filter=':- .gitignore' "$VMFIX_ROOT"/ "$tree2"/
echo "$v2" >"$tree2/VERSION"
{
	printf 'rdna1-vmfix (%s) unstable; urgency=medium\n\n  * Test upgrade build.\n\n' "$v2"
	printf ' -- %s  %s\n\n' "$(sed -n 's/^ -- \(.*\)  .*/\1/p' "$VMFIX_ROOT/debian/changelog" | head -n1)" "$(date -R)"
	cat "$VMFIX_ROOT/debian/changelog"
} >"$tree2/debian/changelog"
if VMFIX_ROOT="$tree2" "$tree2/scripts/build-deb.sh" --out "$work/v2" --profiles nocheck,pkg.rdna1-vmfix.nohip --fast --no-lintian >"$work/v2.log" 2>&1; then
	result deb-build-upgrade PASS "second version $v2 built (-O0, no hip; $(($(date +%s) - t0)) s since the first build began)"
else
	tail -n 40 "$work/v2.log"
	result deb-build-upgrade FAIL "build of $v2 failed (log: $work/v2.log)"
	report_counts
	exit 1
fi

if ! wait "$testroot_pid"; then
	cat "$tmp/testroot.out"
	result deb-testroot FAIL "could not make the bookworm test root"
	report_counts
	exit 1
fi
root="$tmp/root"
testroot_new "$root"
kver=$(testroot_kernel "$root") || die "no kernel headers in the test root"
mkdir -p "$root/tmp/debs"
cp "$work/v1/rdna1-vmfix-dkms_${v1}_all.deb" "$work/v1/rdna1-vmfix_${v1}_amd64.deb" \
	"$work/v2/rdna1-vmfix-dkms_${v2}_all.deb" "$work/v2/rdna1-vmfix_${v2}_amd64.deb" "$root/tmp/debs/"
# Everything present before the packages, for the leftover check after purge.
snapshot() {
	(cd "$1" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./run \
		-o -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache/debconf -o -path ./var/cache/apt \
		-o -path ./var/lib/apt \) -prune -o -print) | sort
}
snapshot "$root" >"$tmp/before"
in_root() { testroot_run "$root" "$@"; }
dkms_state() { in_root dkms status -m rdna1-vmfix 2>/dev/null; }

# On a failed DKMS build, its make.log is what explains it.
show_make_log() {
	local f
	for f in "$root"/var/lib/dkms/rdna1-vmfix/*/build/make.log "$root"/var/lib/dkms/rdna1-vmfix/*/*/*/log/make.log; do
		[ -f "$f" ] && printf '== %s\n' "${f#"$root"}" && tail -n 30 "$f"
	done
	return 0
}
# apt (as a user would: apt install ./*.deb) fetches the tool's library dependencies; downloaded
# .debs are kept in $VMFIX_CACHE between runs.
apt_cache="$VMFIX_CACHE/debs/testroot-bookworm"
mkdir -p "$apt_cache"
cp -n "$apt_cache"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true

# --- install
if in_root apt-get update -q >"$work/install.log" 2>&1 &&
	in_root apt-get install -y -q --no-install-recommends "/tmp/debs/rdna1-vmfix-dkms_${v1}_all.deb" \
		"/tmp/debs/rdna1-vmfix_${v1}_amd64.deb" >>"$work/install.log" 2>&1; then
	result deb-install PASS "apt install ./rdna1-vmfix{-dkms,}_$v1*.deb in a clean bookworm root (headers $kver)"
else
	tail -n 40 "$work/install.log"
	show_make_log
	result deb-install FAIL "install failed (log: $work/install.log)"
fi
cp -n "$root"/var/cache/apt/archives/*.deb "$apt_cache/" 2>/dev/null || true
ko="$root/lib/modules/$kver/updates/dkms/rdna1_vmfix.ko"
if dkms_state | grep -q "^rdna1-vmfix/$v1, $kver, x86_64: installed" && [ -f "$ko" ]; then
	result deb-dkms-built PASS "dh-dkms postinst built and installed rdna1_vmfix $v1 for $kver"
else
	grep -A30 -i 'error\|fail' "$work/install.log" | head -n 40 || true
	result deb-dkms-built FAIL "dkms status: $(dkms_state | tr '\n' ' ')"
fi
modver=$(in_root modinfo -F version "/lib/modules/$kver/updates/dkms/rdna1_vmfix.ko" 2>/dev/null || true)
if [ "$modver" = "$v1" ] && in_root modprobe -S "$kver" --show-depends rdna1_vmfix 2>/dev/null | grep -q 'updates/dkms/rdna1_vmfix.ko'; then
	result deb-module-version PASS "modinfo version $modver; depmod indexed it for $kver"
else
	result deb-module-version FAIL "modinfo version '$modver', expected $v1, or not in modules.dep"
fi
absent=""
for f in "/usr/src/rdna1-vmfix-$v1/dkms.conf" "/usr/src/rdna1-vmfix-$v1/VERSION" "/usr/src/rdna1-vmfix-$v1/kernel/Makefile" \
	"/usr/src/rdna1-vmfix-$v1/kernel/vmfix_policy.c" "/usr/src/rdna1-vmfix-$v1/kernel/vmfix_policy.h" \
	/lib/modprobe.d/rdna1-vmfix.conf /usr/lib/modules-load.d/rdna1-vmfix.conf /usr/bin/rdna1-vmfix \
	/usr/libexec/rdna1-vmfix/postupgrade-check /lib/systemd/system/rdna1-vmfix-postupgrade.service \
	/usr/share/man/man1/rdna1-vmfix.1.gz /usr/share/doc/rdna1-vmfix/install.md.gz; do
	[ -e "$root$f" ] || absent="$absent $f"
done
if [ -z "$absent" ] && [ "$(in_root rdna1-vmfix --version)" = "rdna1-vmfix $v1" ] &&
	in_root modprobe -c 2>/dev/null | grep -qx "softdep amdgpu post: rdna1_vmfix"; then
	result deb-files PASS "module source, modprobe.d softdep (seen by modprobe -c), modules-load.d, unit, man page, tool $v1"
else
	result deb-files FAIL "missing:${absent:- none}; or --version/softdep wrong"
fi
if [ ! -e "$root/etc/systemd/system/multi-user.target.wants/rdna1-vmfix-postupgrade.service" ]; then
	result deb-unit-disabled PASS "post-upgrade unit shipped disabled"
else
	result deb-unit-disabled FAIL "post-upgrade unit was enabled by the package"
fi
# Signing: DKMS 3 signs with /var/lib/dkms/mok.key; the library must see exactly that.
ut="$VMFIX_ROOT/build/tests/unit/pkg_test"
# Always (re)built: incremental after the unit suite, and never a stale binary.
if ! { cmake -S "$VMFIX_ROOT" -B "$VMFIX_ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
	ninja -C "$VMFIX_ROOT/build" pkg_test; } >"$tmp/ut.log" 2>&1; then
	tail -n 20 "$tmp/ut.log"
fi
if [ -x "$ut" ] && VMFIX_SIGNING_ROOT="$root" VMFIX_SIGNING_KERNEL="$kver" "$ut" "[.chroot]" >"$tmp/sign.log" 2>&1; then
	result deb-module-signed PASS "module signed by '$(in_root modinfo -F signer "/lib/modules/$kver/updates/dkms/rdna1_vmfix.ko")' = /var/lib/dkms/mok.pub (module_signing_state)"
else
	tail -n 30 "$tmp/sign.log" 2>/dev/null || true
	result deb-module-signed FAIL "signing state of the DKMS-built module not as expected"
fi
# The installed post-upgrade script runs with the installed tool (no GPU here).
if in_root /usr/libexec/rdna1-vmfix/postupgrade-check --kernel "$kver" --timeout 60 >"$tmp/pu-root.out" 2>&1 ||
	[ $? -eq 1 ]; then
	result deb-postupgrade-installed PASS "installed script ran: $(tail -n1 "$tmp/pu-root.out" | sed 's/^<[0-9]>//')"
else
	cat "$tmp/pu-root.out"
	result deb-postupgrade-installed FAIL "installed postupgrade-check failed"
fi

# --- upgrade (with the unit enabled by the admin, as docs/install.md describes: it must stay so)
wants="$root/etc/systemd/system/multi-user.target.wants/rdna1-vmfix-postupgrade.service"
# (the link `systemctl enable` makes; the minbase root has no systemctl)
mkdir -p "${wants%/*}"
ln -sf /lib/systemd/system/rdna1-vmfix-postupgrade.service "$wants"
if in_root dpkg -i "/tmp/debs/rdna1-vmfix-dkms_${v2}_all.deb" "/tmp/debs/rdna1-vmfix_${v2}_amd64.deb" >"$work/upgrade.log" 2>&1; then
	result deb-upgrade PASS "dpkg -i of $v2 over $v1"
else
	tail -n 40 "$work/upgrade.log"
	show_make_log
	result deb-upgrade FAIL "upgrade failed (log: $work/upgrade.log)"
fi
modver=$(in_root modinfo -F version "/lib/modules/$kver/updates/dkms/rdna1_vmfix.ko" 2>/dev/null || true)
if [ "$(dkms_state | wc -l)" -eq 1 ] && dkms_state | grep -q "^rdna1-vmfix/$v2, $kver, x86_64: installed" &&
	[ "$modver" = "$v2" ] && [ ! -e "$root/usr/src/rdna1-vmfix-$v1" ] && [ ! -e "$root/var/lib/dkms/rdna1-vmfix/$v1" ] &&
	[ "$(in_root rdna1-vmfix --version)" = "rdna1-vmfix $v2" ]; then
	result deb-upgrade-state PASS "only $v2 left: dkms status, module version, /usr/src, tool"
else
	result deb-upgrade-state FAIL "after upgrade: dkms '$(dkms_state | tr '\n' ' ')', module '$modver'"
fi

if [ -L "$wants" ]; then
	result deb-upgrade-unit PASS "an admin-enabled post-upgrade unit stays enabled across the upgrade"
else
	result deb-upgrade-unit FAIL "the upgrade dropped the unit's enable link"
fi

# --- purge
if in_root dpkg --purge rdna1-vmfix rdna1-vmfix-dkms >"$work/purge.log" 2>&1; then
	result deb-purge PASS "dpkg --purge of both packages"
else
	tail -n 40 "$work/purge.log"
	result deb-purge FAIL "purge failed (log: $work/purge.log)"
fi
# What apt pulled in for the packages goes with them, as after `apt purge` + `apt autoremove`.
in_root apt-get autoremove --purge -y -q >>"$work/purge.log" 2>&1 || true
left=""
for g in "$root"/usr/src/rdna1-vmfix-* "$root"/var/lib/dkms/rdna1-vmfix "$root"/lib/modules/*/updates/dkms/rdna1_vmfix.ko* \
	"$root"/lib/modprobe.d/rdna1-vmfix.conf "$root"/etc/modprobe.d/rdna1-vmfix*.conf "$root"/usr/lib/modules-load.d/rdna1-vmfix.conf \
	"$root"/etc/modules-load.d/rdna1-vmfix.conf "$root"/lib/systemd/system/rdna1-vmfix-postupgrade.service \
	"$root"/etc/systemd/system/multi-user.target.wants/rdna1-vmfix-postupgrade.service "$root"/var/lib/rdna1-vmfix \
	"$root"/usr/libexec/rdna1-vmfix "$root"/usr/bin/rdna1-vmfix; do
	[ -e "$g" ] || [ -L "$g" ] && left="$left ${g#"$root"}"
done
grep -l rdna1_vmfix "$root/lib/modules/$kver"/modules.* 2>/dev/null | sed "s|^$root| |" >"$tmp/idx" || true
snapshot "$root" >"$tmp/after"
# New paths allowed after purge: DKMS's own MOK key pair (shared by every DKMS module, kept so a
# re-install signs with the key already enrolled) and depmod's index files.
comm -13 "$tmp/before" "$tmp/after" | grep -vE '^\./var/lib/dkms(/mok\.(key|pub))?$|^\./(usr/)?lib/modules/[^/]+/modules\.[a-z.]+$' >"$tmp/new" || true
if [ -z "$left" ] && [ ! -s "$tmp/idx" ] && [ ! -s "$tmp/new" ] &&
	! in_root dpkg-query -W rdna1-vmfix rdna1-vmfix-dkms 2>/dev/null | grep -q .; then
	result deb-purge-clean PASS "no files, module, index entry, unit link or state left; only DKMS's MOK key remains"
else
	result deb-purge-clean FAIL "left:${left:- none}; index:$(tr '\n' ' ' <"$tmp/idx"); new:$(head -n 10 "$tmp/new" | tr '\n' ' ')"
fi

# --- make install / make uninstall (scripts/dkms.sh) in the same root, now free of the packages:
# uninstall must bring the root back to exactly this state.
# systemd ships /etc/modules-load.d on every real system; the minbase root lacks it, and
# scripts/dkms.sh creates it (mkdir -p) without removing it again.
mkdir -p "$root/etc/modules-load.d"
snapshot "$root" >"$tmp/before-make"
mkdir -p "$root/tmp/src"
rsync -a --exclude=/.git --exclude=/out --exclude=/build --filter=':- .gitignore' "$VMFIX_ROOT"/ "$root/tmp/src"/
if in_root make -C /tmp/src install KVER="$kver" >"$work/make-install.log" 2>&1 &&
	dkms_state | grep -q "^rdna1-vmfix/$v1, $kver, x86_64: installed" && [ -f "$ko" ] &&
	[ -f "$root/etc/modprobe.d/rdna1-vmfix.conf" ] && [ -f "$root/etc/modules-load.d/rdna1-vmfix.conf" ]; then
	result make-install PASS "make install KVER=$kver: DKMS build/install, modprobe.d and modules-load.d written"
else
	tail -n 30 "$work/make-install.log"
	show_make_log
	result make-install FAIL "make install in the test root failed (log: $work/make-install.log)"
fi
if in_root make -C /tmp/src uninstall >"$work/make-uninstall.log" 2>&1; then
	snapshot "$root" >"$tmp/after-make"
	grep -l rdna1_vmfix "$root/lib/modules/$kver"/modules.* 2>/dev/null | sed "s|^$root| |" >"$tmp/idx" || true
	if diff "$tmp/before-make" "$tmp/after-make" >"$tmp/make.diff" && [ ! -s "$tmp/idx" ]; then
		result make-uninstall PASS "make uninstall restored the root exactly (file list identical, no index entry)"
	else
		result make-uninstall FAIL "left after make uninstall: $(grep '^[<>]' "$tmp/make.diff" | head -n 8 | tr '\n' ' ') $(tr '\n' ' ' <"$tmp/idx")"
	fi
else
	tail -n 30 "$work/make-uninstall.log"
	result make-uninstall FAIL "make uninstall failed (log: $work/make-uninstall.log)"
fi
report_counts
