#!/usr/bin/env bash
# Builds a stand-in for `rdna1-vmfix faults --json FILE` from the repository's fault-log reader with
# classifier.patch applied, in a temporary directory (the tree itself is not touched), so that
# scripts/faults-measure.py --tool OUT/proto-tool measures the patched classifier. The patch is the
# corpus work of issue 14 waiting for the userspace reshape; once it is applied in the tree, use the
# real tool instead.
#   scripts/faults-proto/build.sh OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/userspace"
cp -r "$root/userspace/include" "$root/userspace/lib" "$work/userspace/"
(cd "$work" && patch -s -p1 <"$here/classifier.patch")
objs=()
for f in faults faults_decode text output; do
	nice -n 10 g++ -std=c++20 -O1 -I"$work/userspace/include" -c "$work/userspace/lib/$f.cpp" -o "$work/$f.o"
	objs+=("$work/$f.o")
done
nice -n 10 g++ -std=c++20 -O1 -I"$work/userspace/include" -c "$here/tool_main.cpp" -o "$work/tool_main.o"
g++ -o "$out/proto-tool" "$work/tool_main.o" "${objs[@]}" -lfmt
echo "$out/proto-tool"
