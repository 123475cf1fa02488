// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix test interface (vmfix_test.h): lets a companion module under
 * QEMU drive the real handlers with synthetic devices. Compiled only into
 * test builds (make VMFIX_TEST=1), off unless test_devices=1, and the
 * handler runs only while the chokepoint hook is armed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/export.h>
#include <linux/kernel.h>
#include <linux/preempt.h>
#include <linux/ptrace.h>

#include "compat.h"
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
	/* stands in for struct amdgpu_vm_update_params */
	void *params[VMFIX_ABI_PARAMS_ADEV_OFF / sizeof(void *) + 1] = { };
	struct pt_regs regs = { };

	if (!vmfix_test_enabled)
		return -EPERM;
	if (!adev || !flags)
		return -EINVAL;
	/* as a real call would: no handler runs while the hook is not armed */
	if (!vmfix_chokepoint_armed())
		return -ENODEV;
	params[VMFIX_ABI_PARAMS_ADEV_OFF / sizeof(void *)] = adev;
	*vmfix_arg_reg(&regs, VMFIX_ABI_PTES_PARAMS_ARG) = (unsigned long)params;
	*vmfix_arg_reg(&regs, VMFIX_ABI_PTES_START_ARG) = start;
	*vmfix_arg_reg(&regs, VMFIX_ABI_PTES_END_ARG) = end;
	*vmfix_arg_reg(&regs, VMFIX_ABI_PTES_FLAGS_ARG) = *flags;
	/* probe handlers run with preemption off */
	preempt_disable();
	vmfix_ptes_update_pre(NULL, &regs);
	preempt_enable();
	*flags = *vmfix_arg_reg(&regs, VMFIX_ABI_PTES_FLAGS_ARG);
	return 0;
}
EXPORT_SYMBOL_GPL(vmfix_test_ptes_update);

kprobe_pre_handler_t vmfix_test_pre_handler(void)
{
	if (!vmfix_test_enabled || !vmfix_chokepoint_armed())
		return NULL;
	return vmfix_ptes_update_pre;
}
EXPORT_SYMBOL_GPL(vmfix_test_pre_handler);
