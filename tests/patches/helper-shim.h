/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The few kernel types and calls the extracted gmc_v10_0 RDNA1 helpers use,
 * for compiling them unchanged in userspace (see helper-test.c). Logging
 * calls are checked like printf and counted; nothing else is emulated.
 */
#ifndef HELPER_SHIM_H
#define HELPER_SHIM_H

#include <stdbool.h>
#include <stdint.h>

typedef unsigned long long u64;	/* as in the kernel: %llx is right */
typedef uint32_t u32;

struct device {
	int unused;
};

/* Only what the helpers read: the GC IP version */
#define GC_HWIP 0
struct amdgpu_device {
	struct device *dev;
	u32 ip_versions[1][1];
};

static inline u32 amdgpu_ip_version(const struct amdgpu_device *adev,
				    int ip, int inst)
{
	return adev->ip_versions[ip][inst];
}

/* The module parameters of the series (amdgpu_drv.c) */
static int amdgpu_rdna1_mtype = 2;
static int amdgpu_rdna1_mtype_cc;
static int amdgpu_rdna1_mtype_coherent;

static unsigned int audit_reports;

__attribute__((format(printf, 1, 2)))
static inline void shim_log(const char *fmt, ...)
{
	(void)fmt;
}

#define dev_info_ratelimited(dev, ...) \
	do { (void)(dev); audit_reports++; shim_log(__VA_ARGS__); } while (0)
#define dev_warn(dev, ...) do { (void)(dev); shim_log(__VA_ARGS__); } while (0)
#define dev_info(dev, ...) do { (void)(dev); shim_log(__VA_ARGS__); } while (0)

#endif /* HELPER_SHIM_H */
