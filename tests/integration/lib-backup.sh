# lib-backup.sh - helpers the backup scripts (t95-backup.sh, t96-backup-cancel.sh)
# share; sourced after lib.sh.

# gsh VM 'commands' [LINGER_S]: run shell commands in the guest, print what it answered.
gsh() { printf '%s\n' "$2" | corral vm console "$1" --linger "${3:-1.5}" | tr -d '\r'; }
vol_path() { corral disk show "$1" --json | jq -r .path; }
# snap_copy VOL FILE: a raw copy of the volume as it is now (pause its VM first, so it is consistent).
snap_copy() { qemu-img convert -U -O raw "$(vol_path "$1")" "$2"; }
same() { qemu-img compare -U -q "$1" "$2"; }
job_result() { corral job show "$1" --json | jq -c .result; }
job_state() { corral job show "$1" --json | jq -r .state; }
last_id() { corral backup list "$1" --repo "$2" --json | jq -r '.backups | map(select(.error == null)) | last | .id'; }
nbackups() { corral backup list "$1" --repo "$2" --json | jq '.backups | length'; }
# midway JOB: wait until the running job has made some progress (and is not done).
midway() {
	local p
	for _ in $(seq 1 300); do
		p=$(corral job show "$1" --json | jq -r "if .state == \"running\" then .progress else -1 end")
		[ "$p" = -1 ] && { say "job $1 ended before it could be interrupted"; return 1; }
		awk "BEGIN { exit !($p > 2) }" && return 0
		sleep 0.02
	done
	return 1
}
# wait_job_end JOB [TIMEOUT_S]: until the job is no longer running.
wait_job_end() {
	local end=$((SECONDS + ${2:-60}))
	while [ $SECONDS -lt $end ]; do
		[ "$(job_state "$1")" != running ] && return 0
		sleep 0.05
	done
	say "job $1 still running after ${2:-60} s"
	return 1
}
