// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix: may the generated hook ABI be used on the amdgpu that is
 * loaded now?
 *
 * generated/abi.h records the size and SHA-256 of the .BTF section of the
 * amdgpu.ko that gen-abi.sh analysed. The kernel publishes the BTF of the
 * loaded amdgpu, byte for byte that section, as /sys/kernel/btf/amdgpu.
 * Equal bytes mean equal types, prototypes and struct layouts, so every
 * position and offset the handlers use holds; anything else (another
 * build, an amdgpu-dkms copy installed after the build, no BTF at all)
 * refuses arming.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/sha2.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "vmfix_mod.h"

#define VMFIX_AMDGPU_BTF	"/sys/kernel/btf/amdgpu"

/*
 * Reads the loaded amdgpu's BTF (one byte more than expected, to notice a
 * longer one) and hashes it. Returns its length or a negative errno.
 */
static ssize_t vmfix_loaded_btf_digest(u8 digest[SHA256_DIGEST_SIZE])
{
	size_t want = VMFIX_ABI_BTF_SIZE + 1, got = 0;
	struct file *f;
	loff_t pos = 0;
	ssize_t n = 0;
	char *buf;

	f = filp_open(VMFIX_AMDGPU_BTF, O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	buf = kvmalloc(want, GFP_KERNEL);
	if (!buf) {
		filp_close(f, NULL);
		return -ENOMEM;
	}
	while (got < want) {
		n = kernel_read(f, buf + got, want - got, &pos);
		if (n <= 0)
			break;
		got += n;
	}
	filp_close(f, NULL);
	if (n >= 0 && got == VMFIX_ABI_BTF_SIZE)
		sha256(buf, got, digest);
	kvfree(buf);
	return n < 0 ? n : (ssize_t)got;
}

/*
 * 0 if the handlers may be armed on the loaded amdgpu; else -ENOEXEC with
 * @reason set to one token for status and one line in the log.
 */
int vmfix_abi_verify(char *reason, size_t reason_len)
{
	u8 digest[SHA256_DIGEST_SIZE] = { };
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	ssize_t len;

	if (!VMFIX_ABI_OK) {
		snprintf(reason, reason_len, "abi_unknown_%s", VMFIX_ABI_REASON);
		pr_err("refusing to arm: the build could not derive the amdgpu hook ABI (%s); reinstall with bpftool and the kernel's headers present\n",
		       VMFIX_ABI_REASON);
		return -ENOEXEC;
	}
	len = vmfix_loaded_btf_digest(digest);
	if (len < 0) {
		snprintf(reason, reason_len, "amdgpu_btf_unreadable_%zd", -len);
		pr_err("refusing to arm: cannot read %s (%pe), so the loaded amdgpu cannot be matched to the build\n",
		       VMFIX_AMDGPU_BTF, ERR_PTR(len));
		return -ENOEXEC;
	}
	snprintf(hex, sizeof(hex), "%*phN", SHA256_DIGEST_SIZE, digest);
	if (len != VMFIX_ABI_BTF_SIZE || strcmp(hex, VMFIX_ABI_BTF_SHA256)) {
		strscpy(reason, "amdgpu_not_the_analysed_build", reason_len);
		pr_err("refusing to arm: the loaded amdgpu is not the amdgpu.ko this module was built against (BTF %zd bytes, want %lu); rebuild it (dkms autoinstall) for the amdgpu that is installed\n",
		       len, VMFIX_ABI_BTF_SIZE);
		return -ENOEXEC;
	}
	return 0;
}
