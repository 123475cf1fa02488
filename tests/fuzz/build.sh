#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-15 (-fsanitize=fuzzer,address; the runtime comes from
# Debian's libclang-common-15-dev) into OUTDIR.
# Usage: tests/fuzz/build.sh OUTDIR       run: OUTDIR/isa_container_fuzz -max_total_time=60 CORPUS
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/sources.sh
. "$(dirname "$0")/../../scripts/lib/sources.sh"
maybe_verbose "$@"
out=${1:?usage: build.sh OUTDIR}
need_tools clang++-15 llvm-config-15
rt=$(clang++-15 -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
[ -f "$rt" ] || die "libFuzzer runtime $rt missing (scripts/setup.sh fuzz: libclang-common-15-dev)"
mkdir -p "$out"
src=()
userspace_sources src isa isa-llvm common
clang++-15 -std=c++20 -O1 -g -fsanitize=fuzzer,address -fno-omit-frame-pointer -Wall -Wextra -Werror \
	-I"$VMFIX_ROOT/userspace" -I"$VMFIX_ROOT/kernel" -isystem "$(llvm-config-15 --includedir)" \
	"$VMFIX_ROOT/tests/fuzz/isa_container_fuzz.cpp" "${src[@]}" \
	-L"$(llvm-config-15 --libdir)" -Wl,-rpath,"$(llvm-config-15 --libdir)" "$(llvm-config-15 --libs amdgpudisassembler amdgpuinfo amdgpudesc mc support)" \
	-lfmt -lzstd -lz -o "$out/isa_container_fuzz"
log "built $out/isa_container_fuzz"
