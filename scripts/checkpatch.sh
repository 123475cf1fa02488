#!/usr/bin/env bash
# Run the kernel's checkpatch.pl --strict over the module sources (or the given files).
# checkpatch.pl, spelling.txt and const_structs.checkpatch come from Debian's linux-source of the
# newest stable matrix kernel (7.2, sid), extracted once into $VMFIX_CACHE/checkpatch/.
#
# usage: scripts/checkpatch.sh [--verbose] [FILE...]     exit 0 when clean
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
maybe_verbose "$@"
[ "${1:-}" = "--verbose" ] && shift
need_tools perl tar xz

label=7.2
dir="$VMFIX_CACHE/checkpatch/$label"

# Extracts checkpatch.pl and its data files once. Runs under a lock (parallel runs share the cache)
# and writes into a stage directory renamed into place, so no reader ever sees half a tree.
# Every step is checked by hand: set -e does not act inside the `if` that calls this.
prepare_checkpatch() {
	local src stage
	[ -f "$dir/.vmfix-ready" ] && return 0
	src=$(fetch_linux_source "$label") && [ -f "$src" ] || return 1
	stage=$(mktemp -d "$VMFIX_CACHE/checkpatch/.stage.XXXXXX") || return 1
	if ! tar -xJf "$src" -C "$stage" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch' ||
		[ ! -f "$stage/scripts/checkpatch.pl" ]; then
		rm -rf "$stage"
		return 1
	fi
	touch "$stage/.vmfix-ready" && rm -rf "$dir" && mv "$stage" "$dir"
}

# The download (apt, dpkg-deb) talks on stdout and stderr; that must never reach what the caller
# judges as checkpatch's findings, so it goes to a log of its own, shown only when it fails.
if [ ! -f "$dir/.vmfix-ready" ]; then
	mkdir -p "$VMFIX_CACHE/checkpatch" "$VMFIX_CACHE/locks"
	prep_log=$(mktemp)
	if ! (
		flock 9
		prepare_checkpatch
	) 9>"$VMFIX_CACHE/locks/checkpatch-$label.lock" >"$prep_log" 2>&1; then
		cat "$prep_log" >&2
		rm -f "$prep_log"
		die "cannot get checkpatch.pl from linux-source $label (log above)"
	fi
	rm -f "$prep_log"
fi

if [ $# -eq 0 ]; then
	# the module's own sources (not kbuild's generated *.mod.c)
	files=()
	for f in "$VMFIX_ROOT"/kernel/*.[ch] "$VMFIX_ROOT"/kernel/Makefile "$VMFIX_ROOT"/kernel/Kbuild; do
		case "$f" in *.mod.c) ;; *) files+=("$f") ;; esac
	done
	set -- "${files[@]}"
fi
# Types checkpatch may not report for one file, each with its reason:
# - compat.h exists to switch on LINUX_VERSION_CODE (in-tree code never needs it), compares two
#   macros in #if (CONSTANT_COMPARISON is meant for C expressions), and names the non-const
#   struct bin_attribute that kernels before 6.13 pass to a read callback (CONST_STRUCT).
# - vmfix_types.h typedefs u8..u64 from <stdint.h> in its userspace (!__KERNEL__) branch.
# - vmfix_devices.h is an X-macro table (a list of VMFIX_DEVICE(...) rows, shared with C++): it cannot
#   be parenthesized and expands its row macro once per row by design.
ignores_for() {
	case "$(basename "$1")" in
	compat.h) echo LINUX_VERSION_CODE,CONSTANT_COMPARISON,CONST_STRUCT ;;
	vmfix_devices.h) echo COMPLEX_MACRO,MACRO_ARG_REUSE ;;
	vmfix_types.h) echo PREFER_KERNEL_TYPES ;;
	esac
}

# --no-tree: not run from a kernel tree.
rc=0
for f in "$@"; do
	ign=FILE_PATH_CHANGES
	extra=$(ignores_for "$f")
	[ -z "$extra" ] || ign="$ign,$extra"
	perl "$dir/scripts/checkpatch.pl" --strict --no-tree --terse --show-types --quiet \
		--ignore "$ign" -f "$f" || rc=1
done
exit "$rc"
