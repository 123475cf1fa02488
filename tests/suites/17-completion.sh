#!/usr/bin/env bash
# bash completion (userspace/dist/rdna1-vmfix.bash-completion) and the man page against the built
# command: every command of `rdna1-vmfix --help` completes, every option of every `COMMAND --help`
# completes and is in docs/rdna1-vmfix.1, option values complete to their choices. The completion
# runs in a child bash with the built binary first on PATH. No root.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"
maybe_verbose "$@"

suite_start completion-build "rdna1-vmfix did not build" rdna1-vmfix
bin="$build/userspace"
comp="$VMFIX_ROOT/userspace/dist/rdna1-vmfix.bash-completion"
man="$VMFIX_ROOT/docs/rdna1-vmfix.1"

# complete WORD...: the candidates bash completion offers for the command line "rdna1-vmfix WORD...",
# the last word being the one under the cursor, one per line in $tmp/reply.
complete_line() {
	PATH="$bin:$PATH" bash -c '
		. "$1"; shift
		COMP_WORDS=(rdna1-vmfix "$@"); COMP_CWORD=$#
		_rdna1_vmfix; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort >"$tmp/reply"
}
offers() { local w; for w in "$@"; do grep -qx -- "$w" "$tmp/reply" || return 1; done; }
commands() { "$bin/rdna1-vmfix" --help | sed -n '/^Commands:/,/^$/s/^ \{1,\}\([a-z][a-z0-9-]*\) .*/\1/p'; }
options_of() {
	"$bin/rdna1-vmfix" "$1" --help | grep -oE '^[[:space:]]+(-[[:alnum:]],[[:space:]]*)?--[[:alnum:]][[:alnum:]-]*' |
		grep -oE -- '--[[:alnum:]][[:alnum:]-]*' | sort -u
}
check() { # NAME DESCRIPTION FUNCTION
	if "$3"; then result "$1" PASS "$2"; else result "$1" FAIL "$2; got: $(tr '\n' ' ' <"$tmp/reply" | cut -c1-300)"; fi
}

t_commands() {
	local cmds
	mapfile -t cmds < <(commands)
	[ "${#cmds[@]}" -ge 6 ] && complete_line "" && offers help --help --version "${cmds[@]}" &&
		complete_line ch && [ "$(cat "$tmp/reply")" = check ] && complete_line help st && [ "$(cat "$tmp/reply")" = status ]
}
# Every option of every command: offered after "COMMAND --", and named in the man page.
missing_man=""
t_options() {
	local c o all_ok=0
	for c in $(commands); do
		options_of "$c" >"$tmp/opts"
		[ -s "$tmp/opts" ] || return 1
		complete_line "$c" --
		while read -r o; do
			grep -qx -- "$o" "$tmp/reply" || { log "$c: $o not completed" && all_ok=1; }
			grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$man" || missing_man="$missing_man $c:$o"
		done <"$tmp/opts"
	done
	return $all_ok
}
t_man() { [ -z "$missing_man" ]; }
t_values() {
	complete_line check --backend "" && offers hip cuda host &&
		complete_line check --profile q && [ "$(cat "$tmp/reply")" = quick ] &&
		complete_line check --format "" && offers text json markdown &&
		complete_line isa --target gfx101 && offers gfx1010 gfx1011 gfx1012 &&
		mkdir -p "$tmp/sysroot-a" && complete_line status --sysfs-root "$tmp/sysroot-" && offers "$tmp/sysroot-a" &&
		: >"$tmp/app.log" && complete_line faults "$tmp/app." && offers "$tmp/app.log"
}
t_after_value() { complete_line check --profile quick --b && offers --backend --batch; }

check completion-commands "every command of --help (plus help, --help, --version) completes; prefixes narrow it" t_commands
check completion-options "every option of every command's --help completes after 'COMMAND --'" t_options
check man-options "the man page names every option of every command${missing_man:+ (missing:$missing_man)}" t_man
check completion-values "values: --backend, --profile, --format, --target choices; directories; files" t_values
check completion-after-value "options still complete after an option's value" t_after_value
[ -z "$missing_man" ] || log "options missing from docs/rdna1-vmfix.1:$missing_man"
report_counts
