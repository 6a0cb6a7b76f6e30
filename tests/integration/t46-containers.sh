#!/usr/bin/env bash
# t46-containers.sh - system containers through liblxc (docs/containers.md):
# a real busybox container is created, started, seen from inside through
# `ct exec` and `ct console`, survives a kill -9 of corrald and is still
# controlled by the next corrald, stops gracefully and is deleted without
# a trace; bad input is refused with nothing made.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
# root's subordinate ids for unprivileged containers (what `make install` sets up)
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
setup_daemon
# a failed run leaves no container behind (lib.sh's cleanup knows only VMs)
trap 'corral ct kill "name:*" >/dev/null 2>&1; cleanup' EXIT
LXCP=$STATE/lxc
UIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)

ct_state() { corral ct show "$1" --json | jq -r .state; }
ct_pid() { corral ct show "$1" --json | jq -r .status.pid; }
# The entries of the lxcpath (none when it was never made).
lxc_entries() { ls -A "$LXCP" 2>/dev/null | sort | tr '\n' ' '; }

test_expect "create an unprivileged busybox container" '
	corral ct create c1 --template busybox >out && grep -q "created container c1 (unprivileged)" out &&
	[ "$(ct_state c1)" = stopped ] && [ -f "$LXCP/c1/config" ] &&
	[ "$(stat -c %u "$STATE/storage/c1-root/rootfs/bin/busybox")" = "$UIDBASE" ] &&
	grep -q "^lxc.idmap = u 0 $UIDBASE 65536" "$LXCP/c1/config" &&
	grep -q "^lxc.net.0.type = empty" "$LXCP/c1/config" &&
	corral ct list | grep -q "^c1 *stopped *no"
'

test_expect "bad input is refused and nothing is made" '
	before=$(lxc_entries) &&
	fails corral ct create ../x --template busybox 2>err && grep -q "invalid container name" err &&
	fails corral ct create "a b" --template busybox 2>err && grep -q "invalid container name" err &&
	fails corral ct create x1 --template alpine 2>err && grep -q "unknown container template" err &&
	fails corral ct create x1 --template debian --release buster 2>err && grep -q "unknown Debian release" err &&
	fails corral ct create x1 --template busybox --release bookworm 2>err && grep -q ".release. is for the debian template" err &&
	fails corral ct create x2 --rootfs /etc 2>err && grep -q "not inside a storage pool or an allow_path" err &&
	mkdir -p "$T/notadir" && touch "$T/afile" &&
	fails corral ct create x3 --rootfs "$T/afile" 2>err && grep -q "not a directory" err &&
	fails corral ct create x4 --rootfs "$T/notadir" 2>err && grep -q "owned by uid 0" err &&
	fails corral ct create x5 --rootfs "$T/notadir" --privileged 2>err && grep -q "no executable /sbin/init" err &&
	fails corral ct create x6 2>err && grep -q "give one of --template" err &&
	fails corral ct create c1 --template busybox 2>err && grep -q "already exists" err &&
	fails corral vm create c1 --memory 64M 2>err && grep -q "a container named .c1. already exists" err &&
	api POST /v1/containers "{\"name\":\"x7\",\"template\":\"busybox\",\"net\":\"lan\"}" >out &&
	grep -q "HTTP 400" out && grep -q "unknown field" out &&
	api POST /v1/containers "{\"name\":\"x8\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":1,\"gid_base\":1,\"count\":1}}" >out &&
	grep -q "HTTP 400" out &&
	[ "$(lxc_entries)" = "$before" ] && [ "$(corral ct list --json | jq ".containers | length")" = 1 ]
'

test_expect "start; exec sees the container hostname, its ids and exit status" '
	corral ct start c1 >out && grep -q "c1: running" out && [ "$(ct_state c1)" = running ] &&
	[ "$(corral ct exec c1 -- hostname)" = c1 ] &&
	corral ct exec c1 -- cat /proc/self/uid_map | grep -Eq "^ *0 +$UIDBASE +65536" &&
	{ corral ct exec c1 -- sh -c "echo out; echo err >&2; exit 7" >o 2>e; [ $? = 7 ]; } &&
	[ "$(cat o)" = out ] && [ "$(cat e)" = err ] &&
	corral ct exec c1 --json -- id -u | jq -e ".exit_status == 0 and .stdout == \"0\n\"" >/dev/null &&
	fails corral ct exec c1 --timeout 1 -- sleep 30 2>err && grep -q "ran longer than 1 s and was killed" err &&
	fails corral ct exec nosuch -- true 2>err && grep -q "not found" err
'

test_expect "the console shows the container shell prompt" '
	(echo "echo CONSOLE-\$((6*7))"; sleep 1) | corral ct console c1 --linger 1 >out &&
	tr -d "\r" <out | grep -q "^CONSOLE-42" && tr -d "\r" <out | grep -q "c1:/# "
'

test_expect "a running container is not deleted" '
	fails corral ct delete --yes c1 2>err && grep -q "running: stop it first" err && [ -d "$LXCP/c1" ]
'

test_expect "kill -9 corrald leaves the container running; the next corrald controls it" '
	pid=$(ct_pid c1) && [ "$pid" -gt 1 ] && kill9_daemon && sleep 0.5 &&
	kill -0 "$pid" && start_daemon &&
	[ "$(ct_state c1)" = running ] && [ "$(ct_pid c1)" = "$pid" ] &&
	[ "$(corral ct exec c1 -- hostname)" = c1 ]
'

test_expect "stop is graceful (init halts within the timeout, nothing killed)" '
	pid=$(ct_pid c1) && start=$SECONDS &&
	corral ct stop c1 --timeout 30 >out && grep -q "c1: stopped" out && [ $((SECONDS - start)) -lt 30 ] &&
	[ "$(ct_state c1)" = stopped ] && ! kill -0 "$pid" 2>/dev/null &&
	corral ct show c1 --json | jq -r ".status.events[].detail" | grep -qx stop &&
	sleep 0.3 && [ -z "$(ps -o stat= --ppid "$CORRALD_PID" | grep Z)" ]
'

test_expect "a privileged container from a given rootfs; delete keeps that directory" '
	cp -a "$STATE/storage/c1-root/rootfs" "$T/myroot" && chown -R 0:0 "$T/myroot" &&
	fails corral ct create r1 --rootfs "$T/myroot" 2>err && grep -q "owned by uid 0" err &&
	corral ct create r1 --rootfs "$T/myroot" --privileged >out && grep -q "(privileged)" out &&
	corral ct start r1 >/dev/null && [ "$(corral ct exec r1 -- hostname)" = r1 ] &&
	corral ct exec r1 -- cat /proc/self/uid_map | grep -Eq "^ *0 +0 +4294967295" &&
	corral list | grep -Eq "^container +r1 +running" &&
	corral list --json | jq -e "[.guests[] | select(.kind == \"container\")] | length == 2" >/dev/null &&
	corral ct kill r1 >out && grep -q "r1: stopped" out &&
	sleep 0.3 && [ -z "$(ps -o stat= --ppid "$CORRALD_PID" | grep Z)" ] &&
	corral ct delete --yes r1 && [ -x "$T/myroot/bin/busybox" ] && [ ! -e "$LXCP/r1" ]
'

test_expect "delete removes the lxcpath entry and the definition" '
	corral ct delete --yes c1 >out && grep -q "deleted container c1" out &&
	[ ! -e "$LXCP/c1" ] && fails corral ct show c1 2>err && grep -q "not found" err &&
	[ "$(sqlite3 "$STATE/state.db" "SELECT count(*) FROM containers" 2>/dev/null || echo 0)" = 0 ] &&
	[ "$(corral ct list --json | jq ".containers | length")" = 0 ]
'
finish
