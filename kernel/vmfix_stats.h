/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* rdna1_vmfix: text output helpers for the sysfs files (stats.c). */
#ifndef VMFIX_STATS_H
#define VMFIX_STATS_H

#include <linux/compiler.h>
#include <linux/types.h>

#include "vmfix_mod.h"

struct vmfix_buf {
	char *buf;
	size_t size;
	size_t len;
};

extern const char * const vmfix_hook_names[VMFIX_HOOK_COUNT];

__printf(2, 3)
void vmfix_buf_printf(struct vmfix_buf *b, const char *fmt, ...);
void vmfix_counters_show(struct vmfix_buf *b);
void vmfix_recent_show(struct vmfix_buf *b);

#endif /* VMFIX_STATS_H */
