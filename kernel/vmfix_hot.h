/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix hot path: what a probe handler does on every hit, as inline
 * functions. The chokepoint handler runs on every GPUVM mapping range, so
 * its common case (a device that is not scoped, or a range no rule
 * changes, or the same rewrite as the last one on this CPU) makes no
 * out-of-line call at all: each call would go through the return-thunk
 * mitigations. Only a new ring entry (vmfix_ring_store()) is a call.
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
 * The last hit this CPU put into the ring (repeats are not recorded
 * again): its flags, and the rest packed into one word so that the repeat
 * check is three compares. 0 is no hit.
 */
struct vmfix_ring_last {
	u64 old;
	u64 new;
	u64 key;	/* vmfix_ring_key() */
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

struct vmfix_pcpu {
	u64 dev[VMFIX_MAX_DEVICES][VMFIX_CTR_COUNT];
	u64 other_ranges;
	u64 hook_hits[VMFIX_HOOK_COUNT];
	struct vmfix_ring_last last;
};

/* stats.c */
extern struct vmfix_pcpu __percpu *vmfix_pcpu;
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
	const struct device *dev;
	unsigned int i;

	if (!adev)
		return NULL;
	dev = vmfix_member_ptr(adev, VMFIX_ABI_ADEV_DEV_OFF);
	set = rcu_dereference_check(vmfix_devset, rcu_read_lock_sched_held());
	if (!set)
		return NULL;
	for (i = 0; i < set->count; i++)
		if (set->devs[i].dev == dev)
			return &set->devs[i];
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
 * Does a rule hit go into the ring of recent ones? Not if it is the same
 * as the last one this CPU recorded (device, hook, mode, old and new
 * flags, rules): a stream of identical rewrites, the common case of a busy
 * mapping path, then costs three compares and no atomic on the shared ring
 * counter; the counters still count every range. If it is new, it becomes
 * this CPU's last hit and the caller stores it with vmfix_ring_store().
 */
static __always_inline bool
vmfix_ring_new(struct vmfix_pcpu *pc, const struct vmfix_dev *vdev,
	       enum vmfix_hook_id hook, enum vmfix_mode mode,
	       const struct vmfix_pte_out *out, u64 old)
{
	struct vmfix_ring_last *last = &pc->last;
	u64 key = vmfix_ring_key(out->rules, vdev->slot, hook, mode);

	if (likely(last->key == key && last->old == old &&
		   last->new == out->proposed))
		return false;
	last->old = old;
	last->new = out->proposed;
	last->key = key;
	return true;
}

#endif /* VMFIX_HOT_H */
