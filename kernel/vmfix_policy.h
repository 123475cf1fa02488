/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1-vmfix policy core: the one place that decides what happens to a
 * gfx10 GPUVM PTE. Pure C, no kernel or libc headers beyond fixed-width
 * types, no state: the module, the userspace tool and the tests all call
 * vmfix_pte_apply() and therefore agree by construction.
 *
 * PTE layout ("PTE format on NAVI 10", gmc_v10_0.c, unchanged 6.1 .. 7.3):
 * 63:59 reserved | 58 NOALLOC | 57 reserved | 56 TF | 55 LOG | 54 PDE_PTE |
 * 53:52 SW | 51 PRT | 50:48 MTYPE | 47:12 page base | 11:7 fragment |
 * 6 W | 5 R | 4 X | 3 TMZ | 2 SNOOPED | 1 SYSTEM | 0 VALID
 */
#ifndef VMFIX_POLICY_H
#define VMFIX_POLICY_H

#include "vmfix_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMFIX_BIT(n)		((u64)1 << (n))

#define VMFIX_PTE_VALID		VMFIX_BIT(0)
#define VMFIX_PTE_SYSTEM	VMFIX_BIT(1)
#define VMFIX_PTE_SNOOPED	VMFIX_BIT(2)
#define VMFIX_PTE_TMZ		VMFIX_BIT(3)
#define VMFIX_PTE_EXECUTABLE	VMFIX_BIT(4)
#define VMFIX_PTE_READABLE	VMFIX_BIT(5)
#define VMFIX_PTE_WRITEABLE	VMFIX_BIT(6)
#define VMFIX_PTE_FRAG_SHIFT	7
#define VMFIX_PTE_FRAG_MASK	((u64)0x1f << VMFIX_PTE_FRAG_SHIFT)
#define VMFIX_PTE_ADDR_MASK	((u64)0x0000fffffffff000)
#define VMFIX_PTE_MTYPE_SHIFT	48
#define VMFIX_PTE_MTYPE_MASK	((u64)7 << VMFIX_PTE_MTYPE_SHIFT)
#define VMFIX_PTE_PRT		VMFIX_BIT(51)
#define VMFIX_PTE_SW_SHIFT	52
#define VMFIX_PTE_SW_MASK	((u64)3 << VMFIX_PTE_SW_SHIFT)
#define VMFIX_PDE_PTE		VMFIX_BIT(54)
#define VMFIX_PTE_LOG		VMFIX_BIT(55)
#define VMFIX_PTE_TF		VMFIX_BIT(56)
#define VMFIX_PTE_NOALLOC	VMFIX_BIT(58)

/* MTYPE values of the gfx10 field (navi10_enum.h: TCC_MTYPE and MTYPE) */
enum vmfix_mtype {
	VMFIX_MTYPE_NC = 0,
	VMFIX_MTYPE_WC = 1,
	VMFIX_MTYPE_CC = 2,
	VMFIX_MTYPE_UC = 3,
	VMFIX_MTYPE_COUNT = 8,	/* the field is 3 bits wide; 4..7 are reserved */
};

enum vmfix_mode {
	VMFIX_MODE_OFF = 0,
	VMFIX_MODE_AUDIT = 1,
	VMFIX_MODE_ENFORCE = 2,
};

enum vmfix_cc_to {
	VMFIX_CC_TO_NC = 0,
	VMFIX_CC_TO_UC = 1,
};

enum vmfix_coherent {
	VMFIX_COHERENT_SNOOP = 0,
	VMFIX_COHERENT_ALL = 1,
};

/* Which rules fired, as a bit mask in struct vmfix_pte_out.rules */
enum vmfix_rule {
	VMFIX_RULE_CC_DOWNGRADE = 1 << 0,
	VMFIX_RULE_UC_SNOOP = 1 << 1,
	VMFIX_RULE_COHERENT_ALL = 1 << 2,
};

#define VMFIX_RULE_COUNT	3

struct vmfix_policy {
	enum vmfix_mode mode;
	enum vmfix_cc_to cc_to;
	enum vmfix_coherent coherent;
};

struct vmfix_pte_in {
	u64 flags;
	bool device_matches;	/* false for anything that is not RDNA1 */
};

struct vmfix_pte_out {
	u64 flags;		/* what the hardware gets: == in.flags unless enforce */
	u64 proposed;		/* what enforce makes of it, in every mode */
	u32 rules;		/* enum vmfix_rule bits that fired (audit too) */
	u8 mtype_in;
	u8 mtype_out;		/* MTYPE of .proposed */
	bool changed;		/* .flags != in.flags */
};

static VMFIX_INLINE u8 vmfix_pte_mtype(u64 flags)
{
	return (u8)((flags & VMFIX_PTE_MTYPE_MASK) >> VMFIX_PTE_MTYPE_SHIFT);
}

static VMFIX_INLINE u64 vmfix_pte_set_mtype(u64 flags, u8 mtype)
{
	return (flags & ~VMFIX_PTE_MTYPE_MASK) |
	       (((u64)mtype << VMFIX_PTE_MTYPE_SHIFT) & VMFIX_PTE_MTYPE_MASK);
}

/* Bits a rule may ever change; everything else is preserved. */
#define VMFIX_POLICY_TOUCHED_MASK	(VMFIX_PTE_MTYPE_MASK | VMFIX_PTE_SNOOPED)

static VMFIX_INLINE bool vmfix_policy_valid(const struct vmfix_policy *policy)
{
	return policy->mode <= VMFIX_MODE_ENFORCE &&
	       policy->cc_to <= VMFIX_CC_TO_UC &&
	       policy->coherent <= VMFIX_COHERENT_ALL;
}

static VMFIX_INLINE bool vmfix_pte_is_valid_system(u64 flags)
{
	return (flags & (VMFIX_PTE_VALID | VMFIX_PTE_SYSTEM)) ==
	       (VMFIX_PTE_VALID | VMFIX_PTE_SYSTEM);
}

/*
 * The decision for one PTE. Inline: the module calls it on every mapping
 * range of its chokepoint hook; userspace and the tests include it too.
 */
static VMFIX_INLINE void vmfix_pte_apply(const struct vmfix_policy *policy,
					 const struct vmfix_pte_in *in,
					 struct vmfix_pte_out *out)
{
	u64 flags = in->flags;
	u32 rules = 0;

	out->mtype_in = vmfix_pte_mtype(in->flags);

	if (in->device_matches && policy->mode != VMFIX_MODE_OFF &&
	    vmfix_policy_valid(policy)) {
		/*
		 * Rule 1: the cache-coherent MTYPE relies on probe-based
		 * coherence that GC 10.1 does not provide for the CPU; keep
		 * the line out of the GPU L2 as NC (or bypass it as UC).
		 */
		if (vmfix_pte_mtype(flags) == VMFIX_MTYPE_CC) {
			flags = vmfix_pte_set_mtype(flags,
						    policy->cc_to == VMFIX_CC_TO_UC ?
						    VMFIX_MTYPE_UC : VMFIX_MTYPE_NC);
			rules |= VMFIX_RULE_CC_DOWNGRADE;
		}

		/*
		 * Rule 3 (experiments): treat every valid system page as
		 * fine-grained, i.e. uncached in the GPU and snooped on PCIe.
		 */
		if (policy->coherent == VMFIX_COHERENT_ALL &&
		    vmfix_pte_is_valid_system(flags) &&
		    (vmfix_pte_mtype(flags) != VMFIX_MTYPE_UC ||
		     !(flags & VMFIX_PTE_SNOOPED))) {
			flags = vmfix_pte_set_mtype(flags, VMFIX_MTYPE_UC) |
				VMFIX_PTE_SNOOPED;
			rules |= VMFIX_RULE_COHERENT_ALL;
		}

		/*
		 * Rule 2: an uncached system page is only coherent with the
		 * CPU caches if PCIe snoops it; never leave UC unsnooped.
		 */
		if (vmfix_pte_is_valid_system(flags) &&
		    vmfix_pte_mtype(flags) == VMFIX_MTYPE_UC &&
		    !(flags & VMFIX_PTE_SNOOPED)) {
			flags |= VMFIX_PTE_SNOOPED;
			rules |= VMFIX_RULE_UC_SNOOP;
		}
	}

	out->proposed = flags;
	out->rules = rules;
	out->mtype_out = vmfix_pte_mtype(flags);
	out->flags = policy->mode == VMFIX_MODE_ENFORCE ? flags : in->flags;
	out->changed = out->flags != in->flags;
}

/* Names for parameters, logs and JSON; NULL for out-of-range values. */
const char *vmfix_mode_name(enum vmfix_mode mode);
const char *vmfix_cc_to_name(enum vmfix_cc_to cc_to);
const char *vmfix_coherent_name(enum vmfix_coherent coherent);
const char *vmfix_mtype_name(u8 mtype);
const char *vmfix_rule_name(enum vmfix_rule rule);

/* Parsers for the same names: 0 on success, -1 on an unknown name. */
int vmfix_mode_parse(const char *s, enum vmfix_mode *mode);
int vmfix_cc_to_parse(const char *s, enum vmfix_cc_to *cc_to);
int vmfix_coherent_parse(const char *s, enum vmfix_coherent *coherent);

#ifdef __cplusplus
}
#endif

#endif /* VMFIX_POLICY_H */
