#!/usr/bin/env bash
# Regenerates the amdgpu patch series patches/<series>/ from the fragments in patches/src/ and the
# pristine Debian linux-source each series is based on (6.1 -> 6.1, 6.12 -> 6.12, 7.x -> 7.2).
# Usage: scripts/patches-regen.sh [--verbose] [--check] [SERIES...]   (6.1 6.12 7.x; default: all)
#   --check  write nothing; print one "SERIES/regen PASS|FAIL" line each, exit 1 if a committed
#            series differs from what patches/src/gen-series.py makes
# Edit patches/src/ (helpers, parameter block, commit message parts), run this, then
# scripts/patches-check.sh to apply, checkpatch, compile and vector-test the result.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
# shellcheck source=scripts/lib/patches.sh
. "$VMFIX_ROOT/scripts/lib/patches.sh"

opt_check=""
parse_args "check" "$@"
check=${opt_check:-0}
series=()
for a in "${ARGS[@]}"; do
	series_base_label "$a" >/dev/null || die "unknown series '$a' (known: $(series_all | xargs))" 2
	series+=("$a")
done
[ ${#series[@]} -gt 0 ] || mapfile -t series < <(series_all)
need_tools python3 git tar xz

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in "${series[@]}"; do
	if ! ver=$(series_generate "$s" "$tmp/$s"); then
		[ "$check" -eq 1 ] || die "cannot generate patches/$s"
		result "$s/regen" FAIL "cannot generate patches/$s (source or anchors)"
		continue
	fi
	if [ "$check" -eq 1 ]; then
		if diff -ru "$VMFIX_ROOT/patches/$s" "$tmp/$s" -x src >"$tmp/diff.log" 2>&1; then
			result "$s/regen" PASS "patches/$s is what patches/src/gen-series.py makes from linux-source $ver"
		else
			head -n 40 "$tmp/diff.log"
			result "$s/regen" FAIL "patches/$s differs from what patches/src/ makes (run scripts/patches-regen.sh $s)"
		fi
	else
		mkdir -p "$VMFIX_ROOT/patches/$s"
		rm -f "$VMFIX_ROOT/patches/$s"/*.patch
		cp "$tmp/$s"/*.patch "$VMFIX_ROOT/patches/$s/"
		log "patches/$s: $(find "$VMFIX_ROOT/patches/$s" -name '*.patch' | wc -l) patches from linux-source $ver"
	fi
done
[ "$check" -eq 0 ] || report_counts
