#!/usr/bin/env bash
# Builds the libFuzzer target of doctor's and report's text readers (fuzz_envscan.cpp) with clang-15
# into OUTDIR and seeds OUTDIR/corpus-envscan with shell, systemd, version.py and os-release samples.
# Usage: tests/fuzz/build-envscan.sh OUTDIR
#   run: OUTDIR/fuzz_envscan -max_total_time=60 OUTDIR/corpus-envscan
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:?usage: build-envscan.sh OUTDIR}"
command -v clang++-15 >/dev/null || { echo "build-envscan: clang++-15 missing" >&2; exit 2; }
src="$root/userspace"
mkdir -p "$out/corpus-envscan"
clang++-15 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -Wall -Wextra -Werror -DVMFIX_VERSION='"fuzz"' -I"$src" -I"$src/include" \
	"$root/tests/fuzz/fuzz_envscan.cpp" "$src/doctor/env_sources.cpp" "$src/doctor/python_envs.cpp" \
	"$src/common/host_files.cpp" "$src/report/redact.cpp" "$src/report/report.cpp" "$src/lib/doctor.cpp" \
	"$src/lib/faults.cpp" "$src/lib/faults_decode.cpp" "$src/lib/text.cpp" "$src/lib/output.cpp" \
	"$src/lib/sysfs.cpp" "$src/lib/signing.cpp" "$src/lib/isa/containers.cpp" "$src/lib/isa/elf.cpp" \
	-lfmt -lzstd -lz -o "$out/fuzz_envscan"
printf 'export HSA_OVERRIDE_GFX_VERSION=10.3.0\nEnvironment="HIP_VISIBLE_DEVICES=0" "A=b"\nset -gx HSA_X 1\n' >"$out/corpus-envscan/shell"
printf "__version__ = '2.5.1+rocm6.2'\nhip: Optional[str] = '6.2.41133'\ncuda = None\n" >"$out/corpus-envscan/version.py"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' >"$out/corpus-envscan/os-release"
printf 'alice:x:1000:1000::/home/alice:/bin/bash\n' >"$out/corpus-envscan/passwd"
echo "built $out/fuzz_envscan"
