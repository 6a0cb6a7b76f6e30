#!/usr/bin/env bash
# run.sh BUILD_DIR [ASAN_BUILD_DIR] - run every end-to-end test (t*.sh).
#
# Each script starts its own corrald in a temp dir, so scripts are
# independent: they run $JOBS at a time (default 2, the machines' cores),
# longest first, and each one's output is printed in one piece when it
# ends; an entry whose lock (lib.sh hold_migration, hold_host_net) a
# running script holds waits while others go first, so no slot sits idle
# on a lock.  With an ASan build dir, the bad-input, HTTP, TLS, remote,
# trust and lifecycle scripts run a second time against the sanitized
# corrald/corral (the job engine's and the backup engine's own tests run
# sanitized as unit tests, test_service_job and test_backup_engine; the
# backup scripts t95/t96, about 2 min each, no longer run twice).
# Prints a summary line "N passed, N failed" and exits non-zero on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
asan=${2:-}
jobs=${JOBS:-2}
export GUEST_DIR=${GUEST_DIR:-$build/guest}
if [ ! -f "$GUEST_DIR/vmlinuz" ]; then
	echo "run.sh: no guest kit in $GUEST_DIR (run 'make guest')" >&2
	exit 1
fi
out=$(mktemp -d /tmp/corral-run.XXXXXX)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0 scripts_failed=()
t_start=$SECONDS

# The queue: "label corrald corral script", longest first (measured here),
# and the lock each entry takes (lib.sh hold_migration / hold_host_net).
queue=() locks=()
add() { queue+=("$1|$2|$3|$4"); locks+=("$(grep -o '^hold_[a-z_]*' "$4" | head -n1)"); }
if [ -n "$asan" ]; then
	asan=$(cd "$asan" && pwd)
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
order=(t63-migrate-faults t70-snapshots t12-jobs t62-migrate t96-backup-cancel t95-backup t86-ha-replica t93-repl-switch t25-recovery t84-witness
       t85-ha-maint t83-ha-torture t77-replicate t81-ha-fence t94-ha-ct t82-ha-recover t54-ha-fence-ack t55-ha-lease t10-lifecycle t65-limits t69-hygiene-guests
       t97-crashloop t08-firmware t06-tour t80-clones t64-migrate-offline t75-webui t87-replica-stale t74-cluster t90-image
       t89-cfg-split t88-pool-wide t20-restart t09-agent t66-network t71-metrics t76-cluster-config)
asan_set=" t50-badinput t55-http t58-tls-auth t59-remote t61-trust t10-lifecycle "
seen=" "
for name in "${order[@]}" $(cd "$here" && ls t*.sh | sed 's/\.sh$//'); do
	case "$seen" in *" $name "*) continue ;; esac
	seen="$seen$name "
	[ -f "$here/$name.sh" ] || continue
	add "$name.sh" "$build/corrald" "$build/corral" "$here/$name.sh"
	if [ -n "$asan" ] && [[ "$asan_set" == *" $name "* ]]; then
		add "asan:$name.sh" "$asan/corrald" "$asan/corral" "$here/$name.sh"
	fi
done

# Run one entry in the background: its output into $out/N.log, its "passed failed" into $out/N.res.
start_one() {
	local n=$1 label corrald corral script
	IFS='|' read -r label corrald corral script <<<"${queue[$n]}"
	echo "0 1" >"$out/$n.res"
	(
		t0=$SECONDS
		echo "# ---- $label"
		CORRALD=$corrald CORRAL=$corral RESULT_FILE=$out/$n.res bash "$script"
		echo "# ---- $label: $((SECONDS - t0)) s"
	) >"$out/$n.log" 2>&1 &
	pids[$!]=$n
	started[$n]=1
}
# pick: the first entry not started whose lock no running entry holds (a
# script waiting for a lock would keep a slot idle); else the first not started.
pick() {
	local i p first=-1 busy
	for i in "${!queue[@]}"; do
		[ -n "${started[$i]:-}" ] && continue
		[ $first -lt 0 ] && first=$i
		busy=
		if [ -n "${locks[$i]}" ]; then
			for p in "${!pids[@]}"; do [ "${locks[${pids[$p]}]}" = "${locks[$i]}" ] && busy=1; done
		fi
		[ -z "$busy" ] && { echo "$i"; return; }
	done
	echo "$first"
}
finish_one() {
	local n=$1 label p f
	IFS='|' read -r label _ <<<"${queue[$n]}"
	cat "$out/$n.log"
	read -r p f <"$out/$n.res"
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || scripts_failed+=("$label")
	# A sanitizer report scrolls far up; keep its head for the summary.
	if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$out/$n.log"; then
		{
			echo "# sanitizer report in $label:"
			grep -m1 -A60 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$out/$n.log" |
				grep -v "^ *0x[0-9a-f]* is located\|Shadow\|^ *0x[0-9a-f]*: \|^=>" | head -n 45
		} >>"$out/sanitizer"
	fi
}

echo "# ---- cli-usage.sh"
if bash "$here/cli-usage.sh" "$build/corral"; then passed=$((passed + 1)); else failed=$((failed + 1)); scripts_failed+=(cli-usage.sh); fi

declare -A pids=() started=()
left=${#queue[@]}
while [ $left -gt 0 ] || [ ${#pids[@]} -gt 0 ]; do
	while [ $left -gt 0 ] && [ ${#pids[@]} -lt "$jobs" ]; do
		start_one "$(pick)"
		left=$((left - 1))
	done
	wait -n -p done_pid
	n=${pids[$done_pid]}
	unset "pids[$done_pid]"
	finish_one "$n"
done

echo
[ -s "$out/sanitizer" ] && cat "$out/sanitizer"
[ ${#scripts_failed[@]} -eq 0 ] || echo "failed scripts: ${scripts_failed[*]}"
echo "integration: $passed passed, $failed failed in $((SECONDS - t_start)) s"
[ "$failed" -eq 0 ]
