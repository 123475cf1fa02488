# shellcheck shell=sh
# The QEMU system checks of one kernel (sourced by /init after lib.sh): real amdgpu.ko, real
# rdna1_vmfix.ko, and the companion driving the real gmc_v10_0_* PTE-flag code. One TAP line per check.

# Starting PTE flags as amdgpu_vm_bo_update has them before get_vm_pte (gart default MTYPE UC):
SYS=0x0003000000000077	# VALID SYSTEM SNOOPED EXEC READ WRITE, MTYPE UC (cached system page)
SYS_NOSNOOP=0x0003000000000073	# same without SNOOPED (USWC system page)
VRAM=0x0003000000000071	# VALID EXEC READ WRITE, MTYPE UC (VRAM)

hex() { printf '0x%016x' "$1"; }
with_mtype() { hex $((($1 & ~(7 << 48)) | ($2 << 48))); }

# call_expect NAME DEV REQ IN WANT_GET_VM_PTE WANT_CHOKEPOINT [extra reason]
# The driver's own result and the chokepoint handler's result must both match.
LAST_CALL=""
call_expect() {
	LAST_CALL=$(comp call "$2" "$3" "$4")
	_g=$(kv "$LAST_CALL" get_vm_pte)
	_c=$(kv "$LAST_CALL" chokepoint)
	_rc=$(kv "$LAST_CALL" chokepoint_rc)
	if [ "$_rc" = 0 ] && [ "$_g" = "$5" ] && [ "$_c" = "$6" ]; then
		return 0
	fi
	echo "# $1: got get_vm_pte=$_g chokepoint=$_c rc=$_rc, want $5 -> $6 ($LAST_CALL)"
	return 1
}

tap_begin
rel=$(uname -r)
echo "# kernel $rel"

# 1. rdna1_vmfix first: it waits for amdgpu, then arms when amdgpu arrives
if insmod_vmfix mode=audit && wait_state waiting; then
	tap ok vmfix-load "loaded before amdgpu: state waiting, abi $(vstatus abi), mode $(vstatus mode)"
else
	tap fail vmfix-load "insmod: $(cat /tmp/insmod.err) state=$(vstatus state 2>/dev/null)"
	echo "Bail out! rdna1_vmfix did not load"
	tap_end
	return 0
fi

# 2. the real amdgpu.ko and its dependencies
if load_amdgpu; then
	tap ok amdgpu-load "$(wc -l </modules/amdgpu.order) modules, amdgpu.ko of $rel loaded without a GPU"
else
	tap fail amdgpu-load "insmod failed: $(cat /tmp/insmod.err)"
	echo "Bail out! amdgpu did not load"
	tap_end
	return 0
fi
# amdgpu's gmc_v10_0 symbols, read once (/proc/kallsyms is slow under TCG)
grep ' gmc_v10_0_\| amdgpu_vm_ptes_update' /proc/kallsyms | awk '{ print $3 }' >/tmp/ksyms
new_api=0
grep -qx gmc_v10_0_map_mtype /tmp/ksyms || new_api=1
if grep -qx gmc_v10_0_get_vm_pte /tmp/ksyms; then
	if [ "$new_api" = 1 ]; then syms="gmc_v10_0_get_vm_pte (no map_mtype: 6.18+ API)"; else syms="gmc_v10_0_get_vm_pte gmc_v10_0_map_mtype"; fi
	tap ok amdgpu-symbols "$syms in /proc/kallsyms"
else
	tap fail amdgpu-symbols "gmc_v10_0_get_vm_pte not in /proc/kallsyms"
fi

hooks_ok() {
	_bad=""
	for h in ptes_update get_vm_pte; do
		[ "$(vhook $h armed)" = 1 ] || _bad="$_bad $h"
	done
	if [ "$new_api" = 0 ] && [ "$(vhook map_mtype armed)" != 1 ]; then _bad="$_bad map_mtype"; fi
	# shellcheck disable=SC2013 # symbol names are single words
	for s in $(awk '$1 == "hook" && / armed=1 / { sub(/^symbol=/, "", $3); print $3 }' "$VMFIX_SYS/status"); do
		grep -qx "$s" /tmp/ksyms || _bad="$_bad $s(not-in-kallsyms)"
	done
	[ -z "$_bad" ] || echo "# not armed:$_bad"
	[ -z "$_bad" ]
}
if wait_state armed && hooks_ok; then
	tap ok load-before-amdgpu "state waiting without amdgpu, armed once amdgpu loaded"
else
	tap fail load-before-amdgpu "state=$(vstatus state) reason=$(vstatus reason)"
fi
armed_list() { awk '$1 == "hook" && /armed=1/ { sub(/^symbol=/, "", $3); sub(/^kind=/, "", $4); printf "%s%s(%s)", sep, $3, $4; sep = "," }' "$VMFIX_SYS/status"; }
check hooks-armed "$(armed_list)" "$(grep '^hook' "$VMFIX_SYS/status" | tr '\n' ';')" hooks_ok

if ! insmod /modules/vmfix_companion.ko 2>/tmp/insmod.err; then
	tap fail companion-load "$(cat /tmp/insmod.err)"
	echo "Bail out! the companion did not load"
	tap_end
	return 0
fi

# 3. synthetic devices: one RDNA1 (scoped), one RDNA2 (never touched)
att=$(comp attach)
if [ "$(kv "$att" rc)" = 0 ] && grep -q '^device .*pci=1002:731f.*scoped=1' "$VMFIX_SYS/status" &&
	! grep -q '^device .*pci=1002:73bf.*scoped=1' "$VMFIX_SYS/status"; then
	tap ok synthetic-devices "1002:731f scoped=1, 1002:73bf not scoped"
else
	tap fail synthetic-devices "$att / $(grep '^device' "$VMFIX_SYS/status" | tr '\n' ';')"
fi

# 4. policy per mode on the flags the real driver function produced
CC_SYS=$(with_mtype $SYS 2)
role=$(vhook get_vm_pte role)
# the request-level hook only attributes (role=attribute): the driver's own result stays CC
pte_after() { if [ "$role" = enforce ] && [ "$(vparam mode)" = enforce ]; then echo "$1"; else echo "$2"; fi; }

vset cc_to nc >/dev/null
vset coherent snoop >/dev/null
vset mode off >/dev/null
vreset
if call_expect policy-off rdna1 cc $SYS "$CC_SYS" "$CC_SYS"; then
	tap ok policy-off "CC request: driver $CC_SYS, chokepoint leaves it"
else
	tap fail policy-off "$LAST_CALL"
fi

vset mode audit >/dev/null
vreset
if call_expect policy-audit rdna1 cc $SYS "$CC_SYS" "$CC_SYS" &&
	[ "$(counter device would_rewrite)" -ge 1 ] && [ "$(counter device rewritten)" = 0 ] &&
	[ "$(counter device rule_cc_downgrade)" -ge 1 ]; then
	tap ok policy-audit "flags unchanged ($CC_SYS), would_rewrite=$(counter device would_rewrite) rewritten=0 rule_cc_downgrade=$(counter device rule_cc_downgrade)"
else
	tap fail policy-audit "$LAST_CALL; $(grep '^device' "$VMFIX_SYS/counters")"
fi

# attribution: the request-level hooks on the real functions saw the CC request of this device
req_ok() {
	[ "$(counter device req_cc_get_vm_pte)" -ge 1 ] || return 1
	[ "$new_api" = 1 ] || [ "$(counter device req_cc_map_mtype)" -ge 1 ]
}
check attribution-counters \
	"req_cc_get_vm_pte=$(counter device req_cc_get_vm_pte) req_cc_map_mtype=$(counter device req_cc_map_mtype) seen_cc=$(counter device seen_cc)" \
	"$(grep '^device' "$VMFIX_SYS/counters")" req_ok

vset mode enforce >/dev/null
vreset
NC_SYS=$(with_mtype $SYS 0)
if call_expect policy-enforce rdna1 cc $SYS "$(pte_after "$NC_SYS" "$CC_SYS")" "$NC_SYS" &&
	[ "$(counter device rewritten)" -ge 1 ]; then
	tap ok policy-enforce "CC $CC_SYS -> NC $NC_SYS at the chokepoint, rewritten=$(counter device rewritten)"
else
	tap fail policy-enforce "$LAST_CALL; $(grep '^device' "$VMFIX_SYS/counters")"
fi
if grep -q "^rewrite .*old=$CC_SYS new=$NC_SYS" "$VMFIX_SYS/recent"; then
	tap ok recent-ring "$(grep -m1 '^rewrite' "$VMFIX_SYS/recent" | cut -d' ' -f2-6)"
else
	tap fail recent-ring "no rewrite old=$CC_SYS new=$NC_SYS in recent: $(tail -n 2 "$VMFIX_SYS/recent" | tr '\n' ';')"
fi

# the same handler on a real kprobe: a stand-in with amdgpu_vm_ptes_update's prototype, probed on
# this kernel's kprobe mechanism (ftrace-based on IBT kernels); the function must receive the new r8
standin_ok() {
	_e=$(comp standin rdna1 "$CC_SYS")
	[ "$(kv "$_e" seen)" = "$NC_SYS" ] || { echo "# enforce: $_e"; return 1; }
	_r=$(comp standin rdna2 "$CC_SYS")
	[ "$(kv "$_r" seen)" = "$CC_SYS" ] || { echo "# rdna2: $_r"; return 1; }
	vset mode audit >/dev/null
	_a=$(comp standin rdna1 "$CC_SYS")
	vset mode enforce >/dev/null
	[ "$(kv "$_a" seen)" = "$CC_SYS" ] || { echo "# audit: $_a"; return 1; }
}
check chokepoint-kprobe "kprobe with the real pre-handler: probed function received $NC_SYS for $CC_SYS (enforce), $CC_SYS (audit, RDNA2)" \
	"the probed function did not receive the expected flags" standin_ok

VRAM_CC=$(with_mtype $VRAM 2)
VRAM_NC=$(with_mtype $VRAM 0)
if call_expect policy-enforce-vram rdna1 cc $VRAM "$(pte_after "$VRAM_NC" "$VRAM_CC")" "$VRAM_NC"; then
	tap ok policy-enforce-vram "VRAM CC $VRAM_CC -> NC $VRAM_NC"
else
	tap fail policy-enforce-vram "$LAST_CALL"
fi

# fine-grained emulation: a UC system page gains SNOOPED
UC_NOSNOOP=$(with_mtype $SYS_NOSNOOP 3)
UC_SNOOP=$(with_mtype $SYS 3)
vreset
if call_expect policy-enforce-uc-snoop rdna1 uc $SYS_NOSNOOP "$(pte_after "$UC_SNOOP" "$UC_NOSNOOP")" "$UC_SNOOP" &&
	[ "$(counter device rule_uc_snoop)" -ge 1 ]; then
	tap ok policy-enforce-uc-snoop "UC system $UC_NOSNOOP -> $UC_SNOOP (SNOOPED), rule_uc_snoop=$(counter device rule_uc_snoop)"
else
	tap fail policy-enforce-uc-snoop "$LAST_CALL"
fi

vset cc_to uc >/dev/null
CC_NOSNOOP=$(with_mtype $SYS_NOSNOOP 2)
if call_expect policy-enforce-cc_to-uc rdna1 cc $SYS_NOSNOOP "$(pte_after "$UC_SNOOP" "$CC_NOSNOOP")" "$UC_SNOOP"; then
	tap ok policy-enforce-cc_to-uc "cc_to=uc: CC system $CC_NOSNOOP -> UC+SNOOPED $UC_SNOOP"
else
	tap fail policy-enforce-cc_to-uc "$LAST_CALL"
fi
vset cc_to nc >/dev/null

vset coherent all >/dev/null
NC_NOSNOOP=$(with_mtype $SYS_NOSNOOP 0)
vreset
if call_expect policy-enforce-coherent-all rdna1 nc $SYS_NOSNOOP "$(pte_after "$UC_SNOOP" "$NC_NOSNOOP")" "$UC_SNOOP" &&
	[ "$(counter device rule_coherent_all)" -ge 1 ]; then
	tap ok policy-enforce-coherent-all "coherent=all: NC system $NC_NOSNOOP -> UC+SNOOPED $UC_SNOOP"
else
	tap fail policy-enforce-coherent-all "$LAST_CALL"
fi

# RDNA2 (1002:73bf) shares gmc_v10_0: with every rule on, its flags must pass untouched
vset cc_to uc >/dev/null
vreset
before=$(grep '^device' "$VMFIX_SYS/counters")
CC2=$(with_mtype $SYS_NOSNOOP 2)
if call_expect rdna2-untouched rdna2 cc $SYS_NOSNOOP "$CC2" "$CC2" &&
	[ "$(grep '^device' "$VMFIX_SYS/counters")" = "$before" ] && [ "$(counter other ranges)" -ge 1 ]; then
	tap ok rdna2-untouched "enforce+cc_to=uc+coherent=all: RDNA2 CC $CC2 unchanged, counted under other (ranges=$(counter other ranges))"
else
	tap fail rdna2-untouched "$LAST_CALL; $(tr '\n' ';' <"$VMFIX_SYS/counters")"
fi
vset cc_to nc >/dev/null
vset coherent snoop >/dev/null

# 5. run-time parameters: every value reads back and shows in status; invalid values change nothing
toggle() {
	_p=$1
	shift
	for _v in "$@"; do
		_e=$(vset "$_p" "$_v") || { echo "# $_p=$_v: $_e"; return 1; }
		[ "$(vparam "$_p")" = "$_v" ] || { echo "# $_p reads $(vparam "$_p") after writing $_v"; return 1; }
		[ "$(vstatus "$_p")" = "$_v" ] || { echo "# status $_p is $(vstatus "$_p") after writing $_v"; return 1; }
	done
}
check param-mode "off audit enforce audit read back" "toggle failed" toggle mode off audit enforce audit
check param-cc_to "uc nc read back" "toggle failed" toggle cc_to uc nc
check param-coherent "all snoop read back" "toggle failed" toggle coherent all snoop
check param-devices "0000:03:00.0,0000:0c:00.0 auto read back" "toggle failed" toggle devices 0000:03:00.0,0000:0c:00.0 auto

reject() {
	_p=$1 _v=$2
	_old=$(vparam "$_p")
	_st=$(grep -v '^hook' "$VMFIX_SYS/status")
	_e=$(vset "$_p" "$_v") && { echo "# $_p=$_v was accepted"; return 1; }
	case "$_e" in *"Invalid argument"*) ;; *) echo "# $_p=$_v: $_e (want EINVAL)"; return 1 ;; esac
	[ "$(vparam "$_p")" = "$_old" ] || { echo "# $_p changed to $(vparam "$_p")"; return 1; }
	[ "$(grep -v '^hook' "$VMFIX_SYS/status")" = "$_st" ] || { echo "# status changed"; return 1; }
}
check param-invalid-mode "mode=fast -> EINVAL, unchanged" "not rejected" reject mode fast
check param-invalid-cc_to "cc_to=wc -> EINVAL, unchanged" "not rejected" reject cc_to wc
check param-invalid-coherent "coherent=none -> EINVAL, unchanged" "not rejected" reject coherent none
check param-invalid-devices "devices=0000:zz:00.0 -> EINVAL, unchanged" "not rejected" reject devices 0000:zz:00.0
reset_rejected() {
	_e=$( (echo 2 >"$VMFIX_SYS/reset") 2>&1) && return 1
	case "$_e" in *"Invalid argument"*) return 0 ;; esac
	return 1
}
check reset-invalid "reset=2 -> EINVAL" "reset accepted 2" reset_rejected

# 6. amdgpu goes away and comes back while rdna1_vmfix stays loaded
vset mode enforce >/dev/null
if rmmod amdgpu 2>/tmp/rmmod.err && wait_state waiting && [ "$(vhook ptes_update armed)" = 0 ]; then
	tap ok amdgpu-unload-disarms "rmmod amdgpu: state waiting, hooks armed=0"
else
	tap fail amdgpu-unload-disarms "$(cat /tmp/rmmod.err) state=$(vstatus state)"
fi
if insmod /modules/amdgpu.ko 2>/tmp/insmod.err && wait_state armed && hooks_ok &&
	call_expect amdgpu-reload-rearms rdna1 cc $SYS "$(pte_after "$NC_SYS" "$CC_SYS")" "$NC_SYS"; then
	tap ok amdgpu-reload-rearms "insmod amdgpu: state armed, enforce works on the new amdgpu text"
else
	tap fail amdgpu-reload-rearms "$(cat /tmp/insmod.err) state=$(vstatus state) $LAST_CALL"
fi

comp detach >/dev/null
# 7. 100 load/unload cycles with amdgpu loaded (each load arms the hooks, each unload removes them)
cycles() {
	_i=0
	while [ "$_i" -lt 100 ]; do
		rmmod rdna1_vmfix || { echo "# cycle $_i: rmmod failed"; return 1; }
		insmod_vmfix || { echo "# cycle $_i: $(cat /tmp/insmod.err)"; return 1; }
		[ "$(vstatus state)" = armed ] || { echo "# cycle $_i: state $(vstatus state)"; return 1; }
		_i=$((_i + 1))
	done
	rmmod rdna1_vmfix
}
t0=$(cut -d' ' -f1 /proc/uptime)
if cycles; then
	tap ok load-unload-100 "100 cycles, armed after each load ($(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }') s under TCG)"
else
	tap fail load-unload-100 "a cycle failed (see the comment line above)"
fi
no_probes_left() { ! grep -q 'gmc_v10_0\|amdgpu_vm_ptes_update' /sys/kernel/debug/kprobes/list 2>/dev/null; }
check unload-clean "no kprobe left on amdgpu after unload" "$(grep amdgpu /sys/kernel/debug/kprobes/list | head -n 2 | tr '\n' ';')" no_probes_left

# the real driver function with rdna1_vmfix gone: stock results for every request (and unload
# left nothing behind that changes them)
bad=""
for r in default:0 nc:0 wc:1 cc:2 uc:3; do
	out=$(comp call rdna1 "${r%:*}" $SYS)
	got=$(mtype_of "$(kv "$out" get_vm_pte)")
	[ "$got" = "${r#*:}" ] || bad="$bad ${r%:*}->$got"
done
if [ -z "$bad" ]; then
	tap ok driver-baseline "real get_vm_pte, module unloaded: default/nc->NC wc->WC cc->CC uc->UC"
else
	tap fail driver-baseline "unexpected MTYPE from the real function:$bad ($out)"
fi

# 8. the kernel log
rmmod vmfix_companion 2>/dev/null
probs=$(dmesg_problems | head -n 3 | tr '\n' ';')
if [ -z "$probs" ]; then
	tap ok dmesg-clean "no WARNING/BUG/Oops/KASAN/leak lines ($(dmesg | grep -c 'rdna1_vmfix') rdna1_vmfix lines, taint lines expected)"
else
	tap fail dmesg-clean "$probs"
	dmesg | tail -n 60 | sed 's/^/# dmesg: /'
fi
tap_end
