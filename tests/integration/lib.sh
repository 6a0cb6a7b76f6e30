# lib.sh - shared helpers for corral's end-to-end tests (git t/test-lib.sh style).
#
# A test script sources this file, calls `setup_daemon`, then runs
# `test_expect NAME COMMANDS...` blocks.  Every test starts a real corrald
# in a private temp directory and drives it through the real corral CLI;
# guests are real QEMU processes booting the guest kit (build/guest).
#
# Environment (set by run.sh): CORRALD, CORRAL (binaries), GUEST_DIR.

set -u

T=$(mktemp -d "${TMPDIR:-/tmp}/corral-t.XXXXXX")
# QEMU runs as corral-qemu: it must pass through the test dir to its files.
chmod 711 "$T"
SOCK=$T/api.sock
STATE=$T/state
PASSED=0
FAILED=0
TEST_NAME=$(basename "$0" .sh)
# this directory (scripts source its other helper files from here: the tests run in $T)
TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The guest's kernel: the PVH vmlinux where the kit has it (it boots ~5 s
# sooner under TCG), else vmlinuz; UEFI guests boot vmlinuz (EFI stub).
UEFI_KERNEL=$GUEST_DIR/vmlinuz
KERNEL=$GUEST_DIR/vmlinux
[ -f "$KERNEL" ] || KERNEL=$UEFI_KERNEL
INITRD=$GUEST_DIR/initrd.img
GUEST_CMDLINE="console=ttyS0 quiet no_timer_check"
CORRALD_PID=
cd "$T" || exit 1

say() { printf '%s\n' "$*" >&2; }

corral() { "$CORRAL" --socket "$SOCK" "$@"; }

api() {
	# api METHOD PATH [BODY] -> prints body, then a last line "HTTP <status>"
	local m=$1 p=$2
	shift 2
	if [ $# -gt 0 ]; then
		curl -sS --unix-socket "$SOCK" -X "$m" -H 'Content-Type: application/json' --data-binary "$1" \
			-w '\nHTTP %{http_code}\n' "http://corral$p"
	else
		curl -sS --unix-socket "$SOCK" -X "$m" -w '\nHTTP %{http_code}\n' "http://corral$p"
	fi
}

# hold_host_net: wait for, then hold until this script exits, the lock of the
# scripts that change the host's own network namespace (bridges, taps, nft
# tables, subnets) and check that nothing else there changed: run.sh runs two
# scripts at a time, and two of these would see each other's links come and
# go.  The lock is fd 8; start_daemon does not pass it on to corrald.
hold_host_net() {
	exec 8>"${TMPDIR:-/tmp}/corral-test-hostnet.lock"
	flock -w 900 8 || say "the host network lock was not free after 900 s; going on without it"
}

# hold_migration: the same for the scripts that migrate guests between two
# "hosts" (t62, t63, t64): each keeps two or more TCG guests busy and moves
# them; two such scripts at once on two cores starved the guests (a guest
# console that did not answer, a counter that did not move in a clean-clone
# run).  The lock is fd 7; corrald does not get it.
hold_migration() {
	exec 7>"${TMPDIR:-/tmp}/corral-test-migration.lock"
	flock -w 900 7 || say "the migration lock was not free after 900 s; going on without it"
}

start_daemon() {
	"$CORRALD" --config /dev/null --allow-path "$T" --allow-path "$GUEST_DIR" --state-dir "$STATE" --socket "$SOCK" --log-file "$T/corrald.log" "$@" 7>&- 8>&- &
	CORRALD_PID=$!
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && corral host info >/dev/null 2>&1 && return 0
		if ! kill -0 "$CORRALD_PID" 2>/dev/null; then
			say "corrald died at start:"; cat "$T/corrald.log" >&2; return 1
		fi
		sleep 0.1
	done
	say "corrald did not come up"; return 1
}

stop_daemon() {
	[ -n "$CORRALD_PID" ] || return 0
	kill -TERM "$CORRALD_PID" 2>/dev/null
	wait "$CORRALD_PID" 2>/dev/null
	local rc=$?
	CORRALD_PID=
	return $rc
}

kill9_daemon() {
	kill -9 "$CORRALD_PID" 2>/dev/null
	wait "$CORRALD_PID" 2>/dev/null
	CORRALD_PID=
	return 0
}

cleanup() {
	nhost_cleanup
	if [ -n "$CORRALD_PID" ]; then
		corral vm kill 'name:*' >/dev/null 2>&1
		stop_daemon
	fi
	# Any QEMU left from this test's run dir (e.g. after a crash test), found
	# by its command line, so even a run dir removed under us leaks nothing.
	pkill -9 -f "^qemu-system[^ ]* .*$T/" 2>/dev/null
	# and any replica export daemon (docs/ha.md): it outlives corrald too
	pkill -9 -f "^qemu-storage-daemon .*$T/" 2>/dev/null
	# and the networks' dnsmasq: corrald leaves them serving leases when it stops
	pkill -9 -f "^dnsmasq --conf-file=$T/" 2>/dev/null
	if [ "$FAILED" -gt 0 ] && [ -f "$T/corrald.log" ]; then
		say "---- corrald.log (last 60 lines) ----"
		tail -n 60 "$T/corrald.log" >&2
	fi
	[ "$FAILED" -gt 0 ] && [ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

setup_daemon() { start_daemon || { FAILED=$((FAILED + 1)); exit 1; }; }

# ---- several "hosts" on this machine: a network namespace and a corrald each ----
#
#	nhost_setup A B [C...]   namespaces joined by a bridge in a "switch" namespace,
#	                         host i (from 1) at 10.99.0.i/24 on its eth0
#	nhost_start A [ARGS]     corrald in A's namespace: state $T/A, socket $T/A.sock,
#	                         log $T/A.log, TLS API on ADDR:8006, host_name A
#	                         (NH_PRIVATE_RUN=1: with a private /run, for corosync)
#	on_host A ARGS...        the CLI of A's corrald (through its socket)
#	nhost_addr A, nhost_url A, nhost_fp A   its address, https URL, certificate fingerprint
#	nhost_token A            an Administrator API token of A in $T/A.token (echoes the path)
#	nhost_trust A B          A and B trust each other (`host trust add` run on A)
#	nhost_stop A, nhost_kill9 A, nhost_pid A
#	ca ARGS, cb ARGS         on_host a / on_host b (the two-host tests' names)
#	on A HELPER ARGS...      a lib.sh helper (guest_sh, wait_state...) against A's corrald
#	where VM                 where VM is listed: "a", "b", "ab" or ""
# Namespaces and daemons go when the script exits (cleanup).  The names are
# this run's own (the namespace names carry a random id), the addresses are
# the same in every run: each run has its own namespaces.
NH_ID=
NH_HOSTS=
nhost_ns() { echo "nh$NH_ID$1"; }
nhost_in() { local h=$1; shift; ip netns exec "$(nhost_ns "$h")" "$@"; }
nhost_addr() { local i=1 h; for h in $NH_HOSTS; do [ "$h" = "$1" ] && { echo "10.99.0.$i"; return 0; }; i=$((i + 1)); done; return 1; }
nhost_url() { echo "https://$(nhost_addr "$1"):8006"; }
nhost_pid() { cat "$T/$1.pid" 2>/dev/null; }
on_host() { local h=$1; shift; "$CORRAL" --socket "$T/$h.sock" "$@"; }
ca() { on_host a "$@"; }
cb() { on_host b "$@"; }
on() { SOCK=$T/$1.sock "${@:2}"; }
where() {
	local w=
	ca vm show "$1" >/dev/null 2>&1 && w=a
	cb vm show "$1" >/dev/null 2>&1 && w=${w}b
	echo "$w"
}

nhost_setup() {
	NH_ID=$(printf '%04d' $((RANDOM % 10000)))
	NH_HOSTS="$*"
	local sw i=1 h ns
	sw=$(nhost_ns sw)
	ip netns add "$sw" && ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || return 1
	for h in $NH_HOSTS; do
		ns=$(nhost_ns "$h")
		ip netns add "$ns" &&
			ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns" &&
			ip -n "$sw" link set "p$i" master br0 && ip -n "$sw" link set "p$i" up &&
			ip -n "$ns" addr add "10.99.0.$i/24" dev eth0 && ip -n "$ns" link set eth0 up &&
			ip -n "$ns" link set lo up || return 1
		i=$((i + 1))
	done
}

nhost_start() {
	local h=$1; shift
	rm -f "$T/$h.sock"
	# nsenter execs corrald itself (ip netns exec would fork: the pid would be its own).
	# NH_PRIVATE_RUN=1: and in a mount namespace of its own whose /run is $T/$h-run
	# (unshare and sh exec in turn, so the pid is still corrald's): corosync locks
	# /run/corosync.pid, so each host's corosync needs its own /run.
	local wrap=()
	if [ -n "${NH_PRIVATE_RUN:-}" ]; then
		mkdir -p "$T/$h-run"
		wrap=(unshare -m --propagation private sh -c 'mount --bind "$0" /run && exec "$@"' "$T/$h-run")
	fi
	nsenter --net="/run/netns/$(nhost_ns "$h")" -- "${wrap[@]}" "$CORRALD" --config /dev/null --allow-path "$T" --allow-path "$GUEST_DIR" --state-dir "$T/$h" \
		--socket "$T/$h.sock" --log-file "$T/$h.log" --listen "$(nhost_addr "$h"):8006" --host-name "$h" --cgroup-parent "corral-$h" "$@" 7>&- 8>&- &
	echo $! >"$T/$h.pid"
	for _ in $(seq 1 100); do
		[ -S "$T/$h.sock" ] && on_host "$h" host info >/dev/null 2>&1 && return 0
		kill -0 "$(nhost_pid "$h")" 2>/dev/null || { say "corrald of $h died at start:"; cat "$T/$h.log" >&2; return 1; }
		sleep 0.1
	done
	say "corrald of $h did not come up"; return 1
}

nhost_stop() {
	local p; p=$(nhost_pid "$1") || return 0
	[ -n "$p" ] || return 0
	kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null
	for _ in $(seq 1 100); do proc_gone "$p" && break; sleep 0.1; done
	rm -f "$T/$1.pid"
}

nhost_kill9() {
	local p; p=$(nhost_pid "$1") || return 0
	[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	for _ in $(seq 1 50); do proc_gone "$p" && break; sleep 0.1; done
	rm -f "$T/$1.pid"
}

# job_phase HOST JOB: the phase a migration job's result names (disks, memory, switch);
# wait_phase HOST JOB PHASE: until it names PHASE (30 s)
job_phase() { on_host "$1" job show "$2" --json 2>/dev/null | jq -r '.result.phase // empty'; }
wait_phase() {
	for _ in $(seq 1 300); do
		[ "$(job_phase "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	say "job $2 on $1 never reported phase $3"; return 1
}

nhost_fp() { on_host "$1" host info --json | jq -r .tls_fingerprint; }

nhost_token() {
	local h=$1
	if [ ! -s "$T/$h.token" ]; then
		printf '%s\n' "nhost-admin-password" | on_host "$h" user add nhadmin >/dev/null &&
			on_host "$h" token add nhadmin trust | tail -n1 >"$T/$h.token" &&
			on_host "$h" acl add nhadmin Administrator / >/dev/null &&
			on_host "$h" acl add 'nhadmin!trust' Administrator / >/dev/null || return 1
	fi
	echo "$T/$h.token"
}

nhost_trust() {
	local a=$1 b=$2 tok
	tok=$(nhost_token "$b") &&
		on_host "$a" host trust add "$(nhost_url "$b")" --token-file "$tok" --accept-fingerprint "$(nhost_fp "$b")"
}

nhost_cleanup() {
	[ -n "$NH_ID" ] || return 0
	local h f
	# on failure, what each guest last printed (before the kills below end them;
	# control characters shown, e.g. a stray ^S that stops a serial tty)
	if [ "$FAILED" -gt 0 ]; then
		for h in $NH_HOSTS; do
			for f in "$T/$h"/run/*/console.log; do
				[ -f "$f" ] || continue
				say "---- $h: console of vm $(basename "$(dirname "$f")") (last 15 lines) ----"
				tail -n 15 "$f" | tr -d '\r' | cat -v >&2
			done
		done
	fi
	for h in $NH_HOSTS; do
		[ -n "$(nhost_pid "$h")" ] && kill -CONT "$(nhost_pid "$h")" 2>/dev/null
		on_host "$h" vm kill 'name:*' >/dev/null 2>&1
		nhost_stop "$h"
	done
	pkill -9 -f "^qemu-system[^ ]* .*$T/" 2>/dev/null
	for h in $NH_HOSTS sw; do ip netns del "$(nhost_ns "$h")" 2>/dev/null; done
	if [ "$FAILED" -gt 0 ]; then
		for h in $NH_HOSTS; do
			[ -f "$T/$h.log" ] && { say "---- $h.log (last 40 lines) ----"; tail -n 40 "$T/$h.log" >&2; }
		done
	fi
	NH_ID=
}

# test_expect NAME 'shell commands'
# The body runs in this shell (not a subshell), so it can restart corrald and
# set variables for later tests; its output goes to a file, shown on failure.
test_expect() {
	local name=$1 body=$2 rc __test_t0=$SECONDS
	# In a function of its own, so that a "return 1" in the body fails the
	# test instead of returning from test_expect unreported.
	__test_body() { eval "$body"; }
	__test_body >"$T/test.out" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 0 ]; then
		PASSED=$((PASSED + 1))
		printf 'ok - %s: %s (%d s)\n' "$TEST_NAME" "$name" $((SECONDS - __test_t0))
	else
		FAILED=$((FAILED + 1))
		printf 'not ok - %s: %s (%d s)\n' "$TEST_NAME" "$name" $((SECONDS - __test_t0))
		sed 's/^/#   /' "$T/test.out" | tail -n 40
	fi
}

# proc_gone PID: the process has exited (a zombie left to a non-reaping init counts as gone).
proc_gone() {
	[ -r "/proc/$1/stat" ] || return 0
	[ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" = Z ]
}

finish() {
	printf '# %s: %d passed, %d failed\n' "$TEST_NAME" "$PASSED" "$FAILED"
	echo "$PASSED $FAILED" >"${RESULT_FILE:-/dev/null}"
	[ "$FAILED" -eq 0 ]
}

# wait_console VM PATTERN [TIMEOUT_S]: poll the console history for a pattern.
wait_console() {
	local vm=$1 pat=$2 t=${3:-60}
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do
		corral vm log "$vm" 2>/dev/null | tr -d '\r' | grep -q -- "$pat" && return 0
		sleep 0.3
	done
	say "timeout waiting for '$pat' on $vm's console; last lines:"
	corral vm log "$vm" 2>&1 | tail -n 15 >&2
	return 1
}

ready_count() { corral vm log "$1" --tail 64M 2>/dev/null | tr -d '\r' | grep -c '^CORRAL-GUEST-READY$'; }

# boot VM: start it and wait until this boot's ready marker appears (the
# console history keeps earlier boots' markers).
boot() {
	local vm=$1 n
	n=$(ready_count "$vm")
	corral vm start "$vm" || return 1
	wait_ready_after "$vm" "$n"
}

# wait_ready_after VM N [TIMEOUT_S]: more than N ready markers in the history.
wait_ready_after() {
	local vm=$1 n=$2 t=${3:-90}
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do
		[ "$(ready_count "$vm")" -gt "$n" ] && return 0
		sleep 0.3
	done
	say "timeout waiting for $vm to boot; last console lines:"
	corral vm log "$vm" 2>&1 | tail -n 15 >&2
	return 1
}

# wait_state VM STATE [TIMEOUT_S]
wait_state() {
	local vm=$1 want=$2 t=${3:-30}
	local end=$((SECONDS + t)) st=
	while [ $SECONDS -lt $end ]; do
		st=$(vm_state "$vm")
		[ "$st" = "$want" ] && return 0
		sleep 0.2
	done
	say "vm $vm is '$st', expected '$want'"
	return 1
}

# wait_block VM "sr0 vda vdb" [TIMEOUT_S, 90]: the guest's latest CORRAL-BLOCK line is exactly this
# (a boot may come first: as long as wait_ready_after gives a boot under load).
wait_block() {
	local vm=$1 want=$2 t=${3:-90} last=
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do
		last=$(corral vm log "$vm" 2>/dev/null | tr -d '\r' | grep '^CORRAL-BLOCK: ' | tail -n1)
		[ "$last" = "CORRAL-BLOCK: $want" ] && return 0
		sleep 0.3
	done
	say "vm $vm: last block line '$last', expected 'CORRAL-BLOCK: $want'"
	return 1
}

vm_state() { corral vm show "$1" --json 2>/dev/null | jq -r .status.state; }

# create_guest NAME [extra create flags]: a VM booting the guest kit.
create_guest() {
	local name=$1 k=$KERNEL
	shift
	[[ " $* " == *" --firmware uefi "* ]] && k=$UEFI_KERNEL
	corral vm create "$name" --memory 256M --kernel "$k" --initrd "$INITRD" \
		--cmdline "$GUEST_CMDLINE" "$@"
}

# fails COMMAND...: succeeds if the command fails (non-zero exit), printing its stderr.
fails() { if "$@"; then say "expected failure: $*"; return 1; fi; return 0; }

# guest_sh VM CMD [TIMEOUT_S]: run CMD (one line) in the guest's serial shell,
# print its output (CR stripped) and return its exit status.  Waits for a
# unique end marker in the console history; fails after TIMEOUT_S (30).
guest_sh() {
	local vm=$1 cmd=$2 t=${3:-30} m="GSH$RANDOM$RANDOM" end out rc
	printf '%s\necho %s-END-$?\n' "$cmd" "$m" | corral vm console "$vm" --linger 0.3 >/dev/null || return 1
	end=$((SECONDS + t))
	while :; do
		out=$(corral vm log "$vm" --tail 1M 2>/dev/null | tr -d '\r')
		grep -q "^$m-END-[0-9]*\$" <<<"$out" && break
		[ $SECONDS -lt $end ] || { say "guest_sh $vm: no end marker after ${t}s for: $cmd"; return 1; }
		sleep 0.2
	done
	# The lines after the command's echo, up to the marker.
	awk -v c="$cmd" -v m="$m" '
		!started { if (index($0, c)) started = 1; next }
		index($0, "echo " m "-END") { next }
		$0 ~ "^" m "-END-" { exit }
		{ print }' <<<"$out"
	rc=$(grep "^$m-END-" <<<"$out" | tail -n1 | sed "s/^$m-END-//")
	return "${rc:-1}"
}

# ---- the counter workload of the migration scripts (t62, t63, t93) ----
# /w counts in RAM (/tmp is the initramfs) and in the disk's first sector;
# /r prints "C <memory> <disk>".  Written as files first: guest_sh finds a
# command's output by its echo, so the commands stay short.
WORK="printf '%s\n' 'n=0; while :; do n=\$((n+1)); echo \$n >/tmp/c.new; mv /tmp/c.new /tmp/c;' \
'echo \$n | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sleep 0.1; done' >/w &&
printf '%s\n' 'echo C \$(cat /tmp/c) \$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n1)' >/r"
# start_work VM HOST: the workload runs in VM on HOST (nhost)
start_work() { on "$2" guest_sh "$1" "$WORK" && on "$2" guest_sh "$1" 'sh /w >/dev/null 2>&1 &'; }
# counters VM HOST: "<memory> <disk>" as the guest reads them
counters() { on "$2" guest_sh "$1" 'sh /r' | sed -n 's/^C \([0-9]*\) \([0-9]*\)$/\1 \2/p' | tail -n1; }
# counter_moves VM HOST M: the memory counter passes M within 5 s (a guest
# under TCG on a loaded machine makes a few rounds a second; reading them
# through the console costs it some); prints "<memory> <disk>"
counter_moves() {
	local c end=$((SECONDS + 5))
	while :; do
		sleep 0.5
		c=$(counters "$1" "$2")
		[ -n "$c" ] && [ "${c% *}" -gt "$3" ] && { echo "$c"; return 0; }
		[ $SECONDS -lt $end ] || { say "the counter of $1 on $2 stopped at $3 (last read: '$c')"; return 1; }
	done
}

# ---- guests on corral networks (t66, t69) ----
# The guest's DHCP client script (busybox udhcpc calls it with bound/renew)
# and /up NAME: link up, get a lease, print the address (a lease replaces only
# IPv4 addresses: IPv6 ones come from router adverts).  (guest_sh finds a
# command's output by its echo: commands whose output counts stay short so
# the console does not wrap them.)
UDHCPC="printf '%s\n' '#!/bin/sh' 'case \$1 in bound|renew)' 'ip -4 addr flush dev \$interface' \
'ip addr add \$ip/\$mask dev \$interface' '[ -n \"\$router\" ] && ip route replace default via \${router%% *}' \
'echo search \$domain > /etc/resolv.conf; for d in \$dns; do echo nameserver \$d >> /etc/resolv.conf; done;;' \
'esac' > /dhcp.sh && chmod +x /dhcp.sh"
UP="printf '%s\n' 'i=\${2:-eth0}; ip link set \$i up' 'udhcpc -i \$i -s /dhcp.sh -n -q -t 10 -x hostname:\$1 >/dev/null 2>&1' \
'ip -4 -o addr show \$i' > /up"

# dhcp VM: bring eth0 up and get a lease (the guest's hostname is its VM name).
dhcp() {
	guest_sh "$1" "$UDHCPC" && guest_sh "$1" "$UP" && guest_sh "$1" "sh /up $1" 60
}
vm_ip() { corral vm show "$1" --json | jq -r '.status.nics[0].ip'; }
