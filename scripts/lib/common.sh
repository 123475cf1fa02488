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
# A SKIP is also appended to $VMFIX_SKIP_FILE (set by tests/run.sh) so the run can list every skip
# with its reason at the end.
result() {
	local what=$1 verdict=$2
	shift 2
	printf '%s %s %s\n' "$what" "$verdict" "$*"
	case "$verdict" in
	PASS) VMFIX_PASSED=$((VMFIX_PASSED + 1)) ;;
	FAIL)
		VMFIX_FAILED=$((VMFIX_FAILED + 1))
		if [ -n "${VMFIX_FAIL_FILE:-}" ]; then
			local why="$*"
			printf '%s\t%.300s\n' "$what" "${why//$'\n'/ | }" >>"$VMFIX_FAIL_FILE"
		fi
		;;
	SKIP)
		VMFIX_SKIPPED=$((VMFIX_SKIPPED + 1))
		[ -z "${VMFIX_SKIP_FILE:-}" ] || printf '%s\t%s\n' "$what" "$*" >>"$VMFIX_SKIP_FILE"
		;;
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

# build_targets DIR ITEM WHY TARGET...: configures the CMake build DIR (RelWithDebInfo, Ninja) and
# builds TARGETs in it (ninja -j2). On failure a suite cannot go on: the log's tail, "ITEM FAIL WHY",
# the counts, exit 1. The log is DIR/ITEM.log.
build_targets() {
	local dir=$1 item=$2 why=$3
	shift 3
	local log="$dir/$item.log"
	mkdir -p "$dir"
	if ! { cmake -S "$VMFIX_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		ninja -C "$dir" -j2 "$@"; } >"$log" 2>&1; then
		tail -n 40 "$log"
		result "$item" FAIL "$why"
		report_counts || true
		exit 1
	fi
}

# suite_start ITEM WHY TARGET...: the preamble of a suite that runs the built command. Sets $build
# (VMFIX_BUILD_DIR, else build/), $tool (the command in it) and $tmp (a private directory, removed
# on exit: a suite that needs more cleanup sets its own EXIT trap and removes $tmp there), then
# builds TARGET... (build_targets: ITEM FAIL with WHY, and exit, when they do not build).
# shellcheck disable=SC2034 # build, tool and tmp are for the caller
suite_start() {
	build="${VMFIX_BUILD_DIR:-$VMFIX_ROOT/build}"
	tool="$build/userspace/rdna1-vmfix"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	build_targets "$build" "$@"
}

# Parses --verbose (set -x) for scripts that take no other long options.
maybe_verbose() {
	local a
	for a in "$@"; do [ "$a" = "--verbose" ] && set -x; done
	return 0
}

# capture OUT ERR CMD...: runs CMD with stdout in OUT and stderr in ERR and sets rc to its exit
# status, without tripping set -e (the one "run and keep the exit code" helper of the suites).
# shellcheck disable=SC2034 # rc is the result, read by the caller
capture() {
	local out=$1 err=$2
	shift 2
	rc=0
	"$@" >"$out" 2>"$err" || rc=$?
}

# publish_log SRC DEST: a copy of this run's log SRC at DEST (in the shared cache) for people to read
# afterwards. Runs write their logs privately; the copy appears whole (a unique name, then renamed),
# so parallel runs replace each other's copy at DEST and never write into one file together.
publish_log() {
	local part
	mkdir -p "$(dirname "$2")" || return 1
	part=$(mktemp "$2.XXXXXX") || return 1
	if cp "$1" "$part" && chmod 644 "$part" && mv -f "$part" "$2"; then return 0; fi
	rm -f "$part"
	return 1
}

# in_session PIDFILE CMD...: runs CMD as the leader of a new session and writes its pid, which is
# also the session id, to PIDFILE first. Everything CMD starts stays in that session (process
# groups do not leave it), so a test can count exactly its own processes (session_procs) however
# many other runs of the same binary share the machine.
in_session() {
	local pidfile=$1
	shift
	# shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
	setsid sh -c 'ps -o sid= -p $$ | tr -d " " >"$0"; exec "$@"' "$pidfile" "$@"
}

# session_procs SID [EXCEPT_PID]: prints "pid args" of every live process of session SID but
# EXCEPT_PID, nothing when none is left.
session_procs() {
	ps -e -o sid=,pid=,stat=,args= | awk -v s="$1" -v x="${2:-}" '$1 == s && $2 != x && $3 !~ /^Z/ { $1 = ""; $3 = ""; print }'
}

# parse_args SPEC "$@": the option loop scripts share. SPEC lists long options: "check" is a switch
# (sets opt_check=1), "arch=" takes a value (--arch V or --arch=V; sets opt_arch); dashes become
# underscores. --verbose turns on set -x (and exports VMFIX_VERBOSE=1), --help/-h prints the
# script's header comment and exits 0, any other option exits 2. Positional arguments go to ARGS.
parse_args() {
	local spec=" $1 " a name
	shift
	ARGS=()
	while [ $# -gt 0 ]; do
		a=$1
		case "$a" in
		--verbose)
			export VMFIX_VERBOSE=1
			set -x
			;;
		--help | -h)
			usage_from_header
			exit 0
			;;
		--)
			shift
			ARGS+=("$@")
			break
			;;
		--*=*)
			name=${a%%=*}
			name=${name#--}
			[[ $spec == *" $name= "* ]] || die "unknown option ${a%%=*} (see --help)" 2
			printf -v "opt_${name//-/_}" '%s' "${a#*=}"
			;;
		--*)
			name=${a#--}
			if [[ $spec == *" $name= "* ]]; then
				[ $# -ge 2 ] || die "$a needs a value" 2
				printf -v "opt_${name//-/_}" '%s' "$2"
				shift
			elif [[ $spec == *" $name "* ]]; then
				printf -v "opt_${name//-/_}" 1
			else
				die "unknown option $a (see --help)" 2
			fi
			;;
		-?*) die "unknown option $a (see --help)" 2 ;;
		*) ARGS+=("$a") ;;
		esac
		shift
	done
}

# The calling script's header comment (line 2 up to the first line that is not a comment).
usage_from_header() {
	awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# The libFuzzer build directory (tests/fuzz/build.sh).
fuzz_build_dir() { printf '%s\n' "${VMFIX_FUZZ_BUILD_DIR:-$VMFIX_ROOT/build-fuzz}"; }

# fuzz_suite_run TARGET SECONDS: builds libFuzzer target TARGET (tests/fuzz/build.sh), replays its
# regression inputs and fuzzes it for SECONDS; one result line "fuzz-TARGET PASS|FAIL ...".
fuzz_suite_run() {
	local t=$1 secs=$2 log line verdict execs cov crashes rss note
	log=$(mktemp)
	if ! "$VMFIX_ROOT/tests/fuzz/build.sh" "$t" >"$log" 2>&1; then
		tail -n 20 "$log"
		rm -f "$log"
		result "fuzz-$t" FAIL "fuzz target did not build (scripts/setup.sh fuzz)"
		return 0
	fi
	line=$("$VMFIX_ROOT/tests/fuzz/run.sh" --seconds="$secs" "$t" 2>"$log" | tail -n1) || true
	IFS=$'\t' read -r _ verdict execs cov _ _ crashes _ _ rss note <<<"$line"
	if [ "${verdict:-}" = PASS ]; then
		[ "${note:-}" != - ] || note=""
		result "fuzz-$t" PASS "libFuzzer+ASan+UBSan ${secs} s: $execs runs, cov $cov, peak ${rss} MB, no finding${note:+; $note}"
	else
		tail -n 30 "$log"
		result "fuzz-$t" FAIL "${crashes:-?} finding(s): ${note:-no result line}"
	fi
	rm -f "$log"
}
