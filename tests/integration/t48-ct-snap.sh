#!/usr/bin/env bash
# t48-ct-snap.sh - snapshots and clones of containers (docs/containers.md,
# "Snapshots and clones"): a snapshot of a stopped busybox container, a
# file deleted inside, a revert: the file is back; the method is listed;
# a running container and bad names or unknown snapshots are refused with
# nothing changed; what a crash leaves half made is cleaned at the next
# start; a clone starts on its own (its hostname, its files) and gets new
# MACs; deleting a container removes its snapshot copies; on btrfs all of
# it is subvolume snapshots.  An image root's clone is its own sparse image
# without the source's snapshots (a reflink on btrfs), refused while the
# source runs or without room, and a cancel or a kill -9 mid-clone leaves no
# half of it.
# And `ct reboot`.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
setup_daemon
NET=t48n$((RANDOM % 10000))
snap_cleanup() {
	if [ -n "$CORRALD_PID" ]; then
		corral ct kill "name:*" >/dev/null 2>&1
		corral ct delete --yes c1 c1-copy r1 n1 n2 b1 b2 b3 b4 k1 k2 k3 i1 i2 i3 i4 i5 i6 >/dev/null 2>&1
		corral net delete --yes "$NET" >/dev/null 2>&1
	fi
	if [ -n "$BTR" ] && mountpoint -q "$RV"; then umount "$RV" || umount -l "$RV"; fi
	if mountpoint -q "$T/small"; then umount "$T/small" || umount -l "$T/small"; fi
	return 0
}
trap 'snap_cleanup; cleanup' EXIT
LXCP=$STATE/lxc
# template roots are directory volumes of the default pool (docs/containers.md, "Storage")
RV=$STATE/storage
UIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)
KILLLOG=${KILLLOG:-/dev/null}  # where the kill -9 check notes whether it hit before or after the swap
ct_state() { corral ct show "$1" --json | jq -r .state; }
snaps() { corral ct snapshot list "$1" --json | jq -r '[.snapshots[].name] | join(" ")'; }
vol() { corral disk list --json | jq -c ".volumes[] | select(.name == \"$1\")"; }

test_expect "snapshot a stopped container: a copy with owners kept, its method listed" '
	corral ct create c1 --template busybox >/dev/null &&
	corral __complete ct snapshot list "" | grep -qx c1 && corral __complete ct clone "" | grep -qx c1 &&
	corral ct start c1 >/dev/null &&
	corral ct exec c1 -- sh -c "echo kept >/root/keep" && corral ct stop c1 >/dev/null &&
	corral ct snapshot create c1 s1 >out && grep -Eq "took snapshot s1 of container c1 \((copy|reflink|btrfs-snapshot), " out &&
	m=$(corral ct snapshot list c1 --json | jq -r ".snapshots[0].method") &&
	case $m in copy|reflink|btrfs-snapshot) ;; *) false ;; esac &&
	corral ct snapshot list c1 | grep -Eq "^s1 +.* $m +" &&
	[ "$(cat "$RV/c1-root/snapshots/s1/rootfs/root/keep")" = kept ] &&
	[ "$(stat -c %u:%g "$RV/c1-root/snapshots/s1/rootfs/root/keep")" = "$UIDBASE:$UIDBASE" ] &&
	[ "$(stat -c %a "$RV/c1-root/snapshots/s1/rootfs/tmp")" = 1777 ] &&
	[ -L "$RV/c1-root/snapshots/s1/rootfs/bin/sh" ] &&
	corral ct show c1 --json | jq -e ".snapshots[0].name == \"s1\"" >/dev/null &&
	corral ct show c1 | grep -Eq "^snapshots: +s1 \($m\)"
'

test_expect "a running container: snapshot and revert refused, nothing changed" '
	corral ct start c1 >/dev/null && corral ct exec c1 -- rm /root/keep &&
	fails corral ct snapshot create c1 s2 2>err && grep -q "running: stop it first" err &&
	fails corral ct snapshot revert --yes c1 s1 2>err && grep -q "running: stop it first" err &&
	[ "$(snaps c1)" = s1 ] && [ ! -e "$RV/c1-root/snapshots/s2" ] && [ "$(ct_state c1)" = running ]
'

test_expect "revert brings the deleted file back" '
	corral ct stop c1 >/dev/null &&
	corral ct snapshot revert --yes c1 s1 >out && grep -q "reverted container c1 to snapshot s1" out &&
	[ ! -e "$RV/c1-root/rootfs.revert" ] && corral ct start c1 >/dev/null &&
	[ "$(corral ct exec c1 -- cat /root/keep)" = kept ] &&
	[ "$(snaps c1)" = s1 ] && corral ct show c1 --json | jq -e "[.status.events[].detail] | any(test(\"reverted to snapshot .s1.\"))" >/dev/null
'

test_expect "bad names and unknown snapshots are refused with nothing changed" '
	corral ct stop c1 >/dev/null && before=$(ls -A "$RV/c1-root/snapshots") &&
	fails corral ct snapshot create c1 ../x 2>err && grep -q "invalid snapshot name" err &&
	fails corral ct snapshot create c1 .hidden 2>err && grep -q "invalid snapshot name" err &&
	fails corral ct snapshot create c1 "a b" 2>err && grep -q "invalid snapshot name" err &&
	fails corral ct snapshot create c1 s1 2>err && grep -q "has a snapshot .s1. already" err &&
	fails corral ct snapshot revert --yes c1 nosuch 2>err && grep -q "has no snapshot .nosuch." err &&
	fails corral ct snapshot delete --yes c1 nosuch 2>err && grep -q "has no snapshot .nosuch." err &&
	fails corral ct snapshot create nosuch s1 2>err && grep -q "not found" err &&
	fails corral ct snapshot bogus c1 2>err && grep -q "want create, list, revert or delete" err &&
	api POST /v1/containers/c1/snapshots "{\"name\":\"s9\",\"memory\":true}" | grep -q "HTTP 400" &&
	api POST /v1/containers/c1/snapshots/..%2Fetc/revert | grep -q "HTTP 40" &&
	[ "$(ls -A "$RV/c1-root/snapshots")" = "$before" ] && [ "$(snaps c1)" = s1 ]
'

test_expect "what a crash leaves half made is removed at the next start" '
	mkdir -p "$RV/c1-root/rootfs.revert/etc" "$RV/c1-root/snapshots/.part-s5/rootfs/etc" &&
	corral ct start c1 >/dev/null && [ ! -e "$RV/c1-root/rootfs.revert" ] && [ ! -e "$RV/c1-root/snapshots/.part-s5" ] &&
	[ -d "$RV/c1-root/snapshots/s1/rootfs" ] && corral ct stop c1 >/dev/null
'

test_expect "kill -9 of corrald mid-revert: the root is whole (old or new), the next start cleans up" '
	corral ct create k1 --template busybox >/dev/null &&
	dd if=/dev/urandom of="$RV/k1-root/rootfs/big" bs=1M count=200 status=none &&
	mkdir "$RV/k1-root/rootfs/many" && (cd "$RV/k1-root/rootfs/many" && seq 1 30000 | xargs touch) &&
	corral ct snapshot create k1 s1 >/dev/null && echo new >"$RV/k1-root/rootfs/marker" &&
	api POST /v1/containers/k1/snapshots/s1/revert | grep -q "HTTP 202" &&
	for _ in $(seq 1 100); do [ -e "$RV/k1-root/rootfs.revert" ] && break; sleep 0.02; done &&
	[ -e "$RV/k1-root/rootfs.revert" ] && kill9_daemon && sleep 0.2 && start_daemon &&
	[ -x "$RV/k1-root/rootfs/bin/busybox" ] && [ "$(stat -c %s "$RV/k1-root/rootfs/big")" = 209715200 ] &&
	{ [ -e "$RV/k1-root/rootfs/marker" ] && echo before >>"$KILLLOG" || echo after >>"$KILLLOG"; } &&
	corral ct start k1 >/dev/null && [ ! -e "$RV/k1-root/rootfs.revert" ] &&
	[ "$(corral ct exec k1 -- hostname)" = k1 ] && corral ct kill k1 >/dev/null &&
	corral ct snapshot revert --yes k1 s1 >/dev/null && [ ! -e "$RV/k1-root/rootfs/marker" ] &&
	[ "$(snaps k1)" = s1 ]
'

test_expect "kill -9 of corrald mid-clone: the next corrald removes the half clone and fails its job" '
	job=$(api POST /v1/containers/k1/clone "{\"name\":\"k3\"}" | sed "\$d" | jq -r .job.id) && [ "$job" -gt 0 ] &&
	for _ in $(seq 1 100); do [ -e "$RV/k3-root/rootfs" ] && break; sleep 0.02; done &&
	[ -e "$RV/k3-root/rootfs" ] && kill9_daemon && sleep 0.2 && start_daemon &&
	[ ! -e "$LXCP/k3" ] && [ ! -e "$RV/k3-root" ] && fails corral ct show k3 2>/dev/null &&
	! corral disk list --json | jq -e ".volumes[] | select(.name == \"k3-root\")" >/dev/null &&
	api GET "/v1/jobs/$job" | sed "\$d" | jq -e ".state == \"failed\"" >/dev/null &&
	corral ct create k3 --template busybox >/dev/null && corral ct delete --yes k3 >/dev/null
'

test_expect "a cancelled clone stops its copy and leaves nothing" '
	job=$(api POST /v1/containers/k1/clone "{\"name\":\"k2\"}" | sed "\$d" | jq -r .job.id) && [ "$job" -gt 0 ] &&
	corral job cancel "$job" >/dev/null &&
	for _ in $(seq 1 100); do st=$(api GET "/v1/jobs/$job" | sed "\$d" | jq -r .state); [ "$st" != running ] && break; sleep 0.1; done &&
	[ "$st" = cancelled ] && [ ! -e "$LXCP/k2" ] && [ ! -e "$RV/k2-root" ] && fails corral ct show k2 2>/dev/null &&
	corral ct delete --yes k1 >/dev/null && [ ! -e "$LXCP/k1" ] && [ ! -e "$RV/k1-root" ]
'

test_expect "a second snapshot is deleted with its copy" '
	corral ct snapshot create c1 s2 >/dev/null && [ "$(snaps c1)" = "s1 s2" ] &&
	corral ct snapshot delete --yes c1 s2 >out && grep -q "deleted snapshot s2 of container c1" out &&
	[ ! -e "$RV/c1-root/snapshots/s2" ] && [ "$(snaps c1)" = s1 ]
'

test_expect "a clone starts on its own: its hostname, its own files, no snapshots" '
	fails corral ct clone c1 ../x 2>err && grep -q "invalid container name" err &&
	fails corral ct clone c1 c1 2>err && grep -q "already exists" err &&
	fails corral ct clone nosuch c9 2>err && grep -q "not found" err &&
	[ ! -e "$LXCP/x" ] && [ ! -e "$LXCP/c9" ] &&
	corral ct clone c1 c1-copy >out && grep -q "cloned container c1 as c1-copy" out &&
	[ "$(corral ct show c1-copy --json | jq -r .uuid)" != "$(corral ct show c1 --json | jq -r .uuid)" ] &&
	[ "$(snaps c1-copy)" = "" ] && [ "$(ct_state c1-copy)" = stopped ] &&
	corral ct start c1-copy c1 >/dev/null &&
	[ "$(corral ct exec c1-copy -- hostname)" = c1-copy ] &&
	[ "$(corral ct exec c1-copy -- cat /root/keep)" = kept ] &&
	corral ct exec c1-copy -- sh -c "echo mine >/root/onlyclone" &&
	corral ct exec c1 -- test ! -e /root/onlyclone &&
	fails corral ct clone c1 c3 2>err && grep -q "running: stop it first" err && [ ! -e "$LXCP/c3" ]
'

test_expect "ct reboot: a graceful stop and a start; a stopped container is refused" '
	pid=$(corral ct show c1-copy --json | jq .status.pid) &&
	corral ct reboot c1-copy --timeout 30 >out && grep -q "c1-copy: running" out &&
	pid2=$(corral ct show c1-copy --json | jq .status.pid) && [ "$pid2" -gt 1 ] && [ "$pid2" != "$pid" ] &&
	[ "$(corral ct exec c1-copy -- cat /root/onlyclone)" = mine ] &&
	corral ct stop c1-copy >/dev/null &&
	fails corral ct reboot c1-copy 2>err && grep -q "not running: start it" err && [ "$(ct_state c1-copy)" = stopped ] &&
	corral ct start c1-copy >/dev/null
'

test_expect "a --rootfs directory of the admin is refused for snapshots and clones" '
	cp -a "$RV/c1-copy-root/rootfs" "$T/myroot" && chown -R 0:0 "$T/myroot" &&
	corral ct create r1 --rootfs "$T/myroot" --privileged >/dev/null &&
	fails corral ct snapshot create r1 s1 2>err && grep -q "rootfs directory of your own" err &&
	fails corral ct clone r1 r2 2>err && grep -q "rootfs directory of your own" err &&
	[ ! -e "$LXCP/r1/snapshots" ] && [ ! -e "$LXCP/r2" ] && corral ct delete --yes r1 >/dev/null
'

test_expect "deleting a container removes its snapshot copies" '
	corral ct kill c1 c1-copy >/dev/null && corral ct delete --yes c1 >/dev/null &&
	[ ! -e "$LXCP/c1" ] && [ ! -e "$RV/c1-root" ] && corral ct delete --yes c1-copy >/dev/null &&
	[ ! -e "$LXCP/c1-copy" ] && [ ! -e "$RV/c1-copy-root" ]
'

test_expect "an image root clones into its own sparse image without snapshots: it starts with the files; the two stay apart" '
	corral ct create i1 --template busybox --image 96M >/dev/null && corral ct start i1 >/dev/null &&
	corral ct exec i1 -- sh -c "echo before >/root/f" &&
	fails corral ct clone i1 i2 2>err && grep -q "running: stop it first" err &&
	fails corral ct show i2 2>/dev/null && [ ! -e "$RV/i2-root.ext4" ] && [ ! -e "$LXCP/i2" ] && [ -z "$(vol i2-root)" ] &&
	corral ct stop i1 >/dev/null && corral ct snapshot create i1 s1 >/dev/null &&
	corral ct clone i1 i2 --json >out && jq -e ".source == \"i1\" and (.method == \"copy\" or .method == \"reflink\") and .size > 0" out >/dev/null &&
	[ "$(stat -c %s "$RV/i2-root.ext4")" = 100663296 ] && [ "$(($(stat -c %b "$RV/i2-root.ext4") * 512))" -lt 50331648 ] &&
	vol i2-root | jq -e ".format == \"ext4\" and .used_by == \"i2\"" >/dev/null &&
	[ "$(snaps i2)" = "" ] && [ "$(snaps i1)" = s1 ] && ! mountpoint -q "$LXCP/i1/image" && ! mountpoint -q "$LXCP/i2/image" &&
	corral ct start i2 >/dev/null && [ ! -e "$LXCP/i2/image/snapshots" ] &&
	[ "$(corral ct exec i2 -- hostname)" = i2 ] && [ "$(corral ct exec i2 -- cat /root/f)" = before ] &&
	corral ct exec i2 -- sh -c "echo clone >/root/f && echo mine >/root/g" && corral ct kill i2 >/dev/null &&
	corral ct start i1 >/dev/null && [ "$(corral ct exec i1 -- cat /root/f)" = before ] &&
	corral ct exec i1 -- test ! -e /root/g && [ -d "$LXCP/i1/image/snapshots/s1/rootfs/bin" ] &&
	corral ct kill i1 >/dev/null && corral ct start i2 >/dev/null && [ "$(corral ct exec i2 -- cat /root/f)" = clone ] &&
	corral ct kill i2 >/dev/null
'

test_expect "an image clone without room in its pool fails before copying; a cancel or kill -9 mid-clone leaves no half of it" '
	mkdir -p "$T/small" && mount -t tmpfs -o size=120m tmpfs "$T/small" && corral pool create small "$T/small" >/dev/null &&
	corral ct create i3 --template busybox --image 100M --pool small >/dev/null && corral ct start i3 >/dev/null &&
	dd if=/dev/urandom of="$LXCP/i3/image/rootfs/root/fill" bs=1M count=64 status=none && corral ct stop i3 >/dev/null &&
	sum=$(md5sum <"$T/small/i3-root.ext4") &&
	fails corral ct clone i3 i4 2>err && grep -q "not enough space in $T/small" err &&
	fails corral ct show i4 2>/dev/null && [ ! -e "$LXCP/i4" ] && [ -z "$(vol i4-root)" ] &&
	[ "$(ls -A "$T/small")" = i3-root.ext4 ] && [ "$(md5sum <"$T/small/i3-root.ext4")" = "$sum" ] &&
	corral ct delete --yes i3 >/dev/null && [ -z "$(ls -A "$T/small")" ] &&
	corral ct create i5 --template busybox --image 256M >/dev/null && corral ct start i5 >/dev/null &&
	dd if=/dev/urandom of="$LXCP/i5/image/rootfs/root/big" bs=1M count=200 status=none && corral ct stop i5 >/dev/null &&
	job=$(api POST /v1/containers/i5/clone "{\"name\":\"i6\"}" | sed "\$d" | jq -r .job.id) && [ "$job" -gt 0 ] &&
	corral job cancel "$job" >/dev/null &&
	for _ in $(seq 1 100); do st=$(api GET "/v1/jobs/$job" | sed "\$d" | jq -r .state); [ "$st" != running ] && break; sleep 0.1; done &&
	[ "$st" = cancelled ] && [ ! -e "$LXCP/i6" ] && [ ! -e "$RV/i6-root.ext4" ] && [ -z "$(vol i6-root)" ] &&
	job=$(api POST /v1/containers/i5/clone "{\"name\":\"i6\"}" | sed "\$d" | jq -r .job.id) && [ "$job" -gt 0 ] &&
	for _ in $(seq 1 200); do [ -e "$RV/i6-root.ext4" ] && break; sleep 0.01; done &&
	kill9_daemon && sleep 0.2 && start_daemon &&
	st=$(api GET "/v1/jobs/$job" | sed "\$d" | jq -r .state) && say "the clone job after the restart: $st" &&
	case $st in
	failed) [ ! -e "$LXCP/i6" ] && [ ! -e "$RV/i6-root.ext4" ] && [ -z "$(vol i6-root)" ] && fails corral ct show i6 2>/dev/null ;;
	succeeded) say "the clone was over before the kill"; corral ct start i6 >/dev/null && corral ct kill i6 >/dev/null ;;
	*) false ;;
	esac &&
	! grep -q " $LXCP/i6/image " /proc/self/mountinfo &&
	corral ct start i5 >/dev/null && [ "$(corral ct exec i5 -- stat -c %s /root/big)" = 209715200 ] &&
	corral ct kill i5 >/dev/null && corral ct delete --yes i1 i2 i5 >/dev/null && { corral ct delete --yes i6 >/dev/null 2>&1 || true; } &&
	[ -z "$(ls -A "$RV")" ] && [ ! -e "$LXCP/i1" ] && [ ! -e "$LXCP/i2" ]
'

# On btrfs (a loop-mounted image over the now empty default pool): roots are
# subvolumes, snapshots, reverts and clones are subvolume snapshots.
if command -v mkfs.btrfs >/dev/null && truncate -s 300M "$T/btr.img" && mkfs.btrfs -q "$T/btr.img" >/dev/null 2>&1 &&
	[ -z "$(ls -A "$RV")" ] && mount -o loop "$T/btr.img" "$RV"; then
	BTR=1
	test_expect "on btrfs: the root is a subvolume; snapshot, revert and clone are subvolume snapshots" '
		corral ct create b1 --template busybox >/dev/null && [ "$(stat -c %i "$RV/b1-root/rootfs")" = 256 ] &&
		corral ct start b1 >/dev/null && corral ct exec b1 -- sh -c "echo kept >/root/keep" &&
		corral ct stop b1 >/dev/null &&
		corral ct snapshot create b1 s1 >out && grep -q "(btrfs-snapshot, " out &&
		[ "$(stat -c %i "$RV/b1-root/snapshots/s1/rootfs")" = 256 ] &&
		corral ct start b1 >/dev/null && corral ct exec b1 -- rm /root/keep && corral ct stop b1 >/dev/null &&
		corral ct snapshot revert --yes b1 s1 --json >out &&
		jq -e ".method == \"btrfs-snapshot\"" out >/dev/null && [ "$(stat -c %i "$RV/b1-root/rootfs")" = 256 ] &&
		corral ct clone b1 b2 --json | jq -e ".method == \"btrfs-snapshot\"" >/dev/null &&
		corral ct start b1 b2 >/dev/null && [ "$(corral ct exec b1 -- cat /root/keep)" = kept ] &&
		[ "$(corral ct exec b2 -- hostname)" = b2 ] && corral ct exec b2 -- touch /root/b2only &&
		corral ct exec b1 -- test ! -e /root/b2only &&
		corral ct kill b1 b2 >/dev/null && corral ct delete --yes b1 b2 >/dev/null &&
		corral ct create b3 --template busybox --image 64M >/dev/null &&
		corral ct clone b3 b4 --json | jq -e ".method == \"reflink\"" >/dev/null &&
		corral ct start b4 >/dev/null && [ "$(corral ct exec b4 -- hostname)" = b4 ] && corral ct kill b4 >/dev/null &&
		corral ct delete --yes b3 b4 >/dev/null &&
		[ -z "$(ls -A "$RV")" ] && [ -z "$(btrfs subvolume list "$RV")" ]
	'
	umount "$RV" && BTR=
else
	say "skipped the btrfs checks: no mkfs.btrfs or no loop mount here"
fi

# NICs need a network; skip that part when another script holds the host's network
exec 8>"${TMPDIR:-/tmp}/corral-test-hostnet.lock"
if flock -w 20 8; then
	test_expect "a clone of a container with NICs gets new MACs on the same networks" '
		corral net create "$NET" --subnet 10.148.$((RANDOM % 200 + 20)).0/24 >/dev/null &&
		corral ct create n1 --template busybox --nic net=$NET --nic net=$NET >/dev/null &&
		corral ct clone n1 n2 >/dev/null &&
		a=$(corral ct show n1 --json | jq -r "[.nics[].mac] | join(\" \")") &&
		b=$(corral ct show n2 --json | jq -r "[.nics[].mac] | join(\" \")") &&
		[ -n "$a" ] && [ -n "$b" ] && [ "$(echo $b | wc -w)" = 2 ] &&
		for m in $b; do case " $a " in *" $m "*) false ;; esac; done &&
		corral ct show n2 --json | jq -e "[.nics[].network] == [\"$NET\", \"$NET\"]" >/dev/null &&
		corral ct delete --yes n1 n2 >/dev/null && corral net delete --yes "$NET" >/dev/null
	'
else
	say "skipped the NIC clone check: the host network lock was busy"
fi
finish
