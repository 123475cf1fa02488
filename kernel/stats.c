// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix statistics: per-CPU counters and a ring of recent rule hits.
 *
 * Writers (probe handlers, through the inline functions of vmfix_hot.h)
 * never lock: counters are per-CPU increments, the ring takes a slot with
 * one atomic increment and publishes the entry by storing its sequence
 * number last. Readers sum the CPUs and copy ring
 * entries, skipping one that changed while it was copied. Text formats are
 * docs/status-abi.md (schema 1).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vmfix_hot.h"
#include "vmfix_mod.h"
#include "vmfix_stats.h"

struct vmfix_ring_entry {
	u64 seq;		/* 0: empty or being written */
	u64 start;
	u64 end;
	u64 old;
	u64 new;
	u32 rules;
	u8 hook;
	u8 mode;
	char bdf[VMFIX_BDF_LEN];
};

struct vmfix_pcpu __percpu *vmfix_pcpu;
static struct vmfix_ring_entry vmfix_ring[VMFIX_RING_SIZE];
static atomic64_t vmfix_ring_seq = ATOMIC64_INIT(0);

static const char * const vmfix_ctr_names[VMFIX_CTR_COUNT] = {
	[VMFIX_CTR_RANGES] = "ranges",
	[VMFIX_CTR_SEEN_NC] = "seen_nc",
	[VMFIX_CTR_SEEN_WC] = "seen_wc",
	[VMFIX_CTR_SEEN_CC] = "seen_cc",
	[VMFIX_CTR_SEEN_UC] = "seen_uc",
	[VMFIX_CTR_SEEN_RESERVED] = "seen_reserved",
	[VMFIX_CTR_RULE_CC_DOWNGRADE] = "rule_cc_downgrade",
	[VMFIX_CTR_RULE_UC_SNOOP] = "rule_uc_snoop",
	[VMFIX_CTR_RULE_COHERENT_ALL] = "rule_coherent_all",
	[VMFIX_CTR_REWRITTEN] = "rewritten",
	[VMFIX_CTR_WOULD_REWRITE] = "would_rewrite",
	[VMFIX_CTR_REQ_CC_GET_VM_PTE] = "req_cc_get_vm_pte",
	[VMFIX_CTR_REQ_CC_MAP_MTYPE] = "req_cc_map_mtype",
};

const char * const vmfix_hook_names[VMFIX_HOOK_COUNT] = {
	[VMFIX_HOOK_PTES_UPDATE] = "ptes_update",
	[VMFIX_HOOK_GET_VM_PTE] = "get_vm_pte",
	[VMFIX_HOOK_MAP_MTYPE] = "map_mtype",
};

int vmfix_stats_init(void)
{
	vmfix_pcpu = alloc_percpu(struct vmfix_pcpu);
	return vmfix_pcpu ? 0 : -ENOMEM;
}

void vmfix_stats_exit(void)
{
	free_percpu(vmfix_pcpu);
	vmfix_pcpu = NULL;
}

u64 vmfix_hook_hits(enum vmfix_hook_id hook)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(vmfix_pcpu, cpu)->hook_hits[hook]);
	return sum;
}

/* A slot whose device left the set: no reader can reach it any more. */
void vmfix_stats_clear_slot(u8 slot)
{
	struct vmfix_pcpu *p;
	int cpu;

	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(vmfix_pcpu, cpu);
		memset(p->dev[slot], 0, sizeof(p->dev[slot]));
		/* the slot's next device records its first hit again */
		if (vmfix_key_slot(p->last.key) == slot)
			WRITE_ONCE(p->last.key, 0);
		/* and reuses no verdict of the old one */
		WRITE_ONCE(p->memo.ctx, 0);
	}
}

/* Counts that race with a reset may survive it: good enough for statistics. */
void vmfix_stats_reset(void)
{
	struct vmfix_pcpu *p;
	unsigned int i;
	int cpu;

	/*
	 * Everything up to the memo; the memo only loses its context word, so
	 * that a handler racing with the reset can never find a valid context
	 * next to a half-cleared verdict. Afterwards the ring records every
	 * hit anew.
	 */
	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(vmfix_pcpu, cpu);
		memset(p, 0, offsetof(struct vmfix_pcpu, memo));
		WRITE_ONCE(p->memo.ctx, 0);
	}
	for (i = 0; i < VMFIX_RING_SIZE; i++)
		WRITE_ONCE(vmfix_ring[i].seq, 0);
	atomic64_set(&vmfix_ring_seq, 0);
}

/*
 * A new entry of the ring: @hit is this CPU's last hit, which
 * vmfix_decide_slow() (hooks.c) has just found to differ from the one
 * before. Caller runs with preemption off (a probe handler).
 */
void vmfix_ring_store(const struct vmfix_dev *vdev,
		      const struct vmfix_ring_last *hit, u64 start, u64 end)
{
	struct vmfix_ring_entry *e;
	u64 seq;

	seq = atomic64_inc_return(&vmfix_ring_seq);
	e = &vmfix_ring[(seq - 1) % VMFIX_RING_SIZE];

	WRITE_ONCE(e->seq, 0);
	/* readers see the entry invalid before any field changes */
	smp_wmb();
	e->start = start;
	e->end = end;
	e->old = hit->old;
	e->new = hit->new;
	e->rules = (u8)hit->key;
	e->hook = (u8)(hit->key >> 16);
	e->mode = (u8)(hit->key >> 24);
	memcpy(e->bdf, vdev->bdf, sizeof(e->bdf));
	/* publish: every field above is visible before the sequence */
	smp_store_release(&e->seq, seq);
}

NOKPROBE_SYMBOL(vmfix_ring_store);

__printf(2, 3)
void vmfix_buf_printf(struct vmfix_buf *b, const char *fmt, ...)
{
	va_list args;

	if (b->len >= b->size)
		return;
	va_start(args, fmt);
	b->len += vscnprintf(b->buf + b->len, b->size - b->len, fmt, args);
	va_end(args);
}

static void vmfix_counters_dev(struct vmfix_buf *b, const struct vmfix_dev *d)
{
	u64 sum[VMFIX_CTR_COUNT] = { };
	unsigned int c;
	int cpu;

	for_each_possible_cpu(cpu)
		for (c = 0; c < VMFIX_CTR_COUNT; c++)
			sum[c] += READ_ONCE(per_cpu_ptr(vmfix_pcpu, cpu)->dev[d->slot][c]);
	vmfix_buf_printf(b, "device bdf=%s", d->bdf);
	for (c = 0; c < VMFIX_CTR_COUNT; c++)
		vmfix_buf_printf(b, " %s=%llu", vmfix_ctr_names[c], sum[c]);
	vmfix_buf_printf(b, "\n");
}

void vmfix_counters_show(struct vmfix_buf *b)
{
	const struct vmfix_devset *set;
	u64 other = 0;
	unsigned int i;
	int cpu;

	vmfix_buf_printf(b, "schema 1\n");
	rcu_read_lock();
	set = rcu_dereference(vmfix_devset);
	for (i = 0; set && i < set->count; i++)
		if (set->devs[i].scoped && set->devs[i].slot != VMFIX_NO_SLOT)
			vmfix_counters_dev(b, &set->devs[i]);
	rcu_read_unlock();
	for_each_possible_cpu(cpu)
		other += READ_ONCE(per_cpu_ptr(vmfix_pcpu, cpu)->other_ranges);
	vmfix_buf_printf(b, "other ranges=%llu\n", other);
}

static void vmfix_rules_print(struct vmfix_buf *b, u32 rules)
{
	const char *sep = "";
	unsigned int bit;

	for (bit = 0; bit < VMFIX_RULE_COUNT; bit++) {
		if (!(rules & (1U << bit)))
			continue;
		vmfix_buf_printf(b, "%s%s", sep,
				 vmfix_rule_name((enum vmfix_rule)(1U << bit)));
		sep = ",";
	}
	if (!*sep)
		vmfix_buf_printf(b, "-");
}

void vmfix_recent_show(struct vmfix_buf *b)
{
	u64 head = atomic64_read(&vmfix_ring_seq);
	u64 seq = head > VMFIX_RING_SIZE ? head - VMFIX_RING_SIZE + 1 : 1;
	struct vmfix_ring_entry copy;
	const struct vmfix_ring_entry *e;

	vmfix_buf_printf(b, "schema 1\n");
	for (; seq <= head; seq++) {
		e = &vmfix_ring[(seq - 1) % VMFIX_RING_SIZE];
		/* pairs with the release in vmfix_ring_store() */
		if (smp_load_acquire(&e->seq) != seq)
			continue;
		memcpy(&copy, e, sizeof(copy));
		/* the copy is complete before the sequence is checked again */
		smp_rmb();
		if (READ_ONCE(e->seq) != seq || copy.seq != seq)
			continue;
		copy.bdf[VMFIX_BDF_LEN - 1] = '\0';
		vmfix_buf_printf(b,
				 "rewrite seq=%llu bdf=%s hook=%s mode=%s start=0x%llx end=0x%llx old=0x%016llx new=0x%016llx rules=",
				 seq, copy.bdf, vmfix_hook_names[copy.hook],
				 vmfix_mode_name((enum vmfix_mode)copy.mode),
				 copy.start, copy.end, copy.old, copy.new);
		vmfix_rules_print(b, copy.rules);
		vmfix_buf_printf(b, "\n");
	}
}
