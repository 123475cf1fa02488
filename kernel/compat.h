/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix: every kernel-version dependency in one place.
 *
 * The hook ABI (argument positions of the probed amdgpu functions) comes
 * from, in this order:
 *  1. generated/abi.h, written at build time by gen-abi.sh from the module
 *     BTF of the target kernel's amdgpu.ko (6.12+ headers ship a BTF-only
 *     vmlinux to decode it against);
 *  2. the checked table below, keyed by LINUX_VERSION_CODE. Each row names
 *     the Debian kernel whose amdgpu.ko was examined (BTF and disassembly,
 *     docs/design.md "Kernel module"); kernels between rows are inferred
 *     from the dated upstream changes listed there.
 * A kernel outside every row without BTF has an unknown ABI: the module
 * loads, refuses to arm and says so.
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

#if defined(__has_include)
#if __has_include("generated/abi.h")
#include "generated/abi.h"
#endif
#endif

/*
 * Checked table. get_vm_pte_args: arguments of gmc_v10_0_get_vm_pte()
 * (3: adev, mapping, u64 *flags; 5: adev, vm, bo, u32 vm_flags,
 * u64 *flags). map_mtype: gmc_v10_0_map_mtype() exists. The PTE-flag
 * rework ("drm/amdgpu: rework how PTE flags are generated v3") landed in
 * 6.18: 5-argument get_vm_pte, no map_mtype. amdgpu_vm_ptes_update(params,
 * start, end, dst, flags) is the same in every row.
 */
#if VMFIX_KERNEL_BEFORE(6, 2, 0)
#define VMFIX_TABLE_ROW			"6.1"
#define VMFIX_TABLE_GET_VM_PTE_ARGS	3
#define VMFIX_TABLE_MAP_MTYPE		1
#elif VMFIX_KERNEL_BEFORE(6, 18, 0)
#define VMFIX_TABLE_ROW			"6.12"
#define VMFIX_TABLE_GET_VM_PTE_ARGS	3
#define VMFIX_TABLE_MAP_MTYPE		1
#elif VMFIX_KERNEL_BEFORE(7, 4, 0)
#define VMFIX_TABLE_ROW			"7.2"
#define VMFIX_TABLE_GET_VM_PTE_ARGS	5
#define VMFIX_TABLE_MAP_MTYPE		0
#endif

#if defined(VMFIX_BTF_GET_VM_PTE_ARGS) && defined(VMFIX_TABLE_ROW)
#if VMFIX_BTF_GET_VM_PTE_ARGS == VMFIX_TABLE_GET_VM_PTE_ARGS && \
	VMFIX_BTF_MAP_MTYPE == VMFIX_TABLE_MAP_MTYPE && \
	VMFIX_BTF_PTES_UPDATE_ARGS == 5
#define VMFIX_ABI_NAME			VMFIX_TABLE_ROW
#elif defined(VMFIX_ABI_STRICT)
#error "module BTF of amdgpu.ko disagrees with the checked ABI table"
#else
#define VMFIX_ABI_NAME			"btf"
#endif
#define VMFIX_ABI_SOURCE		"btf"
#define VMFIX_ABI_GET_VM_PTE_ARGS	VMFIX_BTF_GET_VM_PTE_ARGS
#define VMFIX_ABI_MAP_MTYPE		VMFIX_BTF_MAP_MTYPE
#define VMFIX_ABI_PTES_UPDATE_ARGS	VMFIX_BTF_PTES_UPDATE_ARGS
#elif defined(VMFIX_BTF_GET_VM_PTE_ARGS)
#define VMFIX_ABI_NAME			"btf"
#define VMFIX_ABI_SOURCE		"btf"
#define VMFIX_ABI_GET_VM_PTE_ARGS	VMFIX_BTF_GET_VM_PTE_ARGS
#define VMFIX_ABI_MAP_MTYPE		VMFIX_BTF_MAP_MTYPE
#define VMFIX_ABI_PTES_UPDATE_ARGS	VMFIX_BTF_PTES_UPDATE_ARGS
#elif defined(VMFIX_TABLE_ROW)
#define VMFIX_ABI_NAME			VMFIX_TABLE_ROW
#define VMFIX_ABI_SOURCE		"table"
#define VMFIX_ABI_GET_VM_PTE_ARGS	VMFIX_TABLE_GET_VM_PTE_ARGS
#define VMFIX_ABI_MAP_MTYPE		VMFIX_TABLE_MAP_MTYPE
#define VMFIX_ABI_PTES_UPDATE_ARGS	5
#else
/* unknown: the module loads and refuses to arm */
#define VMFIX_ABI_NAME			"-"
#define VMFIX_ABI_SOURCE		"none"
#define VMFIX_ABI_GET_VM_PTE_ARGS	0
#define VMFIX_ABI_MAP_MTYPE		0
#define VMFIX_ABI_PTES_UPDATE_ARGS	0
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
