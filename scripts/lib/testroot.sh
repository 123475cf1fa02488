# shellcheck shell=bash
# Clean Debian bookworm roots for package tests: a minbase debootstrap with DKMS, kernel headers and
# openssl preinstalled, cached as a tarball; each test extracts a fresh copy and runs commands in it
# through a private mount namespace (proc/sys/dev mounts vanish with the namespace).
# Needs common.sh sourced first. Root only.

# Packages preinstalled in the test root (install/upgrade/purge then need no network).
TESTROOT_PKGS="dkms linux-headers-amd64 openssl kmod gcc make libc6-dev"

# Prints the path of the cached tarball, creating it on first use (about 2 minutes).
testroot_tarball() {
	local key tar tmp mirror
	key=$(printf '%s' "bookworm $TESTROOT_PKGS" | sha256sum | cut -c1-12)
	tar="$VMFIX_CACHE/chroots/testroot-bookworm-$key.tar.zst"
	mkdir -p "$VMFIX_CACHE/chroots" "$VMFIX_CACHE/locks"
	(
		flock 9
		[ -s "$tar" ] && exit 0
		need_tools debootstrap zstd
		mirror=$(debian_mirror)
		tmp=$(mktemp -d "$VMFIX_CACHE/chroots/testroot.XXXXXX")
		log "testroot: debootstrap bookworm (minbase) into $tmp"
		if ! debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1; then
			tail -n 20 "$tmp.log" >&2
			rm -rf "$tmp"
			die "debootstrap failed (log: $tmp.log)"
		fi
		# shellcheck disable=SC2086 # the package list is split on purpose
		if ! chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$TESTROOT_PKGS >>"$tmp.log" 2>&1; then
			tail -n 20 "$tmp.log" >&2
			rm -rf "$tmp"
			die "apt-get install in the test root failed (log: $tmp.log)"
		fi
		chroot "$tmp" apt-get clean
		chmod 0755 "$tmp" # mktemp made it 0700; the root directory of a system is 0755
		tar -C "$tmp" --numeric-owner -cf - . | zstd -q -T0 -3 -o "$tar.tmp"
		mv -f "$tar.tmp" "$tar"
		rm -rf "$tmp" "$tmp.log"
	) 9>"$VMFIX_CACHE/locks/testroot-bookworm.lock"
	printf '%s\n' "$tar"
}

# testroot_new DIR: a fresh root in DIR (which must not exist yet).
testroot_new() {
	local dir=$1 tar
	tar=$(testroot_tarball)
	mkdir -m 0755 "$dir"
	zstd -q -d -c "$tar" | tar -C "$dir" --numeric-owner -xf -
	chmod 0755 "$dir"
}

# testroot_run DIR CMD...: runs CMD as root inside DIR, in its own mount namespace.
testroot_run() {
	local dir=$1
	shift
	# shellcheck disable=SC2016 # the inner script expands its own positional arguments
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		root=$1
		shift
		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
	' testroot "$dir" "$@"
}

# testroot_kernel DIR: the headers' kernel release inside the root (the one DKMS must build for).
testroot_kernel() {
	local d
	for d in "$1"/usr/lib/modules/*/build; do
		[ -L "$d" ] || [ -e "$d" ] || continue # an absolute symlink: do not follow it on the host
		d=${d%/build}
		printf '%s\n' "${d##*/}"
		return 0
	done
	return 1
}
