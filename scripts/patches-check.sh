#!/usr/bin/env bash
# Checks the amdgpu patch series in patches/<series>/ against Debian's linux-source of each matrix kernel.
# Usage: scripts/patches-check.sh [--verbose] [--update-vectors] [LABEL...]   (default: every matrix kernel)
#   LABEL/apply       the series applies with git apply --check, then patch -p1 --fuzz=0 (offsets allowed)
#   LABEL/checkpatch  every patch is clean under that tree's scripts/checkpatch.pl --strict
#   LABEL/compile     the touched objects build with -Werror against that kernel's headers and compiler
#   LABEL/vectors     the helpers of the patched gmc_v10_0.c, compiled in userspace, give the same PTE
#                     flags as the policy core for every vector of tests/data/policy-vectors.tsv
#   LABEL/mutant      the same test catches a helper with the SNOOPED rule removed
#   SERIES/regen      patches/SERIES is exactly what patches/src/gen-series.py makes (scripts/patches-regen.sh)
# plus one "vectors-current" line: tests/data/policy-vectors.tsv is what kernel/vmfix_policy.c produces
# (--update-vectors rewrites it), and one "device-table" line: the GC IP switch of gmc_v10_0_is_rdna1()
# in patches/src/helpers.c lists exactly the in-scope GC versions of kernel/vmfix_devices.h. Prints one "ITEM PASS|FAIL|SKIP reason" line per check, then totals;
# exits 1 if a check failed, 2 on bad usage. Sources and extractions are cached in $VMFIX_CACHE/patches.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
# shellcheck source=scripts/lib/patches.sh
. "$VMFIX_ROOT/scripts/lib/patches.sh"

opt_update_vectors=""
parse_args "update-vectors" "$@"
update_vectors=${opt_update_vectors:-0}
labels=()
for a in "${ARGS[@]}"; do
	kernel_suite "$a" >/dev/null
	labels+=("$a")
done
[ ${#labels[@]} -gt 0 ] || read -r -a labels <<<"$(matrix_labels)"
need_tools git patch perl tar xz cc make python3

VECTORS="$VMFIX_ROOT/tests/data/policy-vectors.tsv"
tmp=$(mktemp -d)
works=()
trap 'rm -rf "$tmp" "${works[@]}"' EXIT

# build_helper_test HEADER OUT HAVE_MAP_MTYPE
build_helper_test() {
	local defs=(-DHELPERS_H="\"$1\"")
	[ "$3" = map_mtype ] && defs+=(-DHAVE_MAP_MTYPE)
	cc -std=gnu11 -O1 -Wall -Wextra -Wno-unused-parameter -Wno-unused-function -Werror \
		-I"$VMFIX_ROOT/tests/patches" "${defs[@]}" "$VMFIX_ROOT/tests/patches/helper-test.c" -o "$2"
}

# GC versions as "a.b.c" lines, sorted: in_scope rows of the device table / cases of the patch's switch.
table_gc_versions() {
	printf '#include "vmfix_devices.h"\n#define R(p, c, g, a, b, r, s) @GC s a b r\nVMFIX_DEVICE_TABLE(R)\n' |
		cpp -P -I"$VMFIX_ROOT/kernel" - | tr '@' '\n' | awk '$1 == "GC" && $2 == 1 { print $3 "." $4 "." $5 }' |
		LC_ALL=C sort -u
}
patch_gc_versions() {
	awk '/gmc_v10_0_is_rdna1\(/ { on = 1 } on && /^}/ { exit } on' "$VMFIX_ROOT/patches/src/helpers.c" |
		sed -n 's/.*case IP_VERSION(\([0-9]*\), *\([0-9]*\), *\([0-9]*\)).*/\1.\2.\3/p' | LC_ALL=C sort -u
}
table_gc=$(table_gc_versions | tr '\n' ' ')
patch_gc=$(patch_gc_versions | tr '\n' ' ')
if [ -n "$table_gc" ] && [ "$table_gc" = "$patch_gc" ]; then
	result device-table PASS "gmc_v10_0_is_rdna1() cases = in-scope GC IP versions of kernel/vmfix_devices.h: $table_gc"
else
	result device-table FAIL "device table in scope: '$table_gc', patches/src/helpers.c switch: '$patch_gc'"
fi

# --- the vectors themselves --------------------------------------------------------------------------
if cc -std=c11 -Wall -Wextra -Werror -I"$VMFIX_ROOT/kernel" "$VMFIX_ROOT/tests/patches/gen-vectors.c" \
	"$VMFIX_ROOT/kernel/vmfix_policy.c" -o "$tmp/gen-vectors" 2>"$tmp/gen.log" &&
	"$tmp/gen-vectors" >"$tmp/vectors.tsv"; then
	nvec=$(grep -vc '^#' "$tmp/vectors.tsv")
	if [ "$update_vectors" -eq 1 ]; then
		mkdir -p "$(dirname "$VECTORS")"
		cp "$tmp/vectors.tsv" "$VECTORS"
		result vectors-current PASS "wrote $nvec vectors to tests/data/policy-vectors.tsv"
	elif cmp -s "$tmp/vectors.tsv" "$VECTORS"; then
		result vectors-current PASS "tests/data/policy-vectors.tsv matches kernel/vmfix_policy.c ($nvec vectors)"
	else
		result vectors-current FAIL "tests/data/policy-vectors.tsv differs from what kernel/vmfix_policy.c gives (run $0 --update-vectors)"
	fi
else
	cat "$tmp/gen.log" >&2
	result vectors-current FAIL "tests/patches/gen-vectors.c does not build"
fi

# --- the committed series are what patches/src/ generates (for the series whose kernels are checked) ---
for s in $(series_all); do
	base=$(series_base_label "$s")
	printf '%s\n' "${labels[@]}" | grep -qxF "$base" || continue
	if ! ver=$(series_generate "$s" "$tmp/regen-$s" 2>"$tmp/regen.log"); then
		cat "$tmp/regen.log"
		result "$s/regen" FAIL "patches/src/gen-series.py cannot generate patches/$s"
	elif diff -ru "$VMFIX_ROOT/patches/$s" "$tmp/regen-$s" >"$tmp/regen.log" 2>&1; then
		result "$s/regen" PASS "patches/$s is what patches/src/gen-series.py makes from linux-source $ver"
	else
		head -n 40 "$tmp/regen.log"
		result "$s/regen" FAIL "patches/$s differs from what patches/src/ makes (scripts/patches-regen.sh $s)"
	fi
done

# --- per kernel ----------------------------------------------------------------------------------------
for label in "${labels[@]}"; do
	series=$(series_of "$label")
	sdir="$VMFIX_ROOT/patches/$series"
	mapfile -t pfiles < <(find "$sdir" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' 2>/dev/null | sort)
	if [ ${#pfiles[@]} -eq 0 ]; then
		for c in apply checkpatch compile vectors mutant; do
			result "$label/$c" FAIL "no patches in patches/$series"
		done
		continue
	fi
	if ! pristine=$(pristine_tree "$label" 2>"$tmp/fetch.log"); then
		tail -n 30 "$tmp/fetch.log"
		for c in apply checkpatch compile vectors mutant; do
			result "$label/$c" FAIL "cannot fetch or extract linux-source for $label"
		done
		continue
	fi
	ver=$(kernel_pkgver "$label")
	# A work tree of this run's own (a parallel run checks the same kernels), next to the pristine
	# tree for hard links; removed on exit. Hard links are safe: patch(1) writes each changed file
	# anew, the pristine copy stays intact.
	mkdir -p "$PCACHE/work"
	work=$(mktemp -d "$PCACHE/work/$label.XXXXXX")
	works+=("$work")
	cp -al "$pristine/." "$work"
	rm -f "$work/.vmfix-ready"

	# apply: all at once as a dry run, then one by one for real, refusing fuzz
	applied=0
	if ! (cd "$work" && git apply --check "${pfiles[@]}") >"$tmp/apply.log" 2>&1; then
		cat "$tmp/apply.log"
		result "$label/apply" FAIL "patches/$series does not apply to linux-source $ver (git apply --check)"
	else
		offsets=0
		: >"$tmp/apply.log"
		for p in "${pfiles[@]}"; do
			if ! patch -d "$work" -p1 --fuzz=0 --no-backup-if-mismatch <"$p" >>"$tmp/apply.log" 2>&1; then
				applied=-1
				break
			fi
			applied=$((applied + 1))
		done
		offsets=$(grep -c 'offset' "$tmp/apply.log" || true)
		if [ "$applied" -lt 0 ]; then
			cat "$tmp/apply.log"
			result "$label/apply" FAIL "patch -p1 --fuzz=0 failed on linux-source $ver"
			applied=0
		else
			result "$label/apply" PASS "patches/$series ($applied patches) on linux-source $ver, no fuzz, $offsets hunks at an offset"
		fi
	fi

	# checkpatch: the tree's own checkpatch.pl, --strict, nothing allowed
	bad=0
	for p in "${pfiles[@]}"; do
		perl "$pristine/scripts/checkpatch.pl" --strict --no-tree --color=never "$p" >"$tmp/cp.log" 2>&1 || true
		if ! grep -q '^total: 0 errors, 0 warnings, 0 checks' "$tmp/cp.log"; then
			cat "$tmp/cp.log"
			bad=$((bad + 1))
		fi
	done
	if [ "$bad" -eq 0 ]; then
		result "$label/checkpatch" PASS "${#pfiles[@]} patches: 0 errors, 0 warnings, 0 checks (--strict, checkpatch.pl of $ver)"
	else
		result "$label/checkpatch" FAIL "$bad of ${#pfiles[@]} patches have checkpatch --strict findings"
	fi

	if [ "$applied" -le 0 ]; then
		result "$label/compile" FAIL "series not applied"
		result "$label/vectors" FAIL "series not applied"
		result "$label/mutant" FAIL "series not applied"
		continue
	fi

	# compile: every touched .c of the amdgpu directory, against the kernel's headers, with its compiler
	mapfile -t objs < <(sed -n "s|^+++ b/$AMD/amdgpu/\(.*\)\.c$|\1.o|p" "${pfiles[@]}" | sort -u)
	if ! kdir=$(ensure_headers "$label" 2>"$tmp/headers.log"); then
		tail -n 30 "$tmp/headers.log"
		result "$label/compile" FAIL "cannot install the headers of $label"
	elif [ ${#objs[@]} -eq 0 ]; then
		result "$label/compile" FAIL "the series touches no .c file under $AMD/amdgpu"
	else
		mkdir -p "$work/include/trace" # amdgpu_trace.h includes itself via ../../drivers/...
		start=$(date +%s)
		if kenv_run "$label" make -C "$kdir" M="$work/$AMD/amdgpu" FULL_AMD_PATH="$work/$AMD" \
			KCFLAGS="-I$work/include/trace -Werror" -j2 "${objs[@]}" >"$work/build.log" 2>&1; then
			cc_ver=$(sed -n 's/^\(saved\)\{0,1\}cmd_[^ ]* := *\([^ ]*\).*/\2/p' "$work/$AMD/amdgpu/.${objs[0]}.cmd" | head -n1)
			result "$label/compile" PASS "${objs[*]} with -Werror against $(basename "$kdir") using ${cc_ver:-the kernel compiler} ($(($(date +%s) - start)) s)"
		else
			tail -n 40 "$work/build.log"
			result "$label/compile" FAIL "${objs[*]} do not build against $(basename "$kdir") (log: $work/build.log)"
		fi
	fi

	# vectors: the patched helpers against the core's vectors, and a mutant that must be caught
	hdr="$tmp/helpers-$label.h"
	if ! extra=$(make_helpers_header "$work" "$hdr") 2>"$tmp/extract.log"; then
		cat "$tmp/extract.log"
		result "$label/vectors" FAIL "policy helpers not found in the patched gmc_v10_0.c"
		result "$label/mutant" FAIL "policy helpers not found in the patched gmc_v10_0.c"
		continue
	fi
	what="helpers${extra:+ and gmc_v10_0_map_mtype}"
	if ! build_helper_test "$hdr" "$tmp/helper-test-$label" "$extra" >"$tmp/ht.log" 2>&1; then
		cat "$tmp/ht.log"
		result "$label/vectors" FAIL "the extracted helpers do not compile in userspace"
	elif "$tmp/helper-test-$label" "$VECTORS" >"$tmp/ht.log" 2>&1; then
		result "$label/vectors" PASS "$what of the patched gmc_v10_0.c: $(tail -n1 "$tmp/ht.log")"
	else
		cat "$tmp/ht.log"
		result "$label/vectors" FAIL "$what disagree with the policy core"
	fi
	sed 's/flags |= AMDGPU_PTE_SNOOPED;/flags |= 0;/' "$hdr" >"$tmp/mutant-$label.h"
	if cmp -s "$hdr" "$tmp/mutant-$label.h"; then
		result "$label/mutant" FAIL "no SNOOPED rule found to remove"
	elif ! build_helper_test "$tmp/mutant-$label.h" "$tmp/mutant-$label" "$extra" >"$tmp/mt.log" 2>&1; then
		cat "$tmp/mt.log"
		result "$label/mutant" FAIL "the mutant does not compile"
	elif "$tmp/mutant-$label" "$VECTORS" >"$tmp/mt.log" 2>&1; then
		result "$label/mutant" FAIL "a helper without the SNOOPED rule passed the vectors"
	else
		result "$label/mutant" PASS "a helper without the SNOOPED rule is caught: $(tail -n1 "$tmp/mt.log")"
	fi
done
report_counts
