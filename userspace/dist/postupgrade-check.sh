#!/usr/bin/env bash
# rdna1-vmfix post-upgrade check: after a kernel change, checks in order what an upgrade breaks:
#   dkms      DKMS built and installed rdna1_vmfix for the kernel (dkms status)
#   signing   with Secure Boot on: the module is signed and its key enrolled (modinfo, mokutil)
#   module    rdna1_vmfix is loaded and armed (/sys/kernel/rdna1_vmfix/status)
#   harness   `rdna1-vmfix check --profile=quick` on the best backend there is: hip, else torch,
#             else skipped with the reason
# Without rdna1-vmfix-dkms the first three are skipped. Results go to the journal (syslog priority
# prefixes; a failure at err priority, with the command that shows details) and to the state dir.
# Run by rdna1-vmfix-postupgrade.service after boot; safe to run by hand.
#
# Usage: postupgrade-check [--state-dir DIR] [--tool PATH] [--libexec DIR] [--root DIR] [--kernel KVER]
#                          [--timeout SECONDS] [--force] [--verbose]
#   --root DIR   read /lib/modules, /sys, /etc, /usr/src under DIR (tests)
# State (default /var/lib/rdna1-vmfix): last-checked (kernel release of the last completed check),
#   last-result (key value lines: kernel, time, verdict, stage, detail, details, stages; shown by
#   `rdna1-vmfix status`), last-result.json (the harness's JSON report).
# Exit: 0 passed or nothing to do; 1 a stage failed; 2 usage; 4 the harness could not run.
set -euo pipefail

state_dir=/var/lib/rdna1-vmfix
tool=@VMFIX_TOOL@
libexec=@VMFIX_LIBEXEC@
root=""
kver=""
timeout_s=240
force=0
readonly MOD=rdna1_vmfix PKG=rdna1-vmfix
readonly SB_VAR=sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c

usage() { sed -n '12,14p' "$0" | sed 's/^# //'; }
say() { printf '<%d>rdna1-vmfix-postupgrade: %s\n' "$1" "$2"; } # syslog priority prefix for journald

parse_args() {
	local opts
	opts=$(getopt -o h --long state-dir:,tool:,libexec:,root:,kernel:,timeout:,force,verbose,help -n postupgrade-check -- "$@") ||
		{ usage >&2 && exit 2; }
	eval set -- "$opts"
	while true; do
		case "$1" in
		--state-dir) state_dir=$2 && shift 2 ;;
		--tool) tool=$2 && shift 2 ;;
		--libexec) libexec=$2 && shift 2 ;;
		--root) root=$2 && shift 2 ;;
		--kernel) kver=$2 && shift 2 ;;
		--timeout) timeout_s=$2 && shift 2 ;;
		--force) force=1 && shift ;;
		--verbose) set -x && shift ;;
		-h | --help) usage && exit 0 ;;
		--) shift && break ;;
		esac
	done
	[ $# -eq 0 ] || { usage >&2 && exit 2; }
	case "$timeout_s" in '' | *[!0-9]*) say 3 "--timeout needs whole seconds, got '$timeout_s'" && exit 2 ;; esac
	[ -n "$kver" ] || kver=$(uname -r)
}

# Each stage sets st_verdict (pass|fail|skip) and st_detail.
st_verdict="" st_detail=""
stage() { st_verdict=$1 st_detail=$2; }

module_package_installed() {
	compgen -G "$root/usr/src/$PKG-[0-9]*" >/dev/null || compgen -G "$root/var/lib/dkms/$PKG/*" >/dev/null
}

stage_dkms() {
	local out
	out=$(dkms status -m "$PKG" -k "$kver" 2>/dev/null || true)
	if grep -q ': installed' <<<"$out"; then
		stage pass "$(grep ': installed' <<<"$out" | head -n1)"
	elif [ ! -d "$root/lib/modules/$kver/build" ]; then
		stage fail "DKMS has not built $MOD for $kver: its headers are missing (sudo apt install linux-headers-$kver; then sudo dkms autoinstall -k $kver)"
	else
		stage fail "DKMS has not built $MOD for $kver although its headers are there (dkms status: ${out:-nothing}); see the make.log under /var/lib/dkms/$PKG/, or run: sudo dkms autoinstall -k $kver"
	fi
}

secure_boot_on() {
	local f="$root/$SB_VAR"
	if [ -r "$f" ]; then
		[ "$(od -An -tu1 -j4 -N1 "$f" | tr -d ' ')" = 1 ]
	elif [ -d "$root/sys/firmware/efi" ] && command -v mokutil >/dev/null 2>&1; then
		mokutil --sb-state 2>/dev/null | grep -q 'SecureBoot enabled'
	else
		return 1
	fi
}

# The certificate DKMS signs with: framework.conf's mok_certificate, else the distribution's default.
dkms_certificate() {
	local c="" f
	for f in "$root/etc/dkms/framework.conf" "$root"/etc/dkms/framework.conf.d/*.conf; do
		[ -r "$f" ] || continue
		c=$(sed -n 's/^[[:space:]]*mok_certificate=["]\{0,1\}\([^"]*\)["]\{0,1\}[[:space:]]*$/\1/p' "$f" | tail -n1)
	done
	if [ -n "$c" ]; then
		echo "$c"
	elif grep -q '^ID=ubuntu' "$root/etc/os-release" 2>/dev/null; then
		echo /var/lib/shim-signed/mok/MOK.der
	else
		echo /var/lib/dkms/mok.pub
	fi
}

enrol_command() { # CERT
	if [ "$1" = /var/lib/shim-signed/mok/MOK.der ]; then
		echo "sudo update-secureboot-policy --enroll-key"
	else
		echo "sudo mokutil --import $1"
	fi
}

stage_signing() {
	local ko signer cert test
	secure_boot_on || { stage skip "Secure Boot is off: an unsigned module loads" && return; }
	ko=$(compgen -G "$root/lib/modules/$kver/updates/dkms/$MOD.ko*" | head -n1 || true)
	[ -n "$ko" ] || { stage fail "Secure Boot is on and $MOD.ko is missing for $kver" && return; }
	signer=$(modinfo -F signer "$ko" 2>/dev/null || true)
	[ -n "$signer" ] || {
		stage fail "Secure Boot is on and $MOD for $kver is not signed: the kernel will refuse it (DKMS signs when it has a key and openssl; sudo rdna1-vmfix status shows the steps)"
		return
	}
	cert=$(dkms_certificate)
	if ! command -v mokutil >/dev/null 2>&1; then
		stage pass "signed by '$signer' (mokutil not installed: enrolment of $cert not checked)"
		return
	fi
	test=$(mokutil --test-key "$root$cert" 2>&1 || true)
	case "$test" in
	*"already enrolled"*) stage pass "signed by '$signer'; $cert is enrolled" ;;
	*) stage fail "signed by '$signer' but $cert is not enrolled: the kernel will refuse the module; run: $(enrol_command "$cert"), then reboot and confirm in the MOK manager" ;;
	esac
}

stage_module() {
	local status="$root/sys/kernel/$MOD/status" state reason running
	running=$(sed -n 's/^kernel //p' "$status" 2>/dev/null || true)
	[ -n "$running" ] || running=$(uname -r)
	[ "$kver" = "$running" ] || { stage skip "$kver is not the running kernel ($running)" && return; }
	if [ ! -d "$root/sys/module/$MOD" ]; then
		stage fail "$MOD is not loaded on $kver; try: sudo modprobe $MOD, and see: journalctl -k -b | grep $MOD"
		return
	fi
	state=$(sed -n 's/^state //p' "$status" 2>/dev/null || true)
	reason=$(sed -n 's/^reason //p' "$status" 2>/dev/null || true)
	case "$state:$reason" in
	armed:*) stage pass "loaded and armed on $kver ($(sed -n 's/^mode //p' "$status") mode)" ;;
	waiting:mode_off) stage skip "loaded with mode=off (the way out of a bad boot): it arms nothing on purpose" ;;
	refused:*) stage fail "loaded but refused to arm on $kver (${reason:-?}): amdgpu runs without the guard; $(rebuild_hint "$status")" ;;
	waiting:*) stage fail "loaded but waiting: amdgpu is not loaded on $kver" ;;
	*) stage fail "loaded in state '${state:-unreadable}' (${reason:-?}); see: rdna1-vmfix status, journalctl -k -b | grep $MOD" ;;
	esac
}

# A refusal because the build did not match the running amdgpu (or had no BTF to derive the hook
# ABI from, as for a kernel that was not running yet) goes away with a build made now.
rebuild_hint() { # STATUS-FILE
	local v
	v=$(sed -n 's/^version //p' "$1" 2>/dev/null || true)
	echo "rebuild it for the running kernel: sudo dkms remove $PKG/${v:-VERSION} -k $kver && sudo dkms install $PKG/${v:-VERSION} -k $kver && sudo modprobe -r $MOD && sudo modprobe $MOD; then see: rdna1-vmfix status, docs/compatibility.md"
}

# hip when this install has the hip worker; torch when the command has that backend and a PyTorch
# built for ROCm imports; otherwise none.
pick_backend() {
	if [ -x "$libexec/rdna1-vmfix-check-hip" ]; then
		echo hip
	elif "$tool" check --help 2>/dev/null | grep -qw torch &&
		python3 -c 'import sys, torch; sys.exit(0 if torch.version.hip else 1)' >/dev/null 2>&1; then
		echo torch
	else
		echo none
	fi
}

stage_harness() {
	local backend rc=0 out="$state_dir/last-result.json.tmp"
	[ -x "$tool" ] || { stage skip "$tool is not installed" && return; }
	"$tool" check --help >/dev/null 2>&1 || { stage skip "this $tool has no 'check' command" && return; }
	backend=$(pick_backend)
	if [ "$backend" = none ]; then
		stage skip "no GPU backend: this package has no hip worker (built without hipcc) and no PyTorch built for ROCm imports"
		return
	fi
	timeout --kill-after=10 "$timeout_s" "$tool" check --backend="$backend" --profile=quick --json \
		>"$out" 2>"$state_dir/last-result.err" || rc=$?
	mv -f "$out" "$state_dir/last-result.json"
	case "$rc" in
	0) stage pass "check --backend=$backend passed" ;;
	1) stage fail "check --backend=$backend found a problem; details: $state_dir/last-result.json, or run: $tool check --backend=$backend" ;;
	3) stage skip "check --backend=$backend found no RDNA1 GPU" ;;
	124 | 137) stage error "check --backend=$backend timed out after ${timeout_s}s (a GPU hang?); see: journalctl -k -b" ;;
	*) stage error "check --backend=$backend could not run (exit $rc): $(tail -n1 "$state_dir/last-result.err" 2>/dev/null)" ;;
	esac
}

write_result() { # VERDICT STAGE DETAIL STAGES
	{
		printf 'kernel %s\ntime %s\nverdict %s\nstage %s\n' "$kver" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2"
		printf 'detail %s\ndetails journalctl -u rdna1-vmfix-postupgrade -b\nstages %s\n' "$3" "$4"
	} >"$state_dir/last-result.tmp"
	mv -f "$state_dir/last-result.tmp" "$state_dir/last-result"
}

mark_checked() {
	printf '%s\n' "$kver" >"$state_dir/last-checked.tmp"
	mv -f "$state_dir/last-checked.tmp" "$state_dir/last-checked"
}

# Runs the stages in order; the first failure ends the run (later stages depend on it).
run_stages() {
	local s stages="" skipped_module=""
	module_package_installed || skipped_module="rdna1-vmfix-dkms is not installed"
	for s in dkms signing module harness; do
		if [ -n "$skipped_module" ] && [ "$s" != harness ]; then
			stage skip "$skipped_module"
		else
			"stage_$s"
		fi
		stages="${stages:+$stages }$s=$st_verdict"
		say "$([ "$st_verdict" = pass ] && echo 6 || echo 5)" "$s: $st_verdict: $st_detail"
		case "$st_verdict" in
		fail | error)
			write_result "$st_verdict" "$s" "$st_detail" "$stages"
			say 3 "post-upgrade check of $kver FAILED at stage $s: $st_detail. Details: rdna1-vmfix status; journalctl -u rdna1-vmfix-postupgrade -b"
			# A kernel whose module is not ready is checked again at the next boot; a harness
			# result (problem, hang) is final for this kernel: it is not re-run on every boot.
			[ "$s" != harness ] || mark_checked
			[ "$st_verdict" = fail ] && return 1
			return 4
			;;
		esac
	done
	write_result pass - "$st_detail" "$stages"
	mark_checked
	say 6 "post-upgrade check of $kver passed ($stages)"
}

main() {
	parse_args "$@"
	mkdir -p "$state_dir"
	local last=""
	[ -r "$state_dir/last-checked" ] && last=$(head -n1 "$state_dir/last-checked")
	if [ "$force" -eq 0 ] && [ "$last" = "$kver" ]; then
		say 6 "kernel $kver already checked ($(sed -n 's/^verdict //p' "$state_dir/last-result" 2>/dev/null || echo 'no result recorded')); nothing to do"
		exit 0
	fi
	say 6 "kernel changed (${last:-none} -> $kver): checking dkms, signing, module, harness"
	run_stages
}

main "$@"
