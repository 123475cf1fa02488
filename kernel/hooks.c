// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix hooks: plumbing only. Each handler extracts the arguments,
 * maps adev to a device of the set (match.c), asks the policy core and
 * counts (stats.c). On no match amdgpu runs untouched.
 *
 * amdgpu exports none of these functions; they are probed by name
 * ("amdgpu:<symbol>"), which resolves module-local symbols. On IBT kernels
 * the probe sits on the __fentry__ site after ENDBR (sym+4), so every
 * kprobe here is ftrace based. Nothing in amdgpu is ever called from here,
 * so sealed (ENDBR-poisoned) functions are never reached indirectly.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <linux/string.h>

#include "compat.h"
#include "vmfix_hot.h"
#include "vmfix_mod.h"
#include "vmfix_stats.h"

enum vmfix_hook_kind {
	VMFIX_KIND_KPROBE,
	VMFIX_KIND_KRETPROBE,
};

enum vmfix_hook_role {
	VMFIX_ROLE_ENFORCE,
	VMFIX_ROLE_ATTRIBUTE,
};

struct vmfix_hook_def {
	const char *symbol;
	enum vmfix_hook_kind kind;
	enum vmfix_hook_role role;
	bool required;		/* arming fails without it */
	bool present;		/* exists in this kernel's hook ABI */
	kprobe_pre_handler_t pre;
	kretprobe_handler_t entry;
	kretprobe_handler_t ret;
	size_t data_size;
};

struct vmfix_hook_rt {
	struct kprobe kp;
	struct kretprobe rp;
	bool armed;
	unsigned long addr;
	unsigned long missed_total;
};

/* Saved at entry of a request-level hook, for its return handler. */
struct vmfix_req_data {
	u64 *flags;
	u32 gen;	/* vmfix_slot_gen(slot) at entry */
	u8 slot;
};

static const char * const vmfix_kind_names[] = { "kprobe", "kretprobe" };
static const char * const vmfix_role_names[] = { "enforce", "attribute" };

/*
 * The policy core's verdict when vmfix_decide() (vmfix_hot.h) has none to
 * reuse: it becomes this CPU's last verdict (pc->memo), and a rule hit
 * unlike this CPU's last recorded one (device, hook, mode, old and new
 * flags, rules) becomes its last hit, to be stored in the ring. A stream of identical
 * rewrites thus costs no atomic on the shared ring counter.
 */
noinline bool vmfix_decide_slow(struct vmfix_pcpu *pc,
				const struct vmfix_dev *vdev,
				enum vmfix_hook_id hook, u32 policy_word,
				u64 ctx, u64 old)
{
	struct vmfix_pte_in in = { .flags = old, .device_matches = true };
	struct vmfix_ring_last *last = &pc->last;
	struct vmfix_pte_out *out = &pc->memo.out;
	struct vmfix_policy policy;
	u64 key;

	vmfix_policy_unpack(policy_word, &policy);
	vmfix_pte_apply(&policy, &in, out);
	pc->memo.old = old;
	pc->memo.ctx = ctx;
	if (!out->rules)
		return false;
	key = vmfix_ring_key(out->rules, vdev->slot, hook, policy.mode);
	if (last->key == key && last->old == old &&
	    last->new == out->proposed)
		return false;
	last->old = old;
	last->new = out->proposed;
	last->key = key;
	return true;
}

NOKPROBE_SYMBOL(vmfix_decide_slow);

/*
 * The chokepoint: every GPUVM mapping PTE of every path (GEM, KFD BO, SVM)
 * goes through amdgpu_vm_ptes_update(params, start, end, dst, flags). The
 * argument positions and the offset of params->adev come from
 * generated/abi.h (checked in amdgpu.ko's BTF). In enforce the new flags
 * are written back into the argument register: an ftrace-based kprobe
 * restores the registers from @regs.
 *
 * Everything on the common path is inline (vmfix_hot.h): a range of a
 * device out of scope, and a range with the same flags, device and policy
 * as this CPU's last one (the common case of a mapping path), make no
 * call and do not run the policy core again (vmfix_decide()). The device
 * set is read without rcu_read_lock(): a probe handler runs with
 * preemption disabled, which synchronize_rcu() waits for.
 */
int vmfix_ptes_update_pre(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned long *flags = vmfix_arg_reg(regs, VMFIX_ABI_PTES_FLAGS_ARG);
	struct vmfix_pcpu *pc = vmfix_pcpu_this();
	const struct vmfix_pte_out *out;
	const struct vmfix_dev *vdev;
	const void *params;
	bool fresh;
	u64 old;

	vmfix_count_hook(pc, VMFIX_HOOK_PTES_UPDATE);
	params = (const void *)*vmfix_arg_reg(regs, VMFIX_ABI_PTES_PARAMS_ARG);
	if (unlikely(!params))
		return 0;
	vdev = vmfix_match_adev(vmfix_member_ptr(params,
						 VMFIX_ABI_PARAMS_ADEV_OFF));
	/* only a scoped device has a slot */
	if (!vdev || vdev->slot >= VMFIX_MAX_DEVICES) {
		vmfix_count_other(pc);
		return 0;
	}
	old = *flags;
	/* a new rule hit goes into the ring, a repeat only into the counters */
	fresh = vmfix_decide(pc, vdev, VMFIX_HOOK_PTES_UPDATE,
			     vmfix_policy_word(), old);
	out = &pc->memo.out;
	if (out->changed)
		*flags = out->flags;
	vmfix_count_range(pc, vdev->slot, out, old);
	if (fresh)
		vmfix_ring_store(vdev, &pc->last,
				 *vmfix_arg_reg(regs, VMFIX_ABI_PTES_START_ARG),
				 *vmfix_arg_reg(regs, VMFIX_ABI_PTES_END_ARG));
	return 0;
}

NOKPROBE_SYMBOL(vmfix_ptes_update_pre);

/* Entry of a request-level hook: remember the scoped device, else skip. */
static int vmfix_req_entry(struct kretprobe_instance *ri, const void *adev,
			   enum vmfix_hook_id hook)
{
	struct vmfix_req_data *data = (struct vmfix_req_data *)ri->data;
	const struct vmfix_dev *vdev;
	int skip = 1;

	vmfix_count_hook(vmfix_pcpu_this(), hook);
	rcu_read_lock();
	vdev = vmfix_match_adev(adev);
	if (vdev && vdev->scoped && vdev->slot != VMFIX_NO_SLOT) {
		data->slot = vdev->slot;
		data->gen = vmfix_slot_gen(vdev->slot);
		skip = 0;
	}
	rcu_read_unlock();
	return skip;
}

NOKPROBE_SYMBOL(vmfix_req_entry);

/*
 * Return of a request-level hook: count for the device saved at entry,
 * unless a refresh gave its slot to another device in between (the slot's
 * generation changed). A refresh bumps the generation before it waits for
 * readers and clears the slot after, so a count either lands before the
 * clear or is dropped.
 */
static void vmfix_req_count(const struct vmfix_req_data *data,
			    enum vmfix_ctr ctr)
{
	rcu_read_lock();
	if (vmfix_slot_gen(data->slot) == data->gen)
		vmfix_count_dev(data->slot, ctr);
	rcu_read_unlock();
}

NOKPROBE_SYMBOL(vmfix_req_count);

/*
 * gmc_v10_0_get_vm_pte() fills *flags; which argument holds the pointer
 * (6.x: 3rd, 7.x: 5th) comes from generated/abi.h. The pointer is saved
 * at entry and the result read at return.
 */
static int vmfix_get_vm_pte_entry(struct kretprobe_instance *ri,
				  struct pt_regs *regs)
{
	struct vmfix_req_data *data = (struct vmfix_req_data *)ri->data;
	const void *adev;

	adev = (const void *)*vmfix_arg_reg(regs, VMFIX_ABI_GVP_ADEV_ARG);
	if (vmfix_req_entry(ri, adev, VMFIX_HOOK_GET_VM_PTE))
		return 1;
	data->flags = (u64 *)*vmfix_arg_reg(regs, VMFIX_ABI_GVP_FLAGS_ARG);
	return data->flags ? 0 : 1;
}

NOKPROBE_SYMBOL(vmfix_get_vm_pte_entry);

static int vmfix_get_vm_pte_ret(struct kretprobe_instance *ri,
				struct pt_regs *regs)
{
	struct vmfix_req_data *data = (struct vmfix_req_data *)ri->data;

	if (vmfix_pte_mtype(*data->flags) == VMFIX_MTYPE_CC)
		vmfix_req_count(data, VMFIX_CTR_REQ_CC_GET_VM_PTE);
	return 0;
}

NOKPROBE_SYMBOL(vmfix_get_vm_pte_ret);

/* gmc_v10_0_map_mtype(adev, u32 uapi_flags) returns the PTE MTYPE bits. */
static int vmfix_map_mtype_entry(struct kretprobe_instance *ri,
				 struct pt_regs *regs)
{
	const void *adev;

	adev = (const void *)*vmfix_arg_reg(regs, VMFIX_ABI_MM_ADEV_ARG);
	return vmfix_req_entry(ri, adev, VMFIX_HOOK_MAP_MTYPE);
}

NOKPROBE_SYMBOL(vmfix_map_mtype_entry);

static int vmfix_map_mtype_ret(struct kretprobe_instance *ri,
			       struct pt_regs *regs)
{
	struct vmfix_req_data *data = (struct vmfix_req_data *)ri->data;

	if (vmfix_pte_mtype(regs_return_value(regs)) == VMFIX_MTYPE_CC)
		vmfix_req_count(data, VMFIX_CTR_REQ_CC_MAP_MTYPE);
	return 0;
}

NOKPROBE_SYMBOL(vmfix_map_mtype_ret);

/* One row per hook, indexed by enum vmfix_hook_id. */
static const struct vmfix_hook_def vmfix_hook_defs[VMFIX_HOOK_COUNT] = {
	[VMFIX_HOOK_PTES_UPDATE] = {
		.symbol = "amdgpu_vm_ptes_update",
		.kind = VMFIX_KIND_KPROBE,
		.role = VMFIX_ROLE_ENFORCE,
		.required = true,
		.present = true,
		.pre = vmfix_ptes_update_pre,
	},
	[VMFIX_HOOK_GET_VM_PTE] = {
		.symbol = "gmc_v10_0_get_vm_pte",
		.kind = VMFIX_KIND_KRETPROBE,
		.role = VMFIX_ROLE_ATTRIBUTE,
		.present = VMFIX_ABI_GVP_OK,
		.entry = vmfix_get_vm_pte_entry,
		.ret = vmfix_get_vm_pte_ret,
		.data_size = sizeof(struct vmfix_req_data),
	},
	[VMFIX_HOOK_MAP_MTYPE] = {
		.symbol = "gmc_v10_0_map_mtype",
		.kind = VMFIX_KIND_KRETPROBE,
		.role = VMFIX_ROLE_ATTRIBUTE,
		.present = VMFIX_ABI_MM_OK,	/* removed in 6.18 */
		.entry = vmfix_map_mtype_entry,
		.ret = vmfix_map_mtype_ret,
		.data_size = sizeof(struct vmfix_req_data),
	},
};

static struct vmfix_hook_rt vmfix_hook_rt[VMFIX_HOOK_COUNT];
/* "amdgpu:<symbol>": only amdgpu's own symbol, never a namesake elsewhere */
static char vmfix_hook_sym[VMFIX_HOOK_COUNT][64];

static int vmfix_hook_register(unsigned int i)
{
	const struct vmfix_hook_def *def = &vmfix_hook_defs[i];
	struct vmfix_hook_rt *rt = &vmfix_hook_rt[i];
	int ret;

	snprintf(vmfix_hook_sym[i], sizeof(vmfix_hook_sym[i]), "amdgpu:%s",
		 def->symbol);
	memset(&rt->kp, 0, sizeof(rt->kp));
	memset(&rt->rp, 0, sizeof(rt->rp));
	if (def->kind == VMFIX_KIND_KPROBE) {
		rt->kp.symbol_name = vmfix_hook_sym[i];
		rt->kp.pre_handler = def->pre;
		ret = register_kprobe(&rt->kp);
		rt->addr = ret ? 0 : (unsigned long)rt->kp.addr;
		return ret;
	}
	rt->rp.kp.symbol_name = vmfix_hook_sym[i];
	rt->rp.entry_handler = def->entry;
	rt->rp.handler = def->ret;
	rt->rp.data_size = def->data_size;
	/*
	 * The hooked functions never sleep, but the calling task can be
	 * preempted inside them and an interrupt can nest on top: allow two
	 * live instances per CPU; a shortfall only shows up in "missed".
	 */
	rt->rp.maxactive = 2 * num_possible_cpus();
	ret = register_kretprobe(&rt->rp);
	rt->addr = ret ? 0 : (unsigned long)rt->rp.kp.addr;
	return ret;
}

static void vmfix_hook_unregister(unsigned int i)
{
	const struct vmfix_hook_def *def = &vmfix_hook_defs[i];
	struct vmfix_hook_rt *rt = &vmfix_hook_rt[i];

	if (!rt->armed)
		return;
	if (def->kind == VMFIX_KIND_KPROBE) {
		unregister_kprobe(&rt->kp);
		rt->missed_total += rt->kp.nmissed;
	} else {
		unregister_kretprobe(&rt->rp);
		rt->missed_total += rt->rp.nmissed + rt->rp.kp.nmissed;
	}
	rt->armed = false;
	rt->addr = 0;
}

/* Which hooks a mode needs: none when off, attribution only if wanted. */
static bool vmfix_hook_wanted(const struct vmfix_hook_def *def,
			      enum vmfix_mode mode, bool attribution)
{
	if (!def->present || mode == VMFIX_MODE_OFF)
		return false;
	return def->role == VMFIX_ROLE_ENFORCE || attribution ||
	       mode == VMFIX_MODE_AUDIT;
}

/*
 * Make the armed hooks those that @mode (and @attribution) need: register
 * the missing ones in table order, unregister the unwanted ones. A failed
 * optional hook is one info line; a failed required one unregisters every
 * hook and returns the error with @reason set (@refused: the symbol does
 * not exist, i.e. an amdgpu this module does not know).
 */
int vmfix_hooks_sync(enum vmfix_mode mode, bool attribution, char *reason,
		     size_t reason_len, bool *refused)
{
	const struct vmfix_hook_def *def;
	unsigned int i;
	int ret;

	*refused = false;
	for (i = 0; i < VMFIX_HOOK_COUNT; i++) {
		def = &vmfix_hook_defs[i];
		if (!vmfix_hook_wanted(def, mode, attribution)) {
			vmfix_hook_unregister(i);
			continue;
		}
		if (vmfix_hook_rt[i].armed)
			continue;
		ret = vmfix_hook_register(i);
		if (!ret) {
			vmfix_hook_rt[i].armed = true;
			continue;
		}
		if (!def->required) {
			pr_info("optional hook %s not armed: %pe\n", def->symbol,
				ERR_PTR(ret));
			continue;
		}
		if (ret == -ENOENT) {
			*refused = true;
			snprintf(reason, reason_len, "missing_symbol_%s",
				 def->symbol);
		} else {
			snprintf(reason, reason_len, "register_%s_failed_%d",
				 def->symbol, ret);
		}
		vmfix_hooks_unregister();
		return ret;
	}
	return 0;
}

void vmfix_hooks_unregister(void)
{
	unsigned int i = VMFIX_HOOK_COUNT;

	while (i--)
		vmfix_hook_unregister(i);
}

bool vmfix_chokepoint_armed(void)
{
	return READ_ONCE(vmfix_hook_rt[VMFIX_HOOK_PTES_UPDATE].armed);
}

static unsigned long vmfix_hook_missed(unsigned int i)
{
	const struct vmfix_hook_rt *rt = &vmfix_hook_rt[i];
	unsigned long missed = rt->missed_total;

	if (rt->armed) {
		if (vmfix_hook_defs[i].kind == VMFIX_KIND_KPROBE)
			missed += READ_ONCE(rt->kp.nmissed);
		else
			missed += READ_ONCE(rt->rp.nmissed) +
				  READ_ONCE(rt->rp.kp.nmissed);
	}
	return missed;
}

void vmfix_hooks_status(struct vmfix_buf *b)
{
	const struct vmfix_hook_def *def;
	const struct vmfix_hook_rt *rt;
	char addr[24];
	unsigned int i;

	for (i = 0; i < VMFIX_HOOK_COUNT; i++) {
		def = &vmfix_hook_defs[i];
		rt = &vmfix_hook_rt[i];
		/* %pK: zeros under kptr_restrict=2 or without CAP_SYSLOG */
		if (rt->addr)
			snprintf(addr, sizeof(addr), "0x%pK", (void *)rt->addr);
		else
			strscpy(addr, "0x0", sizeof(addr));
		vmfix_buf_printf(b,
				 "hook name=%s symbol=%s kind=%s role=%s armed=%d addr=%s hits=%llu missed=%lu\n",
				 vmfix_hook_names[i], def->symbol,
				 vmfix_kind_names[def->kind],
				 vmfix_role_names[def->role], rt->armed, addr,
				 vmfix_hook_hits(i), vmfix_hook_missed(i));
	}
}

/* Once, at unload: what each hook saw and missed over the module's life. */
void vmfix_hooks_report(void)
{
	unsigned int i;

	for (i = 0; i < VMFIX_HOOK_COUNT; i++)
		if (vmfix_hook_defs[i].present)
			pr_info("%s: nhit %llu nmissed %lu\n",
				vmfix_hook_defs[i].symbol, vmfix_hook_hits(i),
				vmfix_hook_missed(i));
}
