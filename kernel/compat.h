/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix: every kernel-version dependency in one place.
 *
 * The hook ABI (which argument of which amdgpu function the handlers read
 * or write, and the struct offsets they dereference) is not here: it is
 * generated/abi.h, which gen-abi.sh derives at build time from the BTF of
 * the amdgpu.ko the target kernel will load, or from a row of the checked
 * table (vmfix_abi_table.h) that names that exact module. abi.c checks at
 * arm time that the loaded amdgpu is that module.
 */
#ifndef VMFIX_COMPAT_H
#define VMFIX_COMPAT_H

#include <linux/version.h>
#include <linux/sysfs.h>

/* Is the target kernel older than a.b.c? */
#define VMFIX_KERNEL_BEFORE(a, b, c)	(LINUX_VERSION_CODE < KERNEL_VERSION(a, b, c))

#if VMFIX_KERNEL_BEFORE(6, 1, 0)
#error "rdna1_vmfix needs Linux 6.1 or newer"
#endif

#include "generated/abi.h"

#if VMFIX_ABI_PTES_FLAGS_ARG > 5 || VMFIX_ABI_PTES_PARAMS_ARG > 5 || \
	VMFIX_ABI_GVP_FLAGS_ARG > 5 || VMFIX_ABI_GVP_ADEV_ARG > 5 || \
	VMFIX_ABI_MM_ADEV_ARG > 5
#error "generated/abi.h names an argument that is not passed in a register"
#endif

/*
 * bin_attribute read callback: it takes a const attribute from 6.13 on,
 * under the name read_new until 6.17.
 */
#if VMFIX_KERNEL_BEFORE(6, 13, 0)
#define VMFIX_BIN_ATTR			struct bin_attribute
#define VMFIX_BIN_READ			read
#elif VMFIX_KERNEL_BEFORE(6, 18, 0)
#define VMFIX_BIN_ATTR			const struct bin_attribute
#define VMFIX_BIN_READ			read_new
#else
#define VMFIX_BIN_ATTR			const struct bin_attribute
#define VMFIX_BIN_READ			read
#endif

#endif /* VMFIX_COMPAT_H */
