#!/usr/bin/env bash
# The CLI's safety and consistency for people and scripts: destructive verbs
# ask on a terminal and need --yes without one (and then change nothing);
# errors with --json are JSON; vm console --force takes a console over and
# the banner names the VM; vm list filters by state and shows IP and uptime.
. "$(dirname "$0")/lib.sh"
setup_daemon

# on_tty ANSWER CMD...: run the CLI on a pseudo-terminal, typing ANSWER.
on_tty() {
	local answer=$1
	shift
	{ sleep 0.5; printf '%s\n' "$answer"; sleep 1; } |
		script -qec "$CORRAL --socket $SOCK $*" /dev/null
}

test_expect "without a terminal, destructive verbs refuse without --yes and change nothing" '
	create_guest d1 >/dev/null && corral disk create v1 16M >/dev/null &&
	corral vm create t1 --memory 64M --disk v1 >/dev/null &&
	for cmd in "vm delete d1" "vm delete t1 --disks" "vm template t1" "disk delete v1" \
		"snapshot delete t1 s" "snapshot revert t1 s" "net delete n1" "pool delete default" \
		"backup forget x/20200101T000000Z" "backup restore x/20200101T000000Z" "repo forget /nonexist" \
		"user delete u1"; do
		corral $cmd </dev/null 2>err; rc=$?
		[ $rc -eq 2 ] && grep -q "^corral: refusing to .* without --yes (no terminal to ask on)" err &&
			[ "$(wc -l <err)" = 1 ] || { echo "$cmd: rc $rc"; cat err; exit 1; }
	done &&
	corral vm show d1 >/dev/null && corral vm show t1 --json | jq -e ".template != true" &&
	corral disk show v1 >/dev/null &&
	corral vm delete d1 -y | grep -q "deleted vm d1" && fails corral vm show d1 2>/dev/null
'
test_expect "on a terminal, they ask and do only what was confirmed" '
	on_tty n "vm delete t1 --disks" >out; grep -q "delete vm t1 and the volumes only it uses.*\[y/N\]" out &&
	grep -q "not confirmed: nothing was changed" out && corral vm show t1 >/dev/null &&
	on_tty y "vm delete t1 --disks" >out && grep -q "deleted vm t1" out &&
	fails corral vm show t1 2>/dev/null && fails corral disk show v1 2>/dev/null
'
test_expect "with --json, errors are one JSON line on stderr and the exit status stays" '
	corral --json vm show nosuch 2>err; [ $? -eq 1 ] &&
	jq -e ".error.code == \"not_found\" and (.error.message | test(\"nosuch\"))" err && [ "$(wc -l <err)" = 1 ] &&
	corral vm lst --json 2>err; [ $? -eq 2 ] && jq -e ".error.code == \"usage\" and (.error.message | test(\"did you mean\"))" err &&
	corral vm delete nosuch --json </dev/null 2>err; [ $? -eq 2 ] && jq -e ".error.code == \"usage\"" err &&
	"$CORRAL" --socket "$T/none.sock" vm list --json 2>err; [ $? -eq 1 ] &&
	jq -e ".error.code == \"unreachable\"" err &&
	corral vm show nosuch 2>err; grep -q "^corral: " err
'
test_expect "vm console --force takes the console over; the banner names the VM" '
	create_guest c1 >/dev/null && boot c1 &&
	mkfifo "$T/hold" && { corral vm console c1 --linger 0 <"$T/hold" >"$T/first.out" 2>&1 & first=$!; } &&
	exec 7>"$T/hold" && sleep 1 &&
	fails corral vm console c1 </dev/null 2>err && grep -q "another console session.*--force" err &&
	printf "echo TAKEN-\$((6*7))\n" | corral vm console c1 --force --linger 1 >out &&
	grep -q "TAKEN-42" out &&
	for _ in $(seq 1 25); do kill -0 $first 2>/dev/null || break; sleep 0.2; done &&
	! kill -0 $first 2>/dev/null && exec 7>&- &&
	on_tty $'"'"'\x1d'"'"' "vm console c1" >out && grep -q "Connected to VM c1 (escape" out
'
test_expect "vm list --state filters; UPTIME, one time form, --format csv" '
	create_guest s1 >/dev/null &&
	corral vm list --state running --json | jq -e "[.vms[].name] == [\"c1\"]" &&
	corral vm list --state stopped,template --json | jq -e "[.vms[].name] == [\"s1\"]" &&
	corral vm list --state running >out && head -1 out | grep -q "IP  *UPTIME$" &&
	grep -Eq "^c1  +running .* ([0-9]+s|[0-9]+m[0-9]{2}s)$" out && ! grep -q "^s1" out &&
	fails corral vm list --state bogus 2>err && grep -q "unknown state" err &&
	corral vm list --format csv >out && head -1 out | grep -qx "NAME,STATE,CPUS,MEMORY,AUTOSTART,TAGS,IP,UPTIME" &&
	grep -q "^s1,stopped," out &&
	corral job list >out && grep -Eq " 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z$" out &&
	corral vm events c1 >out && grep -Eq "^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z  " out &&
	fails corral vm list --format xml 2>err && grep -q "table, json or csv" err
'
exec 7>&-
finish
