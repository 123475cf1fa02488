/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Fixed-width types for the policy core, so the same source compiles in the
 * kernel module (kbuild) and in the userspace tests (C11/C++20).
 */
#ifndef VMFIX_TYPES_H
#define VMFIX_TYPES_H

#ifdef __KERNEL__
#include <linux/kernel.h>
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#endif

/*
 * Inline functions of the policy core: always inlined in the module, whose
 * probe handlers must not call out (a probe on a called helper would
 * recurse), plain inline elsewhere.
 */
#ifdef __KERNEL__
#define VMFIX_INLINE	__always_inline
#else
#define VMFIX_INLINE	inline
#endif

#endif /* VMFIX_TYPES_H */
