#!/usr/bin/env bash
# t78-ct-migrate.sh - offline migration of a stopped container between two
# corrald "hosts" in network namespaces (docs/containers.md, "Migration"):
# an unprivileged busybox container with a NIC, a snapshot and a root full
# of what trees hold (mapped owners, modes, xattrs, a POSIX ACL, hard links,
# a device node, symlinks) moves to b: the tree there is the same entry for
# entry, it starts there with its hostname and files, a is clean.  Refused
# with nothing made on b: a running container, a name b has, a network b
# lacks (listed), an unknown host.  A cancel, and kill -9 of either
# corrald mid-stream, leave it on a only and b clean after a restart.  A
# container whose root is an image file migrates too (refused while it
# runs; a cancel leaves it on a with its image unmounted): its tree and
# snapshot arrive as a directory root, a keeps no image.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
hold_migration
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
trap 'for h in a b; do on_host $h ct kill "name:*" >/dev/null 2>&1; done; cleanup' EXIT

nhost_setup a b && nhost_start a && nhost_start b || { say "cannot start the two hosts"; FAILED=1; exit 1; }
NET=t78n
UIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)
treesum() { python3 "$SRC/tests/integration/treesum.py" "$1"; }
# ct_where CT: where CT is listed: "a", "b", "ab" or ""
ct_where() {
	local w=
	ca ct show "$1" >/dev/null 2>&1 && w=a
	cb ct show "$1" >/dev/null 2>&1 && w=${w}b
	echo "$w"
}
# ct_clean HOST CT: nothing of CT on HOST: no row, no directory, no record, no tar
ct_clean() {
	! on_host "$1" ct show "$2" >/dev/null 2>&1 || { say "$2 still defined on $1"; return 1; }
	[ ! -e "$T/$1/lxc/$2" ] || { say "$T/$1/lxc/$2 is left"; return 1; }
	[ ! -e "$T/$1/storage/$2-root" ] || { say "$T/$1/storage/$2-root (its root volume) is left"; return 1; }
	[ -z "$(ls -A "$T/$1/lxc" 2>/dev/null | grep -v "^$2\$" | grep "^\.migrate")" ] || { say "a migration log is left on $1"; return 1; }
	[ -z "$(find "$T/$1/migrations" -name "*.json" 2>/dev/null)" ] || { say "a migration record is left on $1"; return 1; }
}
# settled CT HOST OTHER: within 20 s CT is on HOST only, OTHER clean, no records on either
settled() {
	for _ in $(seq 1 100); do
		[ "$(ct_where "$1")" = "$2" ] && ct_clean "$3" "$1" 2>/dev/null &&
			[ -z "$(find "$T/a/migrations" "$T/b/migrations" -name "*.json" 2>/dev/null)" ] && return 0
		sleep 0.2
	done
	say "not settled: $1 on \"$(ct_where "$1")\", records: $(find "$T/a/migrations" "$T/b/migrations" -name "*.json" 2>/dev/null)"
	ct_clean "$3" "$1"
	return 1
}

test_expect "two trusted hosts with network $NET; a stopped container whose root holds every kind of entry" '
	nhost_trust a b &&
	ca net create $NET --subnet 10.78.1.0/24 >/dev/null && cb net create $NET --subnet 10.78.1.0/24 >/dev/null &&
	ca ct create m1 --template busybox >/dev/null &&
	ca ct start m1 >/dev/null && ca ct exec m1 -- sh -c "echo hello >/root/data && ln /root/data /root/hard && ln -s data /root/soft && chown 1000:1000 /root/data && chmod 4751 /root/data" &&
	ca ct stop m1 >/dev/null && ca ct nic attach m1 net=$NET >/dev/null &&
	R=$T/a/storage/m1-root/rootfs &&
	mknod "$R/root/null2" c 1 3 && chown $((UIDBASE + 5)):$((UIDBASE + 6)) "$R/root/null2" &&
	python3 -c "import os, struct, sys
p = sys.argv[1]
os.setxattr(p, \"user.corral\", b\"kept\")
# user::rw- user:1234:r-- group::r-- mask::r-- other::r--
os.setxattr(p, \"system.posix_acl_access\", struct.pack(\"<IHHIHHIHHIHHIHHI\", 2, 1, 6, 0xffffffff, 2, 4, 1234, 4, 4, 0xffffffff, 0x10, 4, 0xffffffff, 0x20, 4, 0xffffffff))" "$R/root/hard" &&
	dd if=/dev/urandom of="$R/root/blob" bs=1M count=24 status=none && chown $UIDBASE:$UIDBASE "$R/root/blob" &&
	ca ct snapshot create m1 s1 >/dev/null &&
	[ "$(stat -c %u "$R/root/data")" = $((UIDBASE + 1000)) ] &&
	treesum "$T/a/storage/m1-root/rootfs" >sum.a && treesum "$T/a/storage/m1-root/snapshots" >snap.a &&
	grep -q "^root/hard .* x=.*system.posix_acl_access=" sum.a && grep -q "^root/null2 20644 .* 1:3 " sum.a &&
	ca ct show m1 --json | jq -S "del(.status, .created, .state, .volume)" >def.a
'

test_expect "refused with nothing made on b: running, unknown host, name taken on b, network missing on b" '
	ca ct create r1 --template busybox >/dev/null && ca ct start r1 >/dev/null &&
	fails ca ct migrate r1 --to b 2>err && grep -q "is running: stop it first" err &&
	ca ct kill r1 >/dev/null && ca ct delete --yes r1 >/dev/null &&
	fails ca ct migrate m1 --to nosuch 2>err && grep -q "no trusted host" err &&
	fails ca ct migrate m1 --to b --bandwidth 0 2>err && grep -q "invalid --bandwidth" err &&
	cb ct create m1 --template busybox >/dev/null &&
	fails ca ct migrate m1 --to b 2>err && grep -q "named .m1. (or with its uuid) exists on b already" err &&
	cb ct delete --yes m1 >/dev/null &&
	ca net create t78only --subnet 10.78.2.0/24 >/dev/null && ca net create t78other --subnet 10.78.3.0/24 >/dev/null &&
	ca ct create m2 --template busybox --nic net=t78only --nic net=$NET --nic net=t78other >/dev/null &&
	fails ca ct migrate m2 --to b 2>err && grep -q "networks b does not have: t78only, t78other" err &&
	ca ct delete --yes m2 >/dev/null &&
	[ "$(ct_where m1)" = a ] && ct_clean b m1 && ct_clean a m2 && [ -z "$(ls -A "$T/b/lxc" 2>/dev/null)" ]
'

test_expect "a cancel mid-stream: m1 stays on a, b is clean" '
	ca ct migrate m1 --to b --bandwidth 2M --detach --json >job.json && JOB=$(jq -r .id job.json) &&
	for _ in $(seq 1 100); do ca job show "$JOB" --json | jq -r .phase | grep -q "copying the root" && break; sleep 0.1; done &&
	sleep 1 && ca job cancel "$JOB" >/dev/null &&
	for _ in $(seq 1 100); do [ "$(ca job show "$JOB" --json | jq -r .state)" != running ] && break; sleep 0.1; done &&
	ca job show "$JOB" --json | jq -e ".state == \"cancelled\"" >/dev/null &&
	settled m1 a b && treesum "$T/a/storage/m1-root/rootfs" | diff sum.a -
'

# start_slow: a migration of m1 to b at 2 MiB/s, detached; JOB = its id once the root streams
start_slow() {
	ca ct migrate m1 --to b --bandwidth 2M --detach --json >job.json && JOB=$(jq -r .id job.json) &&
	for _ in $(seq 1 100); do
		ca job show "$JOB" --json | jq -e ".phase | test(\"copying the root\")" >/dev/null &&
			[ -d "$T/b/lxc/m1/rootfs" ] && return 0
		sleep 0.1
	done
	say "job $JOB never streamed"; return 1
}

test_expect "kill -9 of the destination corrald mid-stream: restarted, b removes what it made; m1 stays on a" '
	start_slow &&
	for _ in $(seq 1 30); do ca job show "$JOB" --json | jq -e ".progress > 0 and .rate != null and .eta != null" >/dev/null && break; sleep 0.2; done &&
	ca job show "$JOB" --json | jq -e ".progress > 0 and .progress < 100 and .rate > 0 and .eta > 0" >/dev/null &&
	nhost_kill9 b && nhost_start b &&
	for _ in $(seq 1 100); do [ "$(ca job show "$JOB" --json | jq -r .state)" != running ] && break; sleep 0.2; done &&
	ca job show "$JOB" --json | jq -e ".state == \"failed\"" >/dev/null &&
	settled m1 a b && treesum "$T/a/storage/m1-root/rootfs" | diff sum.a -
'

test_expect "kill -9 of the source corrald mid-stream: restarted, a has b abort; m1 stays on a" '
	start_slow && nhost_kill9 a && nhost_start a &&
	settled m1 a b && treesum "$T/a/storage/m1-root/rootfs" | diff sum.a -
'

test_expect "migrate a -> b: the same tree, snapshot and definition there, nothing left on a, progress reported" '
	ca ct migrate m1 --to b --json >job.json &&
	jq -e ".state == \"succeeded\" and .result.kind == \"container\" and .result.to == \"b\" and .result.bytes > 25000000" job.json >/dev/null &&
	jq -e ".progress == 100" job.json >/dev/null &&
	[ "$(ct_where m1)" = b ] && ct_clean a m1 &&
	treesum "$T/b/lxc/m1/rootfs" | diff sum.a - && treesum "$T/b/lxc/m1/snapshots" | diff snap.a - &&
	cb ct show m1 --json | jq -S "del(.status, .created, .state, .volume)" | diff def.a - &&
	cb ct snapshot list m1 --json | jq -e ".snapshots[0].name == \"s1\"" >/dev/null &&
	cb ct show m1 --json | jq -e "[.status.events[].detail] | any(test(\"migrated in .offline. from a\"))" >/dev/null
'

test_expect "an image root migrates: refused while running; a cancel mid-stream leaves it on a, unmounted; its tree and snapshot arrive on b as a directory root; a keeps no image" '
	ca ct create i1 --template busybox --image 96M >/dev/null && ca ct start i1 >/dev/null &&
	ca ct exec i1 -- sh -c "echo inimage >/root/f" &&
	fails ca ct migrate i1 --to b 2>err && grep -q "is running: stop it first" err && ct_clean b i1 &&
	ca ct exec i1 -- dd if=/dev/urandom of=/root/blob bs=1M count=16 2>/dev/null &&
	ca ct stop i1 >/dev/null && ca ct snapshot create i1 s1 >/dev/null &&
	IMG=$(ca ct show i1 --json | jq -r .status.storage.root.image) && [ -f "$IMG" ] && [ -z "$(losetup -j "$IMG")" ] &&
	ca ct migrate i1 --to b --bandwidth 2M --detach --json >job.json && JOB=$(jq -r .id job.json) &&
	for _ in $(seq 1 100); do ca job show "$JOB" --json | jq -r .phase | grep -q "copying the root" && break; sleep 0.1; done &&
	sleep 1 && [ -n "$(losetup -j "$IMG")" ] && ca job cancel "$JOB" >/dev/null &&
	for _ in $(seq 1 100); do [ "$(ca job show "$JOB" --json | jq -r .state)" != running ] && break; sleep 0.1; done &&
	ca job show "$JOB" --json | jq -e ".state == \"cancelled\"" >/dev/null &&
	settled i1 a b && [ -f "$IMG" ] && [ -z "$(losetup -j "$IMG")" ] &&
	ca ct migrate i1 --to b --json >job.json &&
	jq -e ".state == \"succeeded\" and .result.to == \"b\" and .result.bytes > 1000000 and .progress == 100" job.json >/dev/null &&
	[ "$(ct_where i1)" = b ] && ct_clean a i1 && [ ! -e "$IMG" ] && [ -z "$(losetup -j "$IMG" 2>/dev/null)" ] &&
	! ca disk list --json | jq -e ".volumes[] | select(.name == \"i1-root\")" >/dev/null &&
	[ "$(cat "$T/b/lxc/i1/rootfs/root/f")" = inimage ] && [ -x "$T/b/lxc/i1/snapshots/s1/rootfs/bin/busybox" ] &&
	cb ct snapshot list i1 --json | jq -e "[.snapshots[].name] == [\"s1\"]" >/dev/null &&
	cb ct start i1 >/dev/null && [ "$(cb ct exec i1 -- hostname)" = i1 ] && [ "$(cb ct exec i1 -- cat /root/f)" = inimage ] &&
	[ "$(cb ct exec i1 -- stat -c %s /root/blob)" = 16777216 ] && cb ct kill i1 >/dev/null && cb ct snapshot revert --yes i1 s1 >/dev/null && cb ct delete --yes i1 >/dev/null
'

# (a veth in a network namespace corrald was only nsenter-ed into fails in
# liblxc: /sys is still the host'"'"'s; t47 starts containers with NICs)
test_expect "it starts on b: its hostname and files are there; the source no longer lists it" '
	MAC=$(cb ct show m1 --json | jq -r ".nics[0].mac") && cb ct nic detach m1 "$MAC" >/dev/null &&
	cb ct start m1 >/dev/null &&
	[ "$(cb ct exec m1 -- hostname)" = m1 ] && [ "$(cb ct exec m1 -- cat /root/hard)" = hello ] &&
	[ "$(cb ct exec m1 -- readlink /root/soft)" = data ] &&
	! ca ct list --json | jq -e ".containers[] | select(.name == \"m1\")" >/dev/null &&
	cb ct list --json | jq -e ".containers[] | select(.name == \"m1\")" >/dev/null &&
	cb ct kill m1 >/dev/null
'

finish
