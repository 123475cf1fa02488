// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix: keep MTYPE_CC out of the GPUVM PTEs of RDNA1 GPUs (Navi10,
 * Navi12, Navi14) on the distribution's own amdgpu.ko, and snoop uncached
 * system pages, by probing amdgpu_vm_ptes_update(). No driver rebuild.
 *
 *   # modprobe rdna1_vmfix mode=audit
 *   # cat /sys/kernel/rdna1_vmfix/status
 *   schema 1
 *   ...
 *   state armed
 *   # echo enforce > /sys/module/rdna1_vmfix/parameters/mode
 *   # cat /sys/kernel/rdna1_vmfix/counters
 *   # echo off > /sys/module/rdna1_vmfix/parameters/mode   (stock flags)
 *   # rmmod rdna1_vmfix                                    (hooks gone)
 *
 * The hooks are armed when amdgpu goes live and disarmed when it goes
 * away, so load order does not matter; mode=off arms none. Before arming,
 * abi.c checks that the loaded amdgpu is the one whose BTF the build
 * analysed; if not, or if a required symbol is missing, the module refuses
 * to arm, says so once in the log and in status, and stays loaded.
 * Formats: docs/status-abi.md.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/utsname.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "vmfix_mod.h"
#include "vmfix_stats.h"

#ifndef VMFIX_VERSION
#error "VMFIX_VERSION must come from the VERSION file (see Makefile)"
#endif

#define VMFIX_RECENT_BUF_SIZE	8192

/*
 * VMFIX_STATE_OFF (amdgpu checked, mode=off, no probe registered) shows as
 * "waiting" with reason "mode_off": schema 1 readers know four states.
 */
enum vmfix_state {
	VMFIX_STATE_WAITING,
	VMFIX_STATE_ARMED,
	VMFIX_STATE_OFF,
	VMFIX_STATE_REFUSED,
	VMFIX_STATE_ERROR,
};

static const char * const vmfix_state_names[] = {
	[VMFIX_STATE_WAITING] = "waiting",
	[VMFIX_STATE_ARMED] = "armed",
	[VMFIX_STATE_OFF] = "waiting",
	[VMFIX_STATE_REFUSED] = "refused",
	[VMFIX_STATE_ERROR] = "error",
};

/* Serialises arming, disarming and the state below. */
static DEFINE_MUTEX(vmfix_arm_lock);
static enum vmfix_state vmfix_state;
static bool vmfix_abi_checked;	/* the live amdgpu passed vmfix_abi_verify() */
static char vmfix_reason[VMFIX_REASON_LEN] = "-";
static struct kobject *vmfix_kobj;

static void vmfix_refresh_work_fn(struct work_struct *work)
{
	vmfix_devices_refresh(true);
}

static DECLARE_WORK(vmfix_refresh_work, vmfix_refresh_work_fn);

void vmfix_refresh_async(void)
{
	schedule_work(&vmfix_refresh_work);
}

/* Is amdgpu loaded? Resolve one of its long-lived symbols by probing it. */
static bool vmfix_amdgpu_loaded(void)
{
	struct kprobe kp = { .symbol_name = "amdgpu:amdgpu_device_init" };

	if (register_kprobe(&kp))
		return false;
	unregister_kprobe(&kp);
	return true;
}

/* Check the live amdgpu once, then arm the hooks the mode wants. */
static void vmfix_arm_locked(void)
{
	enum vmfix_mode mode = vmfix_current_mode();
	enum vmfix_state was = vmfix_state;
	bool refused;
	int ret;

	if (vmfix_state == VMFIX_STATE_REFUSED)
		return;
	if (!vmfix_abi_checked) {
		if (vmfix_abi_verify(vmfix_reason, sizeof(vmfix_reason))) {
			vmfix_state = VMFIX_STATE_REFUSED;
			return;
		}
		vmfix_abi_checked = true;
		vmfix_devices_refresh(true);
	}
	ret = vmfix_hooks_sync(mode, vmfix_attribution_wanted(), vmfix_reason,
			       sizeof(vmfix_reason), &refused);
	if (ret) {
		vmfix_state = refused ? VMFIX_STATE_REFUSED : VMFIX_STATE_ERROR;
		pr_err("refusing to arm: %s (%pe)\n", vmfix_reason, ERR_PTR(ret));
		return;
	}
	vmfix_state = mode == VMFIX_MODE_OFF ? VMFIX_STATE_OFF :
					      VMFIX_STATE_ARMED;
	strscpy(vmfix_reason, mode == VMFIX_MODE_OFF ? "mode_off" : "-",
		sizeof(vmfix_reason));
	if (vmfix_state != was)
		pr_info("%s: abi %s, mode %s\n",
			mode == VMFIX_MODE_OFF ? "no probe armed" : "armed",
			VMFIX_ABI_SOURCE, vmfix_mode_name(mode));
}

static void vmfix_disarm_locked(void)
{
	if (vmfix_state == VMFIX_STATE_ARMED)
		pr_info("disarmed: amdgpu is going away\n");
	vmfix_hooks_unregister();
	vmfix_abi_checked = false;
	/* the next amdgpu gets a new check, unless the build has no ABI */
	if (VMFIX_ABI_OK) {
		vmfix_state = VMFIX_STATE_WAITING;
		strscpy(vmfix_reason, "-", sizeof(vmfix_reason));
	}
	vmfix_devices_refresh(false);
}

/* A mode or attribute change: arm or disarm hooks to match it. */
void vmfix_rearm(void)
{
	mutex_lock(&vmfix_arm_lock);
	if (vmfix_state == VMFIX_STATE_ARMED ||
	    vmfix_state == VMFIX_STATE_OFF ||
	    vmfix_state == VMFIX_STATE_ERROR)
		vmfix_arm_locked();
	mutex_unlock(&vmfix_arm_lock);
}

static int vmfix_module_notify(struct notifier_block *nb, unsigned long action,
			       void *data)
{
	struct module *mod = data;

	if (strcmp(mod->name, "amdgpu"))
		return NOTIFY_DONE;
	mutex_lock(&vmfix_arm_lock);
	if (action == MODULE_STATE_LIVE)
		vmfix_arm_locked();
	else if (action == MODULE_STATE_GOING)
		vmfix_disarm_locked();
	mutex_unlock(&vmfix_arm_lock);
	return NOTIFY_OK;
}

static struct notifier_block vmfix_module_nb = {
	.notifier_call = vmfix_module_notify,
};

static void vmfix_status_devices(struct vmfix_buf *b)
{
	const struct vmfix_devset *set;
	const struct vmfix_dev *d;
	unsigned int i;

	rcu_read_lock();
	set = rcu_dereference(vmfix_devset);
	for (i = 0; set && i < set->count; i++) {
		d = &set->devs[i];
		vmfix_buf_printf(b,
				 "device bdf=%s pci=%04x:%04x family=%s gfx=%s scoped=%d\n",
				 d->bdf, d->vendor, d->device,
				 d->id ? d->id->family : "other",
				 d->id ? d->id->gfx : "-", d->scoped);
	}
	rcu_read_unlock();
}

static ssize_t status_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	struct vmfix_buf b = { .buf = buf, .size = PAGE_SIZE };
	struct vmfix_policy policy;
	char devices[VMFIX_DEVICES_LEN];

	vmfix_policy_snapshot(&policy);
	vmfix_devices_param_copy(devices, sizeof(devices));
	vmfix_buf_printf(&b, "schema 1\nversion %s\nkernel %s\n", VMFIX_VERSION,
			 init_utsname()->release);
	/* state, reason and hook lines from one moment: not mid-arming */
	mutex_lock(&vmfix_arm_lock);
	vmfix_buf_printf(&b, "state %s\nreason %s\n",
			 vmfix_state_names[vmfix_state], vmfix_reason);
	vmfix_buf_printf(&b, "abi %s\nmode %s\ncc_to %s\ncoherent %s\ndevices %s\n",
			 VMFIX_ABI_OK ? VMFIX_ABI_SOURCE : "-",
			 vmfix_mode_name(policy.mode),
			 vmfix_cc_to_name(policy.cc_to),
			 vmfix_coherent_name(policy.coherent), devices);
	vmfix_hooks_status(&b);
	mutex_unlock(&vmfix_arm_lock);
	vmfix_status_devices(&b);
	return b.len;
}

static ssize_t counters_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	struct vmfix_buf b = { .buf = buf, .size = PAGE_SIZE };

	vmfix_counters_show(&b);
	return b.len;
}

static ssize_t reset_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	if (!sysfs_streq(buf, "1"))
		return -EINVAL;
	vmfix_stats_reset();
	return count;
}

/*
 * "recent" can exceed PAGE_SIZE: a binary attribute, read in PAGE_SIZE
 * pieces. The text is rendered when a read starts at offset 0 and later
 * pieces come from that snapshot, so hits arriving between two read()
 * calls cannot tear a line.
 */
static DEFINE_MUTEX(vmfix_recent_lock);
static char vmfix_recent_snap[VMFIX_RECENT_BUF_SIZE];
static size_t vmfix_recent_len;

static ssize_t recent_read(struct file *file, struct kobject *kobj,
			   VMFIX_BIN_ATTR *attr, char *buf, loff_t off,
			   size_t count)
{
	struct vmfix_buf b = { .buf = vmfix_recent_snap,
			       .size = sizeof(vmfix_recent_snap) };
	ssize_t ret = 0;

	mutex_lock(&vmfix_recent_lock);
	if (off == 0) {
		vmfix_recent_show(&b);
		vmfix_recent_len = b.len;
	}
	if (off < vmfix_recent_len) {
		ret = min_t(size_t, count, vmfix_recent_len - off);
		memcpy(buf, vmfix_recent_snap + off, ret);
	}
	mutex_unlock(&vmfix_recent_lock);
	return ret;
}

static struct kobj_attribute vmfix_status_attr = __ATTR_RO(status);
static struct kobj_attribute vmfix_counters_attr = __ATTR_RO(counters);
static struct kobj_attribute vmfix_reset_attr = __ATTR_WO(reset);

static struct attribute *vmfix_attrs[] = {
	&vmfix_status_attr.attr,
	&vmfix_counters_attr.attr,
	&vmfix_reset_attr.attr,
	NULL,
};

static const struct attribute_group vmfix_attr_group = {
	.attrs = vmfix_attrs,
};

static const struct bin_attribute vmfix_recent_attr = {
	/* GPU VA ranges and PTE flags of every rewrite: root only */
	.attr = { .name = "recent", .mode = 0400 },
	.size = 0,	/* unbounded: read until the callback returns 0 */
	.VMFIX_BIN_READ = recent_read,
};

static int vmfix_sysfs_init(void)
{
	int ret;

	vmfix_kobj = kobject_create_and_add("rdna1_vmfix", kernel_kobj);
	if (!vmfix_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(vmfix_kobj, &vmfix_attr_group);
	if (ret)
		goto err_put;
	ret = sysfs_create_bin_file(vmfix_kobj, &vmfix_recent_attr);
	if (ret)
		goto err_group;
	return 0;

err_group:
	sysfs_remove_group(vmfix_kobj, &vmfix_attr_group);
err_put:
	kobject_put(vmfix_kobj);
	return ret;
}

static void vmfix_sysfs_exit(void)
{
	sysfs_remove_bin_file(vmfix_kobj, &vmfix_recent_attr);
	sysfs_remove_group(vmfix_kobj, &vmfix_attr_group);
	kobject_put(vmfix_kobj);
}

static int __init vmfix_init(void)
{
	int ret;

	ret = vmfix_stats_init();
	if (ret)
		return ret;
	ret = vmfix_sysfs_init();
	if (ret)
		goto err_stats;
	ret = vmfix_devices_bus_init();
	if (ret)
		goto err_sysfs;
	ret = register_module_notifier(&vmfix_module_nb);
	if (ret)
		goto err_bus;
	vmfix_params_ready();

	mutex_lock(&vmfix_arm_lock);
	if (!VMFIX_ABI_OK || vmfix_amdgpu_loaded())
		vmfix_arm_locked();
	pr_info("version %s loaded: abi %s, state %s, mode %s\n",
		VMFIX_VERSION, VMFIX_ABI_OK ? VMFIX_ABI_SOURCE : "-",
		vmfix_state_names[vmfix_state],
		vmfix_mode_name(vmfix_current_mode()));
	mutex_unlock(&vmfix_arm_lock);
	return 0;

err_bus:
	vmfix_devices_bus_exit();
err_sysfs:
	vmfix_sysfs_exit();
err_stats:
	vmfix_stats_exit();
	return ret;
}

static void __exit vmfix_exit(void)
{
	/* from here on every parameter store fails: none can re-arm or refresh */
	vmfix_params_exit();
	unregister_module_notifier(&vmfix_module_nb);
	vmfix_devices_bus_exit();
	cancel_work_sync(&vmfix_refresh_work);
	mutex_lock(&vmfix_arm_lock);
	vmfix_hooks_unregister();
	mutex_unlock(&vmfix_arm_lock);
	vmfix_hooks_report();
	vmfix_sysfs_exit();
	vmfix_devices_clear();
	vmfix_stats_exit();
}

module_init(vmfix_init);
module_exit(vmfix_exit);

MODULE_DESCRIPTION("Keep MTYPE_CC out of RDNA1 GPUVM PTEs on the stock amdgpu");
MODULE_AUTHOR("rdna1-vmfix contributors");
MODULE_LICENSE("Dual MIT/GPL");
MODULE_VERSION(VMFIX_VERSION);
