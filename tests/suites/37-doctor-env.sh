#!/usr/bin/env bash
# doctor and report end to end over a fake root (issues 14 and 16): a simulated `sudo rdna1-vmfix doctor`
# (HOME=/root, no override in the environment, SUDO_USER=alice whose ~/.bashrc exports it) reports the
# override with file and line and the command that removes it; `banana` is set and invalid; --lib-dir
# and --python that do not exist exit 2; every JSON document names the tool, version and schema;
# report redacts alice, the host name and the serial numbers unless --no-redact.
# VMFIX_TOOL runs another binary (default: the build's rdna1-vmfix).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"
need_tools jq

build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}"
tool="${VMFIX_TOOL:-$build/userspace/rdna1-vmfix}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${VMFIX_TOOL:-}" ]; then
	build_targets "$build" doctor-env-build "rdna1-vmfix did not build" rdna1-vmfix
fi

# A fake root: an RX 5700 XT (1002:731f, gfx1010) on 0000:03:00.0, alice's home, Debian 12.
root="$tmp/root"
node="$root/sys/class/kfd/kfd/topology/nodes/1"
pci="$root/sys/bus/pci/devices/0000:03:00.0"
mkdir -p "$node" "$pci/fw_version" "$root/sys/bus/pci/drivers/amdgpu" "$root/etc" "$root/home/alice" "$root/root" \
	"$root/proc/sys/kernel"
printf 'cpu_cores_count 0\nsimd_count 80\ngfx_target_version 100100\nvendor_id 4098\ndevice_id 29471\nlocation_id 768\ndomain 0\ndrm_render_minor 128\n' >"$node/properties"
printf '0x1002\n' >"$pci/vendor"
printf '0x731f\n' >"$pci/device"
printf '0x030000\n' >"$pci/class"
ln -s ../../../bus/pci/drivers/amdgpu "$pci/driver"
printf '0x00000093\n' >"$pci/fw_version/mec_fw_version"
printf 'SN7XQ31415926\n' >"$pci/serial_number"
printf 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n' >"$root/etc/passwd"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$root/etc/os-release"
printf 'alice-desktop\n' >"$root/proc/sys/kernel/hostname"
printf '# ~/.bashrc\nalias ll="ls -l"\nexport HSA_OVERRIDE_GFX_VERSION=10.3.0\n' >"$root/home/alice/.bashrc"

# sudo's environment: no override, HOME=/root, SUDO_USER names the user.
as_sudo() { env -i HOME=/root USER=root SUDO_USER=alice PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

run() {
	local rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	echo "$rc"
}
check() { # ITEM CONDITION-RC WHY
	if [ "$2" -eq 0 ]; then result "$1" PASS "$3"; else result "$1" FAIL "$3: $(head -c 400 "$tmp/out") $(head -c 200 "$tmp/err")"; fi
}

rc=$(run as_sudo "$tool" doctor --sysfs-root "$root" --no-libs)
grep -q '^Verdict: isa_mismatch: HSA_OVERRIDE_GFX_VERSION=10.3.0 at /home/alice/.bashrc:3' "$tmp/out" && ok=0 || ok=1
[ "$rc" -eq 1 ] || ok=1
check doctor-sudo-finds-bashrc "$ok" "simulated sudo: exit $rc, override at /home/alice/.bashrc:3"
grep -qF "sed -i '3s/^/# /' /home/alice/.bashrc" "$tmp/out" && ok=0 || ok=1
check doctor-sudo-removal-command "$ok" "the command that comments the line out"
grep -q 'rdna1-vmfix doctor' "$tmp/out" && ok=1 || ok=0
check doctor-no-self-advice "$ok" "no advice to run doctor"

rc=$(run as_sudo "$tool" doctor --sysfs-root "$root" --no-libs --json)
jq -e '.verdict.class == "isa_mismatch" and .environment_sources.findings[0].file == "/home/alice/.bashrc"
	and .environment_sources.findings[0].line == 3 and .tool.name == "rdna1-vmfix" and (.tool.version | length > 0)
	and .schema == 1' "$tmp/out" >/dev/null && ok=0 || ok=1
check doctor-sudo-json "$ok" "JSON: finding with file and line, tool and schema"

sed -i 's/10\.3\.0/banana/' "$root/home/alice/.bashrc"
rc=$(run as_sudo "$tool" doctor --sysfs-root "$root" --no-libs)
# human output wraps to 80 columns: fold it back into one line before matching the verdict
tr -s '\n' ' ' <"$tmp/out" | grep -q 'Verdict: override_invalid: HSA_OVERRIDE_GFX_VERSION=banana at /home/alice/.bashrc:3 (.*) is set but invalid' &&
	[ "$rc" -eq 1 ] && ! grep -q 'not set' "$tmp/out" && ok=0 || ok=1
check doctor-banana-invalid "$ok" "banana is set and invalid (exit $rc)"
sed -i 's/banana/10.3.0/' "$root/home/alice/.bashrc"

rc=$(run as_sudo "$tool" doctor --sysfs-root "$root" --lib-dir "$tmp/no/such/dir")
[ "$rc" -eq 2 ] && grep -q -- '--lib-dir' "$tmp/err" && ok=0 || ok=1
check doctor-missing-lib-dir "$ok" "--lib-dir that does not exist: exit $rc"
rc=$(run as_sudo "$tool" doctor --sysfs-root "$root" --python "$tmp/no/venv/bin/python")
[ "$rc" -eq 2 ] && grep -q -- '--python' "$tmp/err" && ok=0 || ok=1
check doctor-missing-python "$ok" "--python that does not exist: exit $rc"

rc=$(run as_sudo "$tool" report --sysfs-root "$root" --no-libs)
[ "$rc" -eq 0 ] && grep -q '^# rdna1-vmfix report' "$tmp/out" && ! grep -qE 'alice|SN7XQ31415926' "$tmp/out" &&
	grep -q 'Redacted: ' "$tmp/out" && ok=0 || ok=1
check report-redacted "$ok" "Markdown without alice, alice-desktop or the serial (exit $rc)"
rc=$(run as_sudo "$tool" report --sysfs-root "$root" --no-libs --json)
jq -e '.schema == 1 and .command == "report" and .tool.name == "rdna1-vmfix" and .redaction.enabled
	and .redaction.replaced.serial_numbers == 1 and .redaction.replaced.host_names >= 1
	and .redaction.replaced.user_names >= 1 and .gpus[0].gfx == "gfx1010" and .gpus[0].firmware.mec == "0x00000093"
	and .system.distribution == "Debian GNU/Linux 12 (bookworm)"' "$tmp/out" >/dev/null && ok=0 || ok=1
check report-json "$ok" "JSON: tool, schema, redaction counts, GPU firmware, distribution"
rc=$(run as_sudo "$tool" report --sysfs-root "$root" --no-libs --no-redact)
grep -q '/home/alice/.bashrc:3' "$tmp/out" && grep -q 'alice-desktop' "$tmp/out" && grep -q 'Not redacted' "$tmp/out" &&
	ok=0 || ok=1
check report-no-redact "$ok" "--no-redact keeps the user, host and says so"
report_counts
