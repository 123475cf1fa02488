# shellcheck shell=sh
# Hook cost in the guest (bench/hookcost.sh): N calls of the real gmc_v10_0_get_vm_pte (via the
# companion) with no hook, with rdna1_vmfix loaded in off, audit and enforce (a scoped synthetic
# Navi10, so the handlers take their full path), with the companion's own empty kretprobe and fprobe;
# N calls of a stand-in with amdgpu_vm_ptes_update's prototype bare, under an empty kprobe and under
# a kprobe with rdna1_vmfix's chokepoint pre-handler; and that handler called directly.
# Prints "BENCHRAW name ns_per_call" lines.
N=${BENCH_N:-20000}

raw() { echo "BENCHRAW $1 $(kv "$2" ns_per_call) $(kv "$2" calls)"; }
if ! load_amdgpu || ! insmod /modules/vmfix_companion.ko; then
	echo "BENCHERR load: $(cat /tmp/insmod.err)"
	return 0
fi
# The host is shared and TCG is noisy: modes alternate and the host keeps the best of each series.
raw unhooked "$(comp bench "$N")"
if insmod_vmfix mode=audit && wait_state armed && comp attach >/dev/null; then
	for _ in 1 2 3; do
		echo off >"$VMFIX_PARAMS/mode"
		raw off "$(comp bench "$N")"
		echo audit >"$VMFIX_PARAMS/mode"
		raw audit "$(comp bench "$N")"
		echo enforce >"$VMFIX_PARAMS/mode"
		raw enforce "$(comp bench "$N")"
		for k in none empty vmfix; do
			raw "standin-$k" "$(comp benchstandin "$N" $k)"
		done
	done
	raw chokepoint-handler "$(comp benchchk "$N")"
	echo "BENCHRAW hits $(vhook get_vm_pte hits) $(vhook get_vm_pte missed)"
	comp detach >/dev/null
	rmmod rdna1_vmfix
else
	echo "BENCHERR rdna1_vmfix: $(cat /tmp/insmod.err) state=$(vstatus state 2>/dev/null)"
fi
raw unhooked "$(comp bench "$N")"
for _ in 1 2; do
	for kind in kretprobe fprobe; do
		out=$(comp probe $kind)
		if [ "$(kv "$out" rc)" = 0 ]; then
			raw "empty-$kind" "$(comp bench "$N")"
			comp probe none >/dev/null
		else
			echo "BENCHRAW empty-$kind unsupported $out"
		fi
	done
done
echo "BENCHRAW dmesg_problems $(dmesg_problems | wc -l)"
