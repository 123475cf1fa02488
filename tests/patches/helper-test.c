// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Runs the RDNA1 policy helpers of a patched gmc_v10_0.c in userspace
 * against the shared policy vectors (tests/data/policy-vectors.tsv, made by
 * the policy core).
 *
 * scripts/patches-check.sh extracts from the patched tree the macros the
 * helpers use (AMDGPU_PTE_*, MTYPE_*, IP_VERSION*, AMDGPU_VM_MTYPE_*) and the
 * helper functions themselves, unchanged, into a header that is passed with
 * -include; this file supplies only the few kernel types and calls they
 * need. Build with -DHAVE_MAP_MTYPE when the series also patches
 * gmc_v10_0_map_mtype() (kernels before the 6.18 PTE flag rework).
 *
 * Usage: helper-test VECTORS.tsv    exit 0: all checks pass, 1: a mismatch,
 *                                   2: usage or unreadable vectors
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper-shim.h"
#include HELPERS_H

static unsigned int checks, failures;

static void check(bool ok, unsigned long line, const char *what, u64 got,
		  u64 want)
{
	checks++;
	if (ok)
		return;
	if (++failures <= 20)
		fprintf(stderr, "vectors line %lu: %s: got 0x%016llx, want 0x%016llx\n",
			line, what, got, want);
}

/* GC IP versions used for "device matches" and "device does not match" */
static const u32 rdna1_ips[] = {
	IP_VERSION(10, 1, 10), IP_VERSION(10, 1, 1), IP_VERSION(10, 1, 2),
};
static const u32 other_ips[] = {
	IP_VERSION(10, 1, 3), IP_VERSION(10, 1, 4), IP_VERSION(10, 3, 0),
	IP_VERSION(10, 3, 7), IP_VERSION(11, 0, 0), IP_VERSION(9, 4, 1),
};

static int index_of(const char *s, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static void set_ip(struct amdgpu_device *adev, u32 ip)
{
	adev->ip_versions[GC_HWIP][0] = ip;
}

/* Parameter validation of gmc_v10_0_rdna1_mtype_init() */
static void check_param_init(void)
{
	struct amdgpu_device adev = { 0 };

	set_ip(&adev, IP_VERSION(10, 1, 10));
	amdgpu_rdna1_mtype = 7;
	amdgpu_rdna1_mtype_cc = -1;
	amdgpu_rdna1_mtype_coherent = 2;
	gmc_v10_0_rdna1_mtype_init(&adev);
	check(amdgpu_rdna1_mtype == 2, 0, "invalid rdna1_mtype -> enforce",
	      amdgpu_rdna1_mtype, 2);
	check(amdgpu_rdna1_mtype_cc == 0, 0, "invalid rdna1_mtype_cc -> 0",
	      amdgpu_rdna1_mtype_cc, 0);
	check(amdgpu_rdna1_mtype_coherent == 0, 0,
	      "invalid rdna1_mtype_coherent -> 0", amdgpu_rdna1_mtype_coherent, 0);

	amdgpu_rdna1_mtype = 1;
	amdgpu_rdna1_mtype_cc = 1;
	amdgpu_rdna1_mtype_coherent = 1;
	gmc_v10_0_rdna1_mtype_init(&adev);
	check(amdgpu_rdna1_mtype == 1 && amdgpu_rdna1_mtype_cc == 1 &&
	      amdgpu_rdna1_mtype_coherent == 1, 0, "valid parameters kept", 0, 0);

	set_ip(&adev, IP_VERSION(10, 3, 0));
	amdgpu_rdna1_mtype = 9;
	gmc_v10_0_rdna1_mtype_init(&adev);
	check(amdgpu_rdna1_mtype == 9, 0, "no RDNA1 device: parameters untouched",
	      amdgpu_rdna1_mtype, 9);
}

#ifdef HAVE_MAP_MTYPE
/* gmc_v10_0_map_mtype() keeps its stock result for every request but CC */
static void check_map_mtype_stock(void)
{
	static const struct {
		u32 request;
		u64 want;
	} stock[] = {
		{ AMDGPU_VM_MTYPE_DEFAULT, (u64)MTYPE_NC << 48 },
		{ AMDGPU_VM_MTYPE_NC, (u64)MTYPE_NC << 48 },
		{ AMDGPU_VM_MTYPE_WC, (u64)MTYPE_WC << 48 },
		{ AMDGPU_VM_MTYPE_UC, (u64)MTYPE_UC << 48 },
	};
	struct amdgpu_device adev = { 0 };
	unsigned int i;
	int mode;

	set_ip(&adev, IP_VERSION(10, 1, 10));
	for (mode = 0; mode <= 2; mode++) {
		amdgpu_rdna1_mtype = mode;
		for (i = 0; i < sizeof(stock) / sizeof(stock[0]); i++) {
			u64 got = gmc_v10_0_map_mtype(&adev, stock[i].request);

			check(got == stock[i].want, 0, "map_mtype non-CC request",
			      got, stock[i].want);
		}
	}
}
#endif

int main(int argc, char **argv)
{
	static const char *const modes[] = { "off", "audit", "enforce" };
	static const char *const cc_tos[] = { "nc", "uc" };
	static const char *const coherents[] = { "snoop", "all" };
	char line[512], m[16], c[16], h[16];
	unsigned long lineno = 0, vectors = 0;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS.tsv\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		struct amdgpu_device adev = { 0 };
		unsigned long long in, out, proposed;
		int mode, cc_to, coherent, device;
		unsigned int rules;
		u64 flags, want_pure;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%15s %15s %15s %d %llx %llx %llx %x", m, c, h,
			   &device, &in, &out, &proposed, &rules) != 8 ||
		    (mode = index_of(m, modes, 3)) < 0 ||
		    (cc_to = index_of(c, cc_tos, 2)) < 0 ||
		    (coherent = index_of(h, coherents, 2)) < 0) {
			fprintf(stderr, "%s:%lu: malformed vector\n", argv[1], lineno);
			fclose(f);
			return 2;
		}
		vectors++;
		amdgpu_rdna1_mtype = mode;
		amdgpu_rdna1_mtype_cc = cc_to;
		amdgpu_rdna1_mtype_coherent = coherent;
		set_ip(&adev, device ?
		       rdna1_ips[vectors % (sizeof(rdna1_ips) / sizeof(rdna1_ips[0]))] :
		       other_ips[vectors % (sizeof(other_ips) / sizeof(other_ips[0]))]);

		/* What get_vm_pte() leaves in the PTE */
		flags = in;
		audit_reports = 0;
		gmc_v10_0_rdna1_fixup_pte(&adev, &flags);
		check(flags == out, lineno, "gmc_v10_0_rdna1_fixup_pte", flags, out);
		check(audit_reports == (mode == 1 && device && proposed != in),
		      lineno, "audit reports", audit_reports,
		      mode == 1 && device && proposed != in);

		/* The pure rule helper agrees with the core's verdict */
		if (device && mode != 0) {
			want_pure = gmc_v10_0_rdna1_pte_policy(in, cc_to == 1,
							       coherent == 1);
			check(want_pure == proposed, lineno,
			      "gmc_v10_0_rdna1_pte_policy", want_pure, proposed);
			/* Idempotent: harmless to apply twice (map_mtype, then get_vm_pte) */
			flags = gmc_v10_0_rdna1_pte_policy(want_pure, cc_to == 1,
							   coherent == 1);
			check(flags == want_pure, lineno, "policy applied twice",
			      flags, want_pure);
		}
#ifdef HAVE_MAP_MTYPE
		/* A CC request (SVM path) gets the CC rule in enforce only */
		if (in == (u64)MTYPE_CC << 48) {
			u64 want = mode == 2 ? out : in;

			flags = gmc_v10_0_map_mtype(&adev, AMDGPU_VM_MTYPE_CC);
			check(flags == want, lineno, "gmc_v10_0_map_mtype(CC)",
			      flags, want);
		}
#endif
	}
	fclose(f);
	if (vectors == 0) {
		fprintf(stderr, "%s: no vectors\n", argv[1]);
		return 2;
	}
	check_param_init();
#ifdef HAVE_MAP_MTYPE
	check_map_mtype_stock();
#endif
	printf("%lu vectors, %u checks, %u failures\n", vectors, checks, failures);
	return failures ? 1 : 0;
}
