# shellcheck shell=sh
# The QEMU system checks of one kernel (sourced by /init after lib.sh): real amdgpu.ko, real
# rdna1_vmfix.ko, and the companion driving the real gmc_v10_0_* PTE-flag code. One TAP line per check.
# Each stage is a function; a stage that cannot go on bails out (TAP "Bail out!").

# Starting PTE flags as amdgpu_vm_bo_update has them before get_vm_pte (gart default MTYPE UC):
SYS=0x0003000000000077	# VALID SYSTEM SNOOPED EXEC READ WRITE, MTYPE UC (cached system page)
SYS_NOSNOOP=0x0003000000000073	# same without SNOOPED (USWC system page)
VRAM=0x0003000000000071	# VALID EXEC READ WRITE, MTYPE UC (VRAM)

hex() { printf '0x%016x' "$1"; }
with_mtype() { hex $((($1 & ~(7 << 48)) | ($2 << 48))); }
CC_SYS=$(with_mtype $SYS 2)
NC_SYS=$(with_mtype $SYS 0)

# call_expect DEV REQ IN WANT_GET_VM_PTE WANT_CHOKEPOINT [WANT_RC]: the driver's own result and the
# chokepoint handler's result (and its status, default 0) must all match; LAST_CALL keeps the line.
LAST_CALL=""
call_expect() {
	LAST_CALL=$(comp call "$1" "$2" "$3")
	[ "$(kv "$LAST_CALL" chokepoint_rc)" = "${6:-0}" ] && [ "$(kv "$LAST_CALL" get_vm_pte)" = "$4" ] &&
		[ "$(kv "$LAST_CALL" chokepoint)" = "$5" ] && return 0
	echo "# want get_vm_pte=$4 chokepoint=$5 rc=${6:-0}: $LAST_CALL"
	return 1
}
# check_call NAME OK-REASON DEV REQ IN WANT_GET_VM_PTE WANT_CHOKEPOINT [WANT_RC]
check_call() {
	_n=$1 _ok=$2
	shift 2
	check "$_n" "$_ok" "call: $LAST_CALL" call_expect "$@"
}

# Hooks the current mode needs are armed (and exist in kallsyms), the others are not.
hooks_ok() {
	_bad=""
	_want_attr=0
	[ "$(vparam mode)" = audit ] || [ "$(vparam attribute)" = Y ] && _want_attr=1
	[ "$(vparam mode)" = off ] && _want_attr=0
	_want_chk=1
	[ "$(vparam mode)" = off ] && _want_chk=0
	[ "$(vhook ptes_update armed)" = "$_want_chk" ] || _bad="$_bad ptes_update"
	[ "$(vhook get_vm_pte armed)" = "$_want_attr" ] || _bad="$_bad get_vm_pte"
	_mm=$_want_attr
	[ "$NEW_API" = 1 ] && _mm=0
	[ "$(vhook map_mtype armed)" = "$_mm" ] || _bad="$_bad map_mtype"
	# shellcheck disable=SC2013 # symbol names are single words
	for s in $(awk '$1 == "hook" && / armed=1 / { sub(/^symbol=/, "", $3); print $3 }' "$VMFIX_SYS/status"); do
		grep -qx "$s" /tmp/ksyms || _bad="$_bad $s(not-in-kallsyms)"
	done
	[ -z "$_bad" ] || echo "# mode $(vparam mode): wrong hook state:$_bad"
	[ -z "$_bad" ]
}
armed_list() { awk '$1 == "hook" && /armed=1/ { sub(/^symbol=/, "", $3); sub(/^kind=/, "", $4); printf "%s%s(%s)", sep, $3, $4; sep = "," }' "$VMFIX_SYS/status"; }
no_probes_left() { ! grep -q 'gmc_v10_0\|amdgpu_vm_ptes_update' /sys/kernel/debug/kprobes/list 2>/dev/null; }

stage_load() {
	# rdna1_vmfix first: it waits for amdgpu, then arms when amdgpu arrives
	if ! insmod_vmfix mode=audit || ! wait_state waiting; then
		tap fail vmfix-load "insmod: $(cat /tmp/insmod.err) state=$(vstatus state 2>/dev/null)"
		return 1
	fi
	tap ok vmfix-load "loaded before amdgpu: state waiting, abi $(vstatus abi), mode $(vstatus mode)"
	if ! load_amdgpu; then
		tap fail amdgpu-load "insmod failed: $(cat /tmp/insmod.err)"
		return 1
	fi
	tap ok amdgpu-load "$(wc -l </modules/amdgpu.order) modules, amdgpu.ko of $(uname -r) loaded without a GPU"
	# amdgpu's gmc_v10_0 symbols, read once (/proc/kallsyms is slow under TCG)
	grep ' gmc_v10_0_\| amdgpu_vm_ptes_update' /proc/kallsyms | awk '{ print $3 }' >/tmp/ksyms
	NEW_API=0
	grep -qx gmc_v10_0_map_mtype /tmp/ksyms || NEW_API=1
	check amdgpu-symbols "gmc_v10_0_get_vm_pte$([ "$NEW_API" = 1 ] && echo ' (no map_mtype: 6.18+ API)' || echo ' gmc_v10_0_map_mtype') in /proc/kallsyms" \
		"gmc_v10_0_get_vm_pte not in /proc/kallsyms" grep -qx gmc_v10_0_get_vm_pte /tmp/ksyms
	if wait_state armed && hooks_ok; then
		tap ok load-before-amdgpu "state waiting without amdgpu, armed once amdgpu loaded"
	else
		tap fail load-before-amdgpu "state=$(vstatus state) reason=$(vstatus reason)"
	fi
	check hooks-armed "$(armed_list)" "$(grep '^hook' "$VMFIX_SYS/status" | tr '\n' ';')" hooks_ok
	check abi-verified "abi $(vstatus abi): generated from this amdgpu.ko's BTF, matched /sys/kernel/btf/amdgpu" \
		"abi $(vstatus abi)" [ "$(vstatus abi)" = btf ]
	if ! insmod /modules/vmfix_companion.ko 2>/tmp/insmod.err; then
		tap fail companion-load "$(cat /tmp/insmod.err)"
		return 1
	fi
	# synthetic devices: one RDNA1 (scoped), one RDNA2 (never touched)
	_att=$(comp attach)
	check synthetic-devices "1002:731f scoped=1, 1002:73bf not scoped" \
		"$_att / $(grep '^device' "$VMFIX_SYS/status" | tr '\n' ';')" synthetic_ok "$_att"
}
synthetic_ok() {
	[ "$(kv "$1" rc)" = 0 ] && grep -q '^device .*pci=1002:731f.*scoped=1' "$VMFIX_SYS/status" &&
		! grep -q '^device .*pci=1002:73bf.*scoped=1' "$VMFIX_SYS/status"
}

# mode=off arms no probe at all; the next mode arms them again
mode_off_ok() {
	vset mode off >/dev/null
	[ "$(vstatus state)" = waiting ] && [ "$(vstatus reason)" = mode_off ] && hooks_ok && no_probes_left &&
		call_expect rdna1 cc $SYS "$CC_SYS" "$CC_SYS" -19 || return 1
	vset mode audit >/dev/null
	[ "$(vstatus state)" = armed ] && hooks_ok
}
audit_ok() {
	call_expect rdna1 cc $SYS "$CC_SYS" "$CC_SYS" && [ "$(counter device would_rewrite)" -ge 1 ] &&
		[ "$(counter device rewritten)" = 0 ] && [ "$(counter device rule_cc_downgrade)" -ge 1 ]
}
# attribution: the request-level hooks on the real functions saw the CC request of this device
req_ok() {
	[ "$(counter device req_cc_get_vm_pte)" -ge 1 ] || return 1
	[ "$NEW_API" = 1 ] || [ "$(counter device req_cc_map_mtype)" -ge 1 ]
}
# enforce arms only the chokepoint unless attribute=1
attribute_ok() {
	hooks_ok || return 1
	vset attribute 1 >/dev/null
	hooks_ok && [ "$(vhook get_vm_pte armed)" = 1 ] || return 1
	vset attribute 0 >/dev/null
	hooks_ok && [ "$(vhook get_vm_pte armed)" = 0 ]
}
enforce_ok() { call_expect rdna1 cc $SYS "$CC_SYS" "$NC_SYS" && [ "$(counter device rewritten)" -ge 1 ]; }
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

stage_modes() {
	vset cc_to nc >/dev/null
	vset coherent snoop >/dev/null
	vreset
	check policy-off "mode off: state waiting (mode_off), no probe registered, handler not reachable, driver result CC" \
		"state=$(vstatus state) $(grep '^hook' "$VMFIX_SYS/status" | tr '\n' ';') $LAST_CALL" mode_off_ok
	vset mode audit >/dev/null
	vreset
	check policy-audit "flags unchanged ($CC_SYS), would_rewrite, rewritten=0, rule_cc_downgrade counted" \
		"$LAST_CALL; $(grep '^device' "$VMFIX_SYS/counters")" audit_ok
	check attribution-counters "req_cc_get_vm_pte=$(counter device req_cc_get_vm_pte) req_cc_map_mtype=$(counter device req_cc_map_mtype)" \
		"$(grep '^device' "$VMFIX_SYS/counters")" req_ok
	vset mode enforce >/dev/null
	vreset
	check attribution-on-demand "enforce: chokepoint only; attribute=1 adds get_vm_pte, attribute=0 removes it" \
		"$(grep '^hook' "$VMFIX_SYS/status" | tr '\n' ';')" attribute_ok
	check policy-enforce "CC $CC_SYS -> NC $NC_SYS at the chokepoint" \
		"$LAST_CALL; $(grep '^device' "$VMFIX_SYS/counters")" enforce_ok
	check recent-ring "rewrite old=$CC_SYS new=$NC_SYS in recent (mode 0400)" \
		"recent: $(tail -n 2 "$VMFIX_SYS/recent" | tr '\n' ';') mode $(stat -c %a "$VMFIX_SYS/recent")" recent_ok
	check chokepoint-kprobe "kprobe with the real pre-handler: the probed function received $NC_SYS for $CC_SYS (enforce), $CC_SYS (audit, RDNA2)" \
		"the probed function did not receive the expected flags" standin_ok
}
recent_ok() {
	grep -q "^rewrite .*old=$CC_SYS new=$NC_SYS" "$VMFIX_SYS/recent" && [ "$(stat -c %a "$VMFIX_SYS/recent")" = 400 ]
}

stage_policy() {
	_vcc=$(with_mtype $VRAM 2)
	_vnc=$(with_mtype $VRAM 0)
	check_call policy-enforce-vram "VRAM CC $_vcc -> NC $_vnc" rdna1 cc $VRAM "$_vcc" "$_vnc"
	# fine-grained emulation: a UC system page gains SNOOPED
	_ucn=$(with_mtype $SYS_NOSNOOP 3)
	_ucs=$(with_mtype $SYS 3)
	vreset
	check policy-enforce-uc-snoop "UC system $_ucn -> $_ucs (SNOOPED)" "see the call above" uc_snoop_ok "$_ucn" "$_ucs"
	vset cc_to uc >/dev/null
	_ccn=$(with_mtype $SYS_NOSNOOP 2)
	check_call policy-enforce-cc_to-uc "cc_to=uc: CC system $_ccn -> UC+SNOOPED $_ucs" rdna1 cc $SYS_NOSNOOP "$_ccn" "$_ucs"
	vset cc_to nc >/dev/null
	vset coherent all >/dev/null
	vreset
	check policy-enforce-coherent-all "coherent=all: NC system -> UC+SNOOPED $_ucs" "see the call above" coherent_all_ok "$_ucs"
	# RDNA2 (1002:73bf) shares gmc_v10_0: with every rule on, its flags must pass untouched
	vset cc_to uc >/dev/null
	vreset
	check rdna2-untouched "enforce+cc_to=uc+coherent=all: RDNA2 CC $_ccn unchanged, counted under other" \
		"$LAST_CALL; $(tr '\n' ';' <"$VMFIX_SYS/counters")" rdna2_ok "$_ccn"
	vset cc_to nc >/dev/null
	vset coherent snoop >/dev/null
}
uc_snoop_ok() { call_expect rdna1 uc $SYS_NOSNOOP "$1" "$2" && [ "$(counter device rule_uc_snoop)" -ge 1 ]; }
coherent_all_ok() {
	call_expect rdna1 nc $SYS_NOSNOOP "$(with_mtype $SYS_NOSNOOP 0)" "$1" && [ "$(counter device rule_coherent_all)" -ge 1 ]
}
rdna2_ok() {
	_before=$(grep '^device' "$VMFIX_SYS/counters")
	call_expect rdna2 cc $SYS_NOSNOOP "$1" "$1" && [ "$(grep '^device' "$VMFIX_SYS/counters")" = "$_before" ] &&
		[ "$(counter other ranges)" -ge 1 ]
}

# run-time parameters: every value reads back and shows in status; invalid values change nothing
toggle() {
	_p=$1
	shift
	for _v in "$@"; do
		_e=$(vset "$_p" "$_v") || { echo "# $_p=$_v: $_e"; return 1; }
		[ "$(vparam "$_p")" = "$_v" ] || { echo "# $_p reads $(vparam "$_p") after writing $_v"; return 1; }
		[ "$(vstatus "$_p")" = "$_v" ] || { echo "# status $_p is $(vstatus "$_p") after writing $_v"; return 1; }
	done
}
# reject NAME PRINTF-FORMAT: writing exactly those bytes (one write) fails with EINVAL and changes
# nothing
reject() {
	_old=$(vparam "$1")
	_st=$(grep -v '^hook' "$VMFIX_SYS/status")
	# shellcheck disable=SC2059 # the format is the value under test
	printf "$2" >/tmp/value
	run dd if=/tmp/value of="$VMFIX_PARAMS/$1" bs=4096
	[ "$RC" != 0 ] || { echo "# $1='$2' was accepted"; return 1; }
	case "$OUT" in *"Invalid argument"*) ;; *) echo "# $1='$2': $OUT (want EINVAL)"; return 1 ;; esac
	[ "$(vparam "$1")" = "$_old" ] || { echo "# $1 changed to $(vparam "$1")"; return 1; }
	[ "$(grep -v '^hook' "$VMFIX_SYS/status")" = "$_st" ] || { echo "# status changed"; return 1; }
}
reset_rejected() {
	run sh -c "echo 2 >$VMFIX_SYS/reset"
	[ "$RC" != 0 ] && case "$OUT" in *"Invalid argument"*) true ;; *) false ;; esac
}
# hook addresses follow %pK: zeros under kptr_restrict=2, real ones for root (CAP_SYSLOG) under 1
kptr_ok() {
	_old=$(cat /proc/sys/kernel/kptr_restrict)
	echo 2 >/proc/sys/kernel/kptr_restrict
	_hidden=$(vhook ptes_update addr)
	echo 1 >/proc/sys/kernel/kptr_restrict
	_shown=$(vhook ptes_update addr)
	echo "$_old" >/proc/sys/kernel/kptr_restrict
	[ "$_hidden" = 0x0000000000000000 ] && [ "$_shown" != "$_hidden" ] && [ "$_shown" != 0x0 ] && return 0
	echo "# kptr_restrict=2: $_hidden, =1: $_shown"
	return 1
}

stage_params() {
	check param-mode "off audit enforce audit read back" "toggle failed" toggle mode off audit enforce audit
	check param-cc_to "uc nc read back" "toggle failed" toggle cc_to uc nc
	check param-coherent "all snoop read back" "toggle failed" toggle coherent all snoop
	check param-devices "0000:03:00.0,0000:0c:00.0 auto read back" "toggle failed" toggle devices 0000:03:00.0,0000:0c:00.0 auto
	check param-invalid-mode "mode=fast -> EINVAL, unchanged" "not rejected" reject mode 'fast\n'
	check param-invalid-cc_to "cc_to=wc -> EINVAL, unchanged" "not rejected" reject cc_to 'wc\n'
	check param-invalid-coherent "coherent=none -> EINVAL, unchanged" "not rejected" reject coherent 'none\n'
	check param-invalid-devices "devices=0000:zz:00.0 -> EINVAL, unchanged" "not rejected" reject devices '0000:zz:00.0\n'
	check param-devices-blank "devices=' 000:03:00.0' -> EINVAL" "not rejected" reject devices ' 000:03:00.0\n'
	check param-devices-0x "devices=0x00:03:00.0 -> EINVAL" "not rejected" reject devices '0x00:03:00.0\n'
	check param-devices-junk "devices='0000:03:00.0\\\\njunk' -> EINVAL" "not rejected" reject devices '0000:03:00.0\njunk'
	check param-devices-empty-line "devices='auto\\\\n\\\\n' -> EINVAL" "not rejected" reject devices 'auto\n\n'
	check reset-invalid "reset=2 -> EINVAL" "reset accepted 2" reset_rejected
	vset mode enforce >/dev/null
	check status-kptr "addr is %pK: zeros under kptr_restrict=2, the address for root under 1" "see above" kptr_ok
}

stage_amdgpu_reload() {
	vset mode enforce >/dev/null
	if rmmod amdgpu 2>/tmp/rmmod.err && wait_state waiting && [ "$(vhook ptes_update armed)" = 0 ]; then
		tap ok amdgpu-unload-disarms "rmmod amdgpu: state waiting, hooks armed=0"
	else
		tap fail amdgpu-unload-disarms "$(cat /tmp/rmmod.err) state=$(vstatus state)"
	fi
	if insmod /modules/amdgpu.ko 2>/tmp/insmod.err && wait_state armed && hooks_ok &&
		call_expect rdna1 cc $SYS "$CC_SYS" "$NC_SYS"; then
		tap ok amdgpu-reload-rearms "insmod amdgpu: BTF checked again, state armed, enforce works on the new amdgpu text"
	else
		tap fail amdgpu-reload-rearms "$(cat /tmp/insmod.err) state=$(vstatus state) $LAST_CALL"
	fi
	comp detach >/dev/null
}

# N load/unload cycles with amdgpu loaded (each load checks the BTF and arms, each unload disarms)
cycles() {
	_i=0
	while [ "$_i" -lt "$1" ]; do
		rmmod rdna1_vmfix || { echo "# cycle $_i: rmmod failed"; return 1; }
		insmod_vmfix || { echo "# cycle $_i: $(cat /tmp/insmod.err)"; return 1; }
		[ "$(vstatus state)" = armed ] || { echo "# cycle $_i: state $(vstatus state)"; return 1; }
		_i=$((_i + 1))
	done
}
# parameter writes race module unload: a writer loops over every parameter while rmmod runs
writer() {
	while :; do
		echo audit >"$VMFIX_PARAMS/mode"
		echo 0000:03:00.0 >"$VMFIX_PARAMS/devices"
		echo 1 >"$VMFIX_PARAMS/attribute"
		echo off >"$VMFIX_PARAMS/mode"
		echo auto >"$VMFIX_PARAMS/devices"
		echo enforce >"$VMFIX_PARAMS/mode"
	done 2>>/tmp/writer.err
}
unload_race() {
	_i=0
	while [ "$_i" -lt "$1" ]; do
		writer &
		_pid=$!
		sleep 0.2
		rmmod rdna1_vmfix || { kill "$_pid"; echo "# round $_i: rmmod failed"; return 1; }
		kill "$_pid"
		wait "$_pid" 2>/dev/null
		insmod_vmfix || { echo "# round $_i: $(cat /tmp/insmod.err)"; return 1; }
		_i=$((_i + 1))
	done
}

stage_lifetime() {
	_t0=$(cut -d' ' -f1 /proc/uptime)
	if cycles 60; then
		tap ok load-unload-60 "60 cycles, armed after each load ($(elapsed "$_t0") s under TCG)"
	else
		tap fail load-unload-60 "a cycle failed (see the comment line above)"
	fi
	: >/tmp/writer.err
	if unload_race 10; then
		tap ok unload-race "10 rmmods while a writer looped over mode/devices/attribute, reloads arm; $(grep -c 'No such device' /tmp/writer.err) writes refused with ENODEV during exit"
	else
		tap fail unload-race "see the comment line above"
	fi
	rmmod rdna1_vmfix
	check unload-clean "no kprobe left on amdgpu after unload" \
		"$(grep amdgpu /sys/kernel/debug/kprobes/list | head -n 2 | tr '\n' ';')" no_probes_left
}

# ABI safety: builds whose generated ABI came from amdgpu BTF changed in one assumption (host:
# tests/qemu/btf-mutate.py) must load, refuse to arm with the reason, register nothing, log one line
# and stay refused across a mode change.
variant_refuses() {
	_ko=/modules/variants/rdna1_vmfix-$1.ko
	_before=$(dmesg | grep -c 'refusing to arm')
	insmod "$_ko" mode=enforce 2>/tmp/insmod.err || { echo "# insmod: $(cat /tmp/insmod.err)"; return 1; }
	vset mode audit >/dev/null
	_st=$(vstatus state) _rs=$(vstatus reason) _armed=$(grep -c '^hook .* armed=1' "$VMFIX_SYS/status")
	_lines=$(($(dmesg | grep -c 'refusing to arm') - _before))
	rmmod rdna1_vmfix
	echo "# $1: built with [$(cat "/modules/variants/rdna1_vmfix-$1.abi")] state=$_st reason=$_rs armed=$_armed log_lines=$_lines"
	[ "$_st" = refused ] && [ "$_armed" = 0 ] && [ "$_lines" = 1 ] && no_probes_left || return 1
	[ "$_rs" = "$2" ]
}

stage_abi_negative() {
	check abi-flags-index "flags as argument 3 in the analysed BTF: refused (amdgpu_not_the_analysed_build)" \
		"armed or wrong reason" variant_refuses flags-index amdgpu_not_the_analysed_build
	check abi-flags-type "flags of another type: refused at build (abi_unknown_*_flags_not_u64)" \
		"armed or wrong reason" variant_refuses flags-type 'abi_unknown_amdgpu_vm_ptes_update_flags_not_u64'
	check abi-adev-offset "params->adev at offset 8 in the analysed BTF: refused (amdgpu_not_the_analysed_build)" \
		"armed or wrong reason" variant_refuses adev-offset amdgpu_not_the_analysed_build
	check abi-other-build "same hook ABI, another amdgpu build: refused (amdgpu_not_the_analysed_build)" \
		"armed or wrong reason" variant_refuses other-build amdgpu_not_the_analysed_build
}

# the real driver function with rdna1_vmfix gone: stock results for every request (and unload left
# nothing behind that changes them)
baseline_ok() {
	_bad=""
	for r in default:0 nc:0 wc:1 cc:2 uc:3; do
		_out=$(comp call rdna1 "${r%:*}" $SYS)
		_got=$(mtype_of "$(kv "$_out" get_vm_pte)")
		[ "$_got" = "${r#*:}" ] || _bad="$_bad ${r%:*}->$_got"
	done
	[ -z "$_bad" ] || echo "# unexpected MTYPE from the real function:$_bad ($_out)"
	[ -z "$_bad" ]
}

stage_end() {
	check driver-baseline "real get_vm_pte, module unloaded: default/nc->NC wc->WC cc->CC uc->UC" "see above" baseline_ok
	rmmod vmfix_companion 2>/dev/null
	_probs=$(dmesg_problems | head -n 3 | tr '\n' ';')
	if [ -z "$_probs" ]; then
		tap ok dmesg-clean "no WARNING/BUG/Oops/KASAN/leak lines ($(dmesg | grep -c 'rdna1_vmfix') rdna1_vmfix lines, taint lines expected)"
	else
		tap fail dmesg-clean "$_probs"
		dmesg | tail -n 60 | sed 's/^/# dmesg: /'
	fi
}

tap_begin
echo "# kernel $(uname -r)"
if stage_load; then
	stage_modes
	stage_policy
	stage_params
	stage_amdgpu_reload
	stage_lifetime
	stage_abi_negative
	stage_end
else
	echo "Bail out! setup failed"
fi
tap_end
