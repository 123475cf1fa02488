/*
 * RDNA1 MTYPE policy (amdgpu.rdna1_mtype, amdgpu.rdna1_mtype_cc and
 * amdgpu.rdna1_mtype_coherent).
 *
 * A guard, not a known fix: MTYPE_CC is not known to be coherent with the
 * CPU on GC 10.1, and a system page that is uncached in the GPU but not
 * snooped bypasses the CPU caches. The stock driver never picks MTYPE_CC
 * for GC 10.1 by itself; userspace can still ask for it with
 * AMDGPU_VM_MTYPE_CC. This policy keeps both combinations out of RDNA1
 * PTEs, or only logs them in audit mode.
 */
enum gmc_v10_0_rdna1_mode {
	GMC_V10_0_RDNA1_OFF = 0,
	GMC_V10_0_RDNA1_AUDIT = 1,
	GMC_V10_0_RDNA1_ENFORCE = 2,
};

static bool gmc_v10_0_is_rdna1(struct amdgpu_device *adev)
{
	switch (amdgpu_ip_version(adev, GC_HWIP, 0)) {
	case IP_VERSION(10, 1, 10):
	case IP_VERSION(10, 1, 1):
	case IP_VERSION(10, 1, 2):
		return true;
	default:
		return false;
	}
}

/**
 * gmc_v10_0_rdna1_pte_policy - RDNA1 MTYPE policy for one set of PTE flags
 * @flags: PTE flags as computed by the driver
 * @cc_to_uc: replace MTYPE_CC by MTYPE_UC instead of MTYPE_NC
 * @coherent_all: map every valid system page MTYPE_UC and snooped
 *
 * A pure function of its arguments. Only the MTYPE field and the SNOOPED
 * bit are ever changed.
 *
 * Returns the PTE flags the policy wants the hardware to use.
 */
static u64 gmc_v10_0_rdna1_pte_policy(u64 flags, bool cc_to_uc,
				      bool coherent_all)
{
	const u64 valid_system = AMDGPU_PTE_VALID | AMDGPU_PTE_SYSTEM;
	bool system = (flags & valid_system) == valid_system;

	/* CC is not known to be coherent with the CPU on GC 10.1 */
	if ((flags & AMDGPU_PTE_MTYPE_NV10_MASK) ==
	    AMDGPU_PTE_MTYPE_NV10_SHIFT(MTYPE_CC))
		flags = AMDGPU_PTE_MTYPE_NV10(flags,
					      cc_to_uc ? MTYPE_UC : MTYPE_NC);

	/* Experiments: treat all system memory as fine grained */
	if (coherent_all && system)
		flags = AMDGPU_PTE_MTYPE_NV10(flags, MTYPE_UC);

	/* Uncached system memory is only coherent if PCIe snoops it */
	if (system && (flags & AMDGPU_PTE_MTYPE_NV10_MASK) ==
		      AMDGPU_PTE_MTYPE_NV10_SHIFT(MTYPE_UC))
		flags |= AMDGPU_PTE_SNOOPED;

	return flags;
}

/**
 * gmc_v10_0_rdna1_fixup_pte - apply amdgpu.rdna1_mtype to PTE flags
 * @adev: amdgpu_device pointer
 * @flags: PTE flags, updated in enforce mode
 *
 * Does nothing on GPUs other than RDNA1. In audit mode a change the policy
 * would make is only logged.
 */
static void gmc_v10_0_rdna1_fixup_pte(struct amdgpu_device *adev,
				      u64 *flags)
{
	int mode = amdgpu_rdna1_mtype;
	u64 fixed;

	if ((mode != GMC_V10_0_RDNA1_AUDIT &&
	     mode != GMC_V10_0_RDNA1_ENFORCE) || !gmc_v10_0_is_rdna1(adev))
		return;

	fixed = gmc_v10_0_rdna1_pte_policy(*flags,
					   amdgpu_rdna1_mtype_cc == 1,
					   amdgpu_rdna1_mtype_coherent == 1);
	if (fixed == *flags)
		return;

	if (mode == GMC_V10_0_RDNA1_AUDIT) {
		dev_info_ratelimited(adev->dev,
				     "rdna1_mtype audit: PTE flags 0x%016llx would be 0x%016llx\n",
				     *flags, fixed);
		return;
	}
	*flags = fixed;
}

/* Checks the module parameters once per RDNA1 device and logs the policy */
static void gmc_v10_0_rdna1_mtype_init(struct amdgpu_device *adev)
{
	static const char * const modes[] = { "off", "audit", "enforce" };

	if (!gmc_v10_0_is_rdna1(adev))
		return;

	if (amdgpu_rdna1_mtype < GMC_V10_0_RDNA1_OFF ||
	    amdgpu_rdna1_mtype > GMC_V10_0_RDNA1_ENFORCE) {
		dev_warn(adev->dev, "invalid rdna1_mtype %d, using 2 (enforce)\n",
			 amdgpu_rdna1_mtype);
		amdgpu_rdna1_mtype = GMC_V10_0_RDNA1_ENFORCE;
	}
	if (amdgpu_rdna1_mtype_cc != 0 && amdgpu_rdna1_mtype_cc != 1) {
		dev_warn(adev->dev, "invalid rdna1_mtype_cc %d, using 0 (NC)\n",
			 amdgpu_rdna1_mtype_cc);
		amdgpu_rdna1_mtype_cc = 0;
	}
	if (amdgpu_rdna1_mtype_coherent != 0 &&
	    amdgpu_rdna1_mtype_coherent != 1) {
		dev_warn(adev->dev, "invalid rdna1_mtype_coherent %d, using 0\n",
			 amdgpu_rdna1_mtype_coherent);
		amdgpu_rdna1_mtype_coherent = 0;
	}

	dev_info(adev->dev, "RDNA1 MTYPE policy: %s, CC -> %s, coherent %s\n",
		 modes[amdgpu_rdna1_mtype],
		 amdgpu_rdna1_mtype_cc ? "UC" : "NC",
		 amdgpu_rdna1_mtype_coherent ? "all" : "snoop");
}

