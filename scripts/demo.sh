#!/usr/bin/env bash
# make demo: boots a real Debian kernel under QEMU (no GPU needed), loads its real amdgpu.ko and
# rdna1_vmfix, and shows what amdgpu's own PTE-flag function returned for a cache-coherent (CC)
# request and what the module did with it in audit and in enforce mode.
# Usage: scripts/demo.sh [--kernel LABEL] [--no-setup] [--verbose]
#   --kernel LABEL  6.1, 6.12 (default: boots fastest here, and has both request-level hooks), 7.2, 7.3
#   --no-setup      do not install missing packages (as root the demo runs scripts/setup.sh)
# Exit: 0 demo ran, 1 the module did not behave as documented, 2 usage, 4 environment.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/lib/kernels.sh
. "$VMFIX_ROOT/scripts/lib/kernels.sh"
# shellcheck source=scripts/lib/qemu.sh
. "$VMFIX_ROOT/scripts/lib/qemu.sh"

label=6.12 setup=1
opts=$(getopt -o h --long kernel:,no-setup,verbose,help -n demo.sh -- "$@") || exit 2
eval set -- "$opts"
while true; do
	case "$1" in
	--kernel) label=$2; shift 2 ;;
	--no-setup) setup=0; shift ;;
	--verbose) set -x; shift ;;
	-h | --help) sed -n '2,9p' "$0" | sed 's/^# //'; exit 0 ;;
	--) shift; break ;;
	esac
done
kernel_suite "$label" >/dev/null

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

# --- set-up: packages (root) or a clear instruction
if [ "$(id -u)" -eq 0 ]; then
	[ "$setup" -eq 0 ] || "$VMFIX_ROOT/scripts/setup.sh" core kernel qemu >&2 ||
		die "scripts/setup.sh failed; see above" 4
else
	for t in qemu-system-x86_64 busybox cpio cmake ninja; do
		command -v "$t" >/dev/null 2>&1 || die "missing $t: run 'sudo make deps' first" 4
	done
	if ! [ -w "$VMFIX_CACHE" ]; then
		# the system cache belongs to root: keep this user's pieces in their own cache, and use the
		# package lists that 'sudo make deps' fetched (a non-root user cannot refresh them)
		sys_cache=$VMFIX_CACHE
		VMFIX_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rdna1-vmfix"
		export VMFIX_CACHE
		mkdir -p "$VMFIX_CACHE"
		[ -f "$sys_cache/.apt-updated" ] || die "run 'sudo make deps' first (no package lists yet)" 4
		touch -r "$sys_cache/.apt-updated" "$VMFIX_CACHE/.apt-updated"
		log "demo: using $VMFIX_CACHE (not root)"
	fi
fi

# --- the host's own decoder (rdna1-vmfix pte), built if needed
tool="$VMFIX_ROOT/build/userspace/rdna1-vmfix"
if [ ! -x "$tool" ]; then
	log "demo: building the rdna1-vmfix command (once)"
	{ cmake -S "$VMFIX_ROOT" -B "$VMFIX_ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		ninja -C "$VMFIX_ROOT/build" rdna1-vmfix; } >"${build_log:=$(mktemp "$VMFIX_CACHE/demo-build.XXXXXX.log")}" 2>&1 ||
		log "demo: rdna1-vmfix did not build ($build_log); PTE decodes will be brief"
fi
mtype_name() { case $(((($1) >> 48) & 7)) in 0) echo NC ;; 1) echo WC ;; 2) echo CC ;; 3) echo UC ;; *) echo reserved ;; esac; }
decode() {
	local v=$1
	if [ -x "$tool" ]; then
		"$tool" pte "$v" | grep -E '^ +(valid|system|snooped|mtype) ' | sed 's/^/        /'
	else
		printf '        mtype %s, snooped %d, system %d, valid %d\n' "$(mtype_name "$v")" \
			$(((v >> 2) & 1)) $(((v >> 1) & 1)) $((v & 1))
	fi
}

# --- boot, with progress lines while the guest works
# a log of this run's own (two demos on one machine never share one), kept for the reader
mkdir -p "$VMFIX_CACHE/qemu/logs"
log_file=$(mktemp "$VMFIX_CACHE/qemu/logs/demo-$label.XXXXXX.log")
chmod 644 "$log_file"
say "rdna1-vmfix demo: Debian kernel $(kernel_release "$label") under QEMU (TCG, software CPU: slow, no GPU)"
rc_file=$(mktemp)
(
	rc=0
	qemu_run "$label" demo "$log_file" 300 || rc=$?
	echo "$rc" >"$rc_file"
) &
runner=$!
seen=""
t0=$(date +%s)
progress() {
	local pat=$1 msg=$2
	case " $seen " in *" $pat "*) return ;; esac
	if [ -f "$log_file" ] && tr -d '\r' <"$log_file" | grep -aq "$pat"; then
		say "  [$(($(date +%s) - t0))s] $msg"
		seen="$seen $pat"
	fi
}
while kill -0 "$runner" 2>/dev/null; do
	progress 'Linux version\|SeaBIOS' "virtual machine started, kernel booting"
	progress 'vmfix-guest start' "kernel up, busybox init running"
	progress 'DEMO amdgpu' "real amdgpu.ko loaded (no GPU: it registers its PCI driver and binds nothing)"
	progress 'DEMO hook' "rdna1_vmfix loaded, hooks armed on amdgpu's own functions"
	progress 'DEMO step=cc mode=enforce' "audit and enforce runs done"
	sleep 1
done
wait "$runner" || true
rc=$(cat "$rc_file")
rm -f "$rc_file"
[ "$rc" -eq 0 ] || die "the guest did not finish (status $rc): $(qemu_log_hint "$log_file"); log: $log_file" 4
lines=$(tr -d '\r' <"$log_file" | grep -a '^DEMO ' | sed 's/^DEMO //')
if printf '%s\n' "$lines" | grep -q '^error='; then
	die "guest: $(printf '%s\n' "$lines" | grep -m1 '^error=') (log: $log_file)" 4
fi
field() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print substr($0, length(k) + 2); exit }'; }
line_of() { printf '%s\n' "$lines" | grep -m1 "^$1" || true; }

kver=$(field "$(line_of kernel=)" kernel)
step "What ran"
say "  Kernel $kver (Debian's own image), its own amdgpu.ko, and rdna1_vmfix built against its headers."
say "  There is no GPU. A test-only companion module registers a synthetic device with rdna1_vmfix as"
say "  an amdgpu-bound Navi10 (PCI 1002:731f, RDNA1) and another as Navi21 (1002:73bf, RDNA2), and calls"
say "  amdgpu's real gmc_v10_0_get_vm_pte() (the function that turns a mapping request into GPU page-table"
say "  flags) for them. The flags it returns are then passed through rdna1_vmfix's real chokepoint handler"
say "  (the code its kprobe on amdgpu_vm_ptes_update runs on every page-table write)."
say "  Hooks armed on this kernel:"
printf '%s\n' "$lines" | grep '^hook ' | while read -r l; do
	say "    $(field "$l" symbol) ($(field "$l" kind), $(field "$l" role), armed=$(field "$l" armed))"
done

status=0
cc_a=$(line_of 'step=cc mode=audit')
cc_e=$(line_of 'step=cc mode=enforce')
uc_e=$(line_of 'step=uc_nosnoop mode=enforce')
r2=$(line_of 'step=rdna2')
drv=$(field "$cc_a" get_vm_pte)
step "1. What the real driver returned for a CC request (Navi10, cached system page)"
say "    gmc_v10_0_get_vm_pte -> $drv"
decode "$drv"
[ "$(mtype_name "$drv")" = CC ] || { say "  UNEXPECTED: the driver did not return MTYPE CC"; status=1; }

step "2. Audit mode: nothing is changed, the would-be rewrite is counted"
say "    page-table flags after rdna1_vmfix: $(field "$cc_a" chokepoint)  (unchanged)"
ca=$(line_of 'counters mode=audit after=cc ')
say "    counters: seen_cc=$(field "$ca" seen_cc) would_rewrite=$(field "$ca" would_rewrite) rewritten=$(field "$ca" rewritten) req_cc_get_vm_pte=$(field "$ca" req_cc_get_vm_pte) req_cc_map_mtype=$(field "$ca" req_cc_map_mtype)"
[ "$(field "$cc_a" chokepoint)" = "$drv" ] || { say "  UNEXPECTED: audit changed the flags"; status=1; }

step "3. Enforce mode: CC becomes NC (cc_to=nc), every other bit is kept"
new=$(field "$cc_e" chokepoint)
say "    $(field "$cc_e" get_vm_pte) -> $new"
decode "$new"
[ "$(mtype_name "$new")" = NC ] || { say "  UNEXPECTED: enforce did not write NC"; status=1; }
say "  Fine-grained emulation: an uncached (UC) system page without SNOOPED gets SNOOPED:"
say "    $(field "$uc_e" get_vm_pte) -> $(field "$uc_e" chokepoint)"
decode "$(field "$uc_e" chokepoint)"
ce=$(line_of 'counters mode=enforce after=cc+uc ')
say "    counters after both requests: rewritten=$(field "$ce" rewritten) rule_cc_downgrade=$(field "$ce" rule_cc_downgrade) rule_uc_snoop=$(field "$ce" rule_uc_snoop)"
printf '%s\n' "$lines" | grep '^recent mode=enforce' | sed 's/^recent mode=enforce /    recent: /'

step "4. The RDNA2 device (same gmc_v10_0 code) is never touched, even in enforce"
say "    $(field "$r2" get_vm_pte) -> $(field "$r2" chokepoint)  (counted under 'other': $(line_of 'other ' | cut -d' ' -f2-))"
[ "$(field "$r2" get_vm_pte)" = "$(field "$r2" chokepoint)" ] || { say "  UNEXPECTED: RDNA2 flags changed"; status=1; }

step "What this shows, and what it does not"
say "  Shown: on this real kernel and driver binary the module finds and hooks amdgpu's functions, and"
say "  its policy turns the driver's own CC output into NC (enforce) or only counts it (audit)."
say "  Not shown: any GPU behaviour. Stock kernels do not map CC on gfx10 unless userspace asks for it,"
say "  and most RDNA1 'memory access fault' crashes have other causes (see README and 'rdna1-vmfix doctor')."
say "  Kernel log problems in the guest: $(field "$(line_of dmesg_problems=)" dmesg_problems). Full log: $log_file"
exit "$status"
