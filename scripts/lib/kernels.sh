# shellcheck shell=bash
# The kernel matrix: which Debian kernels we build and boot against, and how to get their headers,
# images and sources. Source scripts/lib/common.sh first.
#
# Labels: 6.1 (bookworm), 6.12 (bookworm-backports), 7.2 (sid), 7.3 (experimental, rc).
# bookworm and bookworm-backports run on the host (a bookworm machine); sid and experimental share one
# debootstrap chroot under $VMFIX_CACHE/chroots/sid (experimental is enabled there at low priority), so
# their compilers and kbuild binaries never touch the host. Everything downloaded is cached; concurrent
# callers serialize on flock(1) locks.

VMFIX_MATRIX_LABELS="6.1 6.12 7.2 7.3"

matrix_labels() { printf '%s\n' "$VMFIX_MATRIX_LABELS"; }

kernel_suite() {
	case "$1" in
	6.1) echo bookworm ;;
	6.12) echo bookworm-backports ;;
	7.2) echo sid ;;
	7.3) echo experimental ;;
	*) die "unknown kernel label '$1' (known: $VMFIX_MATRIX_LABELS)" 2 ;;
	esac
}

# Runs "$@" holding lock NAME (one writer per cache item across parallel suites and helpers).
with_lock() {
	local name=$1
	shift
	mkdir -p "$VMFIX_CACHE/locks"
	(
		flock 9
		"$@"
	) 9>"$VMFIX_CACHE/locks/$name.lock"
}

kernel_env() {
	case "$(kernel_suite "$1")" in
	bookworm | bookworm-backports) echo host ;;
	*) echo "$VMFIX_CACHE/chroots/sid" ;;
	esac
}

_kernels_apt() { apt-get -q -y -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root "$@"; }

# Creates the sid chroot (with experimental at apt's default low priority) once.
_kernels_make_chroot() {
	local root=$1 mirror
	[ -f "$root/.vmfix-ready" ] && return 0
	need_tools debootstrap
	mirror=$(debian_mirror)
	rm -rf "$root"
	mkdir -p "$(dirname "$root")"
	log "kernels: creating the sid chroot in $root (about a minute)"
	if ! debootstrap --variant=minbase --include=ca-certificates sid "$root" "$mirror" >"$root.log" 2>&1; then
		tail -n 30 "$root.log" >&2
		die "debootstrap sid failed"
	fi
	printf 'deb %s sid main\ndeb %s experimental main\n' "$mirror" "$mirror" >"$root/etc/apt/sources.list"
	_kernels_chroot_aptconf "$root"
	touch "$root/.vmfix-ready"
}

# A mirror may serve Release files whose Valid-Until lies in the past (snapshots); the
# signatures are still checked.
_kernels_chroot_aptconf() {
	printf 'Acquire::Check-Valid-Until "false";\nAPT::Sandbox::User "root";\n' >"$1/etc/apt/apt.conf.d/90rdna1-vmfix"
}

ensure_chroot() {
	local root="$VMFIX_CACHE/chroots/sid"
	[ -f "$root/.vmfix-ready" ] || with_lock chroot-sid _kernels_make_chroot "$root"
	[ -f "$root/etc/apt/apt.conf.d/90rdna1-vmfix" ] || _kernels_chroot_aptconf "$root"
}

# Runs CMD on the host or inside the chroot of LABEL, in the current directory. Inside the chroot, the
# repository, the cache, /work (if any), /tmp and $KENV_BINDS are visible at their host paths.
kenv_run() {
	local label=$1 env
	shift
	env=$(kernel_env "$label")
	if [ "$env" = host ]; then
		"$@"
		return
	fi
	ensure_chroot
	local binds=("$VMFIX_ROOT" "$VMFIX_CACHE" /tmp)
	[ -d /work ] && binds+=(/work)
	# shellcheck disable=SC2206 # KENV_BINDS is a space-separated list of paths
	[ -n "${KENV_BINDS:-}" ] && binds+=(${KENV_BINDS})
	# shellcheck disable=SC2016 # the script is expanded by the inner bash
	unshare --mount --propagation private bash -c '
		set -euo pipefail
		root=$1 cwd=$2 nb=$3
		shift 3
		for ((i = 0; i < nb; i++)); do
			d=$1
			shift
			mkdir -p "$root$d"
			mount --bind "$d" "$root$d"
		done
		mount -t proc proc "$root/proc"
		mount --bind /dev "$root/dev"
		cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
		exec chroot "$root" /usr/bin/env -C "$cwd" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	' _ "$env" "$PWD" "${#binds[@]}" "${binds[@]}" "$@"
}

# Under the environment's apt lock: updates unless another run did so while we waited for the lock.
_kernels_update_locked() { # LABEL STAMP LOG
	[ -z "$(find "$2" -mmin -1440 2>/dev/null)" ] || return 0
	kenv_run "$1" apt-get -q -o APT::Sandbox::User=root update >"$3" 2>&1 || return 1
	! grep -q '^E:' "$3" || return 1
	touch "$2"
}

# Refreshes the package lists of LABEL's environment at most once a day. The log is this run's own
# (a parallel run on the machine writes its own), opened only once the lock is held.
_kernels_update() {
	local label=$1 env stamp log
	env=$(kernel_env "$label")
	stamp="$VMFIX_CACHE/.apt-updated"
	[ "$env" = host ] || stamp="$env/.vmfix-apt-updated"
	[ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ] && return 0
	log=$(mktemp "${TMPDIR:-/tmp}/vmfix-apt-update.XXXXXX")
	if ! with_lock "apt-$(basename "$env")" _kernels_update_locked "$label" "$stamp" "$log"; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get update failed for $label"
	fi
	rm -f "$log"
}

# The Debian version of LABEL's kernel (e.g. 6.1.192-2, 6.12.95-1~bpo12+1, 7.2.13-1, 7.3~rc7-1~exp1),
# fixed for the day in the cache so every suite of a run sees the same kernel.
kernel_pkgver() {
	local label=$1 f suite v
	f="$VMFIX_CACHE/releases/$label.pkgver"
	if [ -n "$(find "$f" -mmin -1440 2>/dev/null)" ]; then
		cat "$f"
		return
	fi
	_kernels_update "$label"
	suite=$(kernel_suite "$label")
	case "$suite" in
	bookworm | sid)
		v=$(kenv_run "$label" apt-cache policy linux-headers-amd64 | awk '/Candidate:/ {print $2}')
		;;
	*)
		v=$(kenv_run "$label" apt-cache madison linux-headers-amd64 |
			awk -F'|' -v s=" $suite/" 'index($3, s) {gsub(/ /, "", $2); print $2; exit}')
		;;
	esac
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		die "no linux-headers-amd64 in $suite"
	fi
	mkdir -p "$(dirname "$f")"
	echo "$v" >"$f"
	echo "$v"
}

# Prints the Depends of PKG=VER in LABEL's environment, one package name a line.
_kernels_depends() {
	local label=$1 pkg=$2 ver=$3
	kenv_run "$label" apt-cache show "$pkg=$ver" | awk '/^Depends:/ {sub(/^Depends: */, ""); print; exit}' |
		tr ',' '\n' | sed -e 's/^ *//' -e 's/[ (|].*//' | grep -v '^$'
}

# The kernel release string of LABEL (uname -r of that kernel).
kernel_release() {
	local label=$1 f ver hdr
	f="$VMFIX_CACHE/releases/$label.release"
	if [ -n "$(find "$f" -mmin -1440 2>/dev/null)" ]; then
		cat "$f"
		return
	fi
	ver=$(kernel_pkgver "$label")
	hdr=$(_kernels_depends "$label" linux-headers-amd64 "$ver" | grep -m1 '^linux-headers-')
	[ -n "$hdr" ] || die "cannot resolve the headers package of $label ($ver)"
	echo "${hdr#linux-headers-}" >"$f"
	cat "$f"
}

_kernels_download() {
	local label=$1 dir=$2 p=$3 glob=$4
	compgen -G "$glob" >/dev/null && return 0
	(cd "$dir" && kenv_run "$label" apt-get -q -o APT::Sandbox::User=root download "$p")
}

# Downloads PKG... (optionally PKG=VERSION) of LABEL's suite into the cache; prints the .deb paths.
fetch_debs() {
	local label=$1 dir p name glob
	shift
	dir="$VMFIX_CACHE/debs/$(kernel_suite "$label")"
	mkdir -p "$dir"
	_kernels_update "$label"
	for p in "$@"; do
		name=${p%%=*}
		glob="$dir/${name}_*.deb"
		# apt names files NAME_VERSION_ARCH.deb with ':' in VERSION escaped as %3a.
		[ "$name" = "$p" ] || glob="$dir/${name}_${p#*=}_*.deb"
		glob=${glob//:/%3a}
		if ! compgen -G "$glob" >/dev/null; then
			with_lock "deb-$name" _kernels_download "$label" "$dir" "$p" "$glob" >&2 ||
				die "download of $p for $label failed"
		fi
		compgen -G "$glob" | tail -n1
	done
}

# bookworm: the host's own package.
_headers_bookworm() {
	local rel=$1
	if [ ! -f "/usr/src/linux-headers-$rel/Makefile" ]; then
		need_root "installing linux-headers-$rel"
		with_lock apt-host _kernels_apt install --no-install-recommends "linux-headers-$rel" >&2
	fi
	echo "/usr/src/linux-headers-$rel"
}

# bookworm-backports: installing these headers would pull the 6.12 image into the host's /boot, so the
# packages are extracted into the cache instead.
_headers_backports() {
	local label=$1 rel=$2 ver=$3 root
	root="$VMFIX_CACHE/headers/$rel"
	[ -f "$root/.vmfix-ready" ] || with_lock "headers-$rel" _headers_backports_unpack "$label" "$rel" "$ver" "$root" ||
		die "cannot fetch the headers of $label"
	echo "$root/usr/src/linux-headers-$rel"
}

# Under the headers' lock (parallel runs share the cache): unpacks into a stage renamed into place
# whole, unless another run did so while this one waited.
_headers_backports_unpack() { # LABEL RELEASE VERSION ROOT
	local label=$1 rel=$2 ver=$3 root=$4 pkgs debs deb stage
	[ ! -f "$root/.vmfix-ready" ] || return 0
	mapfile -t pkgs < <(printf '%s\n' "linux-headers-$rel"
		_kernels_depends "$label" "linux-headers-$rel" "$ver" | grep -F -- "-${rel%-amd64}" | grep -v "^linux-image-")
	debs=$(fetch_debs "$label" "${pkgs[@]/%/=$ver}") || return 1
	mkdir -p "$VMFIX_CACHE/headers"
	stage=$(mktemp -d "$VMFIX_CACHE/headers/.stage.XXXXXX")
	for deb in $debs; do dpkg-deb -x "$deb" "$stage" || { rm -rf "$stage" && return 1; }; done
	# The arch headers include the common headers by absolute path: point it at our copy (its final place).
	sed -i "s|^include /usr/src/|include $root/usr/src/|" "$stage/usr/src/linux-headers-$rel/Makefile"
	touch "$stage/.vmfix-ready"
	rm -rf "$root" # what an interrupted unpack by an older version of this script left
	mv "$stage" "$root"
}

# sid and experimental: installed inside the shared chroot, with that suite's compiler.
_headers_chroot() {
	local label=$1 rel=$2 ver=$3 env
	env=$(kernel_env "$label")
	if [ ! -f "$env/usr/src/linux-headers-$rel/Makefile" ]; then
		_kernels_update "$label"
		with_lock apt-sid kenv_run "$label" apt-get -q -y -o APT::Sandbox::User=root install \
			--no-install-recommends gcc make pahole bc flex bison "linux-headers-$rel=$ver" >&2
	fi
	echo "/usr/src/linux-headers-$rel"
}

# Installs or extracts LABEL's headers; prints KDIR as seen inside kernel_env LABEL.
ensure_headers() {
	local label=$1 rel ver
	rel=$(kernel_release "$label")
	ver=$(kernel_pkgver "$label")
	case "$(kernel_suite "$label")" in
	bookworm) _headers_bookworm "$rel" ;;
	bookworm-backports) _headers_backports "$label" "$rel" "$ver" ;;
	sid | experimental) _headers_chroot "$label" "$rel" "$ver" ;;
	esac
}

# KDIR of LABEL's headers as seen from the host (the chroot's files live under its root).
host_headers() {
	local label=$1 kdir env
	kdir=$(ensure_headers "$label") || return 1
	env=$(kernel_env "$label")
	[ "$env" = host ] && echo "$kdir" || echo "$env$kdir"
}

# Copies vmlinuz, config and System.map of RELEASE from the unpacked packages in STAGE/root to STAGE/out.
_tree_boot_files() {
	local stage=$1 rel=$2 f m
	for f in vmlinuz config System.map; do
		for m in "$stage/root/boot/$f-$rel" "$stage/root/usr/lib/modules/$rel/$f" "$stage/out/lib/modules/$rel/$f"; do
			if [ -f "$m" ]; then
				cp "$m" "$stage/out/$f"
				break
			fi
		done
	done
}

# Unpacks LABEL's kernel packages into a new directory DIR (layout: see fetch_kernel_tree).
_tree_unpack() {
	local label=$1 rel=$2 ver=$3 dir=$4 stage pkgs debs deb m
	# From 7.2 on linux-image-X is a metapackage over linux-binary/-modules/-base-X.
	mapfile -t pkgs < <(printf '%s\n' "linux-image-$rel"; _kernels_depends "$label" "linux-image-$rel" "$ver" |
		awk -v r="-$rel" '/^linux-(binary|modules|base)-/ && substr($0, length($0) - length(r) + 1) == r')
	mkdir -p "$VMFIX_CACHE/kernels"
	stage=$(mktemp -d "$VMFIX_CACHE/kernels/.stage.XXXXXX")
	debs=$(fetch_debs "$label" "${pkgs[@]/%/=$ver}") || die "cannot fetch the kernel of $label"
	for deb in $debs; do dpkg-deb -x "$deb" "$stage/root"; done
	mkdir -p "$stage/out/lib/modules"
	for m in "$stage/root/lib/modules/$rel" "$stage/root/usr/lib/modules/$rel"; do
		[ -d "$m" ] && cp -a "$m" "$stage/out/lib/modules/"
	done
	[ -d "$stage/out/lib/modules/$rel" ] || die "no modules for $rel in ${pkgs[*]}"
	_tree_boot_files "$stage" "$rel"
	[ -f "$stage/out/vmlinuz" ] || die "no vmlinuz for $rel in ${pkgs[*]}"
	depmod -b "$stage/out" "$rel"
	touch "$stage/out/.vmfix-ready"
	rm -rf "$dir" # what an interrupted unpack by an older version of this script left
	mv "$stage/out" "$dir"
	rm -rf "$stage"
}

_tree_unpack_once() { # LABEL RELEASE DIR: unless another run unpacked it while this one waited
	[ -f "$3/.vmfix-ready" ] || _tree_unpack "$1" "$2" "$(kernel_pkgver "$1")" "$3"
}

# Extracts vmlinuz, config, System.map and modules of LABEL into $VMFIX_CACHE/kernels/<release>/ and
# prints that directory (layout: vmlinuz config System.map lib/modules/<release>/, depmod run).
fetch_kernel_tree() {
	local label=$1 rel dir
	rel=$(kernel_release "$label")
	dir="$VMFIX_CACHE/kernels/$rel"
	# under the tree's lock: a parallel run must not replace a tree this one is booting from
	[ -f "$dir/.vmfix-ready" ] || with_lock "kernel-tree-$rel" _tree_unpack_once "$label" "$rel" "$dir" || return 1
	echo "$dir"
}

# The amdgpu.ko that modprobe would load from LABEL's extracted tree (depmod order: updates/ first).
tree_amdgpu() {
	local label=$1 tree rel
	tree=$(fetch_kernel_tree "$label") || return 1
	rel=$(kernel_release "$label")
	modprobe -d "$tree" -S "$rel" --show-depends amdgpu 2>/dev/null | awk '$1 == "insmod" { p = $2 } END { print p }'
}

# Decompresses the kernel image VMLINUZ into OUT: tries every xz, zstd and gzip stream start in it
# and keeps the first that yields an ELF file (what the kernel's scripts/extract-vmlinux does).
_extract_vmlinux() {
	local vmlinuz=$1 out=$2 off
	local -A tools=([xz]='\xfd7zXZ\x00' [zstd]='\x28\xb5\x2f\xfd' [gzip]='\x1f\x8b\x08')
	for t in xz zstd gzip; do
		while read -r off; do
			tail -c +$((off + 1)) "$vmlinuz" | "$t" -dc 2>/dev/null >"$out" || true
			[ "$(head -c 4 "$out" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] && return 0
		done < <(LC_ALL=C grep -obaUP "${tools[$t]}" "$vmlinuz" | cut -d: -f1)
	done
	return 1
}

# Base BTF of LABEL's kernel, for decoding amdgpu.ko's split BTF: the headers' BTF-only vmlinux
# (6.12+), else the .BTF section of the vmlinux inside vmlinuz (6.1), cached next to the tree.
kernel_base_btf() {
	local label=$1 kdir tree out
	kdir=$(host_headers "$label") || return 1
	if [ -s "$kdir/vmlinux" ]; then
		echo "$kdir/vmlinux"
		return
	fi
	tree=$(fetch_kernel_tree "$label") || return 1
	out="$tree/vmlinux.btf"
	if [ ! -s "$out" ]; then
		need_tools objcopy od
		_extract_vmlinux "$tree/vmlinuz" "$tree/vmlinux.tmp" || die "cannot decompress $tree/vmlinuz"
		objcopy --dump-section .BTF="$out.tmp" "$tree/vmlinux.tmp" "$tree/vmlinux.scratch"
		rm -f "$tree/vmlinux.tmp" "$tree/vmlinux.scratch"
		mv "$out.tmp" "$out"
	fi
	echo "$out"
}

# kernel_gen_abi LABEL KDIR_ON_HOST OUT [AMDGPU_KO]: kernel/gen-abi.sh on the host (bpftool lives
# there) for LABEL, from the amdgpu.ko of its extracted tree unless one is given.
kernel_gen_abi() {
	local label=$1 kdir=$2 out=$3 ko=${4:-} base
	[ -n "$ko" ] || ko=$(tree_amdgpu "$label") || return 1
	base=$(kernel_base_btf "$label") || return 1
	AMDGPU_KO=$ko VMFIX_BTF_BASE=$base "$VMFIX_ROOT/kernel/gen-abi.sh" "$kdir" "$out"
}

# Downloads linux-source-X.Y of LABEL's kernel (same Debian version) and prints the .tar.xz path.
fetch_linux_source() {
	local label=$1 ver mm dir deb
	ver=$(kernel_pkgver "$label")
	mm=$(kernel_release "$label" | grep -oE '^[0-9]+\.[0-9]+')
	dir="$VMFIX_CACHE/source/$label-$ver"
	if ! compgen -G "$dir/linux-source-*.tar.xz" >/dev/null; then
		deb=$(fetch_debs "$label" "linux-source-$mm=$ver")
		mkdir -p "$dir"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards --strip-components=3 './usr/src/linux-source-*.tar.xz'
	fi
	compgen -G "$dir/linux-source-*.tar.xz" | head -n1
}
