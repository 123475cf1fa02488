/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rdna1_vmfix: the checked ABI table. Read by gen-abi.sh, not compiled.
 *
 * A row names one exact amdgpu.ko by the SHA-256 of its .BTF section and
 * gives the hook ABI that gen-abi.sh derived from that BTF (same syntax as
 * its "abi" line). gen-abi.sh uses a row only when the build has no base BTF
 * to decode the module BTF against (Debian 6.1 headers ship no vmlinux and
 * the build is not for the running kernel); whenever it can decode, the
 * derivation must equal the row or the build fails. The module still
 * compares the hash with /sys/kernel/btf/amdgpu before it arms, so a row
 * is only ever applied to the very module it was checked on.
 *
 * VMFIX_ABI_ROW(btf_sha256, "Debian kernel release (package version)", abi)
 */
#ifndef VMFIX_ABI_TABLE_H
#define VMFIX_ABI_TABLE_H

#endif /* VMFIX_ABI_TABLE_H */
