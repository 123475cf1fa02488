# shellcheck shell=sh
# `make demo` in the guest: load the real amdgpu.ko and rdna1_vmfix, let the companion call the real
# gmc_v10_0_get_vm_pte for a synthetic Navi10 and a synthetic Navi21, and print "DEMO key=value ..."
# lines that scripts/demo.sh explains on the host.

SYS=0x0003000000000077	# cached system page: VALID SYSTEM SNOOPED EXEC READ WRITE (gart MTYPE UC)
SYS_NOSNOOP=0x0003000000000073	# write-combined system page: no SNOOPED

demo_fail() { echo "DEMO error=$*"; }
demo_counters() { echo "DEMO counters mode=$1 after=$2 $(grep -m1 '^device' "$VMFIX_SYS/counters" | cut -d' ' -f2-)"; }

echo "DEMO kernel=$(uname -r)"
if ! load_amdgpu; then
	demo_fail "amdgpu_did_not_load"
	return 0
fi
echo "DEMO amdgpu modules=$(wc -l </modules/amdgpu.order) symbol=$(grep -c ' gmc_v10_0_' /proc/kallsyms)"
if ! insmod /modules/vmfix_companion.ko || ! insmod_vmfix mode=audit || ! wait_state armed; then
	demo_fail "module_load: $(cat /tmp/insmod.err 2>/dev/null) state=$(vstatus state 2>/dev/null)"
	return 0
fi
grep '^hook' "$VMFIX_SYS/status" | sed 's/^/DEMO /'
comp attach >/dev/null || demo_fail "attach"
grep '^device' "$VMFIX_SYS/status" | sed 's/^/DEMO /'

for mode in audit enforce; do
	echo "$mode" >"$VMFIX_PARAMS/mode"
	vreset
	echo "DEMO step=cc mode=$mode $(comp call rdna1 cc $SYS | cut -d' ' -f2-)"
	demo_counters "$mode" cc
	echo "DEMO step=uc_nosnoop mode=$mode $(comp call rdna1 uc $SYS_NOSNOOP | cut -d' ' -f2-)"
	demo_counters "$mode" cc+uc
	grep '^rewrite' "$VMFIX_SYS/recent" | tail -n 2 | sed "s/^/DEMO recent mode=$mode /"
done
echo "DEMO step=rdna2 mode=enforce $(comp call rdna2 cc $SYS | cut -d' ' -f2-)"
echo "DEMO other $(grep '^other' "$VMFIX_SYS/counters" | cut -d' ' -f2-)"
comp detach >/dev/null
rmmod rdna1_vmfix vmfix_companion
echo "DEMO dmesg_problems=$(dmesg_problems | wc -l)"
