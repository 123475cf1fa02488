// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rdna1_vmfix device scoping: which amdgpu devices the policy acts on.
 *
 * gmc_v10_0 and amdgpu_vm_ptes_update() serve every amdgpu GPU, RDNA2 and
 * Cyan Skillfish included, so every hook first maps adev->dev to an entry
 * of the device set built here. Only RDNA1 (Navi10/12/14, by PCI ID) bound
 * to amdgpu and selected by devices= is scoped; anything else is counted
 * as "other" and never touched.
 *
 * The set is a small array published with RCU: the hot path takes no lock.
 * Two static sets take turns, so a refresh never allocates: the one not
 * published is rebuilt, published, and the other is emptied once every
 * reader has left it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/string.h>

#include "compat.h"
#include "vmfix_devices.h"
#include "vmfix_mod.h"

/* The in-scope rows of the one device table (vmfix_devices.h). */
#define VMFIX_ID_ROW(pci, chip, gfx, gc_major, gc_minor, gc_rev, in_scope) \
	{ pci, chip, gfx, ((gc_major) << 16) | ((gc_minor) << 8) | (gc_rev), in_scope },
static const struct vmfix_pci_id vmfix_known_ids[] = {
	VMFIX_DEVICE_TABLE(VMFIX_ID_ROW)
};

struct vmfix_synth {
	struct device *dev;
	u16 vendor;
	u16 device;
	unsigned int n;
};

struct vmfix_devset __rcu *vmfix_devset;
static struct vmfix_devset vmfix_devsets[2];
static unsigned int vmfix_devset_next;

/* Serialises refreshes, the synthetic list and the slot owners. */
static DEFINE_MUTEX(vmfix_devices_lock);
/* synthetic devices: always empty outside test builds */
static struct vmfix_synth vmfix_synth[VMFIX_MAX_DEVICES];
#ifdef VMFIX_TEST_BUILD
static unsigned int vmfix_synth_next;
#endif
/* Device each counter slot belongs to; stable while it stays scoped. */
static struct device *vmfix_slot_owner[VMFIX_MAX_DEVICES];
/* Bumped whenever a slot changes owner (see vmfix_req_count()). */
static u32 vmfix_slot_gens[VMFIX_MAX_DEVICES];

const struct vmfix_pci_id *vmfix_match_pci_id(u16 vendor, u16 device)
{
	unsigned int i;

	if (vendor != VMFIX_PCI_VENDOR_AMD)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(vmfix_known_ids); i++)
		if (vmfix_known_ids[i].device == device &&
		    vmfix_known_ids[i].in_scope)
			return &vmfix_known_ids[i];
	return NULL;
}

u32 vmfix_slot_gen(u8 slot)
{
	return slot < VMFIX_MAX_DEVICES ? READ_ONCE(vmfix_slot_gens[slot]) : 0;
}

NOKPROBE_SYMBOL(vmfix_slot_gen);

/*
 * Does @tok (@len chars) have the shape of @pattern, where 'x' stands for a
 * hex digit and anything else for itself? No blanks, signs or 0x prefixes.
 */
static bool vmfix_token_shaped(const char *tok, size_t len,
			       const char *pattern)
{
	size_t i;

	if (len != strlen(pattern))
		return false;
	for (i = 0; i < len; i++)
		if (pattern[i] == 'x' ? !isxdigit(tok[i]) : tok[i] != pattern[i])
			return false;
	return true;
}

/* One devices= token: DDDD:BB:DD.F, BB:DD.F, or synthetic-N (test mode). */
static bool vmfix_token_valid(const char *tok, size_t len)
{
	char buf[VMFIX_BDF_LEN];
	unsigned int d, b, s, f;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	if (vmfix_token_shaped(buf, len, "xxxx:xx:xx.x"))
		return sscanf(buf, "%4x:%2x:%2x.%1x", &d, &b, &s, &f) == 4 &&
		       s < 32 && f < 8;
	if (vmfix_token_shaped(buf, len, "xx:xx.x"))
		return sscanf(buf, "%2x:%2x.%1x", &b, &s, &f) == 3 &&
		       s < 32 && f < 8;
	if (vmfix_test_enabled && len > 10 && len < 20 &&
	    !strncmp(buf, "synthetic-", 10))
		return strspn(buf + 10, "0123456789") == len - 10;
	return false;
}

int vmfix_devices_validate(const char *list)
{
	unsigned int tokens = 0;
	const char *p = list;
	size_t len;

	if (!strcmp(list, "auto"))
		return 0;
	for (;;) {
		len = strcspn(p, ",");
		if (!vmfix_token_valid(p, len) || ++tokens > VMFIX_MAX_DEVICES)
			return -EINVAL;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

static bool vmfix_devices_selected(const char *list, const char *bdf)
{
	const char *p = list;
	size_t len;

	if (!strcmp(list, "auto"))
		return true;
	for (;;) {
		len = strcspn(p, ",");
		if (len == strlen(bdf) && !strncasecmp(p, bdf, len))
			return true;
		/* BB:DD.F selects domain 0000 */
		if (len == 7 && !strncmp(bdf, "0000:", 5) &&
		    !strncasecmp(p, bdf + 5, len) && !bdf[12])
			return true;
		if (!p[len])
			return false;
		p += len + 1;
	}
}

static bool vmfix_pdev_is_amdgpu(struct pci_dev *pdev)
{
	bool ret;

	device_lock(&pdev->dev);
	ret = pdev->dev.driver && !strcmp(pdev->dev.driver->name, "amdgpu");
	device_unlock(&pdev->dev);
	return ret;
}

static void vmfix_devset_collect_pci(struct vmfix_devset *set)
{
	struct pci_dev *pdev = NULL;
	struct vmfix_dev *d;

	while ((pdev = pci_get_device(PCI_VENDOR_ID_ATI, PCI_ANY_ID, pdev))) {
		if (!vmfix_pdev_is_amdgpu(pdev))
			continue;
		if (set->count == VMFIX_MAX_DEVICES) {
			pr_warn("more than %d amdgpu devices, ignoring the rest\n",
				VMFIX_MAX_DEVICES);
			pci_dev_put(pdev);
			return;
		}
		d = &set->devs[set->count++];
		d->dev = get_device(&pdev->dev);
		d->vendor = pdev->vendor;
		d->device = pdev->device;
		strscpy(d->bdf, pci_name(pdev), sizeof(d->bdf));
	}
}

static void vmfix_devset_collect_synth(struct vmfix_devset *set)
{
	struct vmfix_dev *d;
	unsigned int i;

	for (i = 0; i < VMFIX_MAX_DEVICES; i++) {
		if (!vmfix_synth[i].dev || set->count == VMFIX_MAX_DEVICES)
			continue;
		d = &set->devs[set->count++];
		d->dev = vmfix_synth[i].dev;
		d->vendor = vmfix_synth[i].vendor;
		d->device = vmfix_synth[i].device;
		d->synthetic = true;
		snprintf(d->bdf, sizeof(d->bdf), "synthetic-%u", vmfix_synth[i].n);
	}
}

static u8 vmfix_slot_find(const struct device *dev)
{
	u8 i;

	for (i = 0; i < VMFIX_MAX_DEVICES; i++)
		if (vmfix_slot_owner[i] == dev)
			return i;
	return VMFIX_NO_SLOT;
}

/* Drop the references of a set no reader can see any more, and empty it. */
static void vmfix_devset_empty(struct vmfix_devset *set)
{
	unsigned int i;

	if (!set)
		return;
	for (i = 0; i < set->count; i++)
		if (!set->devs[i].synthetic)
			put_device(set->devs[i].dev);
	memset(set, 0, sizeof(*set));
}

/*
 * Rebuild the device set from the amdgpu-bound PCI devices (if @with_pci)
 * and the synthetic ones, apply devices=, and publish it. Counter slots
 * follow a device while it stays scoped; a slot that lost its device is
 * zeroed once no reader can use it any more and is reused only by a later
 * refresh.
 */
void vmfix_devices_refresh(bool with_pci)
{
	bool keep[VMFIX_MAX_DEVICES] = { };
	bool fresh[VMFIX_MAX_DEVICES] = { };
	char list[VMFIX_DEVICES_LEN];
	struct vmfix_devset *set, *old;
	struct vmfix_dev *d;
	unsigned int i;
	u8 slot;

	mutex_lock(&vmfix_devices_lock);
	set = &vmfix_devsets[vmfix_devset_next];
	vmfix_devset_next ^= 1;
	vmfix_devices_param_copy(list, sizeof(list));
	if (with_pci)
		vmfix_devset_collect_pci(set);
	vmfix_devset_collect_synth(set);

	for (i = 0; i < set->count; i++) {
		d = &set->devs[i];
		d->id = vmfix_match_pci_id(d->vendor, d->device);
		d->scoped = d->id && vmfix_devices_selected(list, d->bdf);
		d->slot = VMFIX_NO_SLOT;
		if (!d->scoped)
			continue;
		slot = vmfix_slot_find(d->dev);
		if (slot == VMFIX_NO_SLOT) {
			slot = vmfix_slot_find(NULL);
			if (slot == VMFIX_NO_SLOT)
				continue;
			vmfix_slot_owner[slot] = d->dev;
			fresh[i] = true;
		}
		d->slot = slot;
		keep[slot] = true;
	}

	/* a slot losing its device: new generation before the grace period */
	for (i = 0; i < VMFIX_MAX_DEVICES; i++)
		if (vmfix_slot_owner[i] && !keep[i])
			WRITE_ONCE(vmfix_slot_gens[i], vmfix_slot_gens[i] + 1);
	old = rcu_replace_pointer(vmfix_devset, set,
				  lockdep_is_held(&vmfix_devices_lock));
	synchronize_rcu();
	for (i = 0; i < VMFIX_MAX_DEVICES; i++) {
		if (vmfix_slot_owner[i] && !keep[i]) {
			vmfix_stats_clear_slot(i);
			vmfix_slot_owner[i] = NULL;
		}
	}
	vmfix_devset_empty(old);
	for (i = 0; i < set->count; i++)
		if (fresh[i])
			dev_info(set->devs[i].dev, "%s (%s, %04x:%04x) in scope\n",
				 set->devs[i].id->family, set->devs[i].id->gfx,
				 set->devs[i].vendor, set->devs[i].device);
	mutex_unlock(&vmfix_devices_lock);
}

/* Module exit: forget every device, synthetic ones included. */
void vmfix_devices_clear(void)
{
	struct vmfix_devset *old;

	mutex_lock(&vmfix_devices_lock);
	memset(vmfix_synth, 0, sizeof(vmfix_synth));
	old = rcu_replace_pointer(vmfix_devset, NULL,
				  lockdep_is_held(&vmfix_devices_lock));
	synchronize_rcu();
	memset(vmfix_slot_owner, 0, sizeof(vmfix_slot_owner));
	vmfix_devset_empty(old);
	mutex_unlock(&vmfix_devices_lock);
}

#ifdef VMFIX_TEST_BUILD
/* Test builds only (vmfix_test.h): synthetic devices for the QEMU suite. */
int vmfix_test_devices_add(struct device *dev, u16 vendor, u16 device)
{
	int i, free = -1;

	mutex_lock(&vmfix_devices_lock);
	for (i = 0; i < VMFIX_MAX_DEVICES; i++) {
		if (vmfix_synth[i].dev == dev) {
			mutex_unlock(&vmfix_devices_lock);
			return -EEXIST;
		}
		if (!vmfix_synth[i].dev && free < 0)
			free = i;
	}
	if (free < 0) {
		mutex_unlock(&vmfix_devices_lock);
		return -ENOSPC;
	}
	vmfix_synth[free].dev = dev;
	vmfix_synth[free].vendor = vendor;
	vmfix_synth[free].device = device;
	vmfix_synth[free].n = vmfix_synth_next++;
	mutex_unlock(&vmfix_devices_lock);
	vmfix_devices_refresh(true);
	return 0;
}

void vmfix_test_devices_remove(struct device *dev)
{
	bool found = false;
	int i;

	mutex_lock(&vmfix_devices_lock);
	for (i = 0; i < VMFIX_MAX_DEVICES; i++) {
		if (vmfix_synth[i].dev == dev) {
			memset(&vmfix_synth[i], 0, sizeof(vmfix_synth[i]));
			found = true;
		}
	}
	mutex_unlock(&vmfix_devices_lock);
	/* publishes a set without @dev and waits until no reader holds one */
	if (found)
		vmfix_devices_refresh(true);
}
#endif

/*
 * amdgpu may bind a GPU after it went live (async probe, hotplug, a manual
 * bind): refresh the set whenever an AMD PCI device gains or loses a driver.
 */
static int vmfix_bus_notify(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	struct device *dev = data;

	if (action != BUS_NOTIFY_BOUND_DRIVER &&
	    action != BUS_NOTIFY_UNBOUND_DRIVER)
		return NOTIFY_DONE;
	if (to_pci_dev(dev)->vendor != PCI_VENDOR_ID_ATI)
		return NOTIFY_DONE;
	vmfix_refresh_async();
	return NOTIFY_OK;
}

static struct notifier_block vmfix_bus_nb = {
	.notifier_call = vmfix_bus_notify,
};

int vmfix_devices_bus_init(void)
{
	return bus_register_notifier(&pci_bus_type, &vmfix_bus_nb);
}

void vmfix_devices_bus_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &vmfix_bus_nb);
}
