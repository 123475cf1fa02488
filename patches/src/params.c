/**
 * DOC: rdna1_mtype (int)
 * GPUVM memory type (MTYPE) policy for RDNA1 GPUs (GC 10.1.10 Navi10,
 * GC 10.1.1 Navi14, GC 10.1.2 Navi12). Other GPUs are never affected.
 * Possible values:
 *
 * - 0 = off: PTE flags are left as the driver computes them
 * - 1 = audit: PTE flags are left alone, a change the policy would make
 *   is logged (rate limited)
 * - 2 = enforce (default): MTYPE_CC is replaced (see rdna1_mtype_cc) and
 *   a valid system memory page mapped MTYPE_UC is also mapped snooped
 */
MODULE_PARM_DESC(rdna1_mtype, "RDNA1 MTYPE policy (0 = off, 1 = audit, 2 = enforce (default))");
module_param_named(rdna1_mtype, amdgpu_rdna1_mtype, int, 0444);

/**
 * DOC: rdna1_mtype_cc (int)
 * MTYPE that replaces MTYPE_CC on RDNA1 when rdna1_mtype is enforce:
 * 0 = MTYPE_NC (default), 1 = MTYPE_UC.
 */
MODULE_PARM_DESC(rdna1_mtype_cc, "RDNA1 MTYPE used instead of CC (0 = NC (default), 1 = UC)");
module_param_named(rdna1_mtype_cc, amdgpu_rdna1_mtype_cc, int, 0444);

/**
 * DOC: rdna1_mtype_coherent (int)
 * Which valid system memory pages RDNA1 maps uncached and snooped when
 * rdna1_mtype is enforce: 0 = only those already mapped MTYPE_UC get the
 * snooped bit (default), 1 = all of them (for experiments; costs GPU L2
 * caching of system memory).
 */
MODULE_PARM_DESC(rdna1_mtype_coherent, "RDNA1 system pages made UC and snooped (0 = UC ones only (default), 1 = all)");
module_param_named(rdna1_mtype_coherent, amdgpu_rdna1_mtype_coherent, int, 0444);
