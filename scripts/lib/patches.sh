# shellcheck shell=bash
# Helpers for the amdgpu patch series (patches/): which series serves which matrix kernel, the cached
# pristine linux-source trees, and extraction of C pieces from them. Source common.sh and kernels.sh first.

PCACHE="$VMFIX_CACHE/patches"
AMD=drivers/gpu/drm/amd

# The series that serves each matrix kernel (7.2 and 7.3 share one).
series_of() {
	case "$1" in
	6.1 | 6.12) echo "$1" ;;
	7.2 | 7.3) echo 7.x ;;
	*) return 1 ;;
	esac
}

# The matrix kernel whose linux-source a series is generated from.
series_base_label() {
	case "$1" in
	6.1 | 6.12) echo "$1" ;;
	7.x) echo 7.2 ;;
	*) return 1 ;;
	esac
}

# Every series directory name.
series_all() { printf '%s\n' 6.1 6.12 7.x; }

# Prints the cached pristine extraction of LABEL's linux-source (only what the checks need), making it
# on first use: drivers/gpu/drm/amd, the amdgpu uapi header and checkpatch with its data files.
pristine_tree() {
	local label=$1 tarball ver dir
	tarball=$(fetch_linux_source "$label") || return 1
	ver=$(kernel_pkgver "$label")
	dir="$PCACHE/src/$label-$ver"
	[ -f "$dir/.vmfix-ready" ] || with_lock "patches-src-$label-$ver" _pristine_extract "$tarball" "$dir" || return 1
	echo "$dir"
}

# Under the tree's lock (the cache is shared by parallel runs): extracts into a stage directory that
# is renamed into place whole, unless another run made the tree while this one waited.
_pristine_extract() { # TARBALL DIR
	local stage
	[ ! -f "$2/.vmfix-ready" ] || return 0
	mkdir -p "$(dirname "$2")"
	stage=$(mktemp -d "$(dirname "$2")/.stage.XXXXXX") || return 1
	log "patches: extracting $(basename "$1") into $2"
	if ! tar -xJf "$1" -C "$stage" --strip-components=1 --wildcards \
		"*/$AMD/*" '*/include/uapi/drm/amdgpu_drm.h' '*/scripts/checkpatch.pl' \
		'*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch' >&2; then
		rm -rf "$stage"
		return 1
	fi
	touch "$stage/.vmfix-ready"
	rm -rf "$2" # what an interrupted extraction of an older version of this script left
	mv "$stage" "$2"
}

# extract_defines FILE NAME...: the #define lines (with continuations) of NAME... in FILE.
extract_defines() {
	local file=$1
	shift
	awk -v names=" $* " '
		/^#define[ \t]+[A-Za-z0-9_]+/ {
			n = $2; sub(/\(.*/, "", n)
			take = index(names, " " n " ") > 0
		}
		take { print; if ($0 !~ /\\$/) take = 0 }
	' "$file"
}

# extract_function FILE NAME: the file-scope definition of NAME (from its "static" line to "}").
extract_function() {
	awk -v name="$2" '
		!inside && /^static / && index($0, " " name "(") { inside = 1 }
		inside { print }
		inside && /^}/ { exit }
	' "$1"
}

# extract_block FILE START: from the line equal to START to the next "};".
extract_block() {
	awk -v start="$2" '$0 == start { inside = 1 } inside { print } inside && /^};/ { exit }' "$1"
}

# Writes the header helper-test.c includes: the tree's macros and the series' helpers, unchanged.
# Prints "map_mtype" when the series patches gmc_v10_0_map_mtype() too.
make_helpers_header() {
	local tree=$1 out=$2 gmc f fn body extra=""
	gmc="$tree/$AMD/amdgpu/gmc_v10_0.c"
	{
		printf '/* Extracted by scripts/patches-check.sh from %s */\n' "$tree"
		extract_defines "$tree/$AMD/amdgpu/amdgpu_vm.h" AMDGPU_PTE_VALID AMDGPU_PTE_SYSTEM AMDGPU_PTE_SNOOPED \
			AMDGPU_PTE_MTYPE_NV10_SHIFT AMDGPU_PTE_MTYPE_NV10_MASK AMDGPU_PTE_MTYPE_NV10
		for f in "$tree/$AMD/amdgpu/amdgpu_ip.h" "$tree/$AMD/amdgpu/amdgpu.h"; do
			[ -f "$f" ] && extract_defines "$f" IP_VERSION_FULL IP_VERSION
		done
		extract_defines "$tree/include/uapi/drm/amdgpu_drm.h" AMDGPU_VM_MTYPE_MASK AMDGPU_VM_MTYPE_DEFAULT \
			AMDGPU_VM_MTYPE_NC AMDGPU_VM_MTYPE_WC AMDGPU_VM_MTYPE_CC AMDGPU_VM_MTYPE_UC
		printf 'enum {\n'
		grep -E '^MTYPE_(NC|WC|CC|UC)[[:space:]]*=' "$tree/$AMD/include/navi10_enum.h"
		printf '};\n'
		body=$(extract_block "$gmc" 'enum gmc_v10_0_rdna1_mode {')
		[ -n "$body" ] || { log "enum gmc_v10_0_rdna1_mode not found in $gmc"; return 1; }
		printf '%s\n' "$body"
		for fn in gmc_v10_0_is_rdna1 gmc_v10_0_rdna1_pte_policy gmc_v10_0_rdna1_fixup_pte \
			gmc_v10_0_rdna1_mtype_init; do
			body=$(extract_function "$gmc" "$fn")
			[ -n "$body" ] || { log "$fn not found in $gmc"; return 1; }
			printf '%s\n' "$body"
		done
		body=$(extract_function "$gmc" gmc_v10_0_map_mtype)
		if [ -n "$body" ]; then
			printf '%s\n' "$body"
			extra=map_mtype
		fi
	} >"$out"
	echo "$extra"
}

# series_generate SERIES OUTDIR: writes the series as patches/src/gen-series.py makes it from the
# pristine source of its base kernel; prints that kernel's Debian version.
series_generate() {
	local s=$1 out=$2 label pristine
	label=$(series_base_label "$s") || return 1
	pristine=$(pristine_tree "$label") || return 1
	python3 "$VMFIX_ROOT/patches/src/gen-series.py" "$s" "$pristine" "$out" >&2 || return 1
	kernel_pkgver "$label"
}
