/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix hot path: what a probe handler does on every hit, as inline
 * functions. The chokepoint handler runs on every GPUVM mapping range, so
 * its common case (a device that is not scoped, or a range no rule
 * changes, or the same rewrite as the last one on this CPU) makes no
 * out-of-line call at all: each call would go through the return-thunk
 * mitigations. Only a new ring entry (vmfix_ring_store()) is a call.
 *
 * Probe handlers run with preemption disabled, which is what the per-CPU
 * counters and the device-set lookup rely on.
 */
#ifndef VMFIX_HOT_H
#define VMFIX_HOT_H

#include <linux/compiler.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

#include "compat.h"
#include "vmfix_mod.h"

/* The last hit this CPU put into the ring (repeats are not recorded again). */
struct vmfix_ring_last {
	u64 old;
	u64 new;
	u32 rules;
	u8 slot;
	u8 hook;
	u8 mode;
	bool valid;
};

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

static __always_inline void vmfix_count_hook(enum vmfix_hook_id hook)
{
	this_cpu_inc(vmfix_pcpu->hook_hits[hook]);
}

static __always_inline void vmfix_count_other(void)
{
	this_cpu_inc(vmfix_pcpu->other_ranges);
}

static __always_inline void vmfix_count_dev(u8 slot, enum vmfix_ctr ctr)
{
	if (slot < VMFIX_MAX_DEVICES)
		this_cpu_inc(vmfix_pcpu->dev[slot][ctr]);
}

/*
 * One chokepoint range of a scoped device: every counter it touches, on
 * one per-CPU block. A range no rule fired on costs two increments.
 */
static __always_inline void vmfix_count_range(u8 slot,
					      const struct vmfix_pte_out *out,
					      u64 old)
{
	u64 *c;

	if (slot >= VMFIX_MAX_DEVICES)
		return;
	c = this_cpu_ptr(vmfix_pcpu)->dev[slot];
	c[VMFIX_CTR_RANGES]++;
	c[out->mtype_in <= VMFIX_MTYPE_UC ? VMFIX_CTR_SEEN_NC + out->mtype_in :
					     VMFIX_CTR_SEEN_RESERVED]++;
	if (likely(!out->rules))
		return;
	if (out->rules & VMFIX_RULE_CC_DOWNGRADE)
		c[VMFIX_CTR_RULE_CC_DOWNGRADE]++;
	if (out->rules & VMFIX_RULE_UC_SNOOP)
		c[VMFIX_CTR_RULE_UC_SNOOP]++;
	if (out->rules & VMFIX_RULE_COHERENT_ALL)
		c[VMFIX_CTR_RULE_COHERENT_ALL]++;
	if (out->changed)
		c[VMFIX_CTR_REWRITTEN]++;
	else if (out->proposed != old)
		c[VMFIX_CTR_WOULD_REWRITE]++;
}

/*
 * A rule hit into the ring of recent ones, unless it is the same as the
 * last one this CPU recorded (device, hook, mode, old and new flags,
 * rules): a stream of identical rewrites, the common case of a busy
 * mapping path, then costs a few compares and no atomic on the shared
 * ring counter; the counters still count every range.
 */
static __always_inline void
vmfix_ring_record(const struct vmfix_dev *vdev, enum vmfix_hook_id hook,
		  enum vmfix_mode mode, u64 start, u64 end,
		  const struct vmfix_pte_out *out, u64 old)
{
	struct vmfix_ring_last *last = this_cpu_ptr(&vmfix_pcpu->last);

	if (likely(last->valid && last->old == old &&
		   last->new == out->proposed && last->rules == out->rules &&
		   last->slot == vdev->slot && last->hook == hook &&
		   last->mode == mode))
		return;
	last->old = old;
	last->new = out->proposed;
	last->rules = out->rules;
	last->slot = vdev->slot;
	last->hook = hook;
	last->mode = mode;
	last->valid = true;
	vmfix_ring_store(vdev, last, start, end);
}

#endif /* VMFIX_HOT_H */
