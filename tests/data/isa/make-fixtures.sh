#!/usr/bin/env bash
# Builds the code-object fixtures of the isa tests from kernels.hip into OUTDIR (cached: skips
# the work when OUTDIR/stamp is newer than this script and kernels.hip).
# Usage: tests/data/isa/make-fixtures.sh OUTDIR
#   k1010, k1030, kmulti   HIP executables (hipcc 5.2, --offload-arch gfx1010 / gfx1030 /
#                          gfx1010+gfx1012+gfx1030), code objects in .hip_fatbin bundles
#   multi.hipfb            the raw offload bundle of kmulti (objcopy -O binary --only-section)
#   gfx1030.co gfx1010.co  bare AMDGPU ELFs unbundled by clang-offload-bundler-15
#   gfx1030.offload        LLVM OffloadBinary made by clang-offload-packager-15
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: make-fixtures.sh OUTDIR}
mkdir -p "$out"
if [ -f "$out/stamp" ] && [ "$out/stamp" -nt "$here/kernels.hip" ] && [ "$out/stamp" -nt "$0" ]; then
	exit 0
fi
for t in hipcc objcopy clang-offload-bundler-15 clang-offload-packager-15; do
	command -v "$t" >/dev/null || { echo "ERROR: missing $t (scripts/setup.sh hip)" >&2; exit 1; }
done
src="$out/kernels.hip.cpp"
cp "$here/kernels.hip" "$src"
hip() { hipcc -std=c++17 -O3 "$@" 2>"$out/hipcc.log" || { cat "$out/hipcc.log" >&2; exit 1; }; }
hip --offload-arch=gfx1010 "$src" -o "$out/k1010"
hip --offload-arch=gfx1030 "$src" -o "$out/k1030"
hip --offload-arch=gfx1010 --offload-arch=gfx1012 --offload-arch=gfx1030 "$src" -o "$out/kmulti"
objcopy -O binary --only-section=.hip_fatbin "$out/kmulti" "$out/multi.hipfb"
for a in gfx1010 gfx1030; do
	clang-offload-bundler-15 --unbundle --type=o --input="$out/multi.hipfb" \
		--targets="hipv4-amdgcn-amd-amdhsa--$a" --output="$out/$a.co"
done
clang-offload-packager-15 -o "$out/gfx1030.offload" \
	--image="file=$out/gfx1030.co,triple=amdgcn-amd-amdhsa,arch=gfx1030,kind=hip"
touch "$out/stamp"
