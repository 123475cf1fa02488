#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/CMakeLists.txt) with clang-15, ASan and UBSan into their
# own build directory and prints its path. The libFuzzer runtime comes from Debian's
# libclang-common-15-dev (scripts/setup.sh fuzz).
# Usage: tests/fuzz/build.sh [--verbose] [TARGET...]   (default: every target; TARGET: faults, kmsg, ...)
#   VMFIX_FUZZ_BUILD_DIR: the build directory (default: build-fuzz in the tree)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
parse_args "" "$@"
targets=("${ARGS[@]}")
need_tools clang-15 clang++-15 cmake ninja
rt=$(clang++-15 -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
[ -f "$rt" ] || die "libFuzzer runtime $rt missing (scripts/setup.sh fuzz: libclang-common-15-dev)"
out=$(fuzz_build_dir)
if [ ! -f "$out/build.ninja" ]; then
	mkdir -p "$out"
	cmake -S "$VMFIX_ROOT" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_COMPILER=clang-15 -DCMAKE_CXX_COMPILER=clang++-15 \
		-DVMFIX_FUZZ=ON -DVMFIX_BUILD_TESTS=OFF >"$out/configure.log" 2>&1 || {
		cat "$out/configure.log" >&2
		die "cmake configure of $out failed"
	}
fi
names=()
if [ ${#targets[@]} -eq 0 ]; then names=(fuzz_targets); else names=("${targets[@]/#/fuzz_}"); fi
ninja -C "$out" -j"${VMFIX_JOBS:-2}" "${names[@]}" >&2 || die "fuzz targets did not build"
printf '%s\n' "$out"
