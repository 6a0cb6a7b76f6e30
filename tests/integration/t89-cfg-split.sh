#!/usr/bin/env bash
# The replicated configuration under a flapping partial partition
# (docs/cluster.md "Replicated configuration", "Forks"): three "hosts"
# (network namespaces, real corosync each, as t76).  h1 and h2 cannot talk
# to each other while both still reach h3 (an nftables drop at the switch),
# three times, for some seconds each: corosync forms and loses rings in
# turn (a pair with quorum, the third alone), and every heal is a ring of
# three right after a ring without quorum.  Meanwhile every host keeps
# adding users.  Before the fix (docs/cluster.md, "Fixed: a flapping
# partial partition ...") a member judged the first batches of the new ring
# with the old ring's quorum and missed them while it said synced.  After the
# heal all three must converge without any `cluster resync`: synced, the
# same version and chain, the same users; no host ever reported `forked`;
# and every add that answered success is on all three (an acknowledged
# change is never lost).  SPLIT_S (default 6) and ROUNDS (default 3) in the
# environment; T89_LOGS=DIR keeps each host's corrald and corosync logs
# there (the trail of rings, rounds, verdicts and unapplied batches).
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
SPLIT_S=${SPLIT_S:-6}
ROUNDS=${ROUNDS:-3}
cfg() { st "$1" | jq -r ".config.$2"; }
users() { on_host "$1" user list --json | jq -r '[.users[].name | select(. != "nhadmin")] | sort | join(",")'; }
SW=$(nhost_ns sw)
split_on() {
	printf '%s\n' 'table bridge t89split {' ' chain cut {' \
		'  type filter hook forward priority 0; policy accept;' \
		'  iifname "p1" oifname "p2" drop' '  iifname "p2" oifname "p1" drop' ' }' '}' |
		ip netns exec "$SW" nft -f -
}
split_off() { ip netns exec "$SW" nft delete table bridge t89split 2>/dev/null; true; }
# converged: every host quorate with all three online, synced, at one version and chain, with the same users
converged() {
	local h v= c= u=
	for h in h1 h2 h3; do
		[ "$(online $h)" = h1,h2,h3 ] && [ "$(quorate $h)" = true ] && [ "$(cfg $h state)" = synced ] || return 1
		[ -z "$v" ] && { v=$(cfg $h version); c=$(cfg $h chain); u=$(users $h); continue; }
		[ "$(cfg $h version)" = "$v" ] && [ "$(cfg $h chain)" = "$c" ] && [ "$(users $h)" = "$u" ] || return 1
	done
}
# forked_seen: a host that ever said forked (its events) or says it now
forked_seen() {
	local h
	for h in h1 h2 h3; do
		[ "$(cfg $h state)" = forked ] && return 0
		on_host $h events --kind cluster 2>/dev/null | grep -q "forked from the pool" && return 0
	done
	return 1
}
# writer H: add users on H until $T/stop-writers exists; each add that answered success is a line in $T/acked
writer() {
	local h=$1 i=0
	while [ ! -e "$T/stop-writers" ]; do
		i=$((i + 1))
		if echo "password-$h-$i" | on_host $h user add "u-$h-$i" >/dev/null 2>>"$T/refused-$h"; then
			echo "u-$h-$i" >>"$T/acked"
		fi
		sleep 0.$((RANDOM % 5))
	done
}
dump() {
	local h
	for h in h1 h2 h3; do
		echo "== $h: online $(online $h) quorate $(quorate $h) config $(st $h | jq -c .config)"
		echo "   users $(users $h)"
	done
}

test_expect "a pool of three, every host synced" '
	nhost_trust h2 h1 >/dev/null && nhost_trust h3 h1 >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null &&
	on_host h2 cluster join h1 >/dev/null && on_host h3 cluster join h1 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	wait_for 15 converged
'

test_expect "h1 and h2 split ($ROUNDS x ${SPLIT_S} s) while all three add users; healed, the pool converges without a resync" '
	for h in h1 h2 h3; do writer $h & echo $! >>"$T/writers"; done &&
	t0=$(now_ms) &&
	for r in $(seq 1 $ROUNDS); do
		sleep 1.5; split_on && sleep "$SPLIT_S" && split_off || return 1
	done &&
	sleep 2; touch "$T/stop-writers"; for p in $(cat "$T/writers"); do wait $p; done
	t1=$(now_ms) &&
	{ wait_for 40 "converged || forked_seen" && ! forked_seen && converged || { dump; false; }; } &&
	echo "converged $(( $(now_ms) - t1 )) ms after the heal, at version $(cfg h1 version); $(wc -l <"$T/acked") adds acknowledged, $(cat "$T"/refused-h* | wc -l) refused" >>"$T/measured"
'

test_expect "every add that answered success is on all three hosts" '
	for h in h1 h2 h3; do
		u=",$(users $h),"
		while read -r n; do
			case $u in *",$n,"*) ;; *) say "$n was acknowledged but is missing on $h"; return 1 ;; esac
		done <"$T/acked"
	done
'

test_expect "after the storm changes flow from every host" '
	v=$(cfg h1 version) &&
	echo "password-after" | on_host h2 user add after2 >/dev/null &&
	echo "password-after" | on_host h1 user add after1 >/dev/null &&
	wait_for 10 "converged && [ \"\$(cfg h3 version)\" = $((v + 2)) ]"
'
if [ -n "${T89_LOGS:-}" ]; then
	mkdir -p "$T89_LOGS" && for h in h1 h2 h3; do
		cp "$T/$h.log" "$T89_LOGS/$h.log"; cp "$T/$h/cluster/corosync.log" "$T89_LOGS/$h-corosync.log" 2>/dev/null
	done; cp "$T/acked" "$T89_LOGS/" 2>/dev/null; cat "$T"/refused-h* >"$T89_LOGS/refused" 2>/dev/null
fi
[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
