#!/usr/bin/env bash
# Installs every build and test dependency from the distribution's archive. Idempotent.
# Usage: scripts/setup.sh [--verbose] [GROUP...]   groups: core kernel qemu hip packaging fuzz torch all (default: all)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

groups=()
for a in "$@"; do
	case "$a" in
	--verbose) set -x ;;
	--help | -h)
		sed -n '2,3p' "$0" | sed 's/^# //'
		exit 0
		;;
	core | kernel | qemu | hip | packaging | fuzz | torch | all) groups+=("$a") ;;
	*) die "unknown group '$a'" 2 ;;
	esac
done
[ ${#groups[@]} -gt 0 ] || groups=(all)
need_root "installing packages"

declare -A pk
pk[core]="build-essential cmake ninja-build pkg-config git ca-certificates libcli11-dev nlohmann-json3-dev libfmt-dev libzstd-dev zlib1g-dev llvm-15-dev libdrm-dev libhsakmt-dev clang-tidy shellcheck zstd xz-utils jq"
pk[kernel]="linux-headers-amd64 dkms kmod debootstrap dwarves bpftool xz-utils zstd cpio bc flex bison libelf-dev libssl-dev rsync python3 patch openssl perl"
pk[qemu]="qemu-system-x86 busybox-static cpio kmod xz-utils python3 binutils bpftool"
pk[hip]="hipcc libamdhip64-dev rocm-device-libs clang-15 lld-15 llvm-15 clang-tools-15"
pk[packaging]="dpkg-dev debhelper dh-dkms dkms lintian fakeroot debootstrap rsync zstd"
pk[fuzz]="clang-15 libclang-common-15-dev"
# Debian's CPU build of PyTorch for `check --backend=torch` in CI (631 MB installed, 170 packages).
pk[torch]="python3-torch"

list=""
for g in "${groups[@]}"; do
	if [ "$g" = all ]; then
		list="${pk[*]}"
		break
	fi
	list="$list ${pk[$g]}"
done

export DEBIAN_FRONTEND=noninteractive
# Catch2 v3 is in bookworm-backports (bookworm itself has v2); Ubuntu 24.04 has v3 in its archive.
if host_is_bookworm && ! apt-cache policy 2>/dev/null | grep -q 'bookworm-backports'; then
	mirror=$(debian_mirror)
	cat >/etc/apt/sources.list.d/rdna1-vmfix-backports.sources <<EOT
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	rm -f "$VMFIX_CACHE/.apt-updated"
fi
mkdir -p "$VMFIX_CACHE"
# One apt-get update per day is enough and keeps repeated runs fast.
if [ -z "$(find "$VMFIX_CACHE/.apt-updated" -mmin -1440 2>/dev/null)" ]; then
	apt-get update -q
	touch "$VMFIX_CACHE/.apt-updated"
fi

todo=""
for p in $list; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || todo="$todo $p"
done
if [ -n "$todo" ]; then
	log "installing:$todo"
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt-get install -y -q --no-install-recommends $todo
fi

if host_is_bookworm; then
	dpkg-query -W -f='${Version}' catch2 2>/dev/null | grep -q '^3' ||
		apt-get install -y -q --no-install-recommends -t bookworm-backports catch2
else
	dpkg-query -W catch2 >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends catch2
fi
log "setup: all dependencies present"
