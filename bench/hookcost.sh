#!/usr/bin/env bash
# Hook cost inside a QEMU guest of a matrix kernel, ratios from one boot:
#  - the real amdgpu gmc_v10_0_get_vm_pte called in a loop with no hook, with rdna1_vmfix in off (no
#    probe armed: goal 1.00), audit (attribution kretprobes) and enforce (chokepoint only: the
#    request-level function is not probed), and empty kretprobe/fprobe for the mechanism;
#  - the chokepoint: a stand-in with amdgpu_vm_ptes_update's prototype (the real one cannot run
#    without a GPU) under a kprobe with rdna1_vmfix's real pre-handler against an empty kprobe on the
#    same function (goal <= 1.3x). TCG emulates the CPU in software: absolute times are inflated many times, and traps and
# trampolines are inflated more than plain code, so the ratios are indicative only.
# Each figure is the best of its series (best of 5 rounds of N calls, modes alternated 3 times).
# Usage: bench/hookcost.sh [--kernel LABEL]... [--calls N] [--limit S] [--verbose]   (default: every matrix
# kernel; --limit: seconds one guest boot may take, default 900: a loaded 2-core host needs it)
# Prints BENCH<TAB>name<TAB>value<TAB>unit<TAB>goal<TAB>PASS|FAIL|INFO<TAB>notes lines.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
# shellcheck source=scripts/lib/qemu.sh
. "$VMFIX_ROOT/scripts/lib/qemu.sh"

labels=() calls=20000 limit=900
opts=$(getopt -o h --long kernel:,calls:,limit:,verbose,help -n hookcost.sh -- "$@") || exit 2
eval set -- "$opts"
while true; do
	case "$1" in
	--kernel) labels+=("$2"); shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--limit) limit=$2; shift 2 ;;
	--verbose) set -x; shift ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# //'; exit 0 ;;
	--) shift; break ;;
	esac
done
[ ${#labels[@]} -gt 0 ] || read -r -a labels <<<"$(matrix_labels)"
[[ "$calls" =~ ^[0-9]+$ ]] || die "--calls needs a number" 2
[[ "$limit" =~ ^[1-9][0-9]*$ ]] || die "--limit needs a number of seconds" 2
[ "$(id -u)" -eq 0 ] || die "needs root (kernel packages, chroot): sudo bench/hookcost.sh" 4

bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
# verdict RATIO LIMIT
verdict() { awk -v r="$1" -v l="$2" 'BEGIN { print (r != "nan" && r <= l) ? "PASS" : "FAIL" }'; }

broken=0
hc_work=$(mktemp -d)
trap 'rm -rf "$hc_work"' EXIT
for label in "${labels[@]}"; do
	# private log (a parallel run boots the same kernel); a copy goes to the shared cache after
	log_file="$hc_work/$label-bench.log"
	rc=0
	(QEMU_GUEST_ENV="BENCH_N=$calls" qemu_run "$label" bench "$log_file" "$limit") || rc=$?
	[ ! -f "$log_file" ] || publish_log "$log_file" "$VMFIX_CACHE/qemu/logs/$label-bench.log" || true
	kver=$(kernel_release "$label")
	raw=$(tr -d '\r' <"$log_file" 2>/dev/null | grep -a '^BENCH' || true)
	# best (lowest) sample of a series; a non-number (e.g. "unsupported") if that is all there is
	get() {
		printf '%s\n' "$raw" | awk -v n="$1" '$1 == "BENCHRAW" && $2 == n {
			if ($3 ~ /^[0-9.]+$/) { if (best == "" || $3 + 0 < best + 0) best = $3 } else other = $3 }
			END { print (best != "" ? best : other) }'
	}
	# "min-max ns" over a series, for the notes
	spread() {
		printf '%s\n' "$raw" | awk -v n="$1" '$1 == "BENCHRAW" && $2 == n && $3 ~ /^[0-9.]+$/ {
			if (lo == "" || $3 + 0 < lo + 0) lo = $3; if (hi == "" || $3 + 0 > hi + 0) hi = $3 }
			END { if (lo != "") printf "%s-%s ns", lo, hi }'
	}
	base=$(get unhooked)
	if [ "$rc" -ne 0 ] || [ -z "$base" ] || printf '%s\n' "$raw" | grep -q '^BENCHERR'; then
		log "hookcost: $label failed (status $rc): $(printf '%s\n' "$raw" | grep -m1 BENCHERR || qemu_log_hint "$log_file")"
		broken=$((broken + 1))
		continue
	fi
	note="$kver, QEMU TCG: absolute times inflated"
	bench "hookcost $label unhooked" "$base" "ns/call" "-" INFO "real gmc_v10_0_get_vm_pte$([ "${label%%.*}" = 6 ] && echo ' + map_mtype'), $note"
	v=$(get off)
	r=$(ratio "$v" "$base")
	bench "hookcost $label off" "$r" "x unhooked" "<=1.05x" "$(verdict "$r" 1.05)" "mode=off: no probe armed, best $v ns/call (samples $(spread off)), $note"
	v=$(get audit)
	bench "hookcost $label audit" "$(ratio "$v" "$base")" "x unhooked" "-" INFO "audit: attribution kretprobes on get_vm_pte$([ "${label%%.*}" = 6 ] && echo ' and map_mtype') (scoped device), best $v ns/call (samples $(spread audit)), $note"
	v=$(get enforce)
	r=$(ratio "$v" "$base")
	bench "hookcost $label enforce-get_vm_pte" "$r" "x unhooked" "<=1.05x" "$(verdict "$r" 1.05)" "enforce: only the chokepoint is probed, get_vm_pte runs bare, best $v ns/call, $note"
	ve=$(get standin-empty) vv=$(get standin-vmfix) vn=$(get standin-none)
	r=$(ratio "$vv" "$ve")
	bench "hookcost $label chokepoint-vs-empty-kprobe" "$r" "x empty kprobe" "<=1.3x" "$(verdict "$r" 1.3)" "kprobe with rdna1_vmfix's pre-handler $vv ns/call vs empty kprobe $ve ns/call on a stand-in with amdgpu_vm_ptes_update's prototype (bare $vn ns/call), CC->NC rewrite on a scoped device, $note"
	for k in kretprobe fprobe; do
		v=$(get "empty-$k")
		if [[ "$v" =~ ^[0-9.]+$ ]]; then
			bench "hookcost $label empty-$k" "$(ratio "$v" "$base")" "x unhooked" "-" INFO "mechanism only (empty handlers), best $v ns/call (samples $(spread "empty-$k")), $note"
		else
			bench "hookcost $label empty-$k" "n/a" "-" "-" INFO "not available on $kver"
		fi
	done
	bench "hookcost $label chokepoint-handler" "$(get chokepoint-handler)" "ns/call" "-" INFO "rdna1_vmfix's amdgpu_vm_ptes_update handler called directly (no probe trap), CC->NC, $note"
	log "hookcost: $label done; probe hits/missed on get_vm_pte: $(printf '%s\n' "$raw" | awk '$2 == "hits" { print $3 "/" $4 }')"
done
[ "$broken" -eq 0 ] || exit 4
