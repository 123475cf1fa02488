# shellcheck shell=bash
# Helpers shared by every script: logging, die, tool checks, cache and mirror discovery.

VMFIX_ROOT="${VMFIX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
VMFIX_CACHE="${VMFIX_CACHE:-/var/cache/rdna1-vmfix}"
export VMFIX_ROOT VMFIX_CACHE

log() { printf '%s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$1" >&2; exit "${2:-1}"; }

need_tools() {
	local t missing=()
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (run scripts/setup.sh)"
}

need_root() { [ "$(id -u)" -eq 0 ] || die "this step needs root: $*"; }

# The Debian mirror this machine already uses (never hard-coded: derived from apt's own sources).
debian_mirror() {
	local uri
	uri=$(grep -rhoE '^(URIs:|deb)[[:space:]]+[^[:space:]]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		awk '{print $2}' | grep -E '/debian/?$' | grep -v security | head -n1)
	[ -n "$uri" ] || uri=$(grep -rhoE 'https?://[^[:space:]]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -v security | head -n1)
	[ -n "$uri" ] || die "no Debian mirror found in apt sources"
	printf '%s\n' "${uri%/}"
}

# Is this host Debian bookworm?
host_is_bookworm() { grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; }

# Standard per-item result line and counters for suites: "KVER PASS|FAIL|SKIP reason".
VMFIX_PASSED=0
VMFIX_FAILED=0
VMFIX_SKIPPED=0
result() {
	local what=$1 verdict=$2
	shift 2
	printf '%s %s %s\n' "$what" "$verdict" "$*"
	case "$verdict" in
	PASS) VMFIX_PASSED=$((VMFIX_PASSED + 1)) ;;
	FAIL) VMFIX_FAILED=$((VMFIX_FAILED + 1)) ;;
	SKIP) VMFIX_SKIPPED=$((VMFIX_SKIPPED + 1)) ;;
	*) die "bad verdict $verdict" ;;
	esac
}

# Writes the counters where tests/run.sh collects them (when run by it) and prints totals.
report_counts() {
	printf '%d passed, %d failed, %d skipped\n' "$VMFIX_PASSED" "$VMFIX_FAILED" "$VMFIX_SKIPPED"
	if [ -n "${VMFIX_RESULT_FILE:-}" ]; then
		printf '%d %d %d\n' "$VMFIX_PASSED" "$VMFIX_FAILED" "$VMFIX_SKIPPED" >"$VMFIX_RESULT_FILE"
	fi
	[ "$VMFIX_FAILED" -eq 0 ]
}

# Parses --verbose (set -x) for scripts that take no other long options.
maybe_verbose() {
	local a
	for a in "$@"; do [ "$a" = "--verbose" ] && set -x; done
	return 0
}
