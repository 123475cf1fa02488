// SPDX-License-Identifier: GPL-2.0
/*
 * vmfix_companion: test-only module for the QEMU system tests (never installed).
 *
 * It drives the REAL code of the loaded amdgpu.ko that computes GPUVM PTE flags on gfx10
 * (gmc_v10_0_get_vm_pte, and gmc_v10_0_map_mtype before 6.18) with a synthetic amdgpu_device
 * whose ->dev (offset 0) is a device that rdna1_vmfix was told is an amdgpu-bound PCI device
 * (vmfix_test_add_device(): 1002:731f Navi10 for "rdna1", 1002:73bf Navi21 for "rdna2").
 * The flags the driver produced are then fed to rdna1_vmfix's chokepoint handler through
 * vmfix_test_ptes_update(). No GPU is involved; the driver functions are the shipped ones.
 *
 *   # echo attach > /sys/kernel/debug/vmfix_companion/ctl
 *   # echo "call rdna1 cc 0x3000000000073" > /sys/kernel/debug/vmfix_companion/ctl
 *   # cat /sys/kernel/debug/vmfix_companion/ctl
 *   call dev=rdna1 req=cc in=0x0003000000000073 map_mtype=0x0002000000000000
 *     get_vm_pte=0x0002000000000073 chokepoint=0x0000000000000073 chokepoint_rc=0
 *   (one line)
 *
 * Commands (one per write; reading returns the output of the last one):
 *   attach | detach          register/unregister the two synthetic devices with rdna1_vmfix
 *   call DEV REQ IN          DEV rdna1|rdna2, REQ default|nc|wc|cc|uc, IN: starting PTE flags
 *   bench N                  N calls of the real gmc_v10_0_get_vm_pte (rdna1, CC request)
 *   benchchk N               N calls of rdna1_vmfix's chokepoint handler (attached, CC flags)
 *   standin DEV FLAGS        call a stand-in with amdgpu_vm_ptes_update's prototype that carries
 *                            a kprobe with rdna1_vmfix's real pre-handler: shows whether the
 *                            handler's r8 change reaches the probed function on this kernel
 *   probe none|kretprobe|fprobe   own empty probe on gmc_v10_0_get_vm_pte (mechanism cost)
 *   benchstandin N none|empty|vmfix  N calls of the stand-in (rdna1 device, CC flags) with no
 *                            probe, an empty kprobe, or a kprobe with rdna1_vmfix's real pre-handler:
 *                            the chokepoint's cost against the bare kprobe mechanism
 *
 * rdna1_vmfix's test entry points are taken with symbol_get() only while attached, so this
 * module loads without rdna1_vmfix and never pins it except between attach and detach.
 * The driver functions are only ever called through pointers after checking, on IBT kernels,
 * that they start with ENDBR64: both are address-taken (gmc funcs table) and keep it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci_ids.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#if IS_ENABLED(CONFIG_FPROBE)
#include <linux/fprobe.h>
#endif

#include "compat.h"	/* VMFIX_KERNEL_BEFORE(), generated/abi.h */
#include "vmfix_policy.h"
#include "vmfix_test.h"

/*
 * gmc_v10_0_get_vm_pte lost its mapping argument in 6.18 ("rework how PTE
 * flags are generated"); decided here from the version, independently of the
 * ABI rdna1_vmfix derives, so a wrong derivation cannot hide itself.
 */
#define VMC_NEW_PTE_API (!VMFIX_KERNEL_BEFORE(6, 18, 0))

/* UAPI AMDGPU_VM_* (include/uapi/drm/amdgpu_drm.h, identical 6.1 .. 7.3) */
#define VMC_VM_PAGE_READABLE	BIT(1)
#define VMC_VM_PAGE_WRITEABLE	BIT(2)
#define VMC_VM_PAGE_EXECUTABLE	BIT(3)
#define VMC_VM_MTYPE(n)		((u32)(n) << 5)

/* amdgpu_bo_va_mapping.flags (u64 HW PTE flags before 6.18) and .bo_va */
#define VMC_MAPPING_FLAGS_OFF	0x50
#define VMC_MAPPING_SIZE	0x100
/* amdgpu_device is ~380 KiB on 7.3; only ->dev (offset 0) is read, the rest stays zero */
#define VMC_ADEV_SIZE		(512 * 1024)
#define VMC_OUT_SIZE		512
#define VMC_ENDBR64		0xfa1e0ff3U

typedef u64 (*vmc_map_mtype_fn)(void *adev, u32 flags);
#if VMC_NEW_PTE_API
typedef void (*vmc_get_vm_pte_fn)(void *adev, void *vm, void *bo, u32 vm_flags, u64 *flags);
#else
typedef void (*vmc_get_vm_pte_fn)(void *adev, void *mapping, u64 *flags);
#endif

struct vmc_dev {
	const char *name;
	u16 device;
	struct device *dev;
	void *adev;
};

static struct vmc_dev vmc_devs[] = {
	{ .name = "rdna1", .device = 0x731f },	/* Navi10, gfx1010: scoped */
	{ .name = "rdna2", .device = 0x73bf },	/* Navi21, gfx1030: never touched */
};

static const struct {
	const char *name;
	u32 uapi;
} vmc_reqs[] = {
	{ "default", VMC_VM_MTYPE(0) },
	{ "nc", VMC_VM_MTYPE(1) },
	{ "wc", VMC_VM_MTYPE(2) },
	{ "cc", VMC_VM_MTYPE(3) },
	{ "uc", VMC_VM_MTYPE(4) },
};

static DEFINE_MUTEX(vmc_lock);
static struct dentry *vmc_dir;
static char vmc_out[VMC_OUT_SIZE];
#if !VMC_NEW_PTE_API
static u64 vmc_mapping[VMC_MAPPING_SIZE / sizeof(u64)];
static u64 vmc_bo_va[8];	/* ->base.bo (offset 8) stays NULL: no BO, like SVM/PRT */
#endif
static vmc_get_vm_pte_fn vmc_get_vm_pte;
static vmc_map_mtype_fn vmc_map_mtype;
static bool vmc_attached;

static int (*vmc_add_device)(struct device *dev, u16 vendor, u16 device);
static void (*vmc_remove_device)(struct device *dev);
static int (*vmc_ptes_update)(void *adev, u64 start, u64 end, u64 *flags);
static kprobe_pre_handler_t (*vmc_pre_handler)(void);

/* Address of a static amdgpu function, or 0: a kprobe resolves module-local names. */
static unsigned long vmc_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	char sym[KSYM_SYMBOL_LEN];
	unsigned long addr, off;
	const char *plus;
	u32 insn;

	if (register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

	/* On IBT kernels the probe sits at sym+4, after ENDBR64: use the symbol start. */
	sprint_symbol(sym, addr);
	plus = strchr(sym, '+');
	if (!plus || strncmp(sym, name, plus - sym) || sscanf(plus, "+0x%lx/", &off) != 1)
		return 0;
	addr -= off;
	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT)) {
		if (copy_from_kernel_nofault(&insn, (void *)addr, sizeof(insn)) ||
		    insn != VMC_ENDBR64) {
			pr_err("%s has no ENDBR64, refusing an indirect call\n", name);
			return 0;
		}
	}
	return addr;
}

static int vmc_resolve(void)
{
	if (vmc_get_vm_pte)
		return 0;
	vmc_get_vm_pte = (vmc_get_vm_pte_fn)vmc_lookup("gmc_v10_0_get_vm_pte");
	if (!vmc_get_vm_pte)
		return -ENOENT;
	if (!VMC_NEW_PTE_API) {
		vmc_map_mtype = (vmc_map_mtype_fn)vmc_lookup("gmc_v10_0_map_mtype");
		if (!vmc_map_mtype) {
			vmc_get_vm_pte = NULL;
			return -ENOENT;
		}
	}
	return 0;
}

/* One PTE computation exactly as amdgpu_vm_bo_update does it, minus the BO. */
static u64 vmc_compute(struct vmc_dev *d, u32 req, u64 in, u64 *map_mtype)
{
	u32 uapi = VMC_VM_PAGE_READABLE | VMC_VM_PAGE_WRITEABLE | VMC_VM_PAGE_EXECUTABLE | req;
	u64 flags = in;

	*map_mtype = 0;
#if VMC_NEW_PTE_API
	vmc_get_vm_pte(d->adev, NULL, NULL, uapi, &flags);
#else
	/* amdgpu_gem_va_map_flags(): RWX bits + gmc_funcs->map_mtype(adev, flags & MTYPE_MASK) */
	*map_mtype = vmc_map_mtype(d->adev, req);
	vmc_mapping[0] = (unsigned long)vmc_bo_va;
	vmc_mapping[VMC_MAPPING_FLAGS_OFF / sizeof(u64)] =
		VMFIX_PTE_READABLE | VMFIX_PTE_WRITEABLE | VMFIX_PTE_EXECUTABLE | *map_mtype;
	vmc_get_vm_pte(d->adev, vmc_mapping, &flags);
#endif
	(void)uapi;
	return flags;
}

static struct vmc_dev *vmc_find_dev(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vmc_devs); i++)
		if (!strcmp(vmc_devs[i].name, name))
			return &vmc_devs[i];
	return NULL;
}

static int vmc_cmd_call(const char *dev_name, const char *req_name, const char *in_s)
{
	struct vmc_dev *d = vmc_find_dev(dev_name);
	u64 in, pte, chk, mt;
	int i, ret, crc = -ENODEV;

	if (!d || kstrtou64(in_s, 0, &in))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(vmc_reqs); i++)
		if (!strcmp(vmc_reqs[i].name, req_name))
			break;
	if (i == ARRAY_SIZE(vmc_reqs))
		return -EINVAL;
	ret = vmc_resolve();
	if (ret)
		return ret;
	pte = vmc_compute(d, vmc_reqs[i].uapi, in, &mt);
	chk = pte;
	if (vmc_attached)
		crc = vmc_ptes_update(d->adev, 0x100000, 0x100010, &chk);
	scnprintf(vmc_out, sizeof(vmc_out),
		  "call dev=%s req=%s in=0x%016llx map_mtype=0x%016llx get_vm_pte=0x%016llx chokepoint=0x%016llx chokepoint_rc=%d\n",
		  d->name, req_name, in, mt, pte, chk, crc);
	return 0;
}

/* Best of 5 rounds of N calls of @fn: TCG and timer interrupts only ever add time. */
static int vmc_time(const char *what, const char *n_s, u64 (*fn)(void))
{
	u64 best = U64_MAX, t0, dt, sink = 0;
	unsigned int n, i, round;

	if (kstrtouint(n_s, 0, &n) || !n || n > 10000000)
		return -EINVAL;
	for (round = 0; round < 5; round++) {
		t0 = ktime_get_ns();
		for (i = 0; i < n; i++)
			sink += fn();
		dt = ktime_get_ns() - t0;
		best = min(best, dt);
		cond_resched();
	}
	scnprintf(vmc_out, sizeof(vmc_out),
		  "%s calls=%u best_ns=%llu ns_per_call=%llu.%03llu sink=%llx\n", what, n, best,
		  div_u64(best, n), div_u64((best % n) * 1000, n), sink & 0xf);
	return 0;
}

static u64 vmc_one_pte(void)
{
	u64 mt;

	return vmc_compute(&vmc_devs[0], VMC_VM_MTYPE(3), 0x3000000000073ULL, &mt);
}

static u64 vmc_one_chokepoint(void)
{
	u64 flags = 0x2000000000073ULL;

	vmc_ptes_update(vmc_devs[0].adev, 0x100000, 0x100010, &flags);
	return flags;
}

static int vmc_cmd_bench(const char *n_s)
{
	int ret = vmc_resolve();

	return ret ? ret : vmc_time("bench", n_s, vmc_one_pte);
}

static int vmc_cmd_benchchk(const char *n_s)
{
	return vmc_attached ? vmc_time("benchchk", n_s, vmc_one_chokepoint) : -ENODEV;
}

/* Empty probes on the same function, to compare the cost of the mechanisms themselves. */
static int vmc_krp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return 0;
}

NOKPROBE_SYMBOL(vmc_krp_entry);

static int vmc_krp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return 0;
}

NOKPROBE_SYMBOL(vmc_krp_ret);

static struct kretprobe vmc_krp = {
	.kp.symbol_name = "gmc_v10_0_get_vm_pte",
	.entry_handler = vmc_krp_entry,
	.handler = vmc_krp_ret,
	.maxactive = 4,	/* only this module calls it, one caller at a time */
};

/* fprobe handlers: ret_ip and entry_data since 6.5, struct ftrace_regs since 6.14 */
#if IS_ENABLED(CONFIG_FPROBE) && !VMFIX_KERNEL_BEFORE(6, 5, 0)
#define VMC_HAVE_FPROBE 1
#if !VMFIX_KERNEL_BEFORE(6, 14, 0)
static int vmc_fp_entry(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
			struct ftrace_regs *regs, void *data)
{
	return 0;
}

static void vmc_fp_exit(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
			struct ftrace_regs *regs, void *data)
{
}
#else
static int vmc_fp_entry(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
			struct pt_regs *regs, void *data)
{
	return 0;
}

static void vmc_fp_exit(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
			struct pt_regs *regs, void *data)
{
}
#endif

NOKPROBE_SYMBOL(vmc_fp_entry);
NOKPROBE_SYMBOL(vmc_fp_exit);

static struct fprobe vmc_fp = {
	.entry_handler = vmc_fp_entry,
	.exit_handler = vmc_fp_exit,
};
#else
#define VMC_HAVE_FPROBE 0
#endif

static enum { VMC_PROBE_NONE, VMC_PROBE_KRETPROBE, VMC_PROBE_FPROBE } vmc_probe;

static void vmc_probe_off(void)
{
	if (vmc_probe == VMC_PROBE_KRETPROBE)
		unregister_kretprobe(&vmc_krp);
#if VMC_HAVE_FPROBE
	if (vmc_probe == VMC_PROBE_FPROBE)
		unregister_fprobe(&vmc_fp);
#endif
	vmc_probe = VMC_PROBE_NONE;
}

static int vmc_cmd_probe(const char *kind)
{
	int ret = 0;

	vmc_probe_off();
	if (!strcmp(kind, "none")) {
		ret = 0;
	} else if (!strcmp(kind, "kretprobe")) {
		memset(&vmc_krp.kp, 0, sizeof(vmc_krp.kp));
		vmc_krp.kp.symbol_name = "gmc_v10_0_get_vm_pte";
		ret = register_kretprobe(&vmc_krp);
		if (!ret)
			vmc_probe = VMC_PROBE_KRETPROBE;
	} else if (!strcmp(kind, "fprobe")) {
#if VMC_HAVE_FPROBE
		unsigned long ip;

		ret = vmc_resolve();
		if (ret)
			return ret;
		ip = (unsigned long)vmc_get_vm_pte;
		memset(&vmc_fp, 0, sizeof(vmc_fp));
		vmc_fp.entry_handler = vmc_fp_entry;
		vmc_fp.exit_handler = vmc_fp_exit;
		ret = register_fprobe_ips(&vmc_fp, &ip, 1);
		if (!ret)
			vmc_probe = VMC_PROBE_FPROBE;
#else
		ret = -EOPNOTSUPP;
#endif
	} else {
		return -EINVAL;
	}
	scnprintf(vmc_out, sizeof(vmc_out), "probe kind=%s rc=%d\n", kind, ret);
	return ret;
}

/*
 * Same prototype as amdgpu_vm_ptes_update(params, start, end, dst, flags): flags arrive in r8.
 * Global, noinline and address-taken, so the compiler keeps that ABI and the ENDBR64.
 */
noinline int vmc_standin_ptes_update(void *params, u64 start, u64 end, u64 dst, u64 flags);
static u64 vmc_standin_seen;

noinline int vmc_standin_ptes_update(void *params, u64 start, u64 end, u64 dst, u64 flags)
{
	WRITE_ONCE(vmc_standin_seen, flags);
	return 0;
}

static int vmc_cmd_standin(const char *dev_name, const char *in_s)
{
	struct vmc_dev *d = vmc_find_dev(dev_name);
	struct kprobe kp = { .symbol_name = "vmc_standin_ptes_update" };
	int (*fn)(void *params, u64 start, u64 end, u64 dst, u64 flags) = vmc_standin_ptes_update;
	void *params[8] = { };
	u64 in;
	int ret;

	if (!d || kstrtou64(in_s, 0, &in))
		return -EINVAL;
	if (!vmc_attached)
		return -ENODEV;
	kp.pre_handler = vmc_pre_handler();
	if (!kp.pre_handler)
		return -EPERM;
	ret = register_kprobe(&kp);
	if (ret)
		return ret;
	/* amdgpu_vm_update_params.adev, where rdna1_vmfix's generated ABI says it is */
	params[VMFIX_ABI_PARAMS_ADEV_OFF / sizeof(void *)] = d->adev;
	vmc_standin_seen = 0;
	OPTIMIZER_HIDE_VAR(fn);	/* a real indirect call, as amdgpu's caller makes a real call */
	fn(params, 0x100000, 0x100010, 0, in);
	unregister_kprobe(&kp);
	scnprintf(vmc_out, sizeof(vmc_out),
		  "standin dev=%s in=0x%016llx seen=0x%016llx missed=%lu\n",
		  d->name, in, READ_ONCE(vmc_standin_seen), kp.nmissed);
	return 0;
}

static int vmc_empty_pre(struct kprobe *kp, struct pt_regs *regs)
{
	return 0;
}

NOKPROBE_SYMBOL(vmc_empty_pre);

static void *vmc_standin_params[8];

static u64 vmc_one_standin(void)
{
	int (*fn)(void *params, u64 start, u64 end, u64 dst, u64 flags) = vmc_standin_ptes_update;

	OPTIMIZER_HIDE_VAR(fn);
	fn(vmc_standin_params, 0x100000, 0x100010, 0, 0x2000000000073ULL);
	return READ_ONCE(vmc_standin_seen);
}

static int vmc_cmd_benchstandin(const char *n_s, const char *kind)
{
	struct kprobe kp = { .symbol_name = "vmc_standin_ptes_update" };
	char what[32];
	int ret;

	if (!vmc_attached)
		return -ENODEV;
	vmc_standin_params[VMFIX_ABI_PARAMS_ADEV_OFF / sizeof(void *)] = vmc_devs[0].adev;
	if (!strcmp(kind, "empty"))
		kp.pre_handler = vmc_empty_pre;
	else if (!strcmp(kind, "vmfix"))
		kp.pre_handler = vmc_pre_handler();
	else if (strcmp(kind, "none"))
		return -EINVAL;
	if (strcmp(kind, "none")) {
		if (!kp.pre_handler)
			return -EPERM;
		ret = register_kprobe(&kp);
		if (ret)
			return ret;
	}
	snprintf(what, sizeof(what), "benchstandin-%s", kind);
	ret = vmc_time(what, n_s, vmc_one_standin);
	if (strcmp(kind, "none"))
		unregister_kprobe(&kp);
	return ret;
}

static void vmc_detach(void)
{
	int i;

	if (!vmc_attached)
		return;
	for (i = 0; i < ARRAY_SIZE(vmc_devs); i++)
		vmc_remove_device(vmc_devs[i].dev);
	symbol_put(vmfix_test_add_device);
	symbol_put(vmfix_test_remove_device);
	symbol_put(vmfix_test_ptes_update);
	symbol_put(vmfix_test_pre_handler);
	vmc_attached = false;
}

static int vmc_attach(void)
{
	int i, ret = -ENOENT;

	if (vmc_attached)
		return 0;
	vmc_add_device = symbol_get(vmfix_test_add_device);
	vmc_remove_device = symbol_get(vmfix_test_remove_device);
	vmc_ptes_update = symbol_get(vmfix_test_ptes_update);
	vmc_pre_handler = symbol_get(vmfix_test_pre_handler);
	if (!vmc_add_device || !vmc_remove_device || !vmc_ptes_update || !vmc_pre_handler)
		goto put;
	for (i = 0; i < ARRAY_SIZE(vmc_devs); i++) {
		ret = vmc_add_device(vmc_devs[i].dev, PCI_VENDOR_ID_ATI, vmc_devs[i].device);
		if (ret)
			goto remove;
	}
	vmc_attached = true;
	return 0;
remove:
	while (--i >= 0)
		vmc_remove_device(vmc_devs[i].dev);
put:
	if (vmc_add_device)
		symbol_put(vmfix_test_add_device);
	if (vmc_remove_device)
		symbol_put(vmfix_test_remove_device);
	if (vmc_ptes_update)
		symbol_put(vmfix_test_ptes_update);
	if (vmc_pre_handler)
		symbol_put(vmfix_test_pre_handler);
	return ret;
}

static int vmc_run(char *cmd)
{
	char *argv[4] = { };
	int argc = 0, ret;
	char *tok;

	while ((tok = strsep(&cmd, " \t\n")) && argc < ARRAY_SIZE(argv))
		if (*tok)
			argv[argc++] = tok;
	if (!argc)
		return -EINVAL;
	vmc_out[0] = '\0';
	if (!strcmp(argv[0], "attach") && argc == 1) {
		ret = vmc_attach();
		scnprintf(vmc_out, sizeof(vmc_out), "attach rc=%d\n", ret);
	} else if (!strcmp(argv[0], "detach") && argc == 1) {
		vmc_detach();
		ret = 0;
		scnprintf(vmc_out, sizeof(vmc_out), "detach rc=0\n");
	} else if (!strcmp(argv[0], "call") && argc == 4) {
		ret = vmc_cmd_call(argv[1], argv[2], argv[3]);
	} else if (!strcmp(argv[0], "bench") && argc == 2) {
		ret = vmc_cmd_bench(argv[1]);
	} else if (!strcmp(argv[0], "standin") && argc == 3) {
		ret = vmc_cmd_standin(argv[1], argv[2]);
	} else if (!strcmp(argv[0], "benchchk") && argc == 2) {
		ret = vmc_cmd_benchchk(argv[1]);
	} else if (!strcmp(argv[0], "benchstandin") && argc == 3) {
		ret = vmc_cmd_benchstandin(argv[1], argv[2]);
	} else if (!strcmp(argv[0], "probe") && argc == 2) {
		ret = vmc_cmd_probe(argv[1]);
	} else {
		ret = -EINVAL;
	}
	if (ret && !vmc_out[0])
		scnprintf(vmc_out, sizeof(vmc_out), "%s rc=%d\n", argv[0], ret);
	return ret;
}

static ssize_t vmc_ctl_write(struct file *f, const char __user *ubuf, size_t len, loff_t *pos)
{
	char buf[128];
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	mutex_lock(&vmc_lock);
	ret = vmc_run(buf);
	mutex_unlock(&vmc_lock);
	return ret ? ret : len;
}

static ssize_t vmc_ctl_read(struct file *f, char __user *ubuf, size_t len, loff_t *pos)
{
	ssize_t ret;

	mutex_lock(&vmc_lock);
	ret = simple_read_from_buffer(ubuf, len, pos, vmc_out, strlen(vmc_out));
	mutex_unlock(&vmc_lock);
	return ret;
}

static const struct file_operations vmc_ctl_fops = {
	.owner = THIS_MODULE,
	.write = vmc_ctl_write,
	.read = vmc_ctl_read,
	.llseek = default_llseek,
};

/* Forget amdgpu's addresses when it goes; they are looked up again after a reload. */
static int vmc_module_event(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;

	if (action != MODULE_STATE_GOING || strcmp(mod->name, "amdgpu"))
		return NOTIFY_DONE;
	mutex_lock(&vmc_lock);
	vmc_probe_off();
	vmc_get_vm_pte = NULL;
	vmc_map_mtype = NULL;
	mutex_unlock(&vmc_lock);
	return NOTIFY_DONE;
}

static struct notifier_block vmc_module_nb = {
	.notifier_call = vmc_module_event,
};

static void vmc_free_devs(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vmc_devs); i++) {
		kvfree(vmc_devs[i].adev);
		vmc_devs[i].adev = NULL;
		if (vmc_devs[i].dev)
			root_device_unregister(vmc_devs[i].dev);
		vmc_devs[i].dev = NULL;
	}
}

static int __init vmc_init(void)
{
	char name[32];
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(vmc_devs); i++) {
		snprintf(name, sizeof(name), "vmfix_companion_%s", vmc_devs[i].name);
		vmc_devs[i].dev = root_device_register(name);
		if (IS_ERR(vmc_devs[i].dev)) {
			ret = PTR_ERR(vmc_devs[i].dev);
			vmc_devs[i].dev = NULL;
			goto free_devs;
		}
		vmc_devs[i].adev = kvzalloc(VMC_ADEV_SIZE, GFP_KERNEL);
		if (!vmc_devs[i].adev) {
			ret = -ENOMEM;
			goto free_devs;
		}
		*(struct device **)((u8 *)vmc_devs[i].adev + VMFIX_ABI_ADEV_DEV_OFF) =
			vmc_devs[i].dev;
	}
	ret = register_module_notifier(&vmc_module_nb);
	if (ret)
		goto free_devs;
	vmc_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("ctl", 0600, vmc_dir, NULL, &vmc_ctl_fops);
	pr_info("ready (test-only module: drives the real amdgpu PTE-flag functions)\n");
	return 0;
free_devs:
	vmc_free_devs();
	return ret;
}

static void __exit vmc_exit(void)
{
	debugfs_remove_recursive(vmc_dir);
	unregister_module_notifier(&vmc_module_nb);
	mutex_lock(&vmc_lock);
	vmc_probe_off();
	vmc_detach();
	mutex_unlock(&vmc_lock);
	vmc_free_devs();
}

module_init(vmc_init);
module_exit(vmc_exit);
MODULE_DESCRIPTION("rdna1-vmfix QEMU test companion: drives the real amdgpu PTE-flag code");
MODULE_LICENSE("GPL");
