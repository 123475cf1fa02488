# shellcheck shell=bash
# QEMU system-test helpers: initramfs of a real Debian kernel (busybox + the real amdgpu.ko and its
# dependencies + rdna1_vmfix + the test-only companion), a TCG boot with a time limit, and the parser
# that turns the guest's TAP 13 lines into one "KVER check PASS|FAIL|SKIP reason" line per check.
# Needs scripts/lib/common.sh and scripts/lib/kernels.sh sourced first.
#
# Cache layout (all keyed on their inputs, so a second run only boots):
#   $VMFIX_CACHE/qemu/base/<release>.cpio            busybox + amdgpu and its deps (uncompressed: TCG
#                                                     unpacks a plain cpio faster than it inflates one)
#   $VMFIX_CACHE/qemu/mods/<release>-<srchash>/       rdna1_vmfix.ko (test build) + vmfix_companion.ko
#                                                     for that kernel, and variants/rdna1_vmfix-<m>.ko
#                                                     built against mutated amdgpu BTF (QEMU_ABI_MUTATIONS)

QEMU_GUEST_DIR="$VMFIX_ROOT/tests/qemu/guest"
QEMU_COMPANION_DIR="$VMFIX_ROOT/tests/qemu/companion"
# depmod and modprobe live in sbin, which a normal user's PATH may lack
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

# Directory holding lib/modules/<release> of an extracted kernel tree (7.x packages use usr/lib).
qemu_moddir() {
	local tree=$1 rel=$2 d
	for d in "$tree/lib/modules/$rel" "$tree/usr/lib/modules/$rel"; do
		[ -d "$d" ] && { printf '%s\n' "$d"; return 0; }
	done
	die "no modules for $rel under $tree"
}

qemu_vmlinuz() {
	local tree=$1 rel=$2 f
	for f in "$tree/vmlinuz" "$tree/boot/vmlinuz-$rel" "$tree/usr/lib/modules/$rel/vmlinuz" \
		"$tree/lib/modules/$rel/vmlinuz"; do
		[ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	die "no vmlinuz for $rel under $tree"
}

# Busybox + amdgpu with its dependencies, in load order (modprobe --show-depends against that tree).
# Prints the path of the cached cpio.
qemu_base_initramfs() {
	local label=$1 tree rel moddir out work base
	tree=$(fetch_kernel_tree "$label")
	rel=$(kernel_release "$label")
	out="$VMFIX_CACHE/qemu/base/$rel.cpio"
	if [ -s "$out" ]; then
		printf '%s\n' "$out"
		return 0
	fi
	need_tools busybox cpio depmod modprobe xz
	moddir=$(qemu_moddir "$tree" "$rel")
	base=${moddir%/lib/modules/"$rel"}
	mkdir -p "$VMFIX_CACHE/qemu/base"
	work=$(mktemp -d "$VMFIX_CACHE/qemu/base/.work.XXXXXX")
	# depmod/modprobe of bookworm's kmod look in <base>/lib/modules; the tree is ours, so index it.
	[ -s "$moddir/modules.dep" ] || depmod -b "$base" "$rel"
	mkdir -p "$work/bin" "$work/modules" "$work/proc" "$work/sys" "$work/dev" "$work/tmp"
	cp "$(command -v busybox)" "$work/bin/busybox"
	file "$work/bin/busybox" 2>/dev/null | grep -q 'dynamically' && die "busybox is not static (install busybox-static)"
	local line mod name order=()
	while read -r line; do
		case "$line" in
		insmod\ *) ;;
		*) continue ;;
		esac
		mod=$(printf '%s\n' "$line" | awk '{print $2}')
		name=$(basename "$mod")
		name=${name%.xz}
		name=${name%.zst}
		case "$mod" in
		*.xz) xz -dc "$mod" >"$work/modules/$name" ;;
		*.zst) zstd -qdc "$mod" >"$work/modules/$name" ;;
		*) cp "$mod" "$work/modules/$name" ;;
		esac
		order+=("$name")
	done < <(modprobe -d "$base" -S "$rel" --show-depends amdgpu)
	if [ ${#order[@]} -eq 0 ] || [ "${order[-1]}" != amdgpu.ko ]; then
		die "modprobe found no amdgpu in $rel"
	fi
	printf '%s\n' "${order[@]}" >"$work/modules/amdgpu.order"
	printf '%s\n' "$rel" >"$work/modules/release"
	(cd "$work" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$work"
	printf '%s\n' "$out"
}

# Hash of everything that goes into the two modules we build.
qemu_src_hash() {
	(cd "$VMFIX_ROOT" && find VERSION kernel tests/qemu/companion tests/qemu/btf-mutate.py -type f \
		\( -name '*.[ch]' -o -name '*.sh' -o -name '*.py' -o -name Kbuild -o -name Makefile -o -name VERSION \) \
		-not -path '*/generated/*' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16
}

# One amdgpu BTF change per hook assumption; the guest checks that each build refuses to arm.
QEMU_ABI_MUTATIONS="flags-index flags-type adev-offset other-build"

# kbuild of WORK/kernel with the generated/abi.h already in place (LABEL's compiler, test build);
# extra make arguments follow.
_qemu_make_vmfix() {
	local label=$1 kdir=$2 work=$3 log=$4
	shift 4
	kenv_run "$label" make -C "$work/kernel" KDIR="$kdir" VMFIX_GEN_ABI=0 VMFIX_WERROR=1 VMFIX_TEST=1 -j2 \
		"$@" >>"$log" 2>&1
}

# Builds WORK/variants/rdna1_vmfix-M.ko for every mutation M: the same sources against an amdgpu.ko
# copy whose BTF differs in one assumption. Built in place one after another (only the objects that
# include generated/abi.h recompile), the real ABI is restored at the end.
_qemu_build_variants() {
	local label=$1 kdir=$2 host_kdir=$3 work=$4 log=$5 ko base m
	ko=$(tree_amdgpu "$label") && base=$(kernel_base_btf "$label") || return 1
	case "$ko" in
	*.xz) xz -dc "$ko" >"$work/amdgpu.ko" ;;
	*.zst) zstd -qdc "$ko" >"$work/amdgpu.ko" ;;
	*) cp "$ko" "$work/amdgpu.ko" ;;
	esac
	mkdir -p "$work/variants"
	cp "$work/kernel/generated/abi.h" "$work/abi-real.h"
	for m in $QEMU_ABI_MUTATIONS; do
		python3 "$VMFIX_ROOT/tests/qemu/btf-mutate.py" "$base" "$work/amdgpu.ko" "$work/amdgpu-$m.ko" "$m" &&
			kernel_gen_abi "$label" "$host_kdir" "$work/kernel/generated/abi.h" "$work/amdgpu-$m.ko" >>"$log" &&
			_qemu_make_vmfix "$label" "$kdir" "$work" "$log" CONFIG_DEBUG_INFO_BTF_MODULES= || return 1
		cp "$work/kernel/rdna1_vmfix.ko" "$work/variants/rdna1_vmfix-$m.ko"
		rm -f "$work/amdgpu-$m.ko"
		# what the build derived, for the guest's reason column
		sed -n 's/^  ABI     //p' "$log" | tail -n1 | sed 's/ from [^:]*:/:/' >"$work/variants/rdna1_vmfix-$m.abi"
	done
	cp "$work/abi-real.h" "$work/kernel/generated/abi.h"
	_qemu_make_vmfix "$label" "$kdir" "$work" "$log"
}

# Builds rdna1_vmfix.ko (from kernel/, test build, hook ABI from the BTF of this kernel's amdgpu.ko),
# its mutated-ABI variants and vmfix_companion.ko against LABEL's headers with that suite's compiler;
# prints the directory holding them. The companion finds rdna1_vmfix's test entry points at run time
# (symbol_get), so it builds and loads even while the module is absent.
qemu_build_modules() {
	local label=$1 rel kdir host_kdir out work log
	rel=$(kernel_release "$label")
	out="$VMFIX_CACHE/qemu/mods/$rel-$(qemu_src_hash)"
	if [ -s "$out/vmfix_companion.ko" ]; then
		printf '%s\n' "$out"
		return 0
	fi
	kdir=$(ensure_headers "$label")
	host_kdir=$(host_headers "$label")
	mkdir -p "$VMFIX_CACHE/qemu/mods"
	work=$(mktemp -d "$VMFIX_CACHE/qemu/mods/.work.XXXXXX")
	log="$work/build.log"
	cp "$VMFIX_ROOT/VERSION" "$work/VERSION"
	cp -r "$VMFIX_ROOT/kernel" "$work/kernel"
	rm -rf "$work/kernel/generated"
	cp -r "$QEMU_COMPANION_DIR" "$work/companion"
	if ! kernel_gen_abi "$label" "$host_kdir" "$work/kernel/generated/abi.h" >>"$log" 2>&1 ||
		! _qemu_make_vmfix "$label" "$kdir" "$work" "$log" ||
		! _qemu_build_variants "$label" "$kdir" "$host_kdir" "$work" "$log"; then
		tail -n 40 "$log" >&2
		rm -f "$work"/*.ko
		die "rdna1_vmfix did not build against $rel (log: $log)"
	fi
	if ! kenv_run "$label" make -C "$kdir" M="$work/companion" VMFIX_KERNEL_DIR="$work/kernel" modules >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "vmfix_companion did not build against $rel (log: $log)"
	fi
	mkdir -p "$out.tmp"
	cp "$work/companion/vmfix_companion.ko" "$work/kernel/rdna1_vmfix.ko" "$log" "$out.tmp/"
	cp -r "$work/variants" "$out.tmp/variants"
	rm -rf "$out"
	mv "$out.tmp" "$out"
	rm -rf "$work"
	printf '%s\n' "$out"
}

# Per-run overlay cpio: /init, the guest scripts, our modules, the scenario to run, and
# $QEMU_GUEST_ENV ("NAME=value ..." lines) as /guest/env, which /init sources.
# qemu_overlay MODDIR SCENARIO OUTFILE
qemu_overlay() {
	local mods=$1 scenario=$2 out=$3 work
	work=$(mktemp -d)
	mkdir -p "$work/guest" "$work/modules"
	cp "$QEMU_GUEST_DIR/init" "$work/init"
	cp "$QEMU_GUEST_DIR"/*.sh "$work/guest/"
	chmod 0755 "$work/init" "$work"/guest/*.sh
	cp "$mods"/*.ko "$work/modules/"
	cp -r "$mods/variants" "$work/modules/variants"
	printf '%s\n' "$scenario" >"$work/guest/scenario"
	printf '%s\n' "${QEMU_GUEST_ENV:-}" >"$work/guest/env"
	(cd "$work" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out"
	rm -rf "$work"
}

# qemu_boot VMLINUZ INITRD LOG TIMEOUT_S [MEM_MB]: TCG boot with serial on stdout, saved to LOG.
# Returns qemu's status (124 on timeout). Kernel options: oops=panic + panic=-1 end the run on any
# oops (qemu -no-reboot exits); rcu_expedited shortens the grace periods every module unload and
# probe removal waits for; no_timer_check stops a slow TCG vCPU on a busy host from failing the
# IO-APIC timer check ("IO-APIC + timer doesn't work", seen here under load). thread=single runs
# both vCPUs in one host thread: with multi-threaded TCG a 7.3 guest once took an "Oops: int3" in
# early boot while the kernel patched its own text across CPUs.
qemu_boot() {
	local kernel=$1 initrd=$2 log=$3 limit=$4 mem=${5:-1536}
	need_tools qemu-system-x86_64 timeout
	timeout --foreground -k 5 "$limit" qemu-system-x86_64 -accel tcg,thread=single -cpu max -m "$mem" -smp 2 \
		-nographic -no-reboot -nodefaults -serial stdio -display none -monitor none \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 loglevel=4 panic=-1 oops=panic rcupdate.rcu_expedited=1 no_timer_check rdinit=/init" \
		</dev/null >"$log" 2>&1
}

# qemu_parse_tap KVER LOG: one result() line per TAP test point. A log without the guest's closing
# "# vmfix-guest done" line (hang, panic, timeout) adds a FAIL for the run itself.
qemu_parse_tap() {
	local kver=$1 log=$2 line name reason verdict
	while IFS= read -r line; do
		line=${line%$'\r'}
		case "$line" in
		ok\ * | not\ ok\ *) ;;
		*) continue ;;
		esac
		verdict=PASS
		case "$line" in not\ ok*) verdict=FAIL ;; esac
		name=$(printf '%s\n' "$line" | sed -E 's/^(not )?ok [0-9]+ ([^ #]+).*/\2/')
		reason=""
		case "$line" in *' # '*) reason=${line#* # } ;; esac
		case "$reason" in
		SKIP* | skip*)
			verdict=SKIP
			reason=${reason#[Ss][Kk][Ii][Pp]}
			reason=${reason# }
			;;
		esac
		result "$kver $name" "$verdict" "${reason:--}"
	done < <(tr -d '\r' <"$log" | grep -aE '^(not )?ok [0-9]+ ')
	if ! tr -d '\r' <"$log" | grep -aq '^# vmfix-guest done'; then
		result "$kver guest-run" FAIL "guest did not finish: $(qemu_log_hint "$log")"
	fi
}

# The most telling line of a failed boot log, for the reason column.
qemu_log_hint() {
	local hint
	hint=$(tr -d '\r' <"$1" | grep -aE 'Kernel panic|BUG:|Oops|WARNING:|Bail out|not syncing' | head -n1)
	[ -n "$hint" ] || hint=$(tr -d '\r' <"$1" | grep -av '^$' | tail -n1)
	printf '%s\n' "${hint:-empty log}" | tr -s ' \t' ' ' | cut -c1-160
}

# qemu_run LABEL SCENARIO LOG [TIMEOUT_S]: everything for one boot of LABEL running
# tests/qemu/guest/SCENARIO.sh; the serial log goes to LOG. Sets QEMU_KVER (release string) and
# QEMU_BOOT_S (wall seconds of the boot, power-on to power-off). Returns qemu's status.
qemu_run() {
	local label=$1 scenario=$2 log=$3 limit=${4:-600} tree base mods initrd t0 rc=0
	QEMU_KVER=$(kernel_release "$label")
	log "qemu: $label ($QEMU_KVER): kernel image and modules"
	# explicit returns: callers run this in a condition, where set -e does not apply
	tree=$(fetch_kernel_tree "$label") || return 4
	base=$(with_lock "qemu-base-$QEMU_KVER" qemu_base_initramfs "$label") || return 4
	log "qemu: $label: building rdna1_vmfix and vmfix_companion against $QEMU_KVER"
	mods=$(with_lock "qemu-mods-$QEMU_KVER" qemu_build_modules "$label") || return 4
	initrd=$(mktemp "${TMPDIR:-/tmp}/vmfix-initrd.XXXXXX")
	qemu_overlay "$mods" "$scenario" "$initrd.overlay" || return 4
	cat "$base" "$initrd.overlay" >"$initrd" || return 4
	rm -f "$initrd.overlay"
	log "qemu: $label: booting under TCG (scenario $scenario, limit ${limit}s)"
	t0=$(date +%s.%N)
	qemu_boot "$(qemu_vmlinuz "$tree" "$QEMU_KVER")" "$initrd" "$log" "$limit" || rc=$?
	QEMU_BOOT_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	rm -f "$initrd"
	log "qemu: $label: guest finished in ${QEMU_BOOT_S}s (qemu status $rc)"
	return "$rc"
}
