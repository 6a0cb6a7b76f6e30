#!/bin/bash
# cli-usage.sh - the corral CLI's behaviour that needs no daemon: help at
# every level, exit statuses of usage errors, the "cannot connect" line.
#
# usage: tests/integration/cli-usage.sh PATH/TO/corral
set -eu

CORRAL=${1:?usage: $0 PATH/TO/corral}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS...: run corral, keep stdout/stderr in $tmp.
run() {
	local want=$1 got=0
	shift
	"$CORRAL" "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	if [ "$got" != "$want" ]; then
		fail "corral $* exited $got, expected $want; stderr: $(cat "$tmp/err")"
		return 1
	fi
}

# out_has WORD...: every word appears in the last stdout.
out_has() {
	for w in "$@"; do
		grep -qw -- "$w" "$tmp/out" || fail "output of the last command lacks '$w'"
	done
}

# err_is_one_line PATTERN: stderr is exactly one line matching PATTERN.
err_is_one_line() {
	local n
	n=$(wc -l <"$tmp/err")
	[ "$n" = 1 ] || fail "expected one stderr line, got $n: $(cat "$tmp/err")"
	grep -q -- "$1" "$tmp/err" || fail "stderr '$(cat "$tmp/err")' lacks '$1'"
}

# --- help at every level exits 0 and names what is below it ---
for h in --help -h; do
	run 0 $h && out_has vm disk cdrom host job create list show start stop
done
run 0 --version && out_has corral

vm_verbs="create list show start stop kill reboot pause resume delete console log edit events"
disk_verbs="create list show resize delete import attach detach"
declare -A verbs=(
	[vm]=$vm_verbs
	[disk]=$disk_verbs
	[cdrom]="insert eject"
	[host]="info list trust shutdown-guests"
	[net]="create list show delete leases forward"
	[nic]="list attach detach set link"
	[job]="list show cancel"
	[remote]="add list remove default trust"
)
for noun in "${!verbs[@]}"; do
	run 0 "$noun" --help && out_has ${verbs[$noun]}
	for verb in ${verbs[$noun]}; do
		run 0 "$noun" "$verb" --help && out_has usage "$verb" --help
		run 0 "$noun" "$verb" -h
		if [ -s "$tmp/err" ]; then fail "corral $noun $verb --help wrote to stderr"; fi
	done
done

# Every flag of vm create is documented in its help.
run 0 vm create --help
out_has --cpus --memory --disk --cdrom --kernel --initrd --cmdline --boot --vnc \
	--no-rng --nic --no-nic --mac --autostart --description --tag --accel --hotplug-ports \
	--from --start --json --machine --firmware --secure-boot --cpu
run 0 vm edit --help
out_has --remove-disk --no-vnc --no-autostart --no-cdrom --boot-mode --from
run 0 vm stop --help && out_has --timeout --force --kill
run 0 vm console --help && out_has --linger

# --help wins even over a missing argument, and works after other words.
run 0 vm start --help
run 0 vm show web1 --help

# --- usage errors exit 2 with one line pointing at the right help ---
run 2 frobnicate && err_is_one_line "see 'corral --help'"
run 2 && err_is_one_line "missing command"
run 2 vm frobnicate && err_is_one_line "see 'corral vm --help'"
# Slips get a suggestion; ls and rm are list and delete (disk files keeps listing files).
run 2 vm lsit && err_is_one_line "unknown verb 'vm lsit' (did you mean 'list'?)"
run 2 dsik list && err_is_one_line "unknown command 'dsik' (did you mean 'disk'?)"
run 2 vm frobnicate && grep -qv "did you mean" "$tmp/err"
run 1 --socket /nonexistent/corral.sock vm ls && err_is_one_line "cannot connect"
run 2 vm rm && err_is_one_line "see 'corral vm delete --help'"
run 2 disk files && err_is_one_line "see 'corral disk files --help'"
run 0 vm --help && out_has Aliases
run 2 vm && err_is_one_line "see 'corral vm --help'"
run 2 disk frobnicate && err_is_one_line "see 'corral disk --help'"
run 2 vm create && err_is_one_line "see 'corral vm create --help'"
run 2 vm create web1 --bogus && err_is_one_line "unknown option '--bogus'"
run 2 vm create web1 --cpus && err_is_one_line "option '--cpus' needs a value"
# Long options are never abbreviated (getopt_long would take "--d" for "--disks").
run 2 vm delete web1 --d && err_is_one_line "unknown option '--d' (options are never abbreviated: --disks?)"
run 2 --sock /x vm list && err_is_one_line "unknown option '--sock'"
run 2 vm create web1 --cmdline --cpus --cpux 2 && err_is_one_line "unknown option '--cpux'"
run 0 vm create --help && out_has "'' goes back to the default"
run 2 vm create web1 --cpus many && err_is_one_line "invalid --cpus"
run 2 vm create web1 --memory 1.5G && err_is_one_line "invalid --memory"
run 2 vm create web1 --boot disk --kernel /vmlinuz && err_is_one_line "cannot be combined"
run 2 vm start && err_is_one_line "missing VM"
run 2 vm show a b && err_is_one_line "unexpected argument 'b'"
run 2 vm stop web1 --timeout forever && err_is_one_line "invalid --timeout"
run 2 vm stop web1 --kill && err_is_one_line "needs an explicit --timeout"
run 2 disk create vol1 && err_is_one_line "missing size"
run 2 disk create vol1 10Q && err_is_one_line "invalid size"
run 2 host info --json=yes && err_is_one_line "takes no argument"
run 2 net create && err_is_one_line "missing network name"
run 2 net forward frob && err_is_one_line "want add, list or delete"
run 0 host trust add --help && out_has --token-file --accept-fingerprint --name --self-url
run 2 host trust frob && err_is_one_line "want add, list or remove"
run 2 host trust add && err_is_one_line "missing URL"
run 2 host trust add https://h:8006 && err_is_one_line "--token-file FILE"
run 2 host trust remove && err_is_one_line "missing host name"
run 0 cluster create --help && out_has --link --token
run 0 cluster join --help && out_has --link
run 2 cluster create && err_is_one_line "missing cluster name"
run 2 cluster create lab --token 5 && err_is_one_line "--token is 500 to 60000"
run 2 cluster join && err_is_one_line "missing trusted host"
run 2 cluster node frob && err_is_one_line "want remove"
run 2 cluster node remove && err_is_one_line "missing node name"
run 0 cluster node remove --help && out_has --force --yes
run 2 cluster leave && err_is_one_line "--yes"
run 2 host shutdown-guests --timeout 0 && err_is_one_line "invalid --timeout"
run 2 vm create x --start-delay 9999 && err_is_one_line "invalid --start-delay"
run 2 vm create web1 --nic net=lan --no-nic && err_is_one_line "cannot be combined"
run 1 vm create web1 --nic net=lan,bw=fast && err_is_one_line "bw=RATE"
run 2 nic set web1 52:54:00:00:00:01 --bw 10Q && err_is_one_line "invalid --bw"
run 2 nic set web1 52:54:00:00:00:01 && err_is_one_line "give --bw RATE"
run 2 nic set web1 --bw 1M && err_is_one_line "missing MAC"
run 2 --socket && err_is_one_line "needs a value"
run 2 --remote && err_is_one_line "needs a value"
run 2 remote add h1 && err_is_one_line "missing URL"
run 2 remote add h1 https://h:1 --ttl 1h --token-file /dev/null && err_is_one_line "--ttl goes with --user"
run 2 remote add h1 https://h:1 --user a --token-file /dev/null && err_is_one_line "exclude each other"
run 2 remote add h1 http://h:1 --token-file /dev/null && err_is_one_line "https://HOST:PORT"
run 2 --remote h1 --url https://h:1 host info && err_is_one_line "exclude each other"
run 0 remote add --help && out_has --token-file --user --accept-fingerprint --ttl
run 0 --help && out_has --remote

# --- no daemon: exit 1 with one "cannot connect" line ---
run 1 --socket /nonexistent/corral.sock vm list && err_is_one_line "cannot connect"
grep -q "/nonexistent/corral.sock" "$tmp/err" || fail "the error does not name the socket"
CORRAL_SOCKET=/nonexistent/env.sock run 1 host info && err_is_one_line "cannot connect"
grep -q "/nonexistent/env.sock" "$tmp/err" || fail "CORRAL_SOCKET is not used"
run 1 --socket /nonexistent/corral.sock vm console web1 && err_is_one_line "cannot connect"
run 1 --socket /nonexistent/corral.sock vm start a b && err_is_one_line "cannot connect"
# VNC on a non-loopback address is unauthenticated: say so.
run 1 --socket /nonexistent/corral.sock vm create w1 --vnc 0.0.0.0:3 && grep -q "warning: VNC on 0.0.0.0 has no password" "$tmp/err"
run 1 --socket /nonexistent/corral.sock vm create w1 --vnc && err_is_one_line "cannot connect"
# -l is --long where a verb has --long, and unknown elsewhere.
run 1 --socket /nonexistent/corral.sock backup files web1/20261122T020000Z / -l && err_is_one_line "cannot connect"
run 1 --socket /nonexistent/corral.sock disk files web1-root / -l && err_is_one_line "cannot connect"
run 2 --socket /nonexistent/corral.sock vm list -l && err_is_one_line "unknown option '-l'"

if [ "$failures" -gt 0 ]; then
	echo "cli-usage: $failures failure(s)" >&2
	exit 1
fi
echo "cli-usage: ok"
