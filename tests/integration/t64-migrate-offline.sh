#!/usr/bin/env bash
# Offline migration between two corrald "hosts" in network namespaces
# (docs/migration.md "Offline"): a stopped VM with a local disk and a disk
# in a shared pool moves to the other host and back; its definition and
# the local disk's content are identical there, the shared disk stayed in
# place, nothing of it is left on the source.  A destination that refuses
# half-way (it does not see a shared disk) removes what it made; a cancel
# during the disk copy leaves the VM on the source and the destination
# clean.  kill -9 of either corrald during the copy settles, after its
# restart, with the VM on the source only and nothing left on the
# destination (the migration records, docs/migration.md).  A UEFI VM's
# NVRAM vars move with it and it boots there.  Evacuate: two running guests leave host a (--local, two at a
# time, target chosen by free memory), then a asks b to evacuate itself
# (HOST form) and both come back; each VM's outcome is in the job's result.
. "$(dirname "$0")/lib.sh"
hold_migration

mkdir -p "$T/shared" "$T/sa" "$T/sb"

nhost_setup a b && nhost_start a && nhost_start b || { say "cannot start the two hosts"; FAILED=1; exit 1; }

# the definition as a host shows it, without what is per host (state, times)
def_of() { on_host "$1" vm show "$2" --json | jq -S 'del(.status, .etag, .created, .modified)'; }
# clean_on HOST VM VOLS...: neither the VM nor the volumes (records or files) on HOST
clean_on() {
	local h=$1 vm=$2 v
	shift 2
	! on_host "$h" vm show "$vm" >/dev/null 2>&1 || { say "$vm still defined on $h"; return 1; }
	for v in "$@"; do
		! on_host "$h" disk show "$v" >/dev/null 2>&1 || { say "volume $v still on $h"; return 1; }
		[ -z "$(find "$T/$h/storage" -name "$v.*" 2>/dev/null)" ] || { say "a file of $v is left on $h"; return 1; }
	done
	[ -z "$(find "$T/$h" -name keys.psk -o -name dh-params.pem)" ] || { say "a key file is left on $h"; return 1; }
	! pgrep -f "qemu-nbd.*$T/$h/" >/dev/null || { say "a qemu-nbd is left on $h"; return 1; }
}
path_on() { on_host "$1" disk show "$2" --json | jq -r .path; }

test_expect "two trusted hosts, a stopped VM with a local disk (with data) and a shared one" '
	nhost_trust a b &&
	ca pool create shared "$T/shared" --shared && cb pool create shared "$T/shared" --shared &&
	ca disk create o1-d 64M && ca disk create o1-s 16M --pool shared &&
	qemu-io -f qcow2 -c "write -P 0x5a 0 3M" -c "write -P 0xa5 40M 1M" "$(path_on a o1-d)" >/dev/null &&
	qemu-img convert -O raw "$(path_on a o1-d)" "$T/o1.raw" &&
	on a create_guest o1 --memory 128M --disk o1-d >/dev/null && ca disk attach o1 o1-s >/dev/null &&
	def_of a o1 >def.a
'
test_expect "a running VM is refused (live migration is for that); unknown host too" '
	ca vm start o1 >/dev/null && on a wait_state o1 running 20 &&
	fails ca vm migrate o1 --to b --offline 2>err && grep -q "offline migration moves a stopped VM" err &&
	ca vm kill o1 >/dev/null && on a wait_state o1 stopped 20 &&
	fails ca vm migrate o1 --to nosuch --offline 2>err && grep -q "no trusted host" err &&
	fails ca vm migrate o1 --to b --offline --max-downtime 100 2>err && grep -q "live migration only" err &&
	[ "$(where o1)" = a ]
'

test_expect "offline a -> b: definition and disk content identical, shared disk in place, nothing left on a" '
	SHARED=$(path_on a o1-s) &&
	ca vm migrate o1 --to b --offline --json >job.json &&
	jq -e ".state == \"succeeded\" and .result.kind == \"offline\"" job.json >/dev/null &&
	[ "$(where o1)" = b ] && clean_on a o1 o1-d o1-s && [ -f "$SHARED" ] &&
	def_of b o1 >def.b && diff def.a def.b &&
	qemu-img compare -f raw -F qcow2 "$T/o1.raw" "$(path_on b o1-d)" &&
	[ "$(path_on b o1-s)" = "$SHARED" ] &&
	cb vm events o1 --json | jq -e "[.events[] | select(.type == \"migrate\")] | length >= 1" >/dev/null
'

test_expect "and back b -> a" '
	cb vm migrate o1 --to a --offline >/dev/null &&
	[ "$(where o1)" = a ] && clean_on b o1 o1-d o1-s &&
	def_of a o1 >def.a2 && diff def.a def.a2 &&
	qemu-img compare -f raw -F qcow2 "$T/o1.raw" "$(path_on a o1-d)"
'

test_expect "a UEFI VM moves offline with its NVRAM vars and boots on b" '
	ca disk create u1-d 16M --pool shared && on a create_guest u1 --disk u1-d --firmware uefi >/dev/null &&
	on a boot u1 && ca vm kill u1 >/dev/null && on a wait_state u1 stopped 20 &&
	U=$(ca vm show u1 --json | jq -r .uuid) && cp "$(find "$T/a" -name "$U.fd")" vars.a &&
	ca vm migrate u1 --to b --offline >/dev/null && [ "$(where u1)" = b ] &&
	[ -z "$(find "$T/a" -name "$U.fd")" ] && cmp vars.a "$(find "$T/b" -name "$U.fd")" &&
	on b boot u1 && cb vm kill u1 >/dev/null
'
test_expect "the destination refuses half-way (a shared disk it cannot see): it removes what it made" '
	ca pool create sh2 "$T/sa" --shared && cb pool create sh2 "$T/sb" --shared &&
	ca disk create o1-x 16M --pool sh2 && ca disk attach o1 o1-x >/dev/null &&
	fails ca vm migrate o1 --to b --offline 2>err && grep -q "does not see disk o1-x" err &&
	[ "$(where o1)" = a ] && clean_on b o1 o1-d o1-s o1-x &&
	ca disk detach o1 o1-x >/dev/null && ca disk delete --yes o1-x >/dev/null
'

test_expect "a cancel during the disk copy: the VM stays on a, b is clean" '
	ca disk create o1-big 1G &&
	qemu-io -f qcow2 -c "write -P 0x33 0 768M" "$(path_on a o1-big)" >/dev/null &&
	ca disk attach o1 o1-big >/dev/null &&
	ca vm migrate o1 --to b --offline --bandwidth 1M --detach --json >job.json &&
	JOB=$(jq -r .id job.json) &&
	for _ in $(seq 1 100); do ca job show "$JOB" --json | jq -r .phase | grep -q "copying disk" && break; sleep 0.1; done &&
	ca job cancel "$JOB" >/dev/null &&
	for _ in $(seq 1 100); do [ "$(ca job show "$JOB" --json | jq -r .state)" != running ] && break; sleep 0.1; done &&
	ca job show "$JOB" --json | jq -e ".state == \"cancelled\"" >/dev/null &&
	[ "$(where o1)" = a ] && clean_on b o1 o1-d o1-s o1-big &&
	qemu-img compare -f raw -F qcow2 "$T/o1.raw" "$(path_on a o1-d)"
'

# start_slow: an offline migration of o1 (with o1-big) to b, slowed down, detached; JOB=its id once it copies
start_slow() {
	ca vm migrate o1 --to b --offline --bandwidth 2M --detach --json >job.json && JOB=$(jq -r .id job.json) &&
	for _ in $(seq 1 100); do ca job show "$JOB" --json | jq -r .phase | grep -q "copying disk" && return 0; sleep 0.1; done
	say "job $JOB never copied"; return 1
}
# settled HOST_OF_VM OTHER: within 20 s the VM is on the first only, the other clean, no record left on either
settled() {
	for _ in $(seq 1 100); do
		[ "$(where o1)" = "$1" ] && clean_on "$2" o1 o1-d o1-s o1-big 2>/dev/null &&
			[ -z "$(find "$T/a/migrations" "$T/b/migrations" -name "*.json" 2>/dev/null)" ] && return 0
		sleep 0.2
	done
	say "not settled: o1 on \"$(where o1)\", records: $(find "$T/a/migrations" "$T/b/migrations" -name "*.json" 2>/dev/null)"
	clean_on "$2" o1 o1-d o1-s o1-big
	return 1
}

test_expect "kill -9 of the destination corrald mid-copy: restarted, it removes what it made; the VM stays on a" '
	start_slow && nhost_kill9 b && nhost_start b &&
	for _ in $(seq 1 100); do [ "$(ca job show "$JOB" --json | jq -r .state)" != running ] && break; sleep 0.2; done &&
	ca job show "$JOB" --json | jq -e ".state == \"failed\"" >/dev/null &&
	settled a b && ca vm start o1 >/dev/null && ca vm kill o1 >/dev/null &&
	qemu-img compare -f raw -F qcow2 "$T/o1.raw" "$(path_on a o1-d)"
'

test_expect "kill -9 of the source corrald mid-copy: restarted, it has b abort; the VM stays on a" '
	start_slow && nhost_kill9 a && nhost_start a &&
	settled a b && on a wait_state o1 stopped 5 &&
	qemu-img compare -f raw -F qcow2 "$T/o1.raw" "$(path_on a o1-d)"
'

test_expect "host evacuate --local moves both running guests to b; evacuate b brings them back" '
	for v in e1 e2; do
		ca disk create $v-d 16M --pool shared >/dev/null && on a create_guest $v --memory 128M --disk $v-d >/dev/null || return 1
	done &&
	ca vm start e1 >/dev/null && ca vm start e2 >/dev/null &&
	on a wait_state e1 running 20 && on a wait_state e2 running 20 &&
	fails ca host evacuate --local --parallel 0 2>err && grep -q "parallel" err &&
	fails ca host evacuate nosuch 2>err && grep -q "no trusted host" err &&
	ca host evacuate --local --parallel 2 --json >ev.json &&
	jq -e ".state == \"succeeded\" and .result.migrated == 2 and ([.result.evacuated[] | select(.state == \"succeeded\" and .to == \"b\")] | length == 2)" ev.json >/dev/null &&
	[ "$(where e1)" = b ] && [ "$(where e2)" = b ] && on b wait_state e1 running 10 && on b wait_state e2 running 10 &&
	[ "$(where o1)" = a ] &&
	ca host evacuate b --json >ev2.json &&
	jq -e ".state == \"succeeded\" and .result.host == \"b\" and .result.migrated == 2" ev2.json >/dev/null &&
	[ "$(where e1)" = a ] && [ "$(where e2)" = a ] && on a wait_state e1 running 10 && on a wait_state e2 running 10
'

finish
