// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix parameters. Settable at load (modprobe.d, kernel command
 * line "rdna1_vmfix.mode=audit") and at run time through
 * /sys/module/rdna1_vmfix/parameters/. Names are parsed by the policy
 * core; an invalid value is rejected with -EINVAL and one log line, and
 * the old value stays. Once module exit has begun every store fails with
 * -ENODEV: sysfs removes these files only after exit has run, and a store
 * then must not re-arm hooks or republish a device set.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/string.h>

#include "vmfix_mod.h"

#define VMFIX_DEFAULT_MODE	VMFIX_MODE_ENFORCE
#define VMFIX_DEFAULT_MODE_S	"enforce"
#define VMFIX_DEFAULT_CC_TO	VMFIX_CC_TO_NC
#define VMFIX_DEFAULT_CC_TO_S	"nc"
#define VMFIX_DEFAULT_COH	VMFIX_COHERENT_SNOOP
#define VMFIX_DEFAULT_COH_S	"snoop"
#define VMFIX_DEFAULT_DEVICES_S	"auto"

/* mode, cc_to, coherent: read through vmfix_policy_snapshot() (vmfix_mod.h) */
u32 vmfix_param_policy = VMFIX_POLICY_PACK(VMFIX_DEFAULT_MODE,
					   VMFIX_DEFAULT_CC_TO,
					   VMFIX_DEFAULT_COH);
static char vmfix_devices[VMFIX_DEVICES_LEN] = VMFIX_DEFAULT_DEVICES_S;
static bool vmfix_attribute;
static DEFINE_MUTEX(vmfix_devices_str_lock);
static bool vmfix_ready;
/* written under kernel_param_lock(THIS_MODULE), which every store holds */
static bool vmfix_exiting;
#ifdef VMFIX_TEST_BUILD
bool vmfix_test_enabled;
#endif

enum vmfix_mode vmfix_current_mode(void)
{
	struct vmfix_policy policy;

	vmfix_policy_snapshot(&policy);
	return policy.mode;
}

/* One byte of the policy word; stores hold kernel_param_lock(). */
static void vmfix_policy_store(unsigned int shift, u32 value)
{
	u32 word = READ_ONCE(vmfix_param_policy);

	word &= ~(0xffU << shift);
	word |= (value & 0xff) << shift;
	WRITE_ONCE(vmfix_param_policy, word);
}

bool vmfix_attribution_wanted(void)
{
	return READ_ONCE(vmfix_attribute);
}

void vmfix_devices_param_copy(char *buf, size_t len)
{
	mutex_lock(&vmfix_devices_str_lock);
	strscpy(buf, vmfix_devices, len);
	mutex_unlock(&vmfix_devices_str_lock);
}

/* Called once init is far enough that a devices= change can refresh. */
void vmfix_params_ready(void)
{
	WRITE_ONCE(vmfix_ready, true);
}

/* Module exit: waits for a store in progress, then fails every later one. */
void vmfix_params_exit(void)
{
	kernel_param_lock(THIS_MODULE);
	vmfix_exiting = true;
	kernel_param_unlock(THIS_MODULE);
}

/* May a store go ahead? Stores run under kernel_param_lock(THIS_MODULE). */
static int vmfix_store_allowed(void)
{
	return vmfix_exiting ? -ENODEV : 0;
}

/* After a successful store: log it and let arming follow, once ready. */
static void vmfix_stored(const char *name, const char *value, bool rearm)
{
	if (!READ_ONCE(vmfix_ready))
		return;
	pr_info("%s %s\n", name, value);
	if (rearm)
		vmfix_rearm();
}

/* Length of @val without one trailing newline, for log lines. */
static int vmfix_val_len(const char *val)
{
	size_t len = strlen(val);

	if (len && val[len - 1] == '\n')
		len--;
	return (int)min_t(size_t, len, 64);
}

static int vmfix_param_set_mode(const char *val, const struct kernel_param *kp)
{
	enum vmfix_mode mode;
	int ret = vmfix_store_allowed();

	if (ret)
		return ret;
	if (!val || vmfix_mode_parse(val, &mode)) {
		pr_err("invalid mode '%.*s': expected off, audit or enforce\n",
		       val ? vmfix_val_len(val) : 0, val ? val : "");
		return -EINVAL;
	}
	vmfix_policy_store(VMFIX_POLICY_MODE_SHIFT, mode);
	vmfix_stored("mode", vmfix_mode_name(mode), true);
	return 0;
}

static int vmfix_param_get_mode(char *buf, const struct kernel_param *kp)
{
	struct vmfix_policy policy;

	vmfix_policy_snapshot(&policy);
	return scnprintf(buf, PAGE_SIZE, "%s\n", vmfix_mode_name(policy.mode));
}

static int vmfix_param_set_cc_to(const char *val, const struct kernel_param *kp)
{
	enum vmfix_cc_to cc_to;
	int ret = vmfix_store_allowed();

	if (ret)
		return ret;
	if (!val || vmfix_cc_to_parse(val, &cc_to)) {
		pr_err("invalid cc_to '%.*s': expected nc or uc\n",
		       val ? vmfix_val_len(val) : 0, val ? val : "");
		return -EINVAL;
	}
	vmfix_policy_store(VMFIX_POLICY_CC_TO_SHIFT, cc_to);
	vmfix_stored("cc_to", vmfix_cc_to_name(cc_to), false);
	return 0;
}

static int vmfix_param_get_cc_to(char *buf, const struct kernel_param *kp)
{
	struct vmfix_policy policy;

	vmfix_policy_snapshot(&policy);
	return scnprintf(buf, PAGE_SIZE, "%s\n", vmfix_cc_to_name(policy.cc_to));
}

static int vmfix_param_set_coherent(const char *val,
				    const struct kernel_param *kp)
{
	enum vmfix_coherent coherent;
	int ret = vmfix_store_allowed();

	if (ret)
		return ret;
	if (!val || vmfix_coherent_parse(val, &coherent)) {
		pr_err("invalid coherent '%.*s': expected snoop or all\n",
		       val ? vmfix_val_len(val) : 0, val ? val : "");
		return -EINVAL;
	}
	vmfix_policy_store(VMFIX_POLICY_COHERENT_SHIFT, coherent);
	vmfix_stored("coherent", vmfix_coherent_name(coherent), false);
	return 0;
}

static int vmfix_param_get_coherent(char *buf, const struct kernel_param *kp)
{
	struct vmfix_policy policy;

	vmfix_policy_snapshot(&policy);
	return scnprintf(buf, PAGE_SIZE, "%s\n", vmfix_coherent_name(policy.coherent));
}

/*
 * devices=: "auto" or BDF[,BDF...], with at most one trailing newline (as
 * echo writes it). Blanks, a 0x prefix, text after a newline and empty
 * tokens are rejected by vmfix_devices_validate().
 */
static int vmfix_param_set_devices(const char *val,
				   const struct kernel_param *kp)
{
	char list[VMFIX_DEVICES_LEN];
	int ret = vmfix_store_allowed();
	size_t len;

	if (ret)
		return ret;
	len = val ? strlen(val) : 0;
	if (len && val[len - 1] == '\n')
		len--;
	if (!len || len >= sizeof(list)) {
		pr_err("invalid devices '%.*s': expected auto or BDF[,BDF]\n",
		       (int)min_t(size_t, len, 64), val ? val : "");
		return -EINVAL;
	}
	memcpy(list, val, len);
	list[len] = '\0';
	if (vmfix_devices_validate(list)) {
		pr_err("invalid devices '%.*s': expected auto or BDF[,BDF]\n",
		       (int)min_t(size_t, len, 64), list);
		return -EINVAL;
	}
	mutex_lock(&vmfix_devices_str_lock);
	strscpy(vmfix_devices, list, sizeof(vmfix_devices));
	mutex_unlock(&vmfix_devices_str_lock);
	vmfix_stored("devices", list, false);
	if (READ_ONCE(vmfix_ready))
		vmfix_devices_refresh(true);
	return 0;
}

/* attribute=1: arm the attribution hooks in enforce too (audit always). */
static int vmfix_param_set_attribute(const char *val,
				     const struct kernel_param *kp)
{
	int ret = vmfix_store_allowed();

	if (ret)
		return ret;
	ret = param_set_bool(val, kp);
	if (ret)
		return ret;
	vmfix_stored("attribute", vmfix_attribute ? "1" : "0", true);
	return 0;
}

static int vmfix_param_get_devices(char *buf, const struct kernel_param *kp)
{
	char list[VMFIX_DEVICES_LEN];

	vmfix_devices_param_copy(list, sizeof(list));
	return scnprintf(buf, PAGE_SIZE, "%s\n", list);
}

static const struct kernel_param_ops vmfix_mode_ops = {
	.set = vmfix_param_set_mode,
	.get = vmfix_param_get_mode,
};

static const struct kernel_param_ops vmfix_cc_to_ops = {
	.set = vmfix_param_set_cc_to,
	.get = vmfix_param_get_cc_to,
};

static const struct kernel_param_ops vmfix_coherent_ops = {
	.set = vmfix_param_set_coherent,
	.get = vmfix_param_get_coherent,
};

static const struct kernel_param_ops vmfix_devices_ops = {
	.set = vmfix_param_set_devices,
	.get = vmfix_param_get_devices,
};

static const struct kernel_param_ops vmfix_attribute_ops = {
	.set = vmfix_param_set_attribute,
	.get = param_get_bool,
};

module_param_cb(mode, &vmfix_mode_ops, NULL, 0644);
MODULE_PARM_DESC(mode,
		 "off|audit|enforce: leave PTEs alone, count what enforce would change, or rewrite [default: "
		 VMFIX_DEFAULT_MODE_S "]");
module_param_cb(cc_to, &vmfix_cc_to_ops, NULL, 0644);
MODULE_PARM_DESC(cc_to,
		 "nc|uc: MTYPE that replaces CC on RDNA1 [default: "
		 VMFIX_DEFAULT_CC_TO_S "]");
module_param_cb(coherent, &vmfix_coherent_ops, NULL, 0644);
MODULE_PARM_DESC(coherent,
		 "snoop|all: snoop uncached system pages, or make every valid system page UC+snooped [default: "
		 VMFIX_DEFAULT_COH_S "]");
module_param_cb(devices, &vmfix_devices_ops, NULL, 0644);
MODULE_PARM_DESC(devices,
		 "auto|BDF[,BDF]: RDNA1 devices to act on [default: "
		 VMFIX_DEFAULT_DEVICES_S "]");
module_param_cb(attribute, &vmfix_attribute_ops, &vmfix_attribute, 0644);
MODULE_PARM_DESC(attribute,
		 "0|1: also arm the request-level attribution hooks in enforce (audit always arms them) [default: 0]");
#ifdef VMFIX_TEST_BUILD
module_param_named(test_devices, vmfix_test_enabled, bool, 0444);
MODULE_PARM_DESC(test_devices,
		 "enable the test interface of vmfix_test.h (QEMU tests only) [default: 0]");
#endif
