#!/usr/bin/env bash
# soak-ct-debian.sh - the debian template end to end (docs/containers.md,
# "The debian template"): slow, it needs Debian's archive (the host's
# mirror) and builds the base with debootstrap (minutes), so it runs in
# `make soak`, not in the integration suite.  A kill -9 of corrald while
# debootstrap runs (its /proc mounted in the tree): the next corrald ends
# the build's session and removes the tree with its mounts.  A container with a NIC on a
# corral network is created (the base built and cached), started: init is
# systemd, /etc/debian_version and the hostname are right, networkd gets a
# lease from the network's dnsmasq; a graceful stop halts it (SIGRTMIN+3,
# no --force); a second container of the release unpacks the cached base
# in seconds; both are deleted with nothing left.  Prints the timings.
# Environment: CORRALD, CORRAL, GUEST_DIR as for tests/integration/*.sh;
# RELEASE (default bookworm).
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/integration/lib.sh"
TEST_NAME=soak-ct-debian
hold_host_net
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
setup_daemon
RELEASE=${RELEASE:-bookworm}
NET=sd$((RANDOM % 10000))
OCT=$((RANDOM % 200 + 20))
deb_cleanup() {
	if [ -n "$CORRALD_PID" ]; then
		corral ct kill d1 d2 >/dev/null 2>&1
		corral ct delete --yes d1 d2 >/dev/null 2>&1
		corral net delete --yes "$NET" >/dev/null 2>&1
	fi
	return 0
}
trap 'deb_cleanup; cleanup' EXIT
case "$RELEASE" in bookworm) VERSION=12 ;; bullseye) VERSION=11 ;; trixie) VERSION=13 ;; *) VERSION=. ;; esac
# running CT: exec works (systemd is up far enough to be attached to)
running() {
	for _ in $(seq 1 120); do
		corral ct exec "$1" -- true >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}
# note TEXT: a timing, printed at the end
note() { echo "# $*" >>"$T/timings"; }
ct_ip() {
	local ip
	for _ in $(seq 1 120); do
		ip=$(corral ct show "$1" --json | jq -r ".status.nics[0].ip") && [ "$ip" != null ] && { echo "$ip"; return 0; }
		sleep 0.5
	done
	say "container $1 got no lease"; return 1
}

# mounted_under DIR: a mount point below DIR
mounted_under() { awk -v d="$1/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; }

test_expect "kill -9 of corrald mid-debootstrap: the next one ends the build's session, unmounts and removes its tree" '
	job=$(api POST /v1/containers "{\"name\":\"k1\",\"template\":\"debian\",\"release\":\"$RELEASE\"}" | sed "\$d" | jq -r .job.id) &&
	[ "$job" -gt 0 ] && build=$(echo "$STATE"/cache/.build-debian-"$RELEASE"-*) &&
	for _ in $(seq 1 600); do mounted_under "$build" && break; sleep 0.5; done &&
	mounted_under "$build" && sid=$(cat "$build/session") && kill -0 -- "-$sid" &&
	note "debootstrap mounted in its tree after $SECONDS s of the script; corrald killed" &&
	kill9_daemon && sleep 1 && left=$(pgrep -g "$sid" | wc -l) && note "processes of the build left after 1 s: $left" &&
	start_daemon &&
	for _ in $(seq 1 100); do [ ! -e "$build" ] && break; sleep 0.1; done &&
	[ ! -e "$build" ] && [ -z "$(pgrep -g "$sid")" ] && ! mounted_under "$build" &&
	corral job show "$job" --json | jq -e ".state == \"failed\"" >/dev/null &&
	{ [ "$left" = 0 ] || grep -q "ending the build.s session $sid" "$T/corrald.log"; } &&
	fails corral ct show k1 2>/dev/null && [ ! -e "$STATE/lxc/k1" ] &&
	[ -z "$(ls "$STATE"/cache/*.tar.zst 2>/dev/null)" ]
'

test_expect "debian $RELEASE: built, cached, booted with systemd, named, leased, stopped gracefully" '
	corral net create "$NET" --subnet "10.148.$OCT.0/24" >/dev/null &&
	t0=$SECONDS && corral ct create d1 --template debian --release "$RELEASE" --nic "net=$NET" >out &&
	note "first create (debootstrap + cache + unpack): $((SECONDS - t0)) s" &&
	grep -q "created container d1 (unprivileged)" out &&
	note "cached base: $(du -h "$STATE"/cache/ct-debian-"$RELEASE"-*.tar.zst)" &&
	corral ct show d1 --json | jq -e ".template == \"debian\" and .release == \"$RELEASE\"" >/dev/null &&
	t0=$SECONDS && corral ct start d1 >/dev/null && running d1 && note "start until exec answers: $((SECONDS - t0)) s" &&
	corral ct exec d1 -- cat /etc/debian_version | tee /dev/stderr | grep -q "^$VERSION" &&
	[ "$(corral ct exec d1 -- hostname)" = d1 ] && [ "$(corral ct exec d1 -- cat /etc/hostname)" = d1 ] &&
	[ "$(corral ct exec d1 -- cat /proc/1/comm)" = systemd ] &&
	ip=$(ct_ip d1) && note "lease $ip after $((SECONDS - t0)) s" &&
	note "systemctl is-system-running: $(corral ct exec d1 -- systemctl is-system-running)" &&
	t0=$SECONDS && corral ct stop d1 --timeout 60 >/dev/null && note "graceful stop: $((SECONDS - t0)) s" &&
	corral ct show d1 --json | jq -e ".state == \"stopped\"" >/dev/null
'

test_expect "a second container of the release unpacks the cached base in seconds" '
	t0=$SECONDS && corral ct create d2 --template debian --release "$RELEASE" >/dev/null &&
	took=$((SECONDS - t0)) && note "second create (cached base): $took s" && [ "$took" -lt 60 ] &&
	corral ct start d2 >/dev/null && running d2 && [ "$(corral ct exec d2 -- hostname)" = d2 ] &&
	corral ct stop d2 --timeout 60 >/dev/null &&
	corral ct delete --yes d1 d2 >/dev/null && [ ! -e "$STATE/lxc/d1" ] && [ ! -e "$STATE/lxc/d2" ] &&
	[ -z "$(corral disk list --json | jq -r ".volumes[] | select(.name == \"d1-root\" or .name == \"d2-root\") | .name")" ]
'

cat "$T/timings" 2>/dev/null
finish
