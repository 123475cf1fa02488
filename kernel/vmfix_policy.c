// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1-vmfix policy core: names and parsers. The decision itself,
 * vmfix_pte_apply(), is an inline function of vmfix_policy.h (the module's
 * hot path must not pay a call for it). See vmfix_policy.h for the
 * contract; this file must stay free of kernel and libc calls so userspace
 * tests compile it unchanged.
 */
#include "vmfix_policy.h"

/* Parameter names, indexed by their enum value; parsing and printing share them. */
static const char *const vmfix_mode_names[] = { "off", "audit", "enforce" };
static const char *const vmfix_cc_to_names[] = { "nc", "uc" };
static const char *const vmfix_coherent_names[] = { "snoop", "all" };

static const char *vmfix_name_at(const char *const *names, unsigned int count,
				 unsigned int v)
{
	return v < count ? names[v] : NULL;
}

const char *vmfix_mode_name(enum vmfix_mode mode)
{
	return vmfix_name_at(vmfix_mode_names,
			     ARRAY_SIZE(vmfix_mode_names), mode);
}

const char *vmfix_cc_to_name(enum vmfix_cc_to cc_to)
{
	return vmfix_name_at(vmfix_cc_to_names,
			     ARRAY_SIZE(vmfix_cc_to_names), cc_to);
}

const char *vmfix_coherent_name(enum vmfix_coherent coherent)
{
	return vmfix_name_at(vmfix_coherent_names,
			     ARRAY_SIZE(vmfix_coherent_names), coherent);
}

const char *vmfix_mtype_name(u8 mtype)
{
	static const char *const names[VMFIX_MTYPE_COUNT] = {
		"NC", "WC", "CC", "UC", "RSVD4", "RSVD5", "RSVD6", "RSVD7",
	};

	return mtype < VMFIX_MTYPE_COUNT ? names[mtype] : NULL;
}

const char *vmfix_rule_name(enum vmfix_rule rule)
{
	switch (rule) {
	case VMFIX_RULE_CC_DOWNGRADE:
		return "cc_downgrade";
	case VMFIX_RULE_UC_SNOOP:
		return "uc_snoop";
	case VMFIX_RULE_COHERENT_ALL:
		return "coherent_all";
	}
	return NULL;
}

/* Like sysfs_streq(): equal, allowing one trailing newline on @s. */
static bool vmfix_streq(const char *s, const char *name)
{
	while (*s && *s == *name) {
		s++;
		name++;
	}
	if (*name)
		return false;
	return *s == '\0' || (s[0] == '\n' && s[1] == '\0');
}

/* Index of @s in @names (one trailing newline allowed), or -1. */
static int vmfix_name_lookup(const char *s, const char *const *names,
			     unsigned int count)
{
	unsigned int v;

	for (v = 0; v < count; v++)
		if (vmfix_streq(s, names[v]))
			return (int)v;
	return -1;
}

int vmfix_mode_parse(const char *s, enum vmfix_mode *mode)
{
	int v = vmfix_name_lookup(s, vmfix_mode_names,
				  ARRAY_SIZE(vmfix_mode_names));

	if (v < 0)
		return -1;
	*mode = (enum vmfix_mode)v;
	return 0;
}

int vmfix_cc_to_parse(const char *s, enum vmfix_cc_to *cc_to)
{
	int v = vmfix_name_lookup(s, vmfix_cc_to_names,
				  ARRAY_SIZE(vmfix_cc_to_names));

	if (v < 0)
		return -1;
	*cc_to = (enum vmfix_cc_to)v;
	return 0;
}

int vmfix_coherent_parse(const char *s, enum vmfix_coherent *coherent)
{
	int v = vmfix_name_lookup(s, vmfix_coherent_names,
				  ARRAY_SIZE(vmfix_coherent_names));

	if (v < 0)
		return -1;
	*coherent = (enum vmfix_coherent)v;
	return 0;
}
