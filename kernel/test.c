// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix test interface (vmfix_test.h): lets a companion module under
 * QEMU drive the real handlers with synthetic devices. Off unless
 * test_devices=1.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/export.h>
#include <linux/kernel.h>
#include <linux/preempt.h>
#include <linux/ptrace.h>

#include "vmfix_mod.h"
#include "vmfix_test.h"

int vmfix_test_add_device(struct device *dev, u16 vendor, u16 device)
{
	if (!vmfix_test_enabled)
		return -EPERM;
	if (!dev)
		return -EINVAL;
	return vmfix_test_devices_add(dev, vendor, device);
}
EXPORT_SYMBOL_GPL(vmfix_test_add_device);

void vmfix_test_remove_device(struct device *dev)
{
	if (vmfix_test_enabled && dev)
		vmfix_test_devices_remove(dev);
}
EXPORT_SYMBOL_GPL(vmfix_test_remove_device);

int vmfix_test_ptes_update(void *adev, u64 start, u64 end, u64 *flags)
{
	/* stands in for struct amdgpu_vm_update_params: adev at offset 0 */
	void *params[8] = { adev };
	struct pt_regs regs = { };

	if (!vmfix_test_enabled)
		return -EPERM;
	if (!adev || !flags)
		return -EINVAL;
	regs.di = (unsigned long)params;
	regs.si = start;
	regs.dx = end;
	regs.r8 = *flags;
	/* probe handlers run with preemption off */
	preempt_disable();
	vmfix_ptes_update_pre(NULL, &regs);
	preempt_enable();
	*flags = regs.r8;
	return 0;
}
EXPORT_SYMBOL_GPL(vmfix_test_ptes_update);

kprobe_pre_handler_t vmfix_test_pre_handler(void)
{
	return vmfix_test_enabled ? vmfix_ptes_update_pre : NULL;
}
EXPORT_SYMBOL_GPL(vmfix_test_pre_handler);
