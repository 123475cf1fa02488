#!/usr/bin/env bash
# clang-tidy (the checks of .clang-tidy; tests/unit/.clang-tidy adjusts them there) over every C++
# translation unit of userspace/, tests/unit/ and bench/ in the build's compile_commands.json.
# Usage: scripts/tidy.sh [--build DIR] [--jobs N] [PATH_PREFIX...]; PATH_PREFIX (a folder such as userspace/isa,
# or one file) limits the run. Prints each finding, then "tidy: N warning(s) in M file(s)"; exits 1 when there is any warning, 2 on usage errors.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

build="$VMFIX_ROOT/build"
jobs=2
prefixes=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	-h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" 2 ;;
	*) prefixes+=("${1%/}"); shift ;;
	esac
done
[ ${#prefixes[@]} -gt 0 ] || prefixes=(userspace tests/unit bench)
tidy=$(command -v clang-tidy || true)
[ -n "$tidy" ] || die "clang-tidy missing (scripts/setup.sh core installs it)" 2
need_tools jq xargs
db="$build/compile_commands.json"
[ -f "$db" ] || die "$db missing: configure first (cmake -S . -B $build -G Ninja)" 2

mapfile -t files < <(jq -r '.[].file' "$db" | sed "s|^$VMFIX_ROOT/||" | sort -u | while read -r f; do
	case $f in *.cpp) ;; *) continue ;; esac
	for p in "${prefixes[@]}"; do
		case $f in "$p" | "$p"/*) printf '%s\n' "$f"; break ;; esac
	done
done)
[ ${#files[@]} -gt 0 ] || die "no translation unit below ${prefixes[*]} in $db" 2
log "tidy: $("$tidy" --version | grep -o 'version [0-9.]*'), ${#files[@]} translation unit(s), $jobs job(s)"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One clang-tidy per file; its findings go to stdout, the "N warnings generated" chatter is dropped.
(cd "$VMFIX_ROOT" && printf '%s\n' "${files[@]}" |
	nice -n 10 xargs -P "$jobs" -I{} "$tidy" -p "$build" --quiet {} 2>/dev/null) >"$out" || true
grep -v '^[0-9]* warnings\? generated' "$out" || true
# A header's finding is reported once per file that includes it: count each place once.
# (grep finds nothing in a clean run: `|| true` keeps pipefail from ending the script there.)
n=$({ grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out" || true; } | sort -u | wc -l)
m=$({ grep -oE '^[^ :]+:[0-9]+:[0-9]+: (warning|error):' "$out" || true; } | cut -d: -f1 | sort -u | wc -l)
printf 'tidy: %s warning(s) in %s file(s)\n' "$n" "$m"
[ "$n" -eq 0 ]
