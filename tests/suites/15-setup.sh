#!/usr/bin/env bash
# scripts/setup.sh chooses package names per distribution and release, and refuses what it does
# not know: run in --print mode against the os-release files in tests/data/os-release (Debian 12,
# Debian 13, Ubuntu 24.04; Ubuntu 22.04 and Fedora 41 refused). Also: an unknown distribution never
# reaches apt-get (a fake apt-get on PATH records any call), and the README's developer commands
# are the ones `make deps` and CI run. No root, no network.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"

setup="$VMFIX_ROOT/scripts/setup.sh"
osr="$VMFIX_ROOT/tests/data/os-release"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# plan OS-RELEASE KVER GROUP...: setup.sh --print output in $tmp/plan, packages one per line in $tmp/pkgs.
plan() {
	local os=$1 k=$2
	shift 2
	"$setup" --print --os-release "$osr/$os" --kernel "$k" "$@" >"$tmp/plan" 2>&1 || return 1
	sed -n 's/^packages: //p' "$tmp/plan" | tr ' ' '\n' >"$tmp/pkgs"
}
has() { local p; for p in "$@"; do grep -qx -- "$p" "$tmp/pkgs" || return 1; done; }
lacks() { local p; for p in "$@"; do ! grep -qx -- "$p" "$tmp/pkgs" || return 1; done; }
check() { # NAME DESCRIPTION COMMAND...: PASS when the command succeeds
	local name=$1 what=$2
	shift 2
	if "$@"; then
		result "$name" PASS "$what"
	else
		result "$name" FAIL "$what; got: $(tr '\n' ' ' <"$tmp/plan" | cut -c1-300)"
	fi
}

dev_only=(qemu-system-x86 debootstrap clang-tidy shellcheck lintian dh-dkms busybox-static jq)

t_debian12() {
	plan debian12 6.1.0-26-amd64 module && grep -qx 'distribution: debian12' "$tmp/plan" &&
		has dkms kmod linux-headers-6.1.0-26-amd64 linux-headers-amd64 bpftool && lacks linux-tools-common &&
		plan debian12 6.12.95+deb12-cloud-amd64 module && has linux-headers-6.12.95+deb12-cloud-amd64 linux-headers-cloud-amd64 &&
		plan debian12 6.1.0-26-amd64 all && grep -q '^backports: catch2' "$tmp/plan" && has linux-headers-amd64 rocm-device-libs clang-15 &&
		lacks catch2
}
t_debian13() {
	plan debian13 6.12.48+deb13-amd64 core kernel module && grep -qx 'distribution: debian13' "$tmp/plan" &&
		has catch2 linux-headers-amd64 linux-headers-6.12.48+deb13-amd64 bpftool && ! grep -q '^backports:' "$tmp/plan" &&
		plan debian13 6.12.48+deb13-amd64 hip && has hipcc libamdhip64-dev && lacks clang-15 rocm-device-libs
}
t_ubuntu_ga() {
	plan ubuntu2404 6.8.0-31-generic module && grep -qx 'distribution: ubuntu24.04' "$tmp/plan" &&
		has dkms linux-headers-6.8.0-31-generic linux-headers-generic linux-tools-common linux-tools-6.8.0-31-generic linux-tools-generic &&
		lacks linux-headers-amd64 bpftool linux-headers-generic-hwe-24.04
}
t_ubuntu_hwe() {
	local k ok=0
	for k in 6.11.0-29-generic 6.14.0-37-generic 6.17.0-35-generic; do
		plan ubuntu2404 "$k" module && has "linux-headers-$k" linux-headers-generic-hwe-24.04 "linux-tools-$k" linux-tools-generic-hwe-24.04 &&
			lacks linux-headers-generic || ok=1
	done
	plan ubuntu2404 6.8.0-1015-lowlatency module && has linux-headers-6.8.0-1015-lowlatency &&
		lacks linux-headers-generic linux-headers-generic-hwe-24.04 || ok=1
	return $ok
}
t_ubuntu_dev() {
	plan ubuntu2404 6.8.0-31-generic all && has catch2 linux-headers-generic linux-tools-generic hipcc &&
		lacks linux-headers-amd64 bpftool rocm-device-libs lld-15 && ! grep -q '^backports:' "$tmp/plan"
}
t_user_small() {
	local os
	for os in debian12 debian13 ubuntu2404; do
		plan "$os" 6.8.0-31-generic user && has cmake libcli11-dev llvm-15-dev && lacks "${dev_only[@]}" dkms || return 1
	done
}
t_refused() {
	local os rc
	for os in fedora41 ubuntu2204; do
		rc=0
		"$setup" --print --os-release "$osr/$os" user >"$tmp/plan" 2>&1 || rc=$?
		[ "$rc" -eq 1 ] && grep -q "unsupported distribution" "$tmp/plan" &&
			grep -q 'Debian 12, Debian 13 and Ubuntu 24.04' "$tmp/plan" || return 1
	done
}
# An unknown distribution is refused before apt-get runs, even without --print.
t_refused_before_apt() {
	local rc=0
	mkdir -p "$tmp/bin"
	# shellcheck disable=SC2016 # $0 and $* belong to the fake script
	printf '#!/bin/sh\necho "$0 $*" >>"%s/apt.log"\n' "$tmp" >"$tmp/bin/apt-get"
	cp "$tmp/bin/apt-get" "$tmp/bin/dpkg-query"
	chmod +x "$tmp/bin/"*
	PATH="$tmp/bin:$PATH" "$setup" --os-release "$osr/fedora41" user >"$tmp/plan" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] && [ ! -e "$tmp/apt.log" ]
}
t_foreign_kernel() {
	local rc=0
	"$setup" --print --os-release "$osr/debian12" --kernel 6.18.44-custom module >"$tmp/plan" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] && grep -q 'not a debian12 kernel' "$tmp/plan" &&
		plan debian12 6.18.44-custom user # groups without headers do not care about the kernel
}
t_usage() {
	local rc=0
	"$setup" --print --os-release "$osr/debian12" nonsense >"$tmp/plan" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] && grep -q "unknown group or option 'nonsense'" "$tmp/plan"
}
# The README opens with the two developer commands; `make deps` installs every developer group and
# CI runs the README's test command.
t_readme_commands() {
	head -n 20 "$VMFIX_ROOT/README.md" >"$tmp/plan"
	grep -q 'make demo' "$tmp/plan" && grep -q 'make test' "$tmp/plan" &&
		grep -qE '^\s+scripts/setup.sh( all)?$' "$VMFIX_ROOT/Makefile" && grep -q '^make test' "$VMFIX_ROOT/.ci/run"
}

check setup-debian12 "Debian 12: headers for the kernel + linux-headers-amd64 (and -cloud-amd64), bpftool, catch2 v3 from backports" t_debian12
check setup-debian13 "Debian 13: catch2 from trixie itself, no backports; hip group without bookworm's clang-15 set" t_debian13
check setup-ubuntu-ga "Ubuntu 24.04, GA 6.8 kernel: linux-headers-KVER + linux-headers-generic, bpftool via linux-tools" t_ubuntu_ga
check setup-ubuntu-hwe "Ubuntu 24.04, HWE 6.11/6.14/6.17: linux-headers-generic-hwe-24.04; other flavours only their own headers" t_ubuntu_hwe
check setup-ubuntu-dev "Ubuntu 24.04 developer groups: no Debian-only names (linux-headers-amd64, bpftool, rocm-device-libs)" t_ubuntu_dev
check setup-user-small "group user: the command's build deps only, no QEMU/debootstrap/clang-tidy/lintian/dkms (3 distributions)" t_user_small
check setup-unknown-refused "Fedora 41 and Ubuntu 22.04 refused with exit 1 and the supported list" t_refused
check setup-unknown-no-apt "unknown distribution: refused before apt-get or dpkg-query runs" t_refused_before_apt
check setup-foreign-kernel "group module with a kernel not from the distribution: exit 1, clear message" t_foreign_kernel
check setup-usage "unknown group: exit 2" t_usage
check setup-readme-ci "README opens with make demo / make test; make deps = setup.sh all; .ci/run runs make test" t_readme_commands
report_counts
