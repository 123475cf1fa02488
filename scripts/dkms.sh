#!/usr/bin/env bash
# Build, install or uninstall the rdna1_vmfix module through DKMS.
#
# usage: scripts/dkms.sh install|uninstall|build [--kernel KVER] [--kernelsourcedir DIR]
#                        [--root DIR] [--verbose]
#   build      add the source to DKMS and build it for KVER (default: the running kernel)
#   install    build, install for KVER, and write the modprobe.d softdep (the module arms right
#              after amdgpu) and the modules-load.d entry
#   uninstall  remove every version from every kernel, the DKMS source, and both config files
#   --root DIR private DKMS, source, module and /etc trees under DIR (no depmod): the host's
#              /var/lib/dkms, /usr/src, /lib/modules and /etc stay untouched (tests, CI)
# On a build failure the DKMS make.log is printed and dkms's exit status kept.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

readonly PKG=rdna1-vmfix
readonly MOD=rdna1_vmfix

usage() { sed -n '3,13s/^# \{0,1\}//p' "$0"; }

kver=$(uname -r)
ksrc=
root=
opts=$(getopt -o h -l kernel:,kernelsourcedir:,root:,verbose,help -n dkms.sh -- "$@") || { usage >&2; exit 2; }
eval set -- "$opts"
while true; do
	case "$1" in
	--kernel) kver=$2; shift ;;
	--kernelsourcedir) ksrc=$2; shift ;;
	--root) root=$2; shift ;;
	--verbose) set -x ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	esac
	shift
done
[ $# -eq 1 ] || { usage >&2; exit 2; }
action=$1
case "$action" in install | uninstall | build) ;; *) usage >&2; exit 2 ;; esac
command -v dkms >/dev/null 2>&1 || die "dkms is not installed: sudo scripts/setup.sh module"
need_root "dkms $action"
# The build derives the hook ABI from the kernel's BTF (kernel/gen-abi.sh): without these tools DKMS
# fails deep in its make.log, so name the packages here instead.
if [ "$action" != uninstall ]; then
	for t in bpftool objcopy; do
		command -v "$t" >/dev/null 2>&1 ||
			die "$t is not installed; the module build needs bpftool and binutils: sudo scripts/setup.sh module"
	done
fi
# Without headers DKMS fails deep in its log; say what to install instead (names per distribution).
if [ "$action" != uninstall ] && [ -z "$ksrc" ] && [ -z "$root" ] && [ ! -e "/lib/modules/$kver/build" ]; then
	die "no kernel headers for $kver (/lib/modules/$kver/build): sudo scripts/setup.sh module --kernel $kver"
fi

version=$(cat "$VMFIX_ROOT/VERSION")
conf_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$VMFIX_ROOT/dkms.conf")
[ "$version" = "$conf_version" ] || die "dkms.conf PACKAGE_VERSION ($conf_version) differs from VERSION ($version)"

dkms_opts=()
etc=/etc
src_tree=/usr/src
dkms_tree=/var/lib/dkms
if [ -n "$root" ]; then
	mkdir -p "$root"
	root=$(cd "$root" && pwd)
	etc=$root/etc
	src_tree=$root/usr/src
	dkms_tree=$root/var/lib/dkms
	mkdir -p "$src_tree" "$dkms_tree" "$root/lib/modules/$kver"
	dkms_opts=(--dkmstree "$dkms_tree" --sourcetree "$src_tree" --installtree "$root/lib/modules" --no-depmod)
	# DKMS signs with a MOK key it creates on first use: keep that key in the private tree too.
	export mok_signing_key=$dkms_tree/mok.key mok_certificate=$dkms_tree/mok.pub
fi
kopts=(-k "$kver")
[ -z "$ksrc" ] || kopts+=(--kernelsourcedir "$ksrc")

run_dkms() { dkms "${dkms_opts[@]}" "$@"; }

# The DKMS source tree: dkms.conf, VERSION and the module sources, nothing built.
stage_source() {
	local dir=$1 f
	mkdir -p "$dir/kernel"
	cp "$VMFIX_ROOT/dkms.conf" "$VMFIX_ROOT/VERSION" "$dir/"
	for f in "$VMFIX_ROOT"/kernel/*.[ch] "$VMFIX_ROOT"/kernel/{Makefile,Kbuild,gen-abi.sh}; do
		case "$f" in *.mod.c) continue ;; esac
		cp "$f" "$dir/kernel/"
	done
}

# Adds this version to DKMS unless the very same source is already there.
ensure_added() {
	local stage current=$src_tree/$PKG-$version
	stage=$(mktemp -d)
	stage_source "$stage/$PKG-$version"
	if [ -d "$current" ] && diff -rq "$stage/$PKG-$version" "$current" >/dev/null 2>&1 &&
		[ -d "$dkms_tree/$PKG/$version" ]; then
		rm -rf "$stage"
		return 0
	fi
	if [ -d "$dkms_tree/$PKG/$version" ]; then
		log "dkms: $PKG $version changed, replacing it"
		run_dkms remove -m "$PKG" -v "$version" --all >/dev/null 2>&1 || true
	fi
	rm -rf "$current"
	run_dkms add "$stage/$PKG-$version"
	rm -rf "$stage"
}

do_build() {
	local rc=0
	ensure_added
	run_dkms build -m "$PKG" -v "$version" "${kopts[@]}" || rc=$?
	if [ "$rc" -ne 0 ]; then
		log "---- $dkms_tree/$PKG/$version/build/make.log ----"
		cat "$dkms_tree/$PKG/$version/build/make.log" >&2 2>/dev/null || log "(no make.log)"
		exit "$rc"
	fi
}

write_configs() {
	mkdir -p "$etc/modprobe.d" "$etc/modules-load.d"
	cat >"$etc/modprobe.d/$PKG.conf" <<CONF
# rdna1-vmfix: load $MOD right after amdgpu, so its hooks arm at once.
# Written by scripts/dkms.sh install; "make uninstall" removes it.
softdep amdgpu post: $MOD
# mode=off|audit|enforce (enforce is the default), cc_to=nc|uc, coherent=snoop|all,
# devices=auto|BDF[,BDF]; see docs/status-abi.md.
#options $MOD mode=enforce
CONF
	cat >"$etc/modules-load.d/$PKG.conf" <<CONF
# rdna1-vmfix: load $MOD at boot; it arms when amdgpu loads (written by scripts/dkms.sh)
$MOD
CONF
}

do_install() {
	do_build
	if run_dkms status -m "$PKG" -v "$version" -k "$kver" 2>/dev/null | grep -q ': installed'; then
		log "dkms: $PKG $version already installed for $kver"
	else
		run_dkms install -m "$PKG" -v "$version" "${kopts[@]}"
	fi
	write_configs
	log "installed $PKG $version for $kver; config in $etc/modprobe.d/$PKG.conf and $etc/modules-load.d/$PKG.conf"
}

do_uninstall() {
	local v
	if [ -z "$root" ] && grep -q "^$MOD " /proc/modules 2>/dev/null; then
		modprobe -r "$MOD" || log "warning: $MOD is loaded and could not be unloaded; it stays until reboot"
	fi
	for v in $(run_dkms status -m "$PKG" 2>/dev/null | sed -n "s|^$PKG/\([^,:]*\)[,:].*|\1|p" | sort -u); do
		run_dkms remove -m "$PKG" -v "$v" --all
	done
	rm -rf "${src_tree:?}/$PKG"-[0-9]* "${dkms_tree:?}/$PKG"
	rm -f "$etc/modprobe.d/$PKG.conf" "$etc/modules-load.d/$PKG.conf"
	log "uninstalled $PKG from every kernel"
}

case "$action" in
build) do_build ;;
install) do_install ;;
uninstall) do_uninstall ;;
esac
