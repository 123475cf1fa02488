#!/usr/bin/env bash
# Builds the Debian packages rdna1-vmfix-dkms and rdna1-vmfix from a clean copy of the tree
# (dpkg-buildpackage -us -uc -b), then runs lintian on the result (errors fail the build).
# Usage: scripts/build-deb.sh [--out DIR] [--profiles LIST] [--fast] [--no-lintian] [--jobs N] [--verbose]
#   --out DIR        where the .deb/.changes/.buildinfo files and lintian.log go (default: out/deb)
#   --profiles LIST  comma-separated build profiles, e.g. nocheck,pkg.rdna1-vmfix.nohip
#   --fast           tests only: no optimisation and no -dbgsym package (DEB_BUILD_OPTIONS noopt
#                    noautodbgsym), for a build that is installed, upgraded and purged, never shipped
#   --no-lintian     skip lintian (the test suite runs it once, not for every build)
#   --jobs N         parallel build jobs (default 2)
# The source copy and its build tree stay in DIR/src: a second run with the same tree rebuilds
# only what changed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

out="$VMFIX_ROOT/out/deb"
profiles=""
lintian=1
fast=0
jobs=2
opts=$(getopt -o h --long out:,profiles:,fast,no-lintian,jobs:,verbose,help -n build-deb.sh -- "$@") || die "bad options (see --help)" 2
eval set -- "$opts"
while true; do
	case "$1" in
	--out) out=$2 && shift 2 ;;
	--profiles) profiles=$2 && shift 2 ;;
	--fast) fast=1 && shift ;;
	--no-lintian) lintian=0 && shift ;;
	--jobs) jobs=$2 && shift 2 ;;
	--verbose) set -x && shift ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
	--) shift && break ;;
	esac
done
[ $# -eq 0 ] || die "unexpected argument: $1" 2
need_tools dpkg-buildpackage dpkg-parsechangelog dh rsync git
[ "$lintian" -eq 0 ] || need_tools lintian
[ -f "$VMFIX_ROOT/dkms.conf" ] || die "no dkms.conf in $VMFIX_ROOT: the module source is not in this tree yet"

mkdir -p "$out"
out=$(cd "$out" && pwd)
src="$out/src/rdna1-vmfix"
mkdir -p "$src"
# Clean copy: what git would see (ignored files such as build/ and out/ stay out); --delete drops
# files the tree lost and everything debhelper left, but keeps the CMake build tree (obj-*).
rsync -a --delete --exclude=/.git --exclude=/out --exclude='/obj-*' --filter=':- .gitignore' \
	"$VMFIX_ROOT"/ "$src"/

# HIP harness workers need hipcc; without it, build the rest (profile pkg.rdna1-vmfix.nohip).
if ! command -v hipcc >/dev/null 2>&1 && [[ ",$profiles," != *,pkg.rdna1-vmfix.nohip,* ]]; then
	log "build-deb: hipcc not installed: building without the HIP harness workers (pkg.rdna1-vmfix.nohip)"
	profiles="${profiles:+$profiles,}pkg.rdna1-vmfix.nohip"
fi
version=$(cat "$src/VERSION")
log "build-deb: rdna1-vmfix $version in $src${profiles:+ (profiles $profiles)}"
rm -f "$out"/rdna1-vmfix*_"$version"_*.deb "$out"/rdna1-vmfix_"$version"_*.{changes,buildinfo}
opts="parallel=$jobs"
case ",$profiles," in *,nocheck,*) opts="$opts nocheck" ;; esac
[ "$fast" -eq 0 ] || opts="$opts noopt noautodbgsym"
export DEB_BUILD_OPTIONS="$opts"
args=(-us -uc -b -nc --build-profiles="${profiles}")
[ -n "$profiles" ] || args=(-us -uc -b -nc)
blog="$out/build-$version.log"
if ! (cd "$src" && dpkg-buildpackage "${args[@]}") >"$blog" 2>&1; then
	tail -n 60 "$blog" >&2
	die "dpkg-buildpackage failed (full log: $blog)"
fi
for f in "$out"/src/rdna1-vmfix*_"$version"_*.deb "$out"/src/rdna1-vmfix_"$version"_*.changes "$out"/src/rdna1-vmfix_"$version"_*.buildinfo; do
	mv -f "$f" "$out"/
done
changes=$(ls "$out"/rdna1-vmfix_"$version"_*.changes)
if [ "$lintian" -eq 1 ]; then
	rc=0
	lintian --fail-on error --info --display-info "$changes" >"$out/lintian.log" 2>&1 || rc=$?
	cat "$out/lintian.log"
	[ "$rc" -eq 0 ] || die "lintian reported errors (see $out/lintian.log)"
	log "build-deb: lintian: no errors"
fi
ls -1 "$out"/rdna1-vmfix*_"$version"_*.deb
