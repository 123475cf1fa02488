/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The one device table of rdna1-vmfix. Adding a board is one row here.
 *
 * The module (kernel/match.c), the command (status, doctor, census) and the
 * patch-series check (tests/patches) all expand this list, so they cannot
 * disagree. Pure preprocessor data: no kernel or libc headers, so a C++
 * translation unit can include it too.
 *
 * VMFIX_DEVICE(pci_device, chip, gfx_target, gc_major, gc_minor, gc_rev, in_scope)
 *   pci_device  PCI device ID, vendor 0x1002 (amdgpu_drv.c pciidlist)
 *   chip        amdgpu's chip name
 *   gfx_target  LLVM AMDGPU target of the chip's compute code
 *   gc_*        GC IP version, as amdgpu_ip_version(adev, GC_HWIP, 0)
 *   in_scope    1: the policy acts on it (RDNA1); 0: known, never touched
 *
 * Cyan Skillfish (GC 10.1.3/10.1.4, an APU) shares gmc_v10_0 but is out of
 * scope on purpose: no fault reports from it, and its memory path differs.
 * Its rows record GC 10.1.3; some boards report 10.1.4 (the driver reads it
 * from IP discovery, not from the PCI ID).
 */
#ifndef VMFIX_DEVICES_H
#define VMFIX_DEVICES_H

#define VMFIX_PCI_VENDOR_AMD 0x1002

#define VMFIX_DEVICE_TABLE(VMFIX_DEVICE)                                    \
	VMFIX_DEVICE(0x7310, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x7312, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x7318, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x7319, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x731A, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x731B, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x731E, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x731F, "navi10", "gfx1010", 10, 1, 10, 1)             \
	VMFIX_DEVICE(0x7360, "navi12", "gfx1011", 10, 1, 2, 1)              \
	VMFIX_DEVICE(0x7362, "navi12", "gfx1011", 10, 1, 2, 1)              \
	VMFIX_DEVICE(0x7340, "navi14", "gfx1012", 10, 1, 1, 1)              \
	VMFIX_DEVICE(0x7341, "navi14", "gfx1012", 10, 1, 1, 1)              \
	VMFIX_DEVICE(0x7347, "navi14", "gfx1012", 10, 1, 1, 1)              \
	VMFIX_DEVICE(0x734F, "navi14", "gfx1012", 10, 1, 1, 1)              \
	VMFIX_DEVICE(0x13DB, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)      \
	VMFIX_DEVICE(0x13F9, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)      \
	VMFIX_DEVICE(0x13FA, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)      \
	VMFIX_DEVICE(0x13FB, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)      \
	VMFIX_DEVICE(0x13FC, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)      \
	VMFIX_DEVICE(0x13FE, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)      \
	VMFIX_DEVICE(0x143F, "cyan_skillfish", "gfx1013", 10, 1, 3, 0)

#endif /* VMFIX_DEVICES_H */
