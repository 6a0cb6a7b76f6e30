#!/usr/bin/env bash
# HA partition torture, short (docs/ha.md "The manager"; design memo 6.3):
# three hosts (network namespaces, real corosync each), a shared pool, two
# HA VMs (one on h2 with its disk on the shared pool, one on h3 without a
# disk).  Three rounds: the link of a random host owning an HA VM (it may
# be the manager, h1) is cut at the switch, and
# healed once the pool has restarted what that host ran (at most 25 s); then
# the pool must converge within 60 s: every host quorate and synced, each HA
# VM started with one QEMU on its owner and no record on the other hosts.
# The invariant checker runs
# all along, every 100 ms: never two QEMUs of one VM on the machine.
# ROUNDS (default 3) and SEED (default random, printed) in the environment.
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
mkdir -p "$T/shared"
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-$$}
RANDOM=$SEED
hastat() { on_host "$1" ha status --json 2>/dev/null | jq -r ".resources[] | select(.vm == \"$2\") | .$3"; }
# converged: every host quorate with h1,h2,h3 online; each VM started, one
# QEMU, running on its owner, unknown on the two others
converged() {
	local h v o u
	for h in h1 h2 h3; do
		[ "$(online $h)" = h1,h2,h3 ] && [ "$(quorate $h)" = true ] || return 1
		[ "$(st $h | jq -r .config.state)" = synced ] || return 1
	done
	for v in web db; do
		o=$(hastat h1 $v host) && [ -n "$o" ] && [ "$(hastat h1 $v status)" = started ] || return 1
		[ "$(hastat h2 $v host)" = "$o" ] && [ "$(hastat h3 $v host)" = "$o" ] || return 1
		u=$(on_host "$o" vm show $v --json 2>/dev/null | jq -r .uuid) || return 1
		[ "$(on_host "$o" vm show $v --json | jq -r .status.state)" = running ] || return 1
		[ "$(qemus "$u" | wc -l)" = 1 ] || return 1
		for h in h1 h2 h3; do
			[ $h = "$o" ] || ! on_host $h vm show $v >/dev/null 2>&1 || return 1
		done
	done
}

test_expect "a pool of three with a shared pool; HA VMs web (on h2, shared disk) and db (on h3)" '
	echo "seed $SEED, $ROUNDS rounds" >>"$T/measured" &&
	ha_trust_all h1 h2 h3 &&
	on_host h1 cluster create lab --token 1000 >/dev/null &&
	on_host h2 cluster join h1 >/dev/null && on_host h3 cluster join h1 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
		on_host $h pool create shared "$T/shared" --shared >/dev/null || return 1
	done &&
	on_host h2 disk create web-d 16M --pool shared >/dev/null && on h2 create_guest web --disk web-d >/dev/null &&
	on h3 create_guest db >/dev/null &&
	on_host h2 ha add web --priority 10 >/dev/null && on_host h3 ha add db >/dev/null &&
	on_host h2 vm start web >/dev/null && on_host h3 vm start db >/dev/null &&
	on_host h2 vm show web --json | jq -r .uuid >"$T/uuids" && on_host h3 vm show db --json | jq -r .uuid >>"$T/uuids" &&
	ha_checker_start &&
	wait_for 20 converged
'

for round in $(seq 1 "$ROUNDS"); do
	# a random host that owns an HA VM (cutting an empty one tests little)
	owners=$(for v in web db; do hastat h1 $v host; done | sort -u) && [ -n "$owners" ] || owners="h1 h2 h3"
	set -- $owners
	shift $((RANDOM % $#)); victim=$1
	test_expect "round $round: cut $victim, what it ran restarts elsewhere; heal; the pool converges" '
		ran=$(for v in web db; do [ "$(hastat h1 $v host)" = '"$victim"' ] && echo $v; done | tr "\n" " ") &&
		port=p${victim#h} && t0=$(now_ms) &&
		ip -n "$(nhost_ns sw)" link set $port down &&
		other=$( [ '"$victim"' = h1 ] && echo h2 || echo h1 ) &&
		for v in $ran; do
			wait_for 25 "o=\$(hastat $other $v host) && [ -n \"\$o\" ] && [ \$o != '"$victim"' ] && [ \"\$(hastat $other $v status)\" = started ]" || return 1
		done &&
		t1=$(now_ms) && ip -n "$(nhost_ns sw)" link set $port up &&
		wait_for 60 converged && t2=$(now_ms) &&
		echo "round '"$round"': cut '"$victim"' (ran: ${ran:-nothing}): restarted elsewhere after $((t1 - t0)) ms, converged $((t2 - t1)) ms after the heal" >>"$T/measured"
	'
done

test_expect "invariant: never two QEMUs of one HA VM at once (checked every 100 ms)" '
	ha_checker_stop >"$T/inv"; rc=$?; cat "$T/inv" >>"$T/measured"; [ $rc = 0 ] &&
	on_host "$(hastat h1 web host)" vm kill web >/dev/null && on_host "$(hastat h1 db host)" vm kill db >/dev/null
'
[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
