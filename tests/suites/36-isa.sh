#!/usr/bin/env bash
# isa: `rdna1-vmfix isa` on hipcc-built objects with known contents (checked against
# llvm-objdump-15 and clang-offload-bundler-15), on a real ROCm library from Debian bookworm
# (librocrand1, fetched into $VMFIX_CACHE), on bad input, plus a short libFuzzer run of the
# container/ELF reader. Budget: 5 minutes including the download and the hipcc builds.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools cmake ninja hipcc jq objcopy llvm-objdump-15 llvm-readelf-15 clang-offload-bundler-15 dpkg-deb apt-get

suite_start isa-build "rdna1-vmfix or the hipcc fixtures did not build" rdna1-vmfix isa_fixtures
result isa-build PASS "rdna1-vmfix and hipcc fixtures (gfx1010, gfx1030, multi-arch) built"
fx="$build/isa-fixtures"

# --- CLI contract ---
capture "$tmp/help" "$tmp/err" "$tool" isa --help
r1=$rc
capture "$tmp/out" "$tmp/err" "$tool" help isa
if [ "$r1" = 0 ] && [ "$rc" = 0 ] && grep -q -- '--list-only' "$tmp/help" && cmp -s "$tmp/out" "$tmp/help"; then
	result isa-help PASS "isa --help equals help isa"
else
	result isa-help FAIL "help output missing or different"
fi

capture "$tmp/out" "$tmp/err" "$tool" isa --target gfx1010 "$fx/k1010"
r=$rc
if [ "$r" = 0 ] && grep -q 'verdict for gfx1010: ok' "$tmp/out"; then
	result isa-gfx1010-build PASS "gfx1010 build: verdict ok, exit 0"
else
	result isa-gfx1010-build FAIL "exit $r: $(head -c 300 "$tmp/out")"
fi

capture "$tmp/out" "$tmp/err" "$tool" isa --json "$fx/k1030"
r=$rc
if [ "$r" = 1 ] && jq -e '.schema == 1 and .files[0].verdict == "would_misbehave_under_override"
	and .files[0].code_objects[0].audit.undecodable_on_target == 1
	and .files[0].code_objects[0].audit.different_meaning == 1
	and .files[0].code_objects[0].audit.inst_prefetch == 1' "$tmp/out" >/dev/null; then
	result isa-gfx1030-build PASS "gfx1030 build: 1 undecodable, 1 different meaning, 1 s_inst_prefetch, exit 1"
else
	result isa-gfx1030-build FAIL "exit $r: $(head -c 400 "$tmp/out")"
fi

capture "$tmp/out" "$tmp/err" "$tool" isa --json "$fx/kmulti"
r=$rc
if [ "$r" = 0 ] && jq -e '.files[0].verdict == "ok" and .files[0].override_10_3_0 == "would_misbehave"
	and ([.files[0].code_objects[].target_id] | sort == ["gfx1010","gfx1012","gfx1030"])' "$tmp/out" >/dev/null; then
	result isa-multi-arch PASS "multi-arch build: ok natively, would misbehave under override 10.3.0"
else
	result isa-multi-arch FAIL "exit $r: $(head -c 400 "$tmp/out")"
fi

# --- Independent oracle: llvm-objdump-15 disassembling the same gfx1030 object for gfx1010 ---
llvm-objdump-15 -d --mcpu=gfx1010 "$fx/gfx1030.co" >"$tmp/od1010"
llvm-objdump-15 -d "$fx/gfx1030.co" >"$tmp/od1030"
"$tool" isa --json "$fx/gfx1030.co" >"$tmp/j" || true
fm_addr=$(jq -r '.files[0].code_objects[0].audit.functions_with_findings[].examples[] | select(.kind=="different_meaning") | .address' "$tmp/j")
fm_hex=$(printf '%012X' "$fm_addr")
if grep -q "v_mac_legacy_f32_e32.*$fm_hex" "$tmp/od1010" && grep -q "v_fmac_legacy_f32_e32.*$fm_hex" "$tmp/od1030"; then
	result isa-oracle-fmac PASS "llvm-objdump agrees: at $fm_addr gfx1030 v_fmac_legacy_f32 reads as v_mac_legacy_f32 on gfx1010"
else
	result isa-oracle-fmac FAIL "llvm-objdump does not confirm the different-meaning finding at '$fm_addr'"
fi
longs=$(grep -c '\.long' "$tmp/od1010" || true)
ours=$(jq '.files[0].code_objects[0].audit.undecodable_on_target' "$tmp/j")
if [ "$longs" -ge 1 ] && grep -q 'v_dot2c_f32_f16' "$tmp/od1030" && [ "$ours" -ge 1 ] && [ "$ours" -le "$longs" ]; then
	result isa-oracle-dot PASS "llvm-objdump --mcpu=gfx1010 shows $longs .long word(s); isa reports $ours undecodable instruction(s)"
else
	result isa-oracle-dot FAIL "objdump .long=$longs, isa undecodable=$ours"
fi

# --- Bad input: exit 2 and a clear error, never a crash ---
head -c 20000 "$fx/kmulti" >"$tmp/cut"
capture "$tmp/out" "$tmp/err" "$tool" isa "$tmp/cut"
r=$rc
if [ "$r" = 2 ] && grep -q "^rdna1-vmfix: error: $tmp/cut: corrupt ELF" "$tmp/err"; then
	result isa-truncated PASS "truncated executable: exit 2, '$(head -n1 "$tmp/err" | cut -c1-90)...'"
else
	result isa-truncated FAIL "exit $r: $(head -c 300 "$tmp/err")"
fi
capture "$tmp/out" "$tmp/err" "$tool" isa --json /nonexistent.so
r=$rc
if [ "$r" = 2 ] && jq -e '.error.message == "No such file or directory"' "$tmp/out" >/dev/null; then
	result isa-missing PASS "missing file: exit 2, JSON error document"
else
	result isa-missing FAIL "exit $r: $(head -c 300 "$tmp/out")"
fi
capture "$tmp/out" "$tmp/err" "$tool" isa --target gfx9999 "$fx/k1010"
r=$rc
if [ "$r" = 2 ]; then result isa-bad-target PASS "unknown --target: exit 2"; else result isa-bad-target FAIL "exit $r"; fi

# --- Hostile input: each run bounded in time and address space; anything not audited is a finding.
# bounded CMD...: at most 20 s and 1 GiB of address space (a 4 GiB allocation fails outright).
bounded() { timeout 20 prlimit --as=$((1 << 30)) -- "$@"; }
mkfifo "$tmp/fifo"
capture "$tmp/out" "$tmp/err" bounded "$tool" isa "$tmp/fifo"
if [ "$rc" = 2 ] && grep -q 'not a regular file' "$tmp/err"; then
	result isa-fifo PASS "FIFO: exit 2 at once, '$(head -n1 "$tmp/err" | cut -c1-80)'"
else
	result isa-fifo FAIL "exit $rc (124 = hung): $(head -c 300 "$tmp/err")"
fi
capture "$tmp/out" "$tmp/err" bounded "$tool" isa /dev/zero
if [ "$rc" = 2 ] && grep -q 'not a regular file' "$tmp/err"; then
	result isa-dev-zero PASS "/dev/zero: exit 2, not read as an empty file"
else
	result isa-dev-zero FAIL "exit $rc: $(head -c 300 "$tmp/out" "$tmp/err")"
fi
# FILE "-": standard input, mapped when it is a regular file, read from a pipe up to --stdin-limit.
capture "$tmp/out" "$tmp/err" bounded "$tool" isa - <"$fx/k1010"
if [ "$rc" = 0 ] && grep -q '^-: .* 1 code object' "$tmp/out" && grep -q 'verdict for gfx1010: ok' "$tmp/out"; then
	result isa-stdin-file PASS "isa - <k1010: read from standard input, verdict ok, exit 0"
else
	result isa-stdin-file FAIL "exit $rc: $(head -c 300 "$tmp/out" "$tmp/err")"
fi
"$tool" isa --json "$fx/k1030" >"$tmp/byname.json" || true
rc=0
# shellcheck disable=SC2002 # a pipe is the point: stdin must not be a regular file here
cat "$fx/k1030" | bounded "$tool" isa --json - >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" = 1 ] && jq -e '.files[0].path == "-"' "$tmp/out" >/dev/null &&
	cmp -s <(jq -S '.files[0] | del(.path)' "$tmp/out") <(jq -S '.files[0] | del(.path)' "$tmp/byname.json"); then
	result isa-stdin-pipe PASS "cat k1030 | isa -: the same findings as by name, exit 1"
else
	result isa-stdin-pipe FAIL "exit $rc: $(head -c 300 "$tmp/out" "$tmp/err")"
fi
rc=0
head -c $((3 << 20)) "$fx/kmulti" /dev/zero | bounded "$tool" isa --stdin-limit 1M - >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" = 2 ] && grep -q 'more than 1048576 bytes on standard input' "$tmp/err"; then
	result isa-stdin-limit PASS "3 MiB piped with --stdin-limit 1M: exit 2, '$(head -n1 "$tmp/err" | cut -c1-90)'"
else
	result isa-stdin-limit FAIL "exit $rc: $(head -c 300 "$tmp/err")"
fi
capture "$tmp/out" "$tmp/err" bounded "$tool" isa --stdin-limit 1M - </dev/zero
if [ "$rc" = 2 ] && grep -q 'more than 1048576 bytes' "$tmp/err"; then
	result isa-stdin-dev-zero PASS "isa - </dev/zero: stops at the limit, exit 2"
else
	result isa-stdin-dev-zero FAIL "exit $rc (124 = hung): $(head -c 300 "$tmp/err")"
fi
capture "$tmp/out" "$tmp/err" bounded "$tool" isa - - <"$fx/k1010"
if [ "$rc" = 2 ] && grep -q 'only once' "$tmp/err"; then
	result isa-stdin-twice PASS "isa - -: exit 2"
else
	result isa-stdin-twice FAIL "exit $rc: $(head -c 300 "$tmp/err")"
fi
python3 "$VMFIX_ROOT/tests/data/isa/make-hostile.py" "$fx" "$tmp"
for f in bomb.ccob bombs-in-host.elf lying.ccob; do
	start=$(date +%s)
	capture "$tmp/out" "$tmp/err" bounded "$tool" isa "$tmp/$f"
	if [ "$rc" = 2 ] && grep -qi 'corrupt' "$tmp/err" && [ $(($(date +%s) - start)) -le 5 ]; then
		result "isa-bomb-$f" PASS "lying size header: exit 2 in $(($(date +%s) - start)) s under a 1 GiB limit, '$(head -n1 "$tmp/err" | cut -c1-100)'"
	else
		result "isa-bomb-$f" FAIL "exit $rc after $(($(date +%s) - start)) s: $(head -c 300 "$tmp/err")"
	fi
done
capture "$tmp/out" "$tmp/err" bounded "$tool" isa --json "$tmp/ff-text.co"
if [ "$rc" = 1 ] && jq -e '.files[0].code_objects[0].audit.undecodable_own > 0 and .files[0].override_10_3_0 == "partly_audited"
	and (.files[0].code_objects[0].audit.problems | length > 0)' "$tmp/out" >/dev/null && ! grep -q 'decodes cleanly' "$tmp/out"; then
	result isa-undecodable-text PASS "gfx1030 .text of 0xFF bytes: 'not audited' finding, override 'partly_audited', exit 1"
else
	result isa-undecodable-text FAIL "exit $rc: $(head -c 400 "$tmp/out")"
fi
capture "$tmp/out" "$tmp/err" bounded "$tool" isa --json "$tmp/sym-outside.co"
if [ "$rc" = 1 ] && jq -e '[.files[0].code_objects[0].audit.problems[]? | select(test("outside"))] | length > 0' "$tmp/out" >/dev/null; then
	result isa-symbols-outside PASS "symbols past the end of .text: reported as not audited, exit 1"
else
	result isa-symbols-outside FAIL "exit $rc: $(head -c 400 "$tmp/out")"
fi
capture "$tmp/out" "$tmp/err" bounded "$tool" isa --json "$tmp/zero-entry.hipfb"
if [ "$rc" = 1 ] && jq -e '[.files[0].problems[]? | select(test("empty|0 bytes"))] | length > 0' "$tmp/out" >/dev/null; then
	result isa-zero-size-entry PASS "a zero-size gfx1010 bundle entry: reported, exit 1"
else
	result isa-zero-size-entry FAIL "exit $rc: $(head -c 400 "$tmp/out")"
fi

# --- A real ROCm library from Debian bookworm ---
debs="$VMFIX_CACHE/debs/bookworm"
mkdir -p "$debs" "$VMFIX_CACHE/isa" "$VMFIX_CACHE/locks"
# The cache is shared by parallel runs: download and extraction happen under the package's lock
# (the one scripts/lib/kernels.sh takes for downloads), extraction into a stage renamed into place.
fetch_rocrand() {
	local deb stage
	deb=$(find "$debs" -maxdepth 1 -name 'librocrand1_*_amd64.deb' | sort | tail -n1)
	if [ -z "$deb" ]; then
		(cd "$debs" && apt-get download -q librocrand1 >"$tmp/apt.log" 2>&1) || return 1
		deb=$(find "$debs" -maxdepth 1 -name 'librocrand1_*_amd64.deb' | sort | tail -n1)
		[ -n "$deb" ] || return 1
	fi
	x="$VMFIX_CACHE/isa/$(basename "$deb" .deb)"
	if [ ! -d "$x" ]; then
		stage=$(mktemp -d "$VMFIX_CACHE/isa/.stage.XXXXXX")
		dpkg-deb -x "$deb" "$stage" && mv "$stage" "$x" || return 1
	fi
	printf '%s\n' "$deb"
}
deb=$( (
	flock 9
	fetch_rocrand
) 9>"$VMFIX_CACHE/locks/deb-librocrand1.lock") || deb=""
if [ -z "$deb" ]; then
	result isa-debian-rocrand FAIL "apt-get download librocrand1 failed: $(tail -n2 "$tmp/apt.log" 2>/dev/null)"
else
	x="$VMFIX_CACHE/isa/$(basename "$deb" .deb)"
	lib=$(find "$x" -name 'librocrand.so.*' -type f | head -n1)
	"$tool" isa --list-only --json "$lib" >"$tmp/rocrand.json"
	jq -r '.files[0].code_objects[] | select(.container.index == 0) | .bundle_id' "$tmp/rocrand.json" | sort >"$tmp/ours"
	objcopy -O binary --only-section=.hip_fatbin "$lib" "$tmp/fat.hipfb"
	clang-offload-bundler-15 --list --type=o --input="$tmp/fat.hipfb" | grep amdgcn | sort >"$tmp/theirs"
	expect="gfx1030 gfx803 gfx900:xnack- gfx906:xnack- gfx908:xnack- gfx90a:xnack+ gfx90a:xnack-"
	got=$(jq -r '[.files[0].code_objects[].target_id] | unique | join(" ")' "$tmp/rocrand.json")
	if cmp -s "$tmp/ours" "$tmp/theirs" && [ -s "$tmp/ours" ] && [ "$got" = "$expect" ]; then
		result isa-debian-rocrand PASS "$(basename "$deb"): $(wc -l <"$tmp/ours") objects, targets '$got' (= clang-offload-bundler --list); no gfx1010"
	else
		result isa-debian-rocrand FAIL "ours [$(tr '\n' ' ' <"$tmp/ours")] bundler [$(tr '\n' ' ' <"$tmp/theirs")] targets '$got'"
	fi
	# e_flags of the unbundled gfx1030 object, read by llvm-readelf, agree with the listing.
	clang-offload-bundler-15 --unbundle --type=o --input="$tmp/fat.hipfb" \
		--targets=hipv4-amdgcn-amd-amdhsa--gfx1030 --output="$tmp/r1030.co"
	flags=$(llvm-readelf-15 -h "$tmp/r1030.co" | awk '/Flags:/ {print $2}')
	ours_flags=$(jq -r '.files[0].code_objects[] | select(.processor == "gfx1030") | .e_flags' "$tmp/rocrand.json")
	if [ -n "$flags" ] && [ "$((flags))" = "$((ours_flags))" ]; then
		result isa-debian-eflags PASS "gfx1030 object e_flags $ours_flags = llvm-readelf"
	else
		result isa-debian-eflags FAIL "llvm-readelf '$flags' vs isa '$ours_flags'"
	fi
	capture "$tmp/out" "$tmp/err" "$tool" isa --json "$lib"
r=$rc
	v=$(jq -r '.files[0].verdict + " " + .files[0].override_10_3_0' "$tmp/out" 2>/dev/null || true)
	n=$(jq '[.files[0].code_objects[] | select(.audited)] | length' "$tmp/out" 2>/dev/null || echo 0)
	if [ "$r" = 1 ] && [ "$n" -ge 1 ] && case "$v" in incompatible_not_loadable* | would_misbehave_under_override*) true ;; *) false ;; esac then
		result isa-debian-audit PASS "audit for gfx1010: exit 1, verdict/override '$v', $n gfx10 object(s) disassembled"
	else
		result isa-debian-audit FAIL "exit $r verdict '$v' audited $n"
	fi
fi

# --- libFuzzer: the container/ELF reader's regression inputs, then a short run (tests/fuzz/) ---
fuzz_suite_run isa_containers "${VMFIX_FUZZ_SECONDS:-30}"
report_counts
