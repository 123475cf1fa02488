# shellcheck shell=bash
# The userspace source list for scripts that compile without CMake: userspace/sources.txt is the one
# list ("UNIT: PATH..." lines, paths from the repository root); CMake reads the same file.

# userspace_sources ARRAY UNIT...: sets ARRAY to the absolute paths of those units, each file once.
userspace_sources() {
	local -n _sources_out=$1
	shift
	local unit f lines
	local -A seen=()
	_sources_out=()
	for unit in "$@"; do
		lines=$(awk -v u="$unit:" '$1 == u { for (i = 2; i <= NF; i++) print $i }' "$VMFIX_ROOT/userspace/sources.txt")
		[ -n "$lines" ] || die "userspace/sources.txt has no unit '$unit'" 4
		while IFS= read -r f; do
			[ -n "${seen[$f]:-}" ] && continue
			seen[$f]=1
			_sources_out+=("$VMFIX_ROOT/$f")
		done <<<"$lines"
	done
}
