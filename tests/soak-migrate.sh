#!/usr/bin/env bash
# soak-migrate.sh - the long run of the many-hosts torture tests: the
# migration round trips of t62-migrate with MIGRATE_ROUNDS round trips each
# (default 5: live with shared storage, live with local disks, quick; the
# guest's counters checked after every move), then t63-migrate-faults
# (kill -9 of either corrald at each phase, the link cut in the memory
# and the disk phase, the invariant checker running throughout) and
# t64-migrate-offline (offline moves, kill -9 of either corrald mid-copy,
# evacuation) FAULT_ROUNDS times each (default 3).
#
# Prints one line per run and a summary (runs, checks passed and failed per
# script); exits 1 if any check failed.  Environment: CORRALD, CORRAL,
# GUEST_DIR as for tests/integration/*.sh; MIGRATE_ROUNDS, FAULT_ROUNDS.
# `make soak` runs it after tests/crashloop.sh.
set -u
DIR=$(cd "$(dirname "$0")/integration" && pwd)
ROUNDS=${MIGRATE_ROUNDS:-5}
FAULTS=${FAULT_ROUNDS:-3}
LOG=$(mktemp -d /tmp/soak-migrate.XXXXXX)
declare -A RUNS PASS FAIL
bad=0

# one SCRIPT LABEL [ENV...]: run it once, count its ok / not ok lines
one() {
	local script=$1 label=$2 out p f t0
	shift 2
	out=$LOG/$label.$((RUNS[$label] + 1)).log
	t0=$SECONDS
	env "$@" bash "$DIR/$script.sh" >"$out" 2>&1
	p=$(grep -c '^ok ' "$out") f=$(grep -c '^not ok ' "$out")
	RUNS[$label]=$((RUNS[$label] + 1)) PASS[$label]=$((PASS[$label] + p)) FAIL[$label]=$((FAIL[$label] + f))
	echo "$label run ${RUNS[$label]}: $p passed, $f failed ($((SECONDS - t0)) s)"
	if [ "$f" -gt 0 ] || [ "$p" -eq 0 ]; then
		bad=1
		grep -A8 '^not ok ' "$out" | head -n 40
		echo "  (log kept: $out)"
	fi
}

for l in t62 t63 t64; do RUNS[$l]=0 PASS[$l]=0 FAIL[$l]=0; done
one t62-migrate t62 MIGRATE_ROUNDS="$ROUNDS"
for _ in $(seq 1 "$FAULTS"); do
	one t63-migrate-faults t63
	one t64-migrate-offline t64
done

echo
printf '%-5s %5s %8s %8s\n' test runs passed failed
for l in t62 t63 t64; do printf '%-5s %5d %8d %8d\n' "$l" "${RUNS[$l]}" "${PASS[$l]}" "${FAIL[$l]}"; done
[ "$bad" = 0 ] && rm -rf "$LOG"
exit "$bad"
