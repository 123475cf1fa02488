#!/usr/bin/env bash
# Debian packages, end to end (the post-upgrade check's own logic: 62-postupgrade.sh):
#  build    both packages by dpkg-buildpackage, lintian (errors fail), the VERSION/changelog guard,
#           and a second version (VERSION+test1) for the upgrade;
#  install  apt install in a clean bookworm root (scripts/lib/testroot.sh) where dh-dkms makes DKMS
#           build, sign and install the real module for the root's kernel headers; files, signing,
#           the installed post-upgrade check;
#  upgrade  to the second version, an admin-enabled unit stays enabled;
#  purge    nothing of the packages may be left;
#  make     make install / make uninstall in the same root restores it exactly.
# Budget: about 6 minutes from a fresh machine (the test root tarball is cached in $VMFIX_CACHE;
# it is made while the packages build). The upgrade build is -O0, without HIP workers (--fast).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/testroot.sh
. "$VMFIX_ROOT/scripts/lib/testroot.sh"
# shellcheck source=tests/lib/debroot.sh
. "$VMFIX_ROOT/tests/lib/debroot.sh"
maybe_verbose "$@"

work="$VMFIX_ROOT/out/deb-test"
mkdir -p "$work"
tmp=$(mktemp -d)
testroot_pid=""
# A test root still being made is waited for, so the cache is complete for the next run.
trap '[ -z "$testroot_pid" ] || wait "$testroot_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
v1=$(cat "$VMFIX_ROOT/VERSION")
v2="$v1+test1"
root="$tmp/root"
kver=""
t0=$(date +%s)

stop() { report_counts || true; exit "${1:-1}"; } # a step later steps need failed
since() { echo "$(($(date +%s) - t0)) s"; }
copy_tree() { # DEST: the tree as git sees it (no .git, out, build, ignored files)
	mkdir -p "$1"
	rsync -a --delete --exclude=/.git --exclude=/out --exclude=/build --filter=':- .gitignore' "$VMFIX_ROOT"/ "$1"/
}

preflight() {
	if [ "$(id -u)" -ne 0 ]; then
		result deb-build SKIP "needs root (test root, dpkg -i)"
		stop 0
	fi
	local t
	for t in dpkg-buildpackage lintian debootstrap zstd unshare rsync; do
		command -v "$t" >/dev/null 2>&1 || { result deb-build FAIL "missing tool $t (scripts/setup.sh packaging)" && stop; }
	done
	[ -f "$VMFIX_ROOT/dkms.conf" ] || { result deb-build SKIP "no dkms.conf in the tree yet" && stop 0; }
}

# ---------------------------------------------------------------------------------------------
# build
build_v1() {
	if "$VMFIX_ROOT/scripts/build-deb.sh" --out "$work/v1" --profiles nocheck >"$work/v1.log" 2>&1; then
		result deb-build PASS "rdna1-vmfix-dkms and rdna1-vmfix $v1 built by dpkg-buildpackage ($(since))"
	else
		tail -n 40 "$work/v1.log"
		result deb-build FAIL "dpkg-buildpackage or lintian failed (log: $work/v1.log)"
		stop
	fi
	local e w i
	e=$(grep -c '^E: ' "$work/v1/lintian.log" || true)
	w=$(grep -c '^W: ' "$work/v1/lintian.log" || true)
	i=$(grep -cE '^[IP]: ' "$work/v1/lintian.log" || true)
	result deb-lintian PASS "lintian: $e errors, $w warnings ($i info/pedantic)"
}

# A changelog that disagrees with VERSION must stop the build.
check_version_guard() {
	copy_tree "$tmp/tree-bad"
	echo "$v2" >"$tmp/tree-bad/VERSION"
	if (cd "$tmp/tree-bad" && debian/check-version) >"$tmp/cv.out" 2>&1; then
		result deb-version-check FAIL "debian/check-version accepted VERSION $v2 with changelog $v1"
	elif grep -q "VERSION has $v2" "$tmp/cv.out"; then
		result deb-version-check PASS "changelog $v1 vs VERSION $v2 is refused before the build"
	else
		result deb-version-check FAIL "unexpected check-version output: $(head -n1 "$tmp/cv.out")"
	fi
}

# Second version for the upgrade: the same tree with VERSION and changelog at $v2.
build_v2() {
	local tree2="$work/tree-v2" who
	copy_tree "$tree2"
	echo "$v2" >"$tree2/VERSION"
	who=$(sed -n 's/^ -- \(.*\)  .*/\1/p' "$VMFIX_ROOT/debian/changelog" | head -n1)
	{
		printf 'rdna1-vmfix (%s) unstable; urgency=medium\n\n  * Test upgrade build.\n\n -- %s  %s\n\n' "$v2" "$who" "$(date -R)"
		cat "$VMFIX_ROOT/debian/changelog"
	} >"$tree2/debian/changelog"
	if VMFIX_ROOT="$tree2" "$tree2/scripts/build-deb.sh" --out "$work/v2" --profiles nocheck,pkg.rdna1-vmfix.nohip \
		--fast --no-lintian >"$work/v2.log" 2>&1; then
		result deb-build-upgrade PASS "second version $v2 built (-O0, no hip; $(since) since the first build began)"
	else
		tail -n 40 "$work/v2.log"
		result deb-build-upgrade FAIL "build of $v2 failed (log: $work/v2.log)"
		stop
	fi
}

# ---------------------------------------------------------------------------------------------
# test root
make_root() {
	if ! wait "$testroot_pid"; then
		cat "$tmp/testroot.out"
		result deb-testroot FAIL "could not make the bookworm test root"
		stop
	fi
	testroot_pid=""
	testroot_new "$root"
	kver=$(testroot_kernel "$root") || die "no kernel headers in the test root"
	mkdir -p "$root/tmp/debs"
	cp "$work/v1/rdna1-vmfix-dkms_${v1}_all.deb" "$work/v1/rdna1-vmfix_${v1}_amd64.deb" \
		"$work/v2/rdna1-vmfix-dkms_${v2}_all.deb" "$work/v2/rdna1-vmfix_${v2}_amd64.deb" "$root/tmp/debs/"
	snapshot >"$tmp/before" # everything present before the packages, for the leftover check
}

# ---------------------------------------------------------------------------------------------
# install
test_install() {
	local cache="$VMFIX_CACHE/debs/testroot-bookworm"
	apt_cache_restore "$cache"
	if in_root apt-get update -q >"$work/install.log" 2>&1 &&
		in_root apt-get install -y -q --no-install-recommends "/tmp/debs/rdna1-vmfix-dkms_${v1}_all.deb" \
			"/tmp/debs/rdna1-vmfix_${v1}_amd64.deb" >>"$work/install.log" 2>&1; then
		result deb-install PASS "apt install ./rdna1-vmfix{-dkms,}_$v1*.deb in a clean bookworm root (headers $kver)"
	else
		tail -n 40 "$work/install.log"
		show_make_log
		result deb-install FAIL "install failed (log: $work/install.log)"
	fi
	apt_cache_save "$cache"
}

test_dkms_built() {
	local ko="$root/lib/modules/$kver/updates/dkms/rdna1_vmfix.ko" modver
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
}

test_files() {
	local f absent="" src="/usr/src/rdna1-vmfix-$v1"
	for f in "$src/dkms.conf" "$src/VERSION" "$src/kernel/Makefile" "$src/kernel/vmfix_policy.c" "$src/kernel/vmfix_policy.h" \
		/lib/modprobe.d/rdna1-vmfix.conf /usr/lib/modules-load.d/rdna1-vmfix.conf /usr/bin/rdna1-vmfix \
		/usr/libexec/rdna1-vmfix/postupgrade-check /lib/systemd/system/rdna1-vmfix-postupgrade.service \
		/usr/share/man/man1/rdna1-vmfix.1.gz /usr/share/doc/rdna1-vmfix/install.md.gz \
		/usr/share/bash-completion/completions/rdna1-vmfix; do
		[ -e "$root$f" ] || absent="$absent $f"
	done
	if [ -z "$absent" ] && [ "$(in_root rdna1-vmfix --version)" = "rdna1-vmfix $v1" ] &&
		in_root modprobe -c 2>/dev/null | grep -qx "softdep amdgpu post: rdna1_vmfix"; then
		result deb-files PASS "module source, modprobe.d softdep (seen by modprobe -c), modules-load.d, unit, man page, bash completion, tool $v1"
	else
		result deb-files FAIL "missing:${absent:- none}; or --version/softdep wrong"
	fi
	if [ ! -e "$root/etc/systemd/system/multi-user.target.wants/rdna1-vmfix-postupgrade.service" ]; then
		result deb-unit-disabled PASS "post-upgrade unit shipped disabled"
	else
		result deb-unit-disabled FAIL "post-upgrade unit was enabled by the package"
	fi
}

# DKMS 3 on Debian signs with /var/lib/dkms/mok.key; the library must see exactly that.
test_signing() {
	local ut="$VMFIX_ROOT/build/tests/unit/pkg_test"
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
}

# The installed post-upgrade check, with the installed tool and the real dkms: the dkms stage must
# pass; the module is not loaded in a chroot and there is no GPU, so the rest is skipped.
test_postupgrade_installed() {
	local rc=0
	in_root /usr/libexec/rdna1-vmfix/postupgrade-check --kernel "$kver" --timeout 60 >"$tmp/pu-root.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && grep -q '^stages dkms=pass ' "$root/var/lib/rdna1-vmfix/last-result"; then
		result deb-postupgrade-installed PASS "installed check: $(sed -n 's/^stages //p' "$root/var/lib/rdna1-vmfix/last-result")"
	else
		cat "$tmp/pu-root.out"
		result deb-postupgrade-installed FAIL "installed postupgrade-check exited $rc"
	fi
}

# ---------------------------------------------------------------------------------------------
# upgrade (with the unit enabled by the admin, as docs/install.md describes: it must stay so)
test_upgrade() {
	local wants="$root/etc/systemd/system/multi-user.target.wants/rdna1-vmfix-postupgrade.service" modver
	mkdir -p "${wants%/*}"
	ln -sf /lib/systemd/system/rdna1-vmfix-postupgrade.service "$wants" # what `systemctl enable` makes
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
}

# ---------------------------------------------------------------------------------------------
# purge
test_purge() {
	local left idx
	if in_root dpkg --purge rdna1-vmfix rdna1-vmfix-dkms >"$work/purge.log" 2>&1; then
		result deb-purge PASS "dpkg --purge of both packages"
	else
		tail -n 40 "$work/purge.log"
		result deb-purge FAIL "purge failed (log: $work/purge.log)"
	fi
	# What apt pulled in for the packages goes with them, as after `apt purge` + `apt autoremove`.
	in_root apt-get autoremove --purge -y -q >>"$work/purge.log" 2>&1 || true
	left=$(leftovers)
	idx=$(index_mentions "$kver")
	snapshot >"$tmp/after"
	# New paths allowed after purge: DKMS's own MOK key pair (shared by every DKMS module, kept so a
	# re-install signs with the key already enrolled) and depmod's index files.
	comm -13 "$tmp/before" "$tmp/after" |
		grep -vE '^\./var/lib/dkms(/mok\.(key|pub))?$|^\./(usr/)?lib/modules/[^/]+/modules\.[a-z.]+$' >"$tmp/new" || true
	if [ -z "$left" ] && [ -z "$idx" ] && [ ! -s "$tmp/new" ] &&
		! in_root dpkg-query -W rdna1-vmfix rdna1-vmfix-dkms 2>/dev/null | grep -q .; then
		result deb-purge-clean PASS "no files, module, index entry, unit link, completion or state left; only DKMS's MOK key remains"
	else
		result deb-purge-clean FAIL "left:${left:- none}; index:$(tr '\n' ' ' <<<"$idx"); new:$(head -n 10 "$tmp/new" | tr '\n' ' ')"
	fi
}

# ---------------------------------------------------------------------------------------------
# make install / make uninstall (scripts/dkms.sh) in the same root, now free of the packages:
# uninstall must bring the root back to exactly this state.
test_make_install() {
	local ko="$root/lib/modules/$kver/updates/dkms/rdna1_vmfix.ko" idx
	# systemd ships /etc/modules-load.d on every real system; the minbase root lacks it, and
	# scripts/dkms.sh creates it (mkdir -p) without removing it again.
	mkdir -p "$root/etc/modules-load.d" "$root/tmp/src"
	rsync -a --exclude=/.git --exclude=/out --exclude=/build --filter=':- .gitignore' "$VMFIX_ROOT"/ "$root/tmp/src"/
	# As docs/install.md says: the module group first (the purge above took bpftool with it). The
	# snapshot follows it: uninstall must restore the root as the prerequisites left it.
	if ! in_root /tmp/src/scripts/setup.sh module --kernel "$kver" >"$work/make-install.log" 2>&1; then
		tail -n 30 "$work/make-install.log"
		result make-install FAIL "scripts/setup.sh module in the test root failed (log: $work/make-install.log)"
		return
	fi
	snapshot >"$tmp/before-make"
	if in_root make -C /tmp/src install KVER="$kver" >>"$work/make-install.log" 2>&1 &&
		dkms_state | grep -q "^rdna1-vmfix/$v1, $kver, x86_64: installed" && [ -f "$ko" ] &&
		[ -f "$root/etc/modprobe.d/rdna1-vmfix.conf" ] && [ -f "$root/etc/modules-load.d/rdna1-vmfix.conf" ]; then
		result make-install PASS "make install KVER=$kver: DKMS build/install, modprobe.d and modules-load.d written"
	else
		tail -n 30 "$work/make-install.log"
		show_make_log
		result make-install FAIL "make install in the test root failed (log: $work/make-install.log)"
	fi
	if ! in_root make -C /tmp/src uninstall >"$work/make-uninstall.log" 2>&1; then
		tail -n 30 "$work/make-uninstall.log"
		result make-uninstall FAIL "make uninstall failed (log: $work/make-uninstall.log)"
		return
	fi
	snapshot >"$tmp/after-make"
	idx=$(index_mentions "$kver")
	if diff "$tmp/before-make" "$tmp/after-make" >"$tmp/make.diff" && [ -z "$idx" ]; then
		result make-uninstall PASS "make uninstall restored the root exactly (file list identical, no index entry)"
	else
		result make-uninstall FAIL "left after make uninstall: $(grep '^[<>]' "$tmp/make.diff" | head -n 8 | tr '\n' ' ') $idx"
	fi
}

preflight
# The test root (debootstrap + apt, network-bound) is made while the packages build (CPU-bound).
testroot_tarball >"$tmp/testroot.out" 2>&1 &
testroot_pid=$!
build_v1
check_version_guard
build_v2
make_root
test_install
test_dkms_built
test_files
test_signing
test_postupgrade_installed
test_upgrade
test_purge
test_make_install
report_counts
