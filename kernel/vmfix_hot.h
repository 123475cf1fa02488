/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix hot path: what a probe handler does on every hit, as inline
 * functions. The chokepoint handler runs on every GPUVM mapping range, so
 * its common case (a device that is not scoped, or a range with the same
 * flags, device and policy as the last one on this CPU) makes no
 * out-of-line call at all: each call would go through the return-thunk
 * mitigations. A new verdict (vmfix_decide_slow()) and a new ring entry
 * (vmfix_ring_store()) are calls.
 * The device set gives a slot (< VMFIX_MAX_DEVICES) only to a scoped
 * device, so one compare tells whether a range is counted and changed.
 *
 * Probe handlers run with preemption disabled, which is what the per-CPU
 * block (vmfix_pcpu_this(), taken once per hit) and the device-set lookup
 * rely on.
 */
#ifndef VMFIX_HOT_H
#define VMFIX_HOT_H

#include <linux/compiler.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

#include "compat.h"
#include "vmfix_mod.h"

/*
 * The last rule hit this CPU put into the ring (repeats are not recorded
 * again): its flags, and the rest packed into one word so that the repeat
 * check is three compares. key 0: none.
 */
struct vmfix_ring_last {
	u64 old;
	u64 new;
	u64 key;	/* vmfix_ring_key() */
};

/*
 * The policy core's last verdict on this CPU and what it was given: the
 * flags and the context (vmfix_hit_ctx(): device slot, hook, policy).
 * vmfix_pte_apply() is a pure function of them, so a range with the same
 * flags in the same context, the common case of a mapping path, reuses
 * the verdict. ctx 0: none.
 */
struct vmfix_memo {
	u64 old;
	u64 ctx;
	struct vmfix_pte_out out;
};

#define VMFIX_KEY_VALID		BIT_ULL(63)

/* rules 0..7, slot 8..15, hook 16..23, mode 24..31, and the valid bit */
static __always_inline u64 vmfix_ring_key(u32 rules, u8 slot, u8 hook,
					  u8 mode)
{
	return VMFIX_KEY_VALID | (u64)(rules & 0xff) | (u64)slot << 8 |
	       (u64)hook << 16 | (u64)mode << 24;
}

static __always_inline u8 vmfix_key_slot(u64 key)
{
	return (u8)(key >> 8);
}

/*
 * What the verdict depends on besides the flags: slot, hook and the policy
 * word (vmfix_policy_word()).
 */
static __always_inline u64 vmfix_hit_ctx(u8 slot, u8 hook, u32 policy_word)
{
	return VMFIX_KEY_VALID | (u64)slot | (u64)hook << 8 |
	       (u64)policy_word << 16;
}

struct vmfix_pcpu {
	u64 dev[VMFIX_MAX_DEVICES][VMFIX_CTR_COUNT];
	u64 other_ranges;
	u64 hook_hits[VMFIX_HOOK_COUNT];
	struct vmfix_ring_last last;
	struct vmfix_memo memo;
};

/* stats.c */
extern struct vmfix_pcpu __percpu *vmfix_pcpu;
/* hooks.c */
bool vmfix_decide_slow(struct vmfix_pcpu *pc, const struct vmfix_dev *vdev,
		       enum vmfix_hook_id hook, u32 policy_word, u64 ctx,
		       u64 old);
void vmfix_ring_store(const struct vmfix_dev *vdev,
		      const struct vmfix_ring_last *hit, u64 start, u64 end);

/* This CPU's block; a probe handler takes it once and passes it on. */
static __always_inline struct vmfix_pcpu *vmfix_pcpu_this(void)
{
	return this_cpu_ptr(vmfix_pcpu);
}

/*
 * The device of the set whose struct device is adev->dev, or NULL. The
 * offset of adev->dev comes from generated/abi.h (checked in amdgpu.ko's
 * BTF). Caller holds rcu_read_lock() or runs with preemption disabled (a
 * probe handler): synchronize_rcu() in vmfix_devices_refresh() waits for
 * both.
 */
static __always_inline const struct vmfix_dev *
vmfix_match_adev(const void *adev)
{
	const struct vmfix_devset *set;
	const struct vmfix_dev *d, *end;
	const struct device *dev;

	if (!adev)
		return NULL;
	dev = vmfix_member_ptr(adev, VMFIX_ABI_ADEV_DEV_OFF);
	set = rcu_dereference_check(vmfix_devset, rcu_read_lock_sched_held());
	if (!set)
		return NULL;
	end = set->devs + set->count;
	for (d = set->devs; d < end; d++)
		if (d->dev == dev)
			return d;
	return NULL;
}

static __always_inline void vmfix_count_hook(struct vmfix_pcpu *pc,
					     enum vmfix_hook_id hook)
{
	pc->hook_hits[hook]++;
}

static __always_inline void vmfix_count_other(struct vmfix_pcpu *pc)
{
	pc->other_ranges++;
}

/* For a kretprobe return handler: safe with preemption enabled too. */
static __always_inline void vmfix_count_dev(u8 slot, enum vmfix_ctr ctr)
{
	if (slot < VMFIX_MAX_DEVICES)
		this_cpu_inc(vmfix_pcpu->dev[slot][ctr]);
}

/*
 * One chokepoint range of a scoped device (@slot < VMFIX_MAX_DEVICES):
 * every counter it touches, on this CPU's block, without a branch but the
 * one that tells a rule hit: a range no rule fired on costs two
 * increments.
 */
static __always_inline void vmfix_count_range(struct vmfix_pcpu *pc, u8 slot,
					      const struct vmfix_pte_out *out,
					      u64 old)
{
	static const u8 seen[VMFIX_MTYPE_COUNT] = {
		VMFIX_CTR_SEEN_NC, VMFIX_CTR_SEEN_WC, VMFIX_CTR_SEEN_CC,
		VMFIX_CTR_SEEN_UC, VMFIX_CTR_SEEN_RESERVED,
		VMFIX_CTR_SEEN_RESERVED, VMFIX_CTR_SEEN_RESERVED,
		VMFIX_CTR_SEEN_RESERVED,
	};
	u64 *c = pc->dev[slot];
	u32 rules = out->rules;

	c[VMFIX_CTR_RANGES]++;
	c[seen[out->mtype_in & (VMFIX_MTYPE_COUNT - 1)]]++;
	if (likely(!rules))
		return;
	c[VMFIX_CTR_RULE_CC_DOWNGRADE] += !!(rules & VMFIX_RULE_CC_DOWNGRADE);
	c[VMFIX_CTR_RULE_UC_SNOOP] += !!(rules & VMFIX_RULE_UC_SNOOP);
	c[VMFIX_CTR_RULE_COHERENT_ALL] += !!(rules & VMFIX_RULE_COHERENT_ALL);
	c[VMFIX_CTR_REWRITTEN] += out->changed;
	c[VMFIX_CTR_WOULD_REWRITE] += !out->changed && out->proposed != old;
}

/*
 * The policy core's verdict on @old for a scoped device, left in
 * pc->memo.out, and whether it is a rule hit for the ring of recent ones
 * (the caller then stores it with vmfix_ring_store()). The same flags in
 * the same context as this CPU's last verdict reuse it: no call, no
 * policy, and no ring entry (that verdict's hit, if any, went into the
 * ring when it was made). Anything else is vmfix_decide_slow() (hooks.c).
 */
static __always_inline bool vmfix_decide(struct vmfix_pcpu *pc,
					 const struct vmfix_dev *vdev,
					 enum vmfix_hook_id hook,
					 u32 policy_word, u64 old)
{
	u64 ctx = vmfix_hit_ctx(vdev->slot, hook, policy_word);

	if (likely(pc->memo.ctx == ctx && pc->memo.old == old))
		return false;
	return vmfix_decide_slow(pc, vdev, hook, policy_word, ctx, old);
}

#endif /* VMFIX_HOT_H */
