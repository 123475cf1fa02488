#!/usr/bin/env bash
# Which GPU targets a distribution's ROCm library packages really carry, measured with
# `rdna1-vmfix isa --list-only` on the packaged files (docs/isa.md keeps the table).
#
#   scripts/measure-distro-isa.sh [--release CODENAME] [--bin RDNA1_VMFIX] [--keep DIR] PACKAGE...
#
# --release: a Debian release other than this machine's (e.g. trixie) is fetched through a temporary
# apt configuration (its own sources entry, lists and cache; the system's apt state is not touched).
# Without it the machine's own apt sources are used. Packages are downloaded with `apt-get download`
# and unpacked with `dpkg-deb -x` into a temporary directory (removed at exit unless --keep).
# Output: one Markdown table row per file holding GPU code:
#   | package version | file | objects | targets | gfx1010 code |
set -euo pipefail

release=""
bin="${VMFIX_BIN:-}"
keep=""
while [ $# -gt 0 ]; do
	case "$1" in
	--release) release="$2"; shift 2 ;;
	--bin) bin="$2"; shift 2 ;;
	--keep) keep="$2"; shift 2 ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) echo "measure-distro-isa: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "measure-distro-isa: name at least one package" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -n "$bin" ] || bin="$root/build/userspace/rdna1-vmfix"
[ -x "$bin" ] || { echo "measure-distro-isa: $bin is not built (make build, or --bin)" >&2; exit 2; }
for t in apt-get dpkg-deb jq; do
	command -v "$t" >/dev/null || { echo "measure-distro-isa: $t is missing" >&2; exit 2; }
done

work="${keep:-$(mktemp -d "${TMPDIR:-/tmp}/measure-isa.XXXXXX")}"
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT

apt_opts=()
if [ -n "$release" ]; then
	case "$release" in *[!a-z0-9-]*) echo "measure-distro-isa: bad release name $release" >&2; exit 2 ;; esac
	# The mirror is the one this machine already uses (first deb URI of its sources).
	mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || { echo "measure-distro-isa: no apt mirror configured on this machine" >&2; exit 2; }
	a="$work/apt"
	mkdir -p "$a/etc/apt/sources.list.d" "$a/etc/apt/preferences.d" "$a/var/lib/apt/lists/partial" \
		"$a/var/cache/apt/archives/partial" "$a/var/lib/dpkg"
	: >"$a/var/lib/dpkg/status"
	echo "deb $mirror $release main" >"$a/etc/apt/sources.list"
	apt_opts=(-o "Dir=$a" -o "Dir::State::status=$a/var/lib/dpkg/status" -o "Dir::Etc::trusted=/etc/apt/trusted.gpg"
		-o "Dir::Etc::TrustedParts=/etc/apt/trusted.gpg.d" -o APT::Architecture=amd64 -o Debug::NoLocking=1)
	apt-get "${apt_opts[@]}" -qq update >&2
fi

mkdir -p "$work/debs" "$work/x"
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "$@" >&2)
for deb in "$work"/debs/*.deb; do
	name=$(dpkg-deb -f "$deb" Package)
	ver=$(dpkg-deb -f "$deb" Version)
	dest="$work/x/$name"
	mkdir -p "$dest"
	dpkg-deb -x "$deb" "$dest"
	found=0
	while IFS= read -r -d '' f; do
		doc=$("$bin" isa --list-only --json "$f") || true
		n=$(jq '[.files[0].code_objects // [] | .[]] | length' <<<"$doc")
		[ "$n" -gt 0 ] || continue
		found=1
		targets=$(jq -r '[.files[0].code_objects[].target_id] | unique | join(", ")' <<<"$doc")
		bases=$(jq -r '[.files[0].code_objects[].target_id | split(":")[0]] | unique | .[]' <<<"$doc")
		g1010=no
		grep -qx gfx1010 <<<"$bases" && g1010=yes
		echo "| $name $ver | ${f#"$dest"/} | $n | $targets | $g1010 |"
	done < <(find "$dest" -type f -name '*.so*' -print0 | sort -z)
	[ "$found" -eq 1 ] || echo "| $name $ver | (all files) | 0 | no GPU code | no |"
done
