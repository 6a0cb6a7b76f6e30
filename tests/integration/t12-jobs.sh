#!/usr/bin/env bash
# Jobs and events: every long operation is a job that shows up live on the
# event stream (corral events --follow), and `vm kill` always wins: during a
# graceful stop and during a live disk move it succeeds at once, the job it
# pre-empted ends cancelled or failed, and nothing is left half made.
. "$(dirname "$0")/lib.sh"
setup_daemon

vol_path() { corral disk show "$1" --json | jq -r .path; }
# job_field ID FIELD
job_field() { corral job show "$1" --json | jq -r ".$2"; }
# wait_job_progress ID: the running job reports some progress.  Polls the API
# directly: the CLI's start-up is slow enough under ASan for a fast job to end
# between "progress seen" and what the test does next.
wait_job_progress() {
	local end=$((SECONDS + 60)) j
	while :; do
		j=$(curl -sS --unix-socket "$SOCK" "http://corral/v1/jobs/$1") || return 1
		[ "$(jq -r .state <<<"$j")" = running ] || { echo "job $1 ended too early: $j"; return 1; }
		jq -e ".progress > 0" <<<"$j" >/dev/null && return 0
		[ $SECONDS -lt $end ] || { echo "job $1 shows no progress"; return 1; }
		sleep 0.02
	done
}
wait_job_end() {
	local end=$((SECONDS + ${2:-60}))
	while [ $SECONDS -lt $end ]; do
		[ "$(job_field "$1" state)" != running ] && return 0
		sleep 0.1
	done
	return 1
}

test_expect "corral events --follow shows a VM start and a job's progress live" '
	corral events --follow >follow.out 2>&1 & fpid=$! &&
	sleep 0.5 &&
	qemu-img create -q -f raw "$T/big.raw" 3G &&
	qemu-io -f raw -c "write -P 0x5a 0 1G" -c "write -P 0x5b 1G 1G" -c "write -P 0x5c 2G 512M" "$T/big.raw" >/dev/null &&
	corral disk import "$T/big.raw" --source-format raw --name big &&
	create_guest ev && corral vm start ev &&
	sleep 0.5 && kill $fpid && wait $fpid 2>/dev/null;
	cat follow.out &&
	grep -Eq "ev  state  running: started" follow.out &&
	grep -Eq "job [0-9]+ start ev: succeeded" follow.out &&
	grep -Eq "job [0-9]+ import big: running [0-9]+%" follow.out &&
	grep -Eq "job [0-9]+ import big: succeeded" follow.out
'
test_expect "the event stream of one job starts with its state and ends with it" '
	id=$(corral job list --json | jq ".jobs[] | select(.type == \"import\") | .id") &&
	timeout 5 curl -sN --unix-socket "$SOCK" "http://corral/v1/events?follow=true&job=$id" >one.out &&
	grep -q "^event: job" one.out && grep -q "\"state\":\"succeeded\"" one.out &&
	[ "$(grep -c "^event:" one.out)" = 1 ] &&
	api GET "/v1/events?follow=true&job=999999" | tail -n1 | grep -q "HTTP 404" &&
	api GET "/v1/events?follow=true&kind=" | tail -n1 | grep -q "HTTP 400"
'
test_expect "vm kill during a graceful stop succeeds at once; the stop job ends cancelled" '
	create_guest deaf --agent off --cmdline "console=ttyS0 quiet no_timer_check corral.noacpi" && boot deaf &&
	stop=$(api POST /v1/vms/deaf/stop "{\"timeout\":120}" | sed "\$d" | jq -r .job.id) &&
	sleep 1 && [ "$(job_field "$stop" state)" = running ] &&
	t0=$(date +%s%N) && corral vm kill deaf && t1=$(date +%s%N) &&
	echo "kill took $(( (t1 - t0) / 1000000 )) ms" && [ $(( (t1 - t0) / 1000000 )) -lt 3000 ] &&
	wait_job_end "$stop" 10 && [ "$(job_field "$stop" state)" = cancelled ] &&
	[ "$(vm_state deaf)" = stopped ] &&
	corral vm show deaf --json | jq -e ".status.reason == \"killed by user\""
'
test_expect "vm kill during a live disk move succeeds at once; the move is undone and can be retried" '
	mkdir -p "$T/p2" && corral pool create p2 "$T/p2" &&
	corral disk create mv 4G && qemu-io -f qcow2 -c "write -P 0x33 0 1G" -c "write -P 0x34 1G 1G" "$(vol_path mv)" >/dev/null &&
	corral disk attach ev mv &&
	old=$(vol_path mv) &&
	move=$(api POST /v1/volumes/mv/move "{\"pool\":\"p2\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$move" &&
	t0=$(date +%s%N) && corral vm kill ev && t1=$(date +%s%N) &&
	echo "kill took $(( (t1 - t0) / 1000000 )) ms" && [ $(( (t1 - t0) / 1000000 )) -lt 3000 ] &&
	wait_job_end "$move" 30 && st=$(job_field "$move" state) && echo "move: $st" &&
	{ [ "$st" = cancelled ] || [ "$st" = failed ]; } &&
	[ "$(vol_path mv)" = "$old" ] && [ -f "$old" ] && [ -z "$(ls -A "$T/p2")" ] &&
	qemu-img check -q "$old" &&
	corral disk move mv --pool p2 && [ "$(dirname "$(vol_path mv)")" = "$T/p2" ]
'
# cancel_at_progress ID: cancel the job once it reports progress; its end state is printed.
# The first progress above 0 comes 200 ms into a copy, so sources are large
# enough (2.5 GiB of data) to still be copying when the cancel lands.
cancel_at_progress() {
	wait_job_progress "$1" &&
	curl -sS --unix-socket "$SOCK" -X POST "http://corral/v1/jobs/$1/cancel" >/dev/null && wait_job_end "$1" 30 &&
	echo "job $1: $(job_field "$1" state): $(job_field "$1" error)"
}
test_expect "a cancelled import keeps nothing" '
	id=$(api POST /v1/volumes/import "{\"path\":\"$T/big.raw\",\"name\":\"big2\",\"source_format\":\"raw\"}" | sed "\$d" | jq -r .job.id) &&
	cancel_at_progress "$id" && [ "$(job_field "$id" state)" = cancelled ] &&
	fails corral disk show big2 && ! ls -A "$STATE/storage" | grep -q big2
'
test_expect "a cancelled live move leaves the volume where it was and the guest running" '
	boot ev && old=$(vol_path mv) &&
	id=$(api POST /v1/volumes/mv/move "{\"pool\":\"default\"}" | sed "\$d" | jq -r .job.id) &&
	cancel_at_progress "$id" && [ "$(job_field "$id" state)" = cancelled ] &&
	[ "$(vol_path mv)" = "$old" ] && ! ls -A "$STATE/storage" | grep -q "^mv" &&
	[ "$(vm_state ev)" = running ] && corral vm kill ev
'
test_expect "a cancelled offline move and a cancelled full clone keep nothing" '
	old=$(vol_path mv) &&
	id=$(api POST /v1/volumes/mv/move "{\"pool\":\"default\"}" | sed "\$d" | jq -r .job.id) &&
	cancel_at_progress "$id" && [ "$(job_field "$id" state)" = cancelled ] &&
	[ "$(vol_path mv)" = "$old" ] && ! ls -A "$STATE/storage" | grep -q "mv" &&
	id=$(api POST /v1/vms/ev/clone "{\"name\":\"ev2\"}" | sed "\$d" | jq -r .job.id) &&
	cancel_at_progress "$id" && [ "$(job_field "$id" state)" = cancelled ] &&
	fails corral vm show ev2 && ! corral disk list --json | jq -e ".volumes[] | select(.name | startswith(\"ev2-\"))" &&
	! ls -A "$(dirname "$old")" "$STATE/storage" | grep -q "ev2"
'
test_expect "a cancelled graceful stop leaves the VM running" '
	boot deaf &&
	id=$(api POST /v1/vms/deaf/stop "{\"timeout\":120}" | sed "\$d" | jq -r .job.id) &&
	sleep 1 && corral job cancel "$id" >/dev/null && wait_job_end "$id" 10 &&
	[ "$(job_field "$id" state)" = cancelled ] && [ "$(vm_state deaf)" = running ] &&
	corral vm kill deaf
'
test_expect "SIGTERM during an import and a live move: clean exit, jobs recorded, nothing half made" '
	imp=$(api POST /v1/volumes/import "{\"path\":\"$T/big.raw\",\"name\":\"big3\",\"source_format\":\"raw\"}" | sed "\$d" | jq -r .job.id) &&
	mov=$(api POST /v1/volumes/mv/move "{\"pool\":\"default\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$imp" && wait_job_progress "$mov" &&
	t0=$(date +%s%N) && stop_daemon && echo "stop took $(( ($(date +%s%N) - t0) / 1000000 )) ms" &&
	! grep -E "Sanitizer|runtime error" "$T/corrald.log" && start_daemon &&
	for j in $imp $mov; do st=$(job_field "$j" state); echo "job $j: $st"; [ "$st" = cancelled ] || return 1; done &&
	fails corral disk show big3 && [ "$(dirname "$(vol_path mv)")" = "$T/p2" ] &&
	! ls -A "$STATE/storage" | grep -q "big3\|mv"
'
test_expect "a job still running when corrald stops is recorded as failed, and the guest runs on" '
	boot ev &&
	move=$(api POST /v1/volumes/mv/move "{\"pool\":\"default\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$move" &&
	stop_daemon && start_daemon &&
	st=$(job_field "$move" state) && echo "move after restart: $st" &&
	{ [ "$st" = cancelled ] || [ "$st" = failed ]; } &&
	[ "$(vm_state ev)" = running ] &&
	[ "$(dirname "$(vol_path mv)")" = "$T/p2" ] &&
	corral vm kill ev
'
finish
