#!/usr/bin/env bash
# The post-upgrade check (userspace/dist/postupgrade-check.sh), stage by stage, against a fake root
# (--root: /usr/src, /lib/modules, /sys, /etc) and fake dkms, modinfo, mokutil, python3 and
# rdna1-vmfix on PATH. Each stage is made to fail once; the run must stop there, log at err
# priority with the command that shows details, record it for `rdna1-vmfix status`, and leave
# the kernel unchecked unless the failure came from the harness. Then `rdna1-vmfix status` (built
# here) shows the recorded result, and on a machine without an AMD GPU prints no install steps.
# No root, no GPU.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"

pu="$VMFIX_ROOT/userspace/dist/postupgrade-check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
K=$(uname -r) # the module stage compares with the running kernel
export FAKE_LOG="$tmp/calls.log"

# --- fakes -----------------------------------------------------------------------------------
make_fakes() {
	mkdir -p "$tmp/bin" "$tmp/libexec"
	cat >"$tmp/bin/dkms" <<'EOF'
#!/bin/sh
echo "dkms $*" >>"$FAKE_LOG"
[ "$1" = status ] && [ -n "${FAKE_DKMS:-}" ] && echo "$FAKE_DKMS"
exit 0
EOF
	cat >"$tmp/bin/modinfo" <<'EOF'
#!/bin/sh
echo "modinfo $*" >>"$FAKE_LOG"
[ -n "${FAKE_SIGNER:-}" ] && echo "$FAKE_SIGNER"
exit 0
EOF
	cat >"$tmp/bin/mokutil" <<'EOF'
#!/bin/sh
echo "mokutil $*" >>"$FAKE_LOG"
case "$1" in
--test-key) if [ "${FAKE_ENROLLED:-1}" = 1 ]; then echo "$2 is already enrolled"; else echo "$2 is not enrolled"; exit 1; fi ;;
--sb-state) echo "SecureBoot enabled" ;;
esac
EOF
	cat >"$tmp/bin/python3" <<'EOF'
#!/bin/sh
echo "python3 $*" >>"$FAKE_LOG"
exit "${FAKE_TORCH_RC:-1}"
EOF
	cat >"$tmp/bin/rdna1-vmfix" <<'EOF'
#!/bin/sh
# Fake command: `check --help` (mentions torch when FAKE_HAS_TORCH=1); `check ...` logs its
# arguments, sleeps FAKE_SLEEP, prints a JSON document and exits FAKE_RC.
if [ "$1" = check ] && [ "${2:-}" = --help ]; then
	echo "--backend hip|cuda|host${FAKE_HAS_TORCH:+|torch}"
	exit "${FAKE_HELP_RC:-0}"
fi
echo "$*" >>"$FAKE_LOG"
[ "$1" = check ] || exit 2
sleep "${FAKE_SLEEP:-0}"
echo '{"schema": 1, "fake": true}'
exit "${FAKE_RC:-0}"
EOF
	printf '#!/bin/sh\nexit 0\n' >"$tmp/libexec/rdna1-vmfix-check-hip"
	chmod +x "$tmp/bin/"* "$tmp/libexec/"*
}

# A machine with everything in order: package source, headers, a signed module, Secure Boot on,
# the module armed. OS names the os-release fixture.
make_root() { # OS
	local r="$tmp/root"
	rm -rf "$r" "$tmp/state" "$FAKE_LOG"
	mkdir -p "$r/usr/src/rdna1-vmfix-0.1.0" "$r/lib/modules/$K/build" "$r/lib/modules/$K/updates/dkms" \
		"$r/sys/module/rdna1_vmfix" "$r/sys/kernel/rdna1_vmfix" "$r/sys/firmware/efi/efivars" "$r/etc"
	: >"$r/lib/modules/$K/updates/dkms/rdna1_vmfix.ko.xz"
	printf 'schema 1\nversion 0.1.0\nkernel %s\nstate armed\nreason -\nabi btf\nmode enforce\n' "$K" \
		>"$r/sys/kernel/rdna1_vmfix/status"
	printf '\x06\x00\x00\x00\x01' >"$r/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
	cp "$VMFIX_ROOT/tests/data/os-release/${1:-debian12}" "$r/etc/os-release"
}
set_state() { sed -i "s/^state .*/state $1/; s/^reason .*/reason ${2:--}/" "$tmp/root/sys/kernel/rdna1_vmfix/status"; }
secure_boot_off() { printf '\x06\x00\x00\x00\x00' >"$tmp/root/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"; }

export FAKE_DKMS="rdna1-vmfix/0.1.0, $K, x86_64: installed" FAKE_SIGNER="DKMS module signing key"

# run EXPECTED_RC ARGS...: the script with the fakes, output in $tmp/out.
run() {
	local want=$1 rc=0
	shift
	PATH="$tmp/bin:$PATH" "$pu" --state-dir "$tmp/state" --tool "$tmp/bin/rdna1-vmfix" --libexec "$tmp/libexec" \
		--root "$tmp/root" --kernel "$K" "$@" >"$tmp/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || { log "postupgrade-check exited $rc, expected $want: $(tr '\n' '|' <"$tmp/out")"; return 1; }
}
field() { sed -n "s/^$1 //p" "$tmp/state/last-result"; }
checked() { [ "$(cat "$tmp/state/last-checked" 2>/dev/null)" = "$K" ]; }
harness_ran() { grep -q '^check --backend=' "$FAKE_LOG" 2>/dev/null; }
# A failure: exit 1, stage recorded, one err-priority line naming the stage and how to see details.
failed_at() { # STAGE TEXT
	[ "$(field verdict)" = fail ] && [ "$(field stage)" = "$1" ] && field detail | grep -q -- "$2" &&
		grep -q "^<3>.*FAILED at stage $1: .*Details: rdna1-vmfix status; journalctl -u rdna1-vmfix-postupgrade -b" "$tmp/out"
}

check() { # NAME DESCRIPTION FUNCTION
	local name=$1 what=$2
	if "$3"; then
		result "$name" PASS "$what"
	else
		result "$name" FAIL "$what; output: $(tr '\n' '|' <"$tmp/out" 2>/dev/null | cut -c1-400)"
	fi
}

# --- cases -----------------------------------------------------------------------------------
t_all_pass() {
	make_root debian12 && run 0 && [ "$(field verdict)" = pass ] &&
		[ "$(field stages)" = "dkms=pass signing=pass module=pass harness=pass" ] &&
		grep -qx 'check --backend=hip --profile=quick --json' "$FAKE_LOG" && checked &&
		grep -q '"fake": true' "$tmp/state/last-result.json" && [ -n "$(field time)" ]
}
t_unchanged() { run 0 && grep -q 'already checked (pass)' "$tmp/out" && [ "$(grep -c '^check --backend' "$FAKE_LOG")" = 1 ]; }
t_dkms_no_headers() {
	make_root debian12 && rm -rf "$tmp/root/lib/modules/$K/build" &&
		FAKE_DKMS="" run 1 && failed_at dkms "sudo apt install linux-headers-$K" && ! checked && ! harness_ran &&
		[ "$(field stages)" = "dkms=fail" ]
}
t_dkms_build_failed() {
	make_root debian12 && FAKE_DKMS="rdna1-vmfix/0.1.0: added" run 1 && failed_at dkms "make.log" && ! harness_ran
}
t_unsigned() {
	make_root debian12 && FAKE_SIGNER="" run 1 && failed_at signing "is not signed" && ! checked && ! harness_ran
}
t_not_enrolled_debian() {
	make_root debian12 && FAKE_ENROLLED=0 run 1 && failed_at signing "sudo mokutil --import /var/lib/dkms/mok.pub" &&
		grep -q "mokutil --test-key $tmp/root/var/lib/dkms/mok.pub" "$FAKE_LOG"
}
t_not_enrolled_ubuntu() {
	make_root ubuntu2404 && FAKE_ENROLLED=0 run 1 && failed_at signing "update-secureboot-policy --enroll-key" &&
		grep -q "mokutil --test-key $tmp/root/var/lib/shim-signed/mok/MOK.der" "$FAKE_LOG"
}
t_framework_cert() {
	make_root ubuntu2404 && mkdir -p "$tmp/root/etc/dkms" &&
		echo 'mok_certificate="/etc/keys/mine.der"' >"$tmp/root/etc/dkms/framework.conf" &&
		FAKE_ENROLLED=0 run 1 && failed_at signing "sudo mokutil --import /etc/keys/mine.der"
}
t_secure_boot_off() {
	make_root debian12 && secure_boot_off && FAKE_SIGNER="" run 0 &&
		[ "$(field stages)" = "dkms=pass signing=skip module=pass harness=pass" ] && harness_ran
}
t_not_loaded() {
	make_root debian12 && rm -rf "$tmp/root/sys/module/rdna1_vmfix" && run 1 &&
		failed_at module "sudo modprobe rdna1_vmfix" && ! harness_ran && ! checked
}
t_refused() {
	make_root debian12 && set_state refused abi_unknown_for_6.14.0-37-generic && run 1 &&
		failed_at module "refused to arm on $K (abi_unknown_for_6.14.0-37-generic)" &&
		failed_at module "sudo dkms remove rdna1-vmfix/0.1.0 -k $K && sudo dkms install rdna1-vmfix/0.1.0 -k $K"
}
t_mode_off() {
	make_root debian12 && set_state waiting mode_off && run 0 &&
		[ "$(field stages)" = "dkms=pass signing=pass module=skip harness=pass" ] &&
		grep -q 'module: skip: loaded with mode=off' "$tmp/out" &&
		make_root debian12 && set_state waiting && run 1 && failed_at module "amdgpu is not loaded"
}
t_other_kernel() { # a new kernel installed but not booted: the loaded module belongs to another
	make_root debian12 && mkdir -p "$tmp/root/lib/modules/9.9.9-1-amd64/build" "$tmp/root/lib/modules/9.9.9-1-amd64/updates/dkms" &&
		: >"$tmp/root/lib/modules/9.9.9-1-amd64/updates/dkms/rdna1_vmfix.ko" &&
		FAKE_DKMS="rdna1-vmfix/0.1.0, 9.9.9-1-amd64, x86_64: installed" run 0 --kernel 9.9.9-1-amd64 &&
		[ "$(field stages)" = "dkms=pass signing=pass module=skip harness=pass" ] && field detail | grep -q .
}
t_harness_problem() {
	make_root debian12 && FAKE_RC=1 run 1 && failed_at harness "found a problem" && checked &&
		[ "$(field stages)" = "dkms=pass signing=pass module=pass harness=fail" ]
}
t_harness_timeout() {
	make_root debian12 && FAKE_SLEEP=5 run 4 --timeout 1 && [ "$(field verdict)" = error ] &&
		[ "$(field stage)" = harness ] && grep -q '^<3>.*FAILED at stage harness: .*timed out' "$tmp/out"
}
t_no_backend() {
	make_root debian12 && rm -f "$tmp/libexec/rdna1-vmfix-check-hip" && run 0 && ! harness_ran &&
		[ "$(field stages)" = "dkms=pass signing=pass module=pass harness=skip" ] &&
		field detail | grep -q 'no GPU backend: this package has no hip worker'
	local rc=$?
	printf '#!/bin/sh\nexit 0\n' >"$tmp/libexec/rdna1-vmfix-check-hip" && chmod +x "$tmp/libexec/rdna1-vmfix-check-hip"
	return $rc
}
t_torch() {
	make_root debian12 && rm -f "$tmp/libexec/rdna1-vmfix-check-hip" &&
		FAKE_HAS_TORCH=1 FAKE_TORCH_RC=0 run 0 && grep -qx 'check --backend=torch --profile=quick --json' "$FAKE_LOG" &&
		make_root debian12 && rm -f "$tmp/libexec/rdna1-vmfix-check-hip" &&
		FAKE_HAS_TORCH=1 FAKE_TORCH_RC=1 run 0 && ! harness_ran # torch without ROCm: skipped
	local rc=$?
	printf '#!/bin/sh\nexit 0\n' >"$tmp/libexec/rdna1-vmfix-check-hip" && chmod +x "$tmp/libexec/rdna1-vmfix-check-hip"
	return $rc
}
t_no_module_package() {
	make_root debian12 && rm -rf "$tmp/root/usr/src/rdna1-vmfix-0.1.0" && FAKE_DKMS="" run 0 &&
		[ "$(field stages)" = "dkms=skip signing=skip module=skip harness=pass" ] &&
		grep -q 'dkms: skip: rdna1-vmfix-dkms is not installed' "$tmp/out"
}
t_tool_missing_usage() {
	make_root debian12 && run 0 --tool "$tmp/missing" && [ "$(field stages)" = "dkms=pass signing=pass module=pass harness=skip" ] &&
		run 2 --timeout soon && run 2 extra-argument
}
t_force() { make_root debian12 && run 0 && run 0 --force && [ "$(grep -c '^check --backend' "$FAKE_LOG")" = 2 ]; }

# --- what `rdna1-vmfix status` shows --------------------------------------------------------------
tool="$VMFIX_ROOT/build/userspace/rdna1-vmfix"
build_tool() {
	{ cmake -S "$VMFIX_ROOT" -B "$VMFIX_ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		ninja -C "$VMFIX_ROOT/build" rdna1-vmfix; } >"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log" >&2 && return 1; }
}
t_status_shows_result() {
	local r="$tmp/status-root"
	make_root debian12 && rm -rf "$tmp/root/lib/modules/$K/build" && FAKE_DKMS="" run 1 &&
		mkdir -p "$r/sys" "$r/var/lib/rdna1-vmfix" && cp "$tmp/state/last-result" "$r/var/lib/rdna1-vmfix/" &&
		{ "$tool" status --sysfs-root "$r" >"$tmp/out" 2>&1 || true; } &&
		grep -q '^Last post-upgrade check:' "$tmp/out" && grep -q "fail on $K at .*, stage dkms (dkms=fail)" "$tmp/out" &&
		grep -q "sudo apt install linux-headers-$K" "$tmp/out" &&
		grep -q 'details: journalctl -u rdna1-vmfix-postupgrade -b' "$tmp/out" &&
		{ "$tool" status --json --sysfs-root "$r" >"$tmp/out" 2>&1 || true; } &&
		grep -q '"postupgrade":{[^}]*"verdict":"fail"' "$tmp/out" &&
		rm "$r/var/lib/rdna1-vmfix/last-result" && { "$tool" status --json --sysfs-root "$r" >"$tmp/out" 2>&1 || true; } &&
		grep -q '"postupgrade":null' "$tmp/out"
}
# This machine has no AMD GPU (nor has CI): status must not tell it to install anything.
t_status_no_gpu() {
	local rc=0
	"$tool" status >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" -ne 3 ]; then
		log "status exited $rc: an AMD GPU here? (case needs a machine without one)"
		return 2
	fi
	! grep -qiE 'apt install|dkms|mokutil|Secure Boot and module signing' "$tmp/out"
}

make_fakes
check postupgrade-all-pass "every stage passes: dkms, signing (Secure Boot on, key enrolled), armed, hip harness; recorded" t_all_pass
check postupgrade-unchanged "same kernel again: nothing re-run" t_unchanged
check postupgrade-dkms-no-headers "DKMS stage fails without headers: err line names linux-headers-KVER; kernel left unchecked" t_dkms_no_headers
check postupgrade-dkms-build-failed "DKMS stage fails with headers present: points at make.log; no later stage runs" t_dkms_build_failed
check postupgrade-unsigned "signing stage fails for an unsigned module under Secure Boot" t_unsigned
check postupgrade-not-enrolled-debian "key not enrolled (Debian): mokutil --import /var/lib/dkms/mok.pub" t_not_enrolled_debian
check postupgrade-not-enrolled-ubuntu "key not enrolled (Ubuntu): MOK.der tested, update-secureboot-policy --enroll-key" t_not_enrolled_ubuntu
check postupgrade-framework-cert "mok_certificate from /etc/dkms/framework.conf wins over the distribution default" t_framework_cert
check postupgrade-secure-boot-off "Secure Boot off: signing skipped, an unsigned module is fine" t_secure_boot_off
check postupgrade-not-loaded "module stage fails when rdna1_vmfix is not loaded on the running kernel" t_not_loaded
check postupgrade-refused "module stage fails when the module refused to arm (reason shown)" t_refused
check postupgrade-other-kernel "--kernel of a kernel not running: module stage skipped, not failed" t_other_kernel
check postupgrade-mode-off "mode=off (state waiting, reason mode_off) is skipped; waiting for amdgpu fails" t_mode_off
check postupgrade-harness-problem "harness finds a problem: exit 1, recorded, kernel marked (not re-run each boot)" t_harness_problem
check postupgrade-harness-timeout "hanging harness killed after --timeout: exit 4, verdict error" t_harness_timeout
check postupgrade-no-backend "no hip worker and no torch: harness skipped with the reason, verdict pass" t_no_backend
check postupgrade-torch "no hip worker: torch backend when the command has it and PyTorch has ROCm" t_torch
check postupgrade-no-module-package "without rdna1-vmfix-dkms: dkms/signing/module skipped, harness still runs" t_no_module_package
check postupgrade-tool-missing-usage "command missing: harness skipped; bad --timeout or argument: exit 2" t_tool_missing_usage
check postupgrade-force "--force re-runs a checked kernel" t_force
if build_tool; then
	check status-postupgrade-result "status shows the last post-upgrade result (text: verdict, kernel, date, stage, detail, details; JSON: postupgrade, null when none)" t_status_shows_result
	rc=0
	t_status_no_gpu || rc=$?
	case $rc in
	0) result status-no-gpu-no-steps PASS "no AMD GPU: status prints no install, DKMS or MOK steps (exit 3)" ;;
	2) result status-no-gpu-no-steps SKIP "this machine has an AMD GPU" ;;
	*) result status-no-gpu-no-steps FAIL "no AMD GPU, yet status printed install steps: $(tr '\n' '|' <"$tmp/out" | cut -c1-300)" ;;
	esac
else
	result status-postupgrade-result FAIL "rdna1-vmfix did not build"
fi
report_counts
