#!/usr/bin/env bash
# crashloop.sh - kill -9 corrald at random moments of every kind of job and
# check that a restarted corrald leaves the host consistent.
#
# ROUNDS rounds (default 3); each round, for each kind (import, clone, live
# move, snapshot, backup, restore, and "kill qemu": a live move or, every
# other round, a live backup whose QEMU is killed together with corrald),
# start the operation, sleep a random time
# within its expected duration, kill -9 corrald, restart it, then check:
#   - guests that were running still run, with the same QEMU pid (the killed
#     one is reported not running);
#   - every volume's file exists, and every file in the pools is a volume's;
#     no backup scratch (fleece overlays, NBD sockets) is left in run dirs;
#   - no job is left running, and the operation's job says what was kept
#     (succeeded exactly when its result exists);
#   - no helper process (qemu-img, qemu-nbd, corral-imgd) of this corrald
#     outlived it, and its helper pid files are gone;
#   - every backup in the repository verifies (after backup and restore
#     kinds and at the end of each round);
#   - a retry of the operation succeeds (when the killed one did not finish).
# Prints per-kind counts at the end and fails if any check failed.
#
# Environment: CORRALD, CORRAL, GUEST_DIR as for tests/integration/*.sh;
# ROUNDS; SEED (bash's RANDOM seed, printed, to replay a run's timings).
# `make check` runs it with ROUNDS=3 (tests/integration/t97-crashloop.sh),
# `make soak` with ROUNDS=${ROUNDS:-20}.
. "$(dirname "$0")/integration/lib.sh"

ROUNDS=${ROUNDS:-3}
MOVE_TO='' NB=0 KQ=move ROUND=0
SEED=${SEED:-$$}
RANDOM=$SEED
KINDS=(import clone move snapshot backup restore kill-qemu)
# The longest a random kill waits into each operation, ms: its duration measured here at set-up.
declare -A MAX_MS
declare -A N_ROUNDS N_KILLS N_KEPT N_RETRY N_FAIL
for k in "${KINDS[@]}"; do N_ROUNDS[$k]=0 N_KILLS[$k]=0 N_KEPT[$k]=0 N_RETRY[$k]=0 N_FAIL[$k]=0; done

REPO=$T/repo
vol_path() { corral disk show "$1" --json | jq -r .path; }
vol_pool() { corral disk show "$1" --json | jq -r .pool; }
vm_pid() { corral vm show "$1" --json | jq -r .status.pid; }
job_field() { corral job show "$1" --json | jq -r ".$2"; }
nbackups() { corral backup list g --repo "$REPO" --json | jq '[.backups[] | select(.error == null)] | length'; }
last_backup() { corral backup list g --repo "$REPO" --json | jq -r '[.backups[] | select(.error == null)] | last | .id'; }
# start_job METHOD PATH BODY: the id of the job the request started, or "" if none.
start_job() { api "$1" "$2" "$3" | sed '$d' | jq -r '.job.id // empty' 2>/dev/null; }
# other_pool VOLUME: the pool a move of it goes to.
other_pool() { if [ "$(vol_pool "$1")" = p2 ]; then echo default; else echo p2; fi; }

# ---- the operations: start (prints the job id), done (its result exists), retry, reset ----

# op_prepare KIND: what done/retry compare with, set in this shell (op_start runs in a subshell).
# "kill qemu" kills QEMU in a live move (odd rounds) or a live backup (even rounds): KQ is which.
op_prepare() {
	MOVE_TO=$(other_pool gd) NB=$(nbackups)
	if [ "$1" = kill-qemu ]; then KQ=$([ $((ROUND % 2)) = 1 ] && echo move || echo backup); fi
}
# op KIND: the operation a kind runs ("kill qemu" runs a move or a backup).
op() { if [ "$1" = kill-qemu ]; then echo "$KQ"; else echo "$1"; fi; }
op_start() {
	case $(op "$1") in
	import) start_job POST /v1/volumes/import "{\"path\":\"$T/src.raw\",\"name\":\"imp\",\"source_format\":\"raw\"}" ;;
	clone) start_job POST /v1/vms/s/clone '{"name":"c1"}' ;;
	move) start_job POST /v1/volumes/gd/move "{\"pool\":\"$MOVE_TO\"}" ;;
	snapshot) start_job POST /v1/vms/g/snapshots '{"name":"sn"}' ;;
	backup) start_job POST /v1/backups '{"vm":"g"}' ;;
	restore) start_job POST /v1/backups/restore "{\"id\":\"$(last_backup)\",\"name\":\"r1\"}" ;;
	esac
}
op_done() {
	case $(op "$1") in
	import) corral disk show imp >/dev/null 2>&1 ;;
	clone) corral vm show c1 >/dev/null 2>&1 ;;
	move) [ "$(vol_pool gd)" = "$MOVE_TO" ] ;;
	snapshot) corral snapshot list g --json | jq -e '.. | objects | select(.name? == "sn")' >/dev/null ;;
	backup) [ "$(nbackups)" -gt "$NB" ] ;;
	restore) corral vm show r1 >/dev/null 2>&1 ;;
	esac
}
op_retry() {
	case $(op "$1") in
	import) corral disk import "$T/src.raw" --source-format raw --name imp ;;
	clone) corral vm clone s c1 ;;
	move) corral disk move gd --pool "$MOVE_TO" ;;
	snapshot) corral snapshot create g sn ;;
	backup) corral backup run g ;;
	restore) corral backup restore "$(last_backup)" --name r1 ;;
	esac
}
op_reset() {
	case $1 in
	import) corral disk delete --yes imp ;;
	clone) corral vm delete --yes c1 --disks ;;
	snapshot) corral snapshot delete --yes g sn ;;
	restore) corral vm delete --yes r1 --disks ;;
	kill-qemu) [ "$(vm_state g)" = running ] || boot g ;;
	*) true ;;
	esac
}

# ---- the invariants -------------------------------------------------------

# problem TEXT: one failed check of this kill.
problem() { say "  FAIL ($KIND round $ROUND): $*"; BAD=1; }

check_guests() {
	local name pid
	while read -r name pid; do
		[ -n "$name" ] || continue
		if [ "$KIND" = kill-qemu ] && [ "$name" = g ]; then
			[ "$(vm_state g)" != running ] || problem "vm g runs although its QEMU was killed"
			continue
		fi
		[ "$(vm_state "$name")" = running ] || problem "vm $name is $(vm_state "$name"), not running"
		[ "$(vm_pid "$name")" = "$pid" ] || problem "vm $name: QEMU pid $(vm_pid "$name"), was $pid"
	done <"$T/running"
}

check_files() {
	local vols f
	corral vm list --json >/dev/null || problem "vm list fails"
	vols=$(corral disk list --json | jq -r '.volumes[].path') || { problem "disk list fails"; return; }
	for f in $vols; do [ -f "$f" ] || problem "volume file $f is missing"; done
	for f in "$STATE"/storage/* "$STATE"/storage/.[!.]* "$T"/p2/* "$T"/p2/.[!.]*; do
		[ -e "$f" ] || continue
		grep -qxF "$f" <<<"$vols" || problem "file $f is no volume's"
	done
	for f in "$STATE"/run/*/corral-fleece-* "$STATE"/run/*/corral-*.sock "$STATE"/run/bk*; do
		[ -e "$f" ] && problem "backup leftover $f"
	done
}

check_jobs() {
	local n st
	n=$(corral job list --json | jq '[.jobs[] | select(.state == "running")] | length')
	[ "$n" = 0 ] || problem "$n jobs still running after the restart"
	[ -n "$JOB" ] || return 0
	st=$(job_field "$JOB" state)
	if op_done "$KIND"; then
		[ "$st" = succeeded ] || problem "job $JOB says $st ($(job_field "$JOB" error)) but its result was kept"
	else
		[ "$st" = failed ] || [ "$st" = cancelled ] || problem "job $JOB says $st but its result is not there"
	fi
}

check_helpers() {
	local p comm
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		case $comm in qemu-img | qemu-nbd | corral-imgd) ;; *) continue ;; esac
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$T/" && problem "orphan $comm (pid ${p#/proc/}) is running"
	done
	[ -z "$(ls -A "$STATE/run/helpers" 2>/dev/null)" ] || problem "helper pid files left: $(ls "$STATE/run/helpers")"
}

# An ASan/UBSan build reports into the log (run.sh runs scripts with the sanitized build too).
check_log() { ! grep -qE "Sanitizer|runtime error" "$T/corrald.log" || problem "sanitizer report in corrald.log"; }

check_backups() { corral backup verify --all --repo "$REPO" >/dev/null 2>"$T/verify.err" || problem "backup verify: $(cat "$T/verify.err")"; }

# ---- one kill -------------------------------------------------------------

one() {
	KIND=$1 BAD=0 JOB=
	local ms qpid
	N_ROUNDS[$KIND]=$((N_ROUNDS[$KIND] + 1))
	corral vm list --json | jq -r '.vms[] | select(.status.state == "running") | .name' |
		while read -r n; do echo "$n $(vm_pid "$n")"; done >"$T/running"
	qpid=$(vm_pid g)
	op_prepare "$KIND"
	JOB=$(op_start "$KIND")
	ms=$((RANDOM % MAX_MS[$KIND]))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	[ "$KIND" = kill-qemu ] && kill -9 "$qpid"
	kill9_daemon
	N_KILLS[$KIND]=$((N_KILLS[$KIND] + 1))
	start_daemon || { problem "corrald does not start again"; exit 1; }
	check_guests
	check_files
	check_jobs
	check_helpers
	check_log
	case $(op "$KIND") in backup | restore) check_backups ;; esac
	local kept=no
	if [ "$KIND" = kill-qemu ] && ! boot g >"$T/retry.out" 2>&1; then
		problem "vm g does not start again: $(tail -n 3 "$T/retry.out")"
	fi
	if op_done "$KIND"; then
		kept=yes
		N_KEPT[$KIND]=$((N_KEPT[$KIND] + 1))
	elif op_retry "$KIND" >"$T/retry.out" 2>&1; then
		N_RETRY[$KIND]=$((N_RETRY[$KIND] + 1))
	else
		problem "retry failed: $(tail -n 3 "$T/retry.out")"
	fi
	op_reset "$KIND" >/dev/null 2>&1 || problem "cannot reset after $KIND"
	say "round $ROUND $KIND: killed after ${ms} ms, job ${JOB:-none}: $( [ -n "$JOB" ] && job_field "$JOB" state), kept: $kept$( [ $BAD = 0 ] || echo ", FAILED")"
	if [ $BAD = 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); N_FAIL[$KIND]=$((N_FAIL[$KIND] + 1)); fi
}

# ---- set-up ---------------------------------------------------------------

say "crashloop: $ROUNDS rounds, seed $SEED"
setup_daemon
if ! { mkdir -p "$T/p2" && corral pool create p2 "$T/p2" >/dev/null &&
	corral repo create "$REPO" >/dev/null &&
	corral disk create gd 64M >/dev/null && qemu-io -f qcow2 -c "write -P 0x11 0 32M" "$(vol_path gd)" >/dev/null &&
	corral disk create sd 64M >/dev/null && qemu-io -f qcow2 -c "write -P 0x22 0 48M" "$(vol_path sd)" >/dev/null &&
	qemu-img create -q -f raw "$T/src.raw" 256M && qemu-io -f raw -c "write -P 0x33 0 192M" "$T/src.raw" >/dev/null &&
	create_guest g --disk gd >/dev/null && create_guest s --disk sd >/dev/null &&
	boot g && corral backup run g >/dev/null; }; then
	say "crashloop: set-up failed"
	FAILED=1
	exit 1
fi

# Each operation once, timed (start to end, as the CLI sees it): the range of the random kills.
for k in "${KINDS[@]}"; do
	if [ "$k" = kill-qemu ]; then
		MAX_MS[$k]=$((MAX_MS[move] > MAX_MS[backup] ? MAX_MS[move] : MAX_MS[backup]))
		continue
	fi
	op_prepare "$k"
	t0=$(date +%s%N)
	op_retry "$k" >"$T/retry.out" 2>&1 || { say "crashloop: $k fails without a kill: $(cat "$T/retry.out")"; FAILED=1; exit 1; }
	MAX_MS[$k]=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "${MAX_MS[$k]}" -ge 50 ] || MAX_MS[$k]=50
	op_reset "$k" >/dev/null 2>&1
done
say "crashloop: operations take (ms): $(for k in "${KINDS[@]}"; do printf '%s=%s ' "$k" "${MAX_MS[$k]}"; done)"

for ROUND in $(seq 1 "$ROUNDS"); do
	for k in "${KINDS[@]}"; do one "$k"; done
	KIND=round BAD=0
	check_backups
	[ $BAD = 0 ] || FAILED=$((FAILED + 1))
done

printf '%-10s %6s %6s %6s %9s %8s\n' kind rounds kills kept retry-ok failures
for k in "${KINDS[@]}"; do
	printf '%-10s %6d %6d %6d %9d %8d\n' "$k" "${N_ROUNDS[$k]}" "${N_KILLS[$k]}" "${N_KEPT[$k]}" "${N_RETRY[$k]}" "${N_FAIL[$k]}"
done
finish
