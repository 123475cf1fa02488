#!/usr/bin/env bash
# A fuzz campaign on a bigger machine (the lab's 16 CPUs) that has no clang-15 or LLVM 15: packs the
# libFuzzer targets built here (tests/fuzz/build.sh), the shared libraries they need that a newer
# distribution lacks (libLLVM-15, libhsakmt, ICU 72, ...; libc and libstdc++ come from the host) and
# the working corpus of earlier campaigns into two archives under out/, then prints the command that
# runs tests/fuzz/run.sh over them there. Its result lines are run.sh's (docs/performance.md).
# Usage: scripts/lab-fuzz.sh [--workers=N] [--seconds=N] [--runs=N] TARGET...
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
opt_workers=16 opt_seconds=300 opt_runs=10500000
parse_args "workers= seconds= runs=" "$@"
[ ${#ARGS[@]} -gt 0 ] || die "no target given (see --help)" 2
need_tools ldd xz tar
build=$(fuzz_build_dir)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/tests/fuzz" "$stage/isa-fixtures" "$VMFIX_ROOT/out"
for t in "${ARGS[@]}"; do
	[ -x "$build/tests/fuzz/fuzz_$t" ] || die "no fuzz target fuzz_$t in $build (tests/fuzz/build.sh $t)" 2
	cp "$build/tests/fuzz/fuzz_$t" "$stage/tests/fuzz/"
done
# the libraries outside the C/C++ runtime, which any newer glibc/libstdc++ host provides
ldd "$stage"/tests/fuzz/fuzz_* | awk '/=>/ { print $3 }' | sort -u |
	grep -vE '/(libc|libm|libresolv|libgcc_s|libstdc\+\+|libpthread|libdl|librt)\.so' |
	xargs -r cp -L -t "$stage/lib/"
find "${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}/isa-fixtures" -maxdepth 1 -type f \
	\( -name '*.co' -o -name '*.hipfb' -o -name '*.offload' \) -size -64k -exec cp -t "$stage/isa-fixtures/" {} + 2>/dev/null || true
tar -C "$stage" -cf - . | xz -T0 -6 >"$VMFIX_ROOT/out/lab-fuzz.tar.xz"
corpus=$VMFIX_CACHE/fuzz/corpus
mkdir -p "$stage/corpus"
if [ -d "$corpus" ]; then tar -C "$corpus" -cf - . ; else tar -C "$stage/corpus" -cf - . ; fi |
	xz -T0 -6 >"$VMFIX_ROOT/out/lab-fuzz-corpus.tar.xz"
ls -l "$VMFIX_ROOT"/out/lab-fuzz*.tar.xz >&2
cat <<CMD
# carry: out/lab-fuzz.tar.xz out/lab-fuzz-corpus.tar.xz; then, in the tree's root there:
L=/tmp/lf; [ -d \$L/c ] || { mkdir -p \$L/c && tar -xJf out/lab-fuzz.tar.xz -C \$L && tar -xJf out/lab-fuzz-corpus.tar.xz -C \$L/c; }
export LD_LIBRARY_PATH=\$L/lib VMFIX_FUZZ_BUILD_DIR=\$L VMFIX_BUILD_DIR=\$L
for t in ${ARGS[*]}; do tests/fuzz/run.sh --workers=$opt_workers --runs=$opt_runs --seconds=$opt_seconds --corpus=\$L/c --artifacts=\$OUT/art \$t; done
CMD
