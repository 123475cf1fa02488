#!/usr/bin/env bash
# Builds the diagnostics libFuzzer targets (fault-log reader, sysfs parsers) with clang-15
# -fsanitize=fuzzer,address,undefined into OUTDIR, and seeds OUTDIR/corpus-{faults,sysfs}.
# The libFuzzer runtime comes from Debian's libclang-common-15-dev (scripts/setup.sh fuzz).
# Usage: tests/fuzz/build-diag.sh [--verbose] OUTDIR
#   run: OUTDIR/fuzz_faults -max_total_time=60 OUTDIR/corpus-faults
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/sources.sh
. "$(dirname "$0")/../../scripts/lib/sources.sh"
maybe_verbose "$@"
out=
for a in "$@"; do [ "$a" = "--verbose" ] || out=$a; done
[ -n "$out" ] || die "usage: build-diag.sh [--verbose] OUTDIR" 2
need_tools clang++-15
rt=$(clang++-15 -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
[ -f "$rt" ] || die "libFuzzer runtime $rt missing (scripts/setup.sh fuzz: libclang-common-15-dev)"
mkdir -p "$out/corpus-faults" "$out/corpus-sysfs"
flags=(-std=c++20 -O1 -g "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=undefined
	-fno-omit-frame-pointer -Wall -Wextra -Werror -I"$VMFIX_ROOT/userspace" -I"$VMFIX_ROOT/kernel")
faults_src=() sysfs_src=()
userspace_sources faults_src faults common
userspace_sources sysfs_src status faults common
# The two targets build in parallel (2 cores in CI).
clang++-15 "${flags[@]}" "$VMFIX_ROOT/tests/fuzz/fuzz_faults.cpp" "${faults_src[@]}" -lfmt -o "$out/fuzz_faults" &
p1=$!
clang++-15 "${flags[@]}" "$VMFIX_ROOT/tests/fuzz/fuzz_sysfs.cpp" "${sysfs_src[@]}" -lfmt -o "$out/fuzz_sysfs" &
p2=$!
rc=0
wait "$p1" || rc=1
wait "$p2" || rc=1
[ "$rc" -eq 0 ] || die "a fuzz target did not build"
# Seeds: every real log, and the sysfs samples (module files of docs/status-abi.md, KFD properties).
cp "$VMFIX_ROOT"/tests/data/faults/[0-9]*.txt "$out/corpus-faults/"
cp "$VMFIX_ROOT"/tests/fuzz/corpus-sysfs/* "$out/corpus-sysfs/"
log "built $out/fuzz_faults and $out/fuzz_sysfs"
