#!/usr/bin/env bash
# run.sh BUILD_DIR [ASAN_BUILD_DIR] - run every end-to-end test (t*.sh).
#
# Each script starts its own corrald in a temp dir, so scripts are
# independent.  With an ASan build dir, the bad-input, HTTP and lifecycle
# scripts, and the image, backup and backup-cancel ones, run a second time
# against the sanitized corrald/corral.
# Prints a summary line "N passed, N failed" and exits non-zero on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
asan=${2:-}
export GUEST_DIR=${GUEST_DIR:-$build/guest}
if [ ! -f "$GUEST_DIR/vmlinuz" ]; then
	echo "run.sh: no guest kit in $GUEST_DIR (run 'make guest')" >&2
	exit 1
fi
passed=0 failed=0 scripts_failed=()
run_one() {
	local script=$1 label=$2
	local res
	res=$(mktemp)
	echo "0 1" >"$res"
	echo "# ---- $label"
	RESULT_FILE=$res bash "$script"
	read -r p f <"$res"
	rm -f "$res"
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || scripts_failed+=("$label")
}
echo "# ---- cli-usage.sh"
if bash "$here/cli-usage.sh" "$build/corral"; then passed=$((passed + 1)); else failed=$((failed + 1)); scripts_failed+=(cli-usage.sh); fi
for t in "$here"/t*.sh; do
	CORRALD=$build/corrald CORRAL=$build/corral run_one "$t" "$(basename "$t")"
done
if [ -n "$asan" ]; then
	asan=$(cd "$asan" && pwd)
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	for t in "$here"/t*-badinput.sh "$here"/t*-http.sh "$here"/t*-lifecycle.sh "$here"/t*-image.sh \
		"$here"/t*-backup.sh "$here"/t*-backup-cancel.sh; do
		[ -f "$t" ] || continue
		CORRALD=$asan/corrald CORRAL=$asan/corral run_one "$t" "asan:$(basename "$t")"
	done
fi
echo
[ ${#scripts_failed[@]} -eq 0 ] || echo "failed scripts: ${scripts_failed[*]}"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
