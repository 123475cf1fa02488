# shellcheck shell=bash disable=SC2154 # $root and $tmp are set by the suite
# Helpers of tests/suites/60-deb.sh for a package test root (made by scripts/lib/testroot.sh):
# running commands in it, what DKMS says, file-list snapshots and leftovers after a purge.
# Expects $root (the root directory) and $tmp (a scratch directory) to be set.

in_root() { testroot_run "$root" "$@"; }
dkms_state() { in_root dkms status -m rdna1-vmfix 2>/dev/null; }

# Every path in the root outside the places that change by themselves (dpkg, apt, logs, /tmp...),
# sorted: two snapshots compared show what the packages left.
snapshot() {
	(cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./run \
		-o -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache/debconf -o -path ./var/cache/apt \
		-o -path ./var/lib/apt \) -prune -o -print) | sort
}

# On a failed DKMS build, its make.log is what explains it.
show_make_log() {
	local f
	for f in "$root"/var/lib/dkms/rdna1-vmfix/*/build/make.log "$root"/var/lib/dkms/rdna1-vmfix/*/*/*/log/make.log; do
		[ -f "$f" ] && printf '== %s\n' "${f#"$root"}" && tail -n 30 "$f"
	done
	return 0
}

# Files the packages own or create, as globs relative to the root; none may exist after a purge.
package_paths() {
	printf '%s\n' "usr/src/rdna1-vmfix-*" var/lib/dkms/rdna1-vmfix "lib/modules/*/updates/dkms/rdna1_vmfix.ko*" \
		lib/modprobe.d/rdna1-vmfix.conf "etc/modprobe.d/rdna1-vmfix*.conf" usr/lib/modules-load.d/rdna1-vmfix.conf \
		etc/modules-load.d/rdna1-vmfix.conf lib/systemd/system/rdna1-vmfix-postupgrade.service \
		etc/systemd/system/multi-user.target.wants/rdna1-vmfix-postupgrade.service var/lib/rdna1-vmfix \
		usr/libexec/rdna1-vmfix usr/bin/rdna1-vmfix usr/share/bash-completion/completions/rdna1-vmfix
}

# Package paths still present in the root (space-separated, empty when none).
leftovers() {
	local g p left=""
	while read -r g; do
		for p in "$root"/$g; do
			[ -e "$p" ] || [ -L "$p" ] && left="$left ${p#"$root"}"
		done
	done < <(package_paths)
	printf '%s' "$left"
}

# depmod index files of KVER that still name the module.
index_mentions() { grep -l rdna1_vmfix "$root/lib/modules/$1"/modules.* 2>/dev/null | sed "s|^$root| |" || true; }

# apt (as a user would: apt install ./*.deb) fetches the tool's library dependencies; the .debs it
# downloaded are kept in $VMFIX_CACHE between runs.
# The cache directory is shared by parallel runs: both directions hold its lock (shared to read,
# exclusive to add), and a package enters it whole (copied under a temporary name, then renamed).
apt_cache_restore() {
	mkdir -p "$1" "$VMFIX_CACHE/locks"
	(
		flock -s 9
		cp -n "$1"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
	) 9>"$VMFIX_CACHE/locks/debcache-$(basename "$1").lock"
}
apt_cache_save() {
	local f name
	mkdir -p "$1" "$VMFIX_CACHE/locks"
	(
		flock 9
		for f in "$root"/var/cache/apt/archives/*.deb; do
			name=${f##*/}
			if [ ! -f "$f" ] || [ -e "$1/$name" ]; then continue; fi
			if ! { cp "$f" "$1/.$name.part" && mv "$1/.$name.part" "$1/$name"; }; then rm -f "$1/.$name.part"; fi
		done
	) 9>"$VMFIX_CACHE/locks/debcache-$(basename "$1").lock"
}
