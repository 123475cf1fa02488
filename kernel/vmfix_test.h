/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix test interface, for a test-only companion module under QEMU
 * (there is no RDNA1 GPU there). Everything is inert unless rdna1_vmfix was
 * loaded with test_devices=1: then each call returns -EPERM and does
 * nothing.
 */
#ifndef VMFIX_TEST_H
#define VMFIX_TEST_H

#include <linux/device.h>
#include <linux/kprobes.h>
#include <linux/types.h>

/*
 * Add @dev to the device set as if it were a PCI device with this ID bound
 * to amdgpu (RDNA1 IDs are scoped, others such as 0x73BF Navi21 are not).
 * It shows up in status as bdf=synthetic-N. @dev must stay valid until
 * vmfix_test_remove_device(). 0, -EPERM, -EINVAL, -EEXIST, -ENOSPC, -ENOMEM.
 */
int vmfix_test_add_device(struct device *dev, u16 vendor, u16 device);

/* Forget @dev; once this returns, no hook refers to it any more. */
void vmfix_test_remove_device(struct device *dev);

/*
 * Run the amdgpu_vm_ptes_update() pre-handler exactly as a probe hit would:
 * di points at a params block whose first word is @adev (whose own first
 * word must be a device added above), si/dx = @start/@end, r8 = *@flags.
 * The resulting r8 is copied back to *@flags; counters and the recent ring
 * change as for a real hit. 0, -EPERM or -EINVAL.
 */
int vmfix_test_ptes_update(void *adev, u64 start, u64 end, u64 *flags);

/*
 * The amdgpu_vm_ptes_update() pre-handler itself, NULL unless
 * test_devices=1. A companion can put it on a kprobe of its own stand-in
 * function with the same prototype, (params, start, end, dst, flags), to
 * check that the handler's r8 change reaches the probed function through
 * this kernel's ftrace-based kprobe (amdgpu_vm_ptes_update cannot run
 * without a GPU).
 */
kprobe_pre_handler_t vmfix_test_pre_handler(void);

#endif /* VMFIX_TEST_H */
