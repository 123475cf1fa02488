# shellcheck shell=sh
# Helpers for the guest scenarios (busybox sh): TAP 13 output, module loading, rdna1_vmfix's sysfs
# files (docs/status-abi.md) and the companion's debugfs control file.

VMFIX_SYS=/sys/kernel/rdna1_vmfix
VMFIX_PARAMS=/sys/module/rdna1_vmfix/parameters
COMPANION_CTL=/sys/kernel/debug/vmfix_companion/ctl
TAP_N=0

tap_begin() { echo "TAP version 13"; }
tap_end() { echo "1..$TAP_N"; }
# tap ok|fail|skip NAME REASON
tap() {
	TAP_N=$((TAP_N + 1))
	echo "# t=$(cut -d' ' -f1 /proc/uptime)"
	case "$1" in
	ok) echo "ok $TAP_N $2 # $3" ;;
	skip) echo "ok $TAP_N $2 # SKIP $3" ;;
	*) echo "not ok $TAP_N $2 # $3" ;;
	esac
}
# check NAME REASON-IF-OK REASON-IF-FAIL CONDITION... (the condition is a command)
check() {
	_n=$1 _ok=$2 _bad=$3
	shift 3
	if "$@"; then tap ok "$_n" "$_ok"; else tap fail "$_n" "$_bad"; fi
}

# run CMD...: its output (stdout and stderr) in OUT, its exit status in RC; never stops the caller
run() {
	OUT=$("$@" 2>&1)
	RC=$?
}
# seconds since the /proc/uptime value T0
elapsed() { awk -v a="$1" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }'; }

# amdgpu and its dependencies, in the order modprobe --show-depends gave on the host.
load_amdgpu() {
	while read -r m; do
		grep -q "^${m%.ko} " /proc/modules 2>/dev/null && continue
		[ "$m" = amdgpu.ko ] && grep -q '^amdgpu ' /proc/modules && continue
		insmod "/modules/$m" 2>/tmp/insmod.err || { echo "# insmod $m: $(cat /tmp/insmod.err)"; return 1; }
	done </modules/amdgpu.order
}
module_loaded() { grep -q "^$1 " /proc/modules; }

# value of "key value" in the status file
vstatus() { awk -v k="$1" '$1 == k { print $2; exit }' "$VMFIX_SYS/status"; }
# field F of the hook line name=N in the status file
vhook() { awk -v n="name=$1" -v f="$2=" '$1 == "hook" && $2 == n { for (i = 3; i <= NF; i++) if (index($i, f) == 1) { print substr($i, length(f) + 1); exit } }' "$VMFIX_SYS/status"; }
# kv LINE KEY: value of KEY=value in LINE
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print substr($0, length(k) + 2); exit }'; }
# counter RECORD KEY: a counter of the first "device" record (RECORD=device) or the "other" record
counter() {
	_l=$(grep -m1 "^$1 " "$VMFIX_SYS/counters")
	_v=$(kv "$_l" "$2")
	echo "${_v:-0}"
}
vparam() { cat "$VMFIX_PARAMS/$1"; }
# vset NAME VALUE: prints the write error (empty on success), returns the write status
vset() {
	run sh -c "echo '$2' >$VMFIX_PARAMS/$1"
	printf '%s' "$OUT"
	return "$RC"
}
vreset() { echo 1 >"$VMFIX_SYS/reset"; }

# comp CMD...: runs a companion command and prints its output line
comp() {
	echo "$*" >"$COMPANION_CTL" 2>/tmp/comp.err || { echo "error $(cat /tmp/comp.err) $(cat "$COMPANION_CTL")"; return 1; }
	cat "$COMPANION_CTL"
}
# mtype of a 0x-hex PTE value (bits 50:48)
mtype_of() { echo $((($1 >> 48) & 7)); }

# insmod_vmfix [PARAM=VALUE...]: load rdna1_vmfix with the test entry points on
insmod_vmfix() { insmod /modules/rdna1_vmfix.ko test_devices=1 "$@" 2>/tmp/insmod.err; }

# wait_state STATE: the status file reports STATE within about 5 s
wait_state() {
	_i=0
	while [ "$_i" -lt 50 ]; do
		[ "$(vstatus state 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# dmesg lines that mean a kernel problem (unsigned-module taint lines are expected and not matched)
dmesg_problems() { dmesg | grep -E 'WARNING:|BUG:|Oops|KASAN|kmemleak|UBSAN|general protection|Call Trace|refcount_t|list_(add|del) corruption' ; }
