/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix internals shared by main.c, hooks.c, match.c, stats.c,
 * params.c and test.c. The policy itself lives in vmfix_policy.c.
 */
#ifndef VMFIX_MOD_H
#define VMFIX_MOD_H

#include <linux/types.h>
#include <linux/device.h>
#include <linux/rcupdate.h>
#include <linux/ptrace.h>
#include <linux/kprobes.h>

#include "vmfix_policy.h"

#define VMFIX_MAX_DEVICES	8
#define VMFIX_RING_SIZE		32
#define VMFIX_BDF_LEN		24
#define VMFIX_DEVICES_LEN	256
#define VMFIX_REASON_LEN	96
#define VMFIX_NO_SLOT		0xff

/* ---- match.c: which GPUs the policy acts on ---- */

/* A row of the device table (vmfix_devices.h) */
struct vmfix_pci_id {
	u16 device;
	const char *family;
	const char *gfx;
	u32 gc;		/* GC IP version, as IP_VERSION(major, minor, rev) */
	bool in_scope;
};

struct vmfix_dev {
	struct device *dev;		/* compared against adev->dev */
	u16 vendor;
	u16 device;
	const struct vmfix_pci_id *id;	/* NULL: not RDNA1 */
	bool scoped;			/* RDNA1 and selected by devices= */
	bool synthetic;			/* added by the test interface */
	u8 slot;			/* counter slot, VMFIX_NO_SLOT if !scoped */
	char bdf[VMFIX_BDF_LEN];
};

struct vmfix_devset {
	unsigned int count;
	struct vmfix_dev devs[VMFIX_MAX_DEVICES];
};

extern struct vmfix_devset __rcu *vmfix_devset;

const struct vmfix_pci_id *vmfix_match_pci_id(u16 vendor, u16 device);
u32 vmfix_slot_gen(u8 slot);
void vmfix_devices_refresh(bool with_pci);
void vmfix_devices_clear(void);
int vmfix_devices_validate(const char *list);
int vmfix_devices_bus_init(void);
void vmfix_devices_bus_exit(void);
#ifdef VMFIX_TEST_BUILD
int vmfix_test_devices_add(struct device *dev, u16 vendor, u16 device);
void vmfix_test_devices_remove(struct device *dev);
#endif

/* ---- params.c ---- */

#ifdef VMFIX_TEST_BUILD
extern bool vmfix_test_enabled;
#else
#define vmfix_test_enabled	false
#endif
/*
 * The policy parameters packed into one word, one byte each, so that the
 * hot path reads them with one load. params.c writes it; every store holds
 * kernel_param_lock(THIS_MODULE).
 */
#define VMFIX_POLICY_MODE_SHIFT		0
#define VMFIX_POLICY_CC_TO_SHIFT	8
#define VMFIX_POLICY_COHERENT_SHIFT	16
#define VMFIX_POLICY_PACK(mode, cc_to, coherent)			\
	((u32)(mode) << VMFIX_POLICY_MODE_SHIFT |			\
	 (u32)(cc_to) << VMFIX_POLICY_CC_TO_SHIFT |			\
	 (u32)(coherent) << VMFIX_POLICY_COHERENT_SHIFT)

extern u32 vmfix_param_policy;

static __always_inline u32 vmfix_policy_word(void)
{
	return READ_ONCE(vmfix_param_policy);
}

static __always_inline void vmfix_policy_unpack(u32 word,
						struct vmfix_policy *policy)
{
	policy->mode = (enum vmfix_mode)(u8)(word >> VMFIX_POLICY_MODE_SHIFT);
	policy->cc_to = (enum vmfix_cc_to)(u8)(word >> VMFIX_POLICY_CC_TO_SHIFT);
	policy->coherent =
		(enum vmfix_coherent)(u8)(word >> VMFIX_POLICY_COHERENT_SHIFT);
}

/* The policy the hot path applies, from one read of the parameters. */
static __always_inline void vmfix_policy_snapshot(struct vmfix_policy *policy)
{
	vmfix_policy_unpack(vmfix_policy_word(), policy);
}

enum vmfix_mode vmfix_current_mode(void);
bool vmfix_attribution_wanted(void);
void vmfix_devices_param_copy(char *buf, size_t len);
void vmfix_params_ready(void);
void vmfix_params_exit(void);

/* ---- stats.c: per-CPU counters and the ring of recent rule hits ---- */

enum vmfix_ctr {
	VMFIX_CTR_RANGES,
	VMFIX_CTR_SEEN_NC,
	VMFIX_CTR_SEEN_WC,
	VMFIX_CTR_SEEN_CC,
	VMFIX_CTR_SEEN_UC,
	VMFIX_CTR_SEEN_RESERVED,
	VMFIX_CTR_RULE_CC_DOWNGRADE,
	VMFIX_CTR_RULE_UC_SNOOP,
	VMFIX_CTR_RULE_COHERENT_ALL,
	VMFIX_CTR_REWRITTEN,
	VMFIX_CTR_WOULD_REWRITE,
	VMFIX_CTR_REQ_CC_GET_VM_PTE,
	VMFIX_CTR_REQ_CC_MAP_MTYPE,
	VMFIX_CTR_COUNT,
};

enum vmfix_hook_id {
	VMFIX_HOOK_PTES_UPDATE,
	VMFIX_HOOK_GET_VM_PTE,
	VMFIX_HOOK_MAP_MTYPE,
	VMFIX_HOOK_COUNT,
};

int vmfix_stats_init(void);
void vmfix_stats_exit(void);
void vmfix_stats_reset(void);
void vmfix_stats_clear_slot(u8 slot);
u64 vmfix_hook_hits(enum vmfix_hook_id hook);
/* the counting and ring functions of the probe handlers: vmfix_hot.h */

/* ---- hooks.c ---- */

int vmfix_hooks_sync(enum vmfix_mode mode, bool attribution, char *reason,
		     size_t reason_len, bool *refused);
void vmfix_hooks_unregister(void);
bool vmfix_chokepoint_armed(void);
struct vmfix_buf;
void vmfix_hooks_status(struct vmfix_buf *b);
void vmfix_hooks_report(void);
int vmfix_ptes_update_pre(struct kprobe *kp, struct pt_regs *regs);

/* ---- abi.c: the generated hook ABI and the arm-time check ---- */

int vmfix_abi_verify(char *reason, size_t reason_len);

/*
 * The register that holds argument @n (0-based, n <= 5) of a probed
 * x86-64 function. @n always comes from generated/abi.h, which gen-abi.sh
 * writes only after checking in amdgpu.ko's BTF that every argument up to
 * it is passed in one register.
 */
static __always_inline unsigned long *vmfix_arg_reg(struct pt_regs *regs,
						    unsigned int n)
{
	switch (n) {
	case 0:
		return &regs->di;
	case 1:
		return &regs->si;
	case 2:
		return &regs->dx;
	case 3:
		return &regs->cx;
	case 4:
		return &regs->r8;
	default:
		return &regs->r9;
	}
}

/* The pointer-sized member at byte @off of the struct at @base. */
static __always_inline const void *vmfix_member_ptr(const void *base,
						    unsigned long off)
{
	return *(const void * const *)((const u8 *)base + off);
}

/* ---- main.c ---- */

void vmfix_refresh_async(void);
void vmfix_rearm(void);

#endif /* VMFIX_MOD_H */
