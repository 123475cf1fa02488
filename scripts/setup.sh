#!/usr/bin/env bash
# Installs dependencies from the distribution's archive (Debian 12, Debian 13, Ubuntu 24.04). Idempotent.
# Usage: scripts/setup.sh [--print] [--os-release FILE] [--kernel KVER] [--verbose] [GROUP...]
#   user       build and run the rdna1-vmfix command: compiler, CMake and its libraries
#   module     build the rdna1_vmfix module with DKMS: dkms, kmod, bpftool, the kernel's headers
#   core kernel qemu hip packaging fuzz torch   developer groups; all = every developer group (`make deps`)
#   --print    print the distribution found and the packages, install nothing (no root needed)
#   --os-release FILE   read the distribution from FILE instead of /etc/os-release (tests)
#   --kernel KVER       headers and tools for KVER instead of the running kernel (uname -r)
# Default group: all. An unknown distribution or release is refused (exit 1) before anything is done.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }

print_only=0
os_release=/etc/os-release
kver=$(uname -r)
groups=()
parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--verbose) set -x ;;
		--print) print_only=1 ;;
		--os-release) os_release=${2:?--os-release needs a file} && shift ;;
		--kernel) kver=${2:?--kernel needs a release} && shift ;;
		--help | -h) usage && exit 0 ;;
		user | module | core | kernel | qemu | hip | packaging | fuzz | torch | all) groups+=("$1") ;;
		*) usage >&2 && die "unknown group or option '$1'" 2 ;;
		esac
		shift
	done
	[ ${#groups[@]} -gt 0 ] || groups=(all)
}

# Sets distro to debian12, debian13 or ubuntu24.04 from an os-release file; anything else stops here.
detect_distro() {
	local id="" ver="" name=""
	[ -r "$os_release" ] || die "cannot read $os_release: which distribution is this? (supported: Debian 12, Debian 13, Ubuntu 24.04)"
	id=$(sed -n 's/^ID=//p' "$os_release" | tr -d '"')
	ver=$(sed -n 's/^VERSION_ID=//p' "$os_release" | tr -d '"')
	name=$(sed -n 's/^PRETTY_NAME=//p' "$os_release" | tr -d '"')
	case "$id:$ver" in
	debian:12) distro=debian12 ;;
	debian:13) distro=debian13 ;;
	ubuntu:24.04) distro=ubuntu24.04 ;;
	*)
		die "unsupported distribution '${name:-$id $ver}' (ID=$id VERSION_ID=$ver): scripts/setup.sh knows the package names of Debian 12, Debian 13 and Ubuntu 24.04 only; see docs/install.md for what to install by hand"
		;;
	esac
}

# Kernel headers: the running kernel's own package, plus the metapackage that brings the headers of
# every later kernel of the same flavour (so DKMS can build for each upgrade).
headers_for() {
	local flavour
	case "$distro" in
	ubuntu*)
		case "$kver" in
		6.8.*-generic) echo "linux-headers-$kver linux-headers-generic" ;;            # GA kernel
		*-generic) echo "linux-headers-$kver linux-headers-generic-hwe-24.04" ;;     # HWE kernel (6.11 and later)
		*) echo "linux-headers-$kver" ;;                                            # other flavours (lowlatency, oem...)
		esac
		;;
	*)
		flavour=$(printf '%s\n' "$kver" | sed -E 's/^[0-9][^-]*-([0-9]+-)?//')
		echo "linux-headers-$kver linux-headers-$flavour"
		;;
	esac
}

# Only a kernel of the distribution itself has its headers in the archive.
check_kernel_release() {
	case "$distro:$kver" in
	debian*:*-amd64 | ubuntu*:[0-9]*.[0-9]*-[0-9]*-[a-z]*) return 0 ;;
	esac
	die "kernel $kver is not a $distro kernel: its headers are not in the archive (--kernel KVER picks another installed kernel)"
}

# bpftool: Debian ships it as its own package; on Ubuntu linux-tools-common provides the bpftool
# command, a wrapper that runs the copy in linux-tools-$(uname -r): the module build (gen-abi.sh)
# needs that of the running kernel, so the metapackage that keeps it in step comes too.
bpftool_pkgs() { # [KVER-PACKAGE-SUFFIX]
	case "$distro:${1:-$kver}" in
	ubuntu*:6.8.*-generic) echo "linux-tools-common linux-tools-$kver linux-tools-generic" ;;
	ubuntu*:*-generic) echo "linux-tools-common linux-tools-$kver linux-tools-generic-hwe-24.04" ;;
	ubuntu*) echo "linux-tools-common linux-tools-${1:-$kver}" ;;
	*) echo "bpftool" ;;
	esac
}

declare -A pk
fill_groups() {
	local catch2=catch2 hip="hipcc libamdhip64-dev"
	# bookworm's catch2 is v2: v3 comes from bookworm-backports (install_catch2_bookworm).
	[ "$distro" != debian12 ] || catch2=""
	# bookworm's hipcc 5.2 is built on clang 15; later ones pull their own toolchain (clang 17).
	[ "$distro" != debian12 ] || hip="$hip rocm-device-libs clang-15 lld-15 llvm-15 clang-tools-15"
	pk[user]="build-essential cmake ninja-build pkg-config libcli11-dev nlohmann-json3-dev libfmt-dev libzstd-dev zlib1g-dev llvm-15-dev libdrm-dev libhsakmt-dev"
	pk[module]=""
	! wants_group module || check_kernel_release
	! wants_group module || pk[module]="dkms kmod openssl binutils xz-utils zstd $(headers_for) $(bpftool_pkgs)"
	pk[core]="${pk[user]} git ca-certificates clang-tidy shellcheck zstd xz-utils jq $catch2"
	local kheaders=linux-headers-amd64
	[ "$distro" != ubuntu24.04 ] || kheaders=linux-headers-generic
	pk[kernel]="$kheaders dkms kmod debootstrap dwarves $(bpftool_pkgs generic) xz-utils zstd cpio bc flex bison libelf-dev libssl-dev rsync python3 patch openssl perl"
	pk[qemu]="qemu-system-x86 busybox-static cpio kmod xz-utils python3 binutils $(bpftool_pkgs generic)"
	pk[hip]=$hip
	pk[packaging]="dpkg-dev debhelper dh-dkms dkms lintian fakeroot debootstrap rsync zstd"
	pk[fuzz]="clang-15 libclang-common-15-dev"
	# The distribution's CPU build of PyTorch for `check --backend=torch` in CI (Debian: 631 MB installed).
	pk[torch]="python3-torch"
}

# The packages of the chosen groups, each once, in order.
package_list() {
	local g wanted=()
	for g in "${groups[@]}"; do
		if [ "$g" = all ]; then
			wanted+=(core kernel qemu hip packaging fuzz torch)
		else
			wanted+=("$g")
		fi
	done
	# shellcheck disable=SC2086 # one package per word
	for g in "${wanted[@]}"; do printf '%s\n' ${pk[$g]}; done | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//'
}

wants_group() { [[ " ${groups[*]} " == *" $1 "* ]]; }

# Catch2 v3 is in bookworm-backports (bookworm itself has v2).
wants_catch2_backport() { [ "$distro" = debian12 ] && { wants_group core || wants_group all; }; }

enable_bookworm_backports() {
	apt-cache policy 2>/dev/null | grep -q 'bookworm-backports' && return 0
	cat >/etc/apt/sources.list.d/rdna1-vmfix-backports.sources <<EOT
Types: deb
URIs: $(debian_mirror)
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	rm -f "$VMFIX_CACHE/.apt-updated"
}

# One apt-get update per day is enough and keeps repeated runs fast.
apt_update_daily() {
	mkdir -p "$VMFIX_CACHE"
	if [ -z "$(find "$VMFIX_CACHE/.apt-updated" -mmin -1440 2>/dev/null)" ]; then
		apt-get update -q
		touch "$VMFIX_CACHE/.apt-updated"
	fi
}

install_missing() {
	local p todo=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || todo="$todo $p"
	done
	[ -n "$todo" ] || return 0
	log "installing:$todo"
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt-get install -y -q --no-install-recommends $todo
}

main() {
	parse_args "$@"
	detect_distro
	fill_groups
	local list
	list=$(package_list)
	if [ "$print_only" -eq 1 ]; then
		printf 'distribution: %s\nkernel: %s\ngroups: %s\npackages: %s\n' "$distro" "$kver" "${groups[*]}" "$list"
		! wants_catch2_backport || printf 'backports: catch2 (v3, from bookworm-backports)\n'
		return 0
	fi
	need_root "installing packages"
	export DEBIAN_FRONTEND=noninteractive
	! wants_catch2_backport || enable_bookworm_backports
	apt_update_daily
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	install_missing $list
	if wants_catch2_backport; then
		dpkg-query -W -f='${Version}' catch2 2>/dev/null | grep -q '^3' ||
			apt-get install -y -q --no-install-recommends -t bookworm-backports catch2
	fi
	log "setup: $distro: dependencies of ${groups[*]} present"
}

main "$@"
