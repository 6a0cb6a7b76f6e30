#!/usr/bin/env bash
# Crash recovery: kill -9 corrald in the middle of a live disk move (also in
# its switch-over), a full clone, an import and a backup, restart it: the
# guest runs on (same QEMU), QEMU's mirror job, node and target file are
# gone (or the switched-over move is recorded), orphan helpers are ended,
# the job records say what happened, nothing half made is kept, and the
# operations can be retried.  (The crash loop, t97, does the same at random
# moments.)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
setup_daemon

vol_path() { corral disk show "$1" --json | jq -r .path; }
job_field() { corral job show "$1" --json | jq -r ".$2"; }
# wait_job_progress ID: the running job reports some progress.
wait_job_progress() {
	local end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		[ "$(job_field "$1" state)" = running ] || return 1
		awk -v p="$(job_field "$1" progress)" 'BEGIN { exit !(p > 0) }' && return 0
		sleep 0.05
	done
	return 1
}
vm_pid() { corral vm show "$1" --json | jq -r .status.pid; }

test_expect "kill -9 right after a live move started: restart undoes it, the move and a live backup then work" '
	mkdir -p "$T/p2" && corral pool create p2 "$T/p2" &&
	corral disk create mv 2G && qemu-io -f qcow2 -c "write -P 0x33 0 768M" "$(vol_path mv)" >/dev/null &&
	create_guest g --disk mv && boot g && pid=$(vm_pid g) && old=$(vol_path mv) &&
	move=$(api POST /v1/volumes/mv/move "{\"pool\":\"p2\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$move" && kill9_daemon && ls -A "$T/p2" | grep -q "^mv" &&
	start_daemon &&
	st=$(job_field "$move" state) && err=$(job_field "$move" error) && echo "move: $st: $err" &&
	[ "$st" = failed ] && echo "$err" | grep -q "it was undone" &&
	[ "$(vm_state g)" = running ] && [ "$(vm_pid g)" = "$pid" ] &&
	[ "$(vol_path mv)" = "$old" ] && [ -z "$(ls -A "$T/p2")" ] &&
	grep -q "recovery: removed node disk0-m" "$T/corrald.log" &&
	corral disk move mv --pool p2 && [ "$(dirname "$(vol_path mv)")" = "$T/p2" ] && [ ! -e "$old" ] &&
	[ "$(vm_pid g)" = "$pid" ] &&
	corral repo create "$T/repo" >/dev/null && corral backup run g >"$T/run" && cat "$T/run" &&
	grep -q " full " "$T/run" && corral backup verify --all --repo "$T/repo"
'
test_expect "corrald killed in a live move's switch-over: restart records the volume at its new place" '
	uuid=$(corral vm show g --json | jq -r .uuid) && pid=$(vm_pid g) && old=$(vol_path mv) &&
	new="$STATE/storage/mv.qcow2" && kill9_daemon &&
	qemu-img create -q -f qcow2 "$new" 2G && chown --reference="$old" "$new" &&
	node=$(python3 "$HERE/qmp-switch.py" "$STATE/run/$uuid/qmp.sock" disk0 "$old" "$new" qcow2) &&
	echo "switched to $node" && start_daemon &&
	[ "$(vol_path mv)" = "$new" ] && [ ! -e "$old" ] && [ "$(vm_pid g)" = "$pid" ] &&
	grep -q "had switched over; recorded" "$T/corrald.log" &&
	corral disk move mv --pool p2 && [ "$(vol_path mv)" = "$old" ] && [ ! -e "$new" ] &&
	corral backup run g >/dev/null
'
test_expect "kill -9 during a full clone: restart removes its volumes and files; a retry works" '
	corral vm kill g && corral disk create big 2G && qemu-io -f qcow2 -c "write -P 0x44 0 1G" "$(vol_path big)" >/dev/null &&
	create_guest src --disk big &&
	clone=$(api POST /v1/vms/src/clone "{\"name\":\"c2\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$clone" && kill9_daemon &&
	ls -A "$STATE/storage" | grep -q "c2-disk0" &&
	start_daemon &&
	st=$(job_field "$clone" state) && err=$(job_field "$clone" error) && echo "clone: $st: $err" &&
	[ "$st" = failed ] && [ "$err" = "corrald stopped during the clone; nothing was kept" ] &&
	fails corral vm show c2 && ! corral disk list --json | jq -e ".volumes[] | select(.name | startswith(\"c2-\"))" &&
	! ls -A "$STATE/storage" | grep -q "c2-" &&
	corral vm clone src c2 && corral disk show c2-disk0 >/dev/null
'
# convert_helper: "PID START" of the qemu-img convert corrald runs now, from its helper pid files.
convert_helper() {
	local f pid
	for f in "$STATE"/run/helpers/*.pid; do
		pid=$(head -n1 "$f") && tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null | grep -q "convert" &&
			echo "$pid $(sed -n 2p "$f" | cut -d" " -f1)" && return 0
	done
	return 1
}
test_expect "kill -9 during an import: restart ends the orphan qemu-img (by identity) and keeps no file" '
	qemu-img create -q -f raw "$T/big.raw" 3G &&
	qemu-io -f raw -c "write -P 0x5a 0 1G" -c "write -P 0x5b 1G 1G" -c "write -P 0x5c 2G 512M" "$T/big.raw" >/dev/null &&
	imp=$(api POST /v1/volumes/import "{\"path\":\"$T/big.raw\",\"name\":\"imp\",\"source_format\":\"raw\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$imp" && read -r hpid hstart < <(convert_helper) && echo "qemu-img: $hpid $hstart" &&
	kill9_daemon && ! proc_gone "$hpid" && ls -A "$STATE/storage" | grep -q "^\.imp\.import\.tmp$" &&
	start_daemon &&
	{ proc_gone "$hpid" || [ "$(cut -d" " -f22 "/proc/$hpid/stat")" != "$hstart" ]; } &&
	[ -z "$(ls -A "$STATE/run/helpers")" ] && ! ls -A "$STATE/storage" | grep -q "imp" &&
	[ "$(job_field "$imp" state)" = failed ] &&
	[ "$(job_field "$imp" error)" = "corrald stopped during the import; nothing was kept" ] &&
	corral disk import "$T/big.raw" --source-format raw --name imp && corral disk show imp >/dev/null
'
test_expect "kill -9 during a backup of a stopped VM: qemu-nbd ended, no scratch left, the record says no backup was made" '
	n0=$(corral backup list src --json | jq ".backups | length") &&
	bk=$(api POST /v1/backups "{\"vm\":\"src\"}" | sed "\$d" | jq -r .job.id) &&
	wait_job_progress "$bk" && nbd=$(pgrep -f "^qemu-nbd .*$T/" | head -n1) && [ -n "$nbd" ] &&
	kill9_daemon && ls -d "$STATE"/run/bk* &&
	start_daemon && proc_gone "$nbd" && ! ls -d "$STATE"/run/bk* 2>/dev/null &&
	[ -z "$(ls -A "$STATE/run/helpers")" ] &&
	st=$(job_field "$bk" state) && err=$(job_field "$bk" error) && echo "backup: $st: $err" &&
	[ "$st" = failed ] && echo "$err" | grep -q "no backup of src was made" &&
	[ "$(corral backup list src --json | jq ".backups | length")" = "$n0" ] &&
	corral backup verify --all >/dev/null && corral backup run src >/dev/null &&
	[ "$(corral backup list src --json | jq ".backups | length")" = $((n0 + 1)) ]
'
test_expect "no job is left running after the restarts" '
	[ "$(corral job list --json | jq "[.jobs[] | select(.state == \"running\")] | length")" = 0 ]
'
finish
