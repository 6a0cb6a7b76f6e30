#!/usr/bin/env bash
# t51-ct-storage.sh - container storage (docs/containers.md, "Storage"): a
# template's root is a directory volume of a pool (--pool), listed with its
# usage and its container; a pool too small refuses the create with nothing
# left; `ct move` copies a stopped root (owners of the id map kept) to
# another pool and removes the old copy; directory volumes mount inside
# (read-write and read-only); hostile mount paths, wrong volumes and moves
# of running containers are refused with nothing changed; a root from
# before roots were volumes (in the lxcpath) still starts and `ct move`
# puts it into a pool; an image root (--image) is an ext4 file loop-mounted
# while the container runs, re-adopted after kill -9 of corrald; `ct move`
# copies it (holes kept, its snapshots inside) to another pool, refused
# while running or without room with nothing changed, and a cancel or a
# kill -9 of corrald mid-move leaves one whole image in use.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
setup_daemon
st_cleanup() {
	if [ -n "$CORRALD_PID" ]; then
		corral ct kill "name:*" >/dev/null 2>&1
		corral ct delete --yes s1 s2 s3 s4 old i1 i3 >/dev/null 2>&1
	fi
	mountpoint -q "$T/tiny" && { umount "$T/tiny" || umount -l "$T/tiny"; }
	return 0
}
trap 'st_cleanup; cleanup' EXIT
LXCP=$STATE/lxc
UIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)
vol() { corral disk list --json | jq -c ".volumes[] | select(.name == \"$1\")"; }
mounts() { corral ct show "$1" --json | jq -c '.mounts // []'; }
mkdir -p "$T/p1" "$T/p2" "$T/tiny"
# killed_mid_move CT VOL PART ROOT: move CT to p2, kill -9 corrald while PART
# (its copy in p2) is there, restart; then the job and the root agree: moved
# (ROOT, the root's entry in a pool, only in p2) or not (only in p1), PART gone
killed_mid_move() {
	local job st where
	job=$(api POST "/v1/containers/$1/move" "{\"pool\":\"p2\"}" | sed "\$d" | jq -r .job.id) && [ "$job" -gt 0 ] || return 1
	for _ in $(seq 1 200); do [ -e "$T/p2/$3" ] && break; sleep 0.01; done
	[ -e "$T/p2/$3" ] || say "the move was over before the kill"
	kill9_daemon && sleep 0.2 && start_daemon || return 1
	st=$(api GET "/v1/jobs/$job" | sed "\$d" | jq -r .state) && say "job after the restart: $st"
	[ ! -e "$T/p2/$3" ] && where=$(vol "$2" | jq -r .pool) || return 1
	case "$st:$where" in
	succeeded:p2) [ ! -e "$T/p1/$4" ] && [ -e "$T/p2/$4" ] ;;
	failed:p1) [ ! -e "$T/p2/$4" ] && [ -e "$T/p1/$4" ] ;;
	*) say "job $st, root volume in pool $where"; ls -la "$T/p1" "$T/p2"; false ;;
	esac
}

# cancelled_move CT: a move of CT to p2 cancelled as soon as its job is
# listed (the POST answers only after the job's 0.1 s grace, and 150 MB are
# copied here in about 0.2 s), which must end "cancelled".  A move that
# still got past its copy first (the cancel is refused: "the copy is
# complete") is moved back and tried again, up to three times.
cancelled_move() {
	local i job st post
	for i in 1 2 3; do
		api POST "/v1/containers/$1/move" "{\"pool\":\"p2\"}" >/dev/null &
		post=$!
		job=
		for _ in $(seq 1 200); do
			job=$(corral job list --json | jq -r "[.jobs[] | select(.type == \"ct-move\" and .target == \"$1\" and .state == \"running\")][0].id // empty")
			[ -n "$job" ] && break
			sleep 0.01
		done
		[ -n "$job" ] && corral job cancel "$job" >/dev/null 2>&1
		wait "$post"
		[ -n "$job" ] || job=$(corral job list --json | jq -r "[.jobs[] | select(.type == \"ct-move\" and .target == \"$1\")][-1].id // empty")
		[ -n "$job" ] || { say "no ct-move job of $1"; return 1; }
		for _ in $(seq 1 100); do st=$(api GET "/v1/jobs/$job" | sed "\$d" | jq -r .state); [ "$st" != running ] && break; sleep 0.1; done
		[ "$st" = cancelled ] && return 0
		[ "$st" = succeeded ] || { say "move job $job ended $st"; return 1; }
		say "move $i of $1 ended before its cancel; moved back, again"
		corral ct move "$1" --pool p1 >/dev/null || return 1
	done
	return 1
}

test_expect "a template root is a directory volume of the pool asked for, listed with its usage and container" '
	corral pool create p1 "$T/p1" >/dev/null && corral pool create p2 "$T/p2" >/dev/null &&
	corral ct create s1 --template busybox --pool p1 >/dev/null &&
	[ -x "$T/p1/s1-root/rootfs/bin/busybox" ] && [ "$(stat -c %u "$T/p1/s1-root/rootfs/bin/busybox")" = "$UIDBASE" ] &&
	[ ! -e "$LXCP/s1/rootfs" ] &&
	vol s1-root | jq -e ".pool == \"p1\" and .format == \"dir\" and .used_by == \"s1\" and .used_by_kind == \"container\"" >/dev/null &&
	for _ in $(seq 1 50); do vol s1-root | jq -e ".allocation > 1000000" >/dev/null && break; sleep 0.2; done &&
	vol s1-root | jq -e ".allocation > 1000000" >/dev/null &&
	corral disk list | grep -Eq "^s1-root +p1 +dir +- +[0-9.]+M +s1 " &&
	corral ct show s1 | grep -Eq "^root volume: +s1-root in pool p1 \($T/p1/s1-root\), using [0-9.]+M" &&
	corral ct show s1 --json | jq -e ".volume == \"s1-root\" and .status.storage.root.pool == \"p1\"" >/dev/null &&
	corral pool show p1 --json | jq -e ".volumes == 1" >/dev/null &&
	corral ct start s1 >/dev/null && [ "$(corral ct exec s1 -- hostname)" = s1 ] &&
	fails corral disk delete --yes s1-root 2>err && grep -q "used by container .s1." err && [ -d "$T/p1/s1-root/rootfs" ]
'

test_expect "a pool without the room refuses the create; nothing is left" '
	mount -t tmpfs -o size=1m tmpfs "$T/tiny" && corral pool create tiny "$T/tiny" >/dev/null &&
	fails corral ct create s2 --template busybox --pool tiny 2>err && grep -q "not enough space in $T/tiny" err &&
	grep -q "pool .tiny. cannot hold the root of container .s2." err &&
	fails corral ct show s2 2>/dev/null && [ -z "$(vol s2-root)" ] && [ -z "$(ls -A "$T/tiny")" ] && [ ! -e "$LXCP/s2" ] &&
	fails corral ct create s2 --template busybox --pool nosuch 2>err && grep -q "pool .nosuch. not found" err &&
	fails corral ct create s2 --template busybox --pool ../p1 2>err && grep -q "container pool: name must not start" err &&
	api POST /v1/containers "{\"name\":\"s2\",\"template\":\"busybox\",\"volume\":\"s1-root\"}" | grep -q "HTTP 400" &&
	fails corral ct show s2 2>/dev/null && [ ! -e "$LXCP/s2" ]
'

test_expect "ct move refuses a running container, an unknown or the same pool; nothing changes" '
	corral ct exec s1 -- sh -c "echo moved >/root/f && chown 1000:1001 /root/f && chmod 640 /root/f" &&
	fails corral ct move s1 --pool p2 2>err && grep -q "running: stop it first" err &&
	corral ct stop s1 >/dev/null &&
	fails corral ct move s1 --pool p1 2>err && grep -q "in pool .p1. already" err &&
	fails corral ct move s1 --pool nosuch 2>err && grep -q "pool .nosuch. not found" err &&
	fails corral ct move s1 --pool tiny 2>err && grep -q "not enough space" err &&
	fails corral disk move s1-root --pool p2 2>err && grep -q "ct move" err &&
	[ -z "$(ls -A "$T/p2")" ] && [ -z "$(ls -A "$T/tiny")" ] && vol s1-root | jq -e ".pool == \"p1\"" >/dev/null
'

test_expect "ct move copies the stopped root to another pool with its owners, then removes the old copy" '
	corral ct snapshot create s1 snap1 >/dev/null &&
	corral ct move s1 --pool p2 --json >job.json && jq -e ".state == \"succeeded\" and .result.pool == \"p2\" and .result.from_pool == \"p1\"" job.json >/dev/null &&
	[ ! -e "$T/p1/s1-root" ] && [ "$(cat "$T/p2/s1-root/rootfs/root/f")" = moved ] &&
	[ "$(stat -c %u:%g:%a "$T/p2/s1-root/rootfs/root/f")" = "$((UIDBASE + 1000)):$((UIDBASE + 1001)):640" ] &&
	[ -d "$T/p2/s1-root/snapshots/snap1/rootfs/bin" ] &&
	vol s1-root | jq -e ".pool == \"p2\" and .path == \"$T/p2/s1-root\" and .used_by == \"s1\"" >/dev/null &&
	corral ct start s1 >/dev/null && [ "$(corral ct exec s1 -- cat /root/f)" = moved ] &&
	[ "$(corral ct exec s1 -- stat -c %u:%g /root/f)" = 1000:1001 ] &&
	corral ct show s1 --json | jq -e "[.status.events[].detail] | any(test(\"root moved to pool p2\"))" >/dev/null
'

test_expect "directory volumes mount inside: read-write and read-only, visible on the host" '
	corral disk create data1 --format dir --pool p1 >/dev/null && corral disk create data2 --format dir >/dev/null &&
	echo fromhost >"$STATE/storage/data2/ro.txt" &&
	fails corral ct edit s1 --mount data1:/srv/data 2>err && grep -q "running: stop it first" err && [ "$(mounts s1)" = "[]" ] &&
	corral ct stop s1 >/dev/null &&
	corral ct edit s1 --mount data1:/srv/data --mount data2:/mnt/ro:ro >/dev/null &&
	corral ct show s1 | grep -Eq "^mounts: +data1 at /srv/data \(pool p1\)" &&
	vol data1 | jq -e ".used_by == \"s1\"" >/dev/null &&
	corral ct start s1 >/dev/null &&
	corral ct exec s1 -- sh -c "echo inside >/srv/data/hello" && [ "$(cat "$T/p1/data1/hello")" = inside ] &&
	[ "$(stat -c %u "$T/p1/data1/hello")" = "$UIDBASE" ] &&
	[ "$(corral ct exec s1 -- cat /mnt/ro/ro.txt)" = fromhost ] &&
	fails corral ct exec s1 -- sh -c "echo x >/mnt/ro/new" 2>/dev/null && [ ! -e "$STATE/storage/data2/new" ] &&
	fails corral disk delete --yes data1 2>err && grep -q "used by container .s1." err &&
	fails corral vm create v1 --memory 64 --disk data1 2>err && grep -q "directory volume" err
'

test_expect "hostile mount points and wrong volumes are refused; the definition stays as it was" '
	corral ct stop s1 >/dev/null && before=$(mounts s1) &&
	corral disk create q1 1M >/dev/null && corral disk create data3 --format dir >/dev/null &&
	corral ct create s3 --template busybox >/dev/null &&
	for spec in "data3:../etc" "data3:relative/x" "data3:/proc/x" "data3:/sys" "data3:/dev/shm" "data3:/" \
		"data3:/a/../b" "data3:/a//b" "data3:/a b" "data3:/x:rx" "data3" ":/x" "../v:/x" "nosuch:/x" "q1:/x" \
		"data1:/other" "s1-root:/x" "data2:/mnt/ro"; do
		fails corral ct edit s3 --mount "$spec" 2>err || return 1
		grep -Eq "invalid|must|may only|in /proc|not found|not a directory volume|used by|root itself|mounted twice|two mounts|want" err ||
			{ say "spec $spec: $(cat err)"; return 1; }
	done &&
	api PUT /v1/containers/s3 "{\"name\":\"s3\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"data3\",\"path\":\"/x\",\"bogus\":1}]}" | grep -q "HTTP 400" &&
	api PUT /v1/containers/s3 "{\"name\":\"s3\",\"template\":\"busybox\",\"volume\":\"data3\"}" | grep -q "HTTP 400" &&
	[ "$(mounts s3)" = "[]" ] && [ "$(mounts s1)" = "$before" ] && vol data3 | jq -e ".used_by == null" >/dev/null &&
	[ -z "$(ls -A "$STATE/storage/data3")" ] &&
	corral ct edit s1 --unmount /mnt/ro >/dev/null && vol data2 | jq -e ".used_by == null" >/dev/null &&
	[ "$(mounts s1 | jq length)" = 1 ] && corral ct delete --yes s3 >/dev/null && [ ! -e "$STATE/storage/s3-root" ]
'

test_expect "a mount target that is a symlink in the root (to a host path) fails the start; the host path is untouched" '
	corral ct create s4 --template busybox >/dev/null && mkdir -p "$T/hostdir" && echo mine >"$T/hostdir/keep" &&
	ln -s "$T/hostdir" "$STATE/storage/s4-root/rootfs/evil" &&
	corral ct edit s4 --mount data3:/evil >/dev/null &&
	fails corral ct start s4 2>err && grep -q "did not start" err &&
	grep -q "evil.*was a symbolic link" "$LXCP/s4/lxc.log" &&
	[ "$(ls -A "$T/hostdir")" = keep ] && ! grep -q " $T/hostdir " /proc/self/mountinfo &&
	[ "$(corral ct show s4 --json | jq -r .state)" = stopped ] && corral ct delete --yes s4 >/dev/null &&
	vol data3 | jq -e ".used_by == null" >/dev/null
'

test_expect "a root from before roots were volumes (in the lxcpath) starts as it is; ct move puts it into a pool" '
	corral ct create old --template busybox >/dev/null && stop_daemon &&
	mkdir -p "$LXCP/old" && mv "$STATE/storage/old-root/rootfs" "$LXCP/old/rootfs" && rmdir "$STATE/storage/old-root" &&
	python3 -c "import sqlite3, json, sys
db = sqlite3.connect(sys.argv[1])
d = json.loads(db.execute(\"SELECT def FROM containers WHERE name = ?\", (\"old\",)).fetchone()[0])
del d[\"volume\"]
db.execute(\"UPDATE containers SET def = ? WHERE name = ?\", (json.dumps(d), \"old\"))
db.execute(\"DELETE FROM volumes WHERE name = ?\", (\"old-root\",))
db.commit()" "$STATE/state.db" &&
	start_daemon && sed -i "s|^lxc.rootfs.path = .*|lxc.rootfs.path = dir:$LXCP/old/rootfs|" "$LXCP/old/config" &&
	corral ct show old | grep -Eq "^root path: +$LXCP/old/rootfs \(no pool volume" &&
	corral ct start old >/dev/null && corral ct exec old -- sh -c "echo legacy >/root/l" && corral ct stop old >/dev/null &&
	corral ct move old --pool p1 >/dev/null && [ ! -e "$LXCP/old/rootfs" ] && [ -f "$LXCP/old/config" ] &&
	vol old-root | jq -e ".pool == \"p1\" and .used_by == \"old\"" >/dev/null &&
	corral ct start old >/dev/null && [ "$(corral ct exec old -- cat /root/l)" = legacy ] && corral ct kill old >/dev/null
'

test_expect "kill -9 of corrald mid-move: one whole root in use, the other copy gone, the job settled" '
	dd if=/dev/urandom of="$T/p1/old-root/rootfs/root/big" bs=1M count=150 status=none &&
	killed_mid_move old old-root .old-root.move old-root/rootfs &&
	corral ct start old >/dev/null && [ "$(corral ct exec old -- cat /root/l)" = legacy ] &&
	[ "$(corral ct exec old -- stat -c %s /root/big)" = 157286400 ] && corral ct kill old >/dev/null
'

test_expect "an image root: an ext4 file in the pool, loop-mounted at start, unmounted at stop, re-adopted after kill -9; its snapshots" '
	fails corral ct create i1 --template busybox --image 1M 2>err && grep -q "at least 64M" err &&
	api POST /v1/containers "{\"name\":\"i1\",\"rootfs\":\"$T/p1\",\"image_size\":134217728}" | grep -q "HTTP 400" &&
	corral ct create i1 --template busybox --image 128M --pool p1 >/dev/null &&
	[ -f "$T/p1/i1-root.ext4" ] && [ "$(stat -c %s "$T/p1/i1-root.ext4")" = 134217728 ] &&
	vol i1-root | jq -e ".format == \"ext4\" and .capacity == 134217728 and .used_by == \"i1\"" >/dev/null &&
	! mountpoint -q "$LXCP/i1/image" &&
	corral ct start i1 >/dev/null && mountpoint -q "$LXCP/i1/image" &&
	corral ct exec i1 -- sh -c "echo inimage >/root/f" &&
	[ "$(corral ct exec i1 -- df -P / | awk "NR == 2 { print \$2 }")" -gt 100000 ] &&
	corral ct show i1 --json | jq -e ".status.storage.root.mounted == true" >/dev/null &&
	kill9_daemon && sleep 0.2 && start_daemon &&
	[ "$(corral ct show i1 --json | jq -r .state)" = running ] && [ "$(corral ct exec i1 -- cat /root/f)" = inimage ] &&
	[ "$(grep -c " $LXCP/i1/image " /proc/self/mountinfo)" = 1 ] &&
	corral ct stop i1 >/dev/null && ! mountpoint -q "$LXCP/i1/image" &&
	corral ct snapshot create i1 s1 >/dev/null && ! mountpoint -q "$LXCP/i1/image" &&
	corral ct start i1 >/dev/null && corral ct exec i1 -- rm /root/f && corral ct stop i1 >/dev/null &&
	corral ct snapshot revert --yes i1 s1 >/dev/null && ! mountpoint -q "$LXCP/i1/image" &&
	corral ct start i1 >/dev/null && [ "$(corral ct exec i1 -- cat /root/f)" = inimage ] &&
	corral ct exec i1 -- test -d /root && corral ct kill i1 >/dev/null &&
	corral ct snapshot delete --yes i1 s1 >/dev/null && ! mountpoint -q "$LXCP/i1/image"
'

test_expect "ct move of an image root: refused running or without room, nothing changed; moved with its holes and snapshot, the old file gone" '
	corral ct snapshot create i1 s2 >/dev/null && corral ct start i1 >/dev/null &&
	fails corral ct move i1 --pool p2 2>err && grep -q "running: stop it first" err && [ ! -e "$T/p2/i1-root.ext4" ] &&
	corral ct stop i1 >/dev/null &&
	fails corral ct move i1 --pool tiny 2>err && grep -q "not enough space" err && grep -q "pool .tiny. cannot hold the root" err &&
	[ -z "$(ls -A "$T/tiny")" ] && vol i1-root | jq -e ".pool == \"p1\"" >/dev/null && [ -f "$T/p1/i1-root.ext4" ] &&
	corral ct move i1 --pool p2 --json >job.json &&
	jq -e ".state == \"succeeded\" and .result.pool == \"p2\" and .result.from_pool == \"p1\" and .result.bytes > 0" job.json >/dev/null &&
	[ ! -e "$T/p1/i1-root.ext4" ] && [ -f "$T/p2/i1-root.ext4" ] && [ -z "$(ls -A "$T/p2" | grep "^\.")" ] &&
	[ "$(stat -c %s "$T/p2/i1-root.ext4")" = 134217728 ] && [ "$(($(stat -c %b "$T/p2/i1-root.ext4") * 512))" -lt 67108864 ] &&
	vol i1-root | jq -e ".pool == \"p2\" and .path == \"$T/p2/i1-root.ext4\" and .format == \"ext4\" and .used_by == \"i1\"" >/dev/null &&
	corral ct snapshot list i1 --json | jq -e "[.snapshots[].name] == [\"s2\"]" >/dev/null &&
	corral ct start i1 >/dev/null && [ "$(corral ct exec i1 -- cat /root/f)" = inimage ] &&
	[ -d "$LXCP/i1/image/snapshots/s2/rootfs/bin" ] && corral ct stop i1 >/dev/null &&
	corral ct snapshot revert --yes i1 s2 >/dev/null &&
	corral ct show i1 --json | jq -e "[.status.events[].detail] | any(test(\"root moved to pool p2\"))" >/dev/null &&
	img=$(readlink -f "$T/p2/i1-root.ext4") &&
	corral ct delete --yes i1 >/dev/null && [ ! -e "$T/p2/i1-root.ext4" ] && [ ! -e "$LXCP/i1" ] &&
	[ -z "$(losetup -j "$img")" ]
'

test_expect "a cancel or a kill -9 of corrald mid-move of an image root: one whole image in use, the other gone, the job settled" '
	corral ct create i3 --template busybox --image 256M --pool p1 >/dev/null && corral ct start i3 >/dev/null &&
	dd if=/dev/urandom of="$LXCP/i3/image/rootfs/root/big" bs=1M count=150 status=none && corral ct stop i3 >/dev/null &&
	cancelled_move i3 &&
	[ -z "$(ls -A "$T/p2" | grep i3-root)" ] && vol i3-root | jq -e ".pool == \"p1\"" >/dev/null &&
	killed_mid_move i3 i3-root .i3-root.ext4.move i3-root.ext4 &&
	corral ct start i3 >/dev/null && [ "$(corral ct exec i3 -- stat -c %s /root/big)" = 157286400 ] &&
	corral ct kill i3 >/dev/null && corral ct delete --yes i3 >/dev/null &&
	[ ! -e "$T/p1/i3-root.ext4" ] && [ ! -e "$T/p2/i3-root.ext4" ]
'

test_expect "delete removes the root volume; its mount points volumes stay, free" '
	corral ct kill s1 >/dev/null 2>&1; corral ct delete --yes s1 old >/dev/null &&
	[ ! -e "$T/p2/s1-root" ] && [ ! -e "$T/p1/old-root" ] && [ ! -e "$T/p2/old-root" ] && [ -z "$(vol s1-root)" ] &&
	[ -z "$(vol old-root)" ] &&
	vol data1 | jq -e ".used_by == null" >/dev/null && [ "$(cat "$T/p1/data1/hello")" = inside ] &&
	corral disk delete --yes data1 >/dev/null && [ ! -e "$T/p1/data1" ]
'

finish
