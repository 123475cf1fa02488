#!/usr/bin/env bash
# Builds the libFuzzer target of doctor's and report's text readers (fuzz_envscan.cpp) with clang-15
# into OUTDIR and seeds OUTDIR/corpus-envscan with shell, systemd, version.py and os-release samples.
# Usage: tests/fuzz/build-envscan.sh OUTDIR
#   run: OUTDIR/fuzz_envscan -max_total_time=60 OUTDIR/corpus-envscan
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/sources.sh
. "$VMFIX_ROOT/scripts/lib/sources.sh"
out="${1:?usage: build-envscan.sh OUTDIR}"
need_tools clang++-15
mkdir -p "$out/corpus-envscan"
srcs=() # filled by userspace_sources
userspace_sources srcs report doctor status isa faults common
clang++-15 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -Wall -Wextra -Werror -DVMFIX_VERSION='"fuzz"' -I"$VMFIX_ROOT/userspace" \
	-I"$VMFIX_ROOT/kernel" "$VMFIX_ROOT/tests/fuzz/fuzz_envscan.cpp" "${srcs[@]}" -lfmt -lzstd -lz \
	-o "$out/fuzz_envscan"
printf 'export HSA_OVERRIDE_GFX_VERSION=10.3.0\nEnvironment="HIP_VISIBLE_DEVICES=0" "A=b"\nset -gx HSA_X 1\n' >"$out/corpus-envscan/shell"
printf "__version__ = '2.5.1+rocm6.2'\nhip: Optional[str] = '6.2.41133'\ncuda = None\n" >"$out/corpus-envscan/version.py"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' >"$out/corpus-envscan/os-release"
printf 'alice:x:1000:1000::/home/alice:/bin/bash\n' >"$out/corpus-envscan/passwd"
echo "built $out/fuzz_envscan"
