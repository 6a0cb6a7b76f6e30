#!/usr/bin/env bash
# Any member answers for the whole pool (docs/cluster.md "Pool-wide answers"):
# three "hosts" (network namespaces, a corosync each, as t74/t76) in one pool.
# `vm list` on h3 shows the VMs of h1 and h2 with their hosts; verbs on a VM
# of another member are done by that member (start, show, stop of h2's VM run
# on h1; the start's job followed on h2); a user whose ACL names one VM sees
# only it pool-wide and is refused (403, by the owner) on another through
# forwarding; only a pool member may name the user it acts for; the console
# and event streams of another member's VM are refused naming the member;
# a new VM may not take a name another member has (create, clone); a name
# on two hosts (both had it before they formed the pool) is refused as
# ambiguous, naming both;
# hostile names are refused without asking anyone; a member cut off at the
# switch is reported unreachable while the others' VMs are listed.
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"

# over TLS on host H as USER:PASSWORD: METHOD PATH -> body, then "HTTP <status>"
tls() {
	local h=$1 cred=$2 m=$3 p=$4
	nhost_in "$h" curl -sk -u "$cred" -X "$m" -w '\nHTTP %{http_code}\n' "$(nhost_url "$h")$p"
}
# on the unix socket of host H: METHOD PATH -> body, then "HTTP <status>"
sock() { curl -sS --unix-socket "$T/$1.sock" -X "$2" -w '\nHTTP %{http_code}\n' "http://corral$3"; }
state_on() { on_host "$1" vm show "$2" --local --json 2>/dev/null | jq -r .status.state; }

# as trusted host H (its own certificate and key) on host TO, naming USER: GET PATH -> body, "HTTP <status>"
as_host() {
	nhost_in "$1" curl -sk --cert "$T/$1/tls/host.crt" --key "$T/$1/tls/host.key" -H "X-Corral-User: $3" \
		-w '\nHTTP %{http_code}\n' "$(nhost_url "$2")$4"
}

test_expect "a pool of three: h1, h2, h3 trust each other and are online; only a member may name a user" '
	ha_trust_all h1 h2 h3 &&
	as_host h2 h1 nhadmin /v1/vms >a.out && cat a.out && tail -n1 a.out | grep -q "HTTP 403" &&
	grep -q "only a host of this host.s pool may act for a user" a.out &&
	on h1 create_guest dup >/dev/null && on h2 create_guest dup >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null &&
	on_host h2 cluster join h1 >/dev/null && on_host h3 cluster join h1 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	as_host h2 h1 @host /v1/vms | tail -n1 | grep -q "HTTP 200" &&
	as_host h2 h1 nobody /v1/vms >n.out && cat n.out && tail -n1 n.out | grep -q "HTTP 403" && grep -q "nobody" n.out &&
	as_host h2 h1 "bad name!" /v1/vms | tail -n1 | grep -q "HTTP 400"
'

test_expect "vm list on h3 shows h1's and h2's VMs with their hosts; --local only h3's" '
	on h1 create_guest a1 >/dev/null && on h2 create_guest b2 >/dev/null &&
	t0=$(now_ms) && on_host h3 vm list --json >list.json && t1=$(now_ms) && on_host h3 vm list --local >/dev/null &&
	echo "vm list on h3: pool-wide (3 members, 4 VMs) $((t1 - t0)) ms, local $(( $(now_ms) - t1 )) ms" >>"$T/measured" &&
	cat list.json | jq -c "[.vms[] | {name, host}]" &&
	[ "$(jq -r "[.vms[] | \"\(.name)@\(.host)\"] | sort | join(\",\")" list.json)" = "a1@h1,b2@h2,dup@h1,dup@h2" ] &&
	jq -e ".unreachable == []" list.json >/dev/null &&
	on_host h3 vm list >list.txt && cat list.txt &&
	head -n1 list.txt | grep -q "^NAME  *HOST  *STATE" && grep -q "^b2  *h2  *stopped" list.txt &&
	[ "$(on_host h3 vm list --local --json | jq ".vms | length")" = 0 ] &&
	[ "$(on_host h1 vm list --state stopped --json | jq -r "[.vms[] | .host] | sort | join(\",\")")" = h1,h1,h2,h2 ] &&
	[ "$(on_host h1 vm list b2 --json | jq -r "[.vms[] | .name + \"@\" + .host] | join(\",\")")" = b2@h2 ]
'

# VM names are unique in a pool: a name another member has is refused for a
# new VM (create, clone) or a rename (edit); "dup" is on two hosts because both had it before
# they formed the pool (below: refused as ambiguous when named).
test_expect "a new or renamed VM may not take a name another member has (create, clone, edit): refused naming it, nothing made" '
	fails on h3 create_guest b2 2>err && grep -q "a vm named .b2. exists on h2, another host of this pool" err &&
	fails on_host h1 vm clone a1 b2 2>err && grep -q "exists on h2, another host of this pool" err &&
	fails on h3 create_guest dup 2>err && cat err && grep -q "exists on other hosts of this pool" err &&
	on_host h1 vm show a1 --local --json | jq ".name = \"b2\" | del(.status)" >ren.json &&
	fails on_host h1 vm edit a1 --from ren.json 2>err && grep -q "exists on h2, another host of this pool" err &&
	[ "$(on_host h1 vm show a1 --local --json | jq -r .name)" = a1 ] &&
	[ "$(on_host h3 vm list --local --json | jq ".vms | length")" = 0 ] &&
	[ "$(on_host h1 vm list --local --json | jq -r "[.vms[].name] | sort | join(\",\")")" = a1,dup ] &&
	on h3 create_guest c3 >/dev/null && on_host h3 vm delete c3 --yes >/dev/null
'

test_expect "start, show and stop of h2's VM run on h1 act on h2 (the start's job followed on h2)" '
	on_host h1 vm start b2 | tee out && grep -q "b2: running" out &&
	[ "$(state_on h2 b2)" = running ] && ! on_host h1 vm show b2 --local >/dev/null 2>&1 &&
	on_host h1 vm show b2 --json | jq -e ".name == \"b2\" and .status.state == \"running\"" >/dev/null &&
	sock h1 GET /v1/vms/b2 >show.out && tail -n1 show.out | grep -q "HTTP 200" &&
	curl -sS -D hdr -o /dev/null --unix-socket "$T/h1.sock" http://corral/v1/vms/b2 && grep -qi "^x-corral-host: h2" hdr &&
	grep -qi "^etag: " hdr &&
	sock h1 POST /v1/vms/b2/pause >pause.out && tail -n1 pause.out | grep -q "HTTP 202" &&
	jid=$(head -n -1 pause.out | jq -r .job.id) && [ "$(head -n -1 pause.out | jq -r .job.host)" = h2 ] &&
	wait_for 10 "[ \"\$(on_host h1 job show $jid --host h2 --json | jq -r .state)\" = succeeded ]" &&
	[ "$(state_on h2 b2)" = paused ] && on_host h1 vm resume b2 >/dev/null && [ "$(state_on h2 b2)" = running ] &&
	on_host h1 vm stop b2 --force | grep -q "b2: stopped" && [ "$(state_on h2 b2)" = stopped ] &&
	on_host h2 events --kind api | grep -q "host:h1 from 10.99.0.1: POST /v1/vms/b2/stop -> 202" &&
	on_host h1 vm events b2 | grep -q "stopped" &&
	fails on_host h1 vm events b2 --follow 2>err && cat err && grep -q "is on host h2: event streams are not forwarded" err &&
	fails timeout 10 "$CORRAL" --socket "$T/h1.sock" vm console b2 2>err && cat err && grep -q "is on host h2: consoles are not forwarded" err
'

test_expect "a user whose ACL names one VM sees only it pool-wide and cannot act on another (403 from its owner)" '
	echo "limited-pass-1" | on_host h1 user add lim && on_host h1 acl add lim Operator /vms/b2 &&
	on_host h1 acl list && on_host h3 acl list &&
	wait_for 5 "on_host h3 acl list | grep -q \"/vms/b2 *lim *Operator\" && on_host h1 acl list | grep -q \"/vms/b2 *lim *Operator\"" &&
	tls h3 lim:limited-pass-1 GET /v1/vms >l.out && cat l.out &&
	[ "$(head -n -1 l.out | jq -r "[.vms[] | .name + \"@\" + .host] | join(\",\")")" = b2@h2 ] &&
	tls h1 lim:limited-pass-1 POST /v1/vms/b2/start >s.out && tail -n1 s.out | grep -q "HTTP 202" &&
	wait_for 10 "[ \"\$(state_on h2 b2)\" = running ]" &&
	on_host h2 events --kind api | grep -q "lim via h1 from 10.99.0.1: POST /v1/vms/b2/start -> 202" &&
	tls h3 lim:limited-pass-1 POST /v1/vms/a1/start >f.out && cat f.out && tail -n1 f.out | grep -q "HTTP 403" &&
	on_host h1 events --kind api | grep -q "lim via h3 from 10.99.0.3: POST /v1/vms/a1/start -> 403" &&
	[ "$(state_on h1 a1)" = stopped ] &&
	tls h3 lim:limited-pass-1 GET /v1/vms/a1 | tail -n1 | grep -q "HTTP 403" &&
	nhost_in h3 curl -sk -u lim:limited-pass-1 -H "X-Corral-User: nhadmin" "$(nhost_url h3)/v1/vms" |
		jq -e "[.vms[].name] == [\"b2\"]" >/dev/null &&
	on_host h1 vm stop b2 --force >/dev/null
'

test_expect "a name on two hosts is refused as ambiguous, naming both; by uuid it is one" '
	fails on_host h3 vm show dup 2>err && cat err && grep -q "ambiguous" err && grep -q "h1 (uuid" err && grep -q "h2 (uuid" err &&
	sock h3 POST /v1/vms/dup/start | tail -n1 | grep -q "HTTP 409" &&
	u=$(on_host h2 vm show dup --local --json | jq -r .uuid) &&
	[ "$(on_host h3 vm show "uuid:$u" --json | jq -r .uuid)" = "$u" ] &&
	[ "$(on_host h1 vm show dup --json | jq -r .uuid)" != "$u" ] &&
	fails on_host h3 vm show nosuch 2>err && grep -q "not found on this host nor on any member" err
'

test_expect "hostile names are refused without being forwarded" '
	for p in "GET /v1/vms/..%2Fx" "POST /v1/vms/a%01b/start" "GET /v1/vms/uuid:..%2F..%2Fx" "PUT /v1/vms/a%0Ab" \
		 "GET /v1/vms/%2E%2E/snapshots" "DELETE /v1/vms/a%1Bb"; do
		sock h3 ${p% *} "${p#* }" >h.out; cat h.out
		tail -n1 h.out | grep -q "HTTP 400" && grep -q "nothing was asked\|uuid" h.out || return 1
	done &&
	sock h3 GET "/v1/vms/a1?host=..%2Fh1" | tail -n1 | grep -q "HTTP 404" &&
	sock h3 GET "/v1/vms/a1?scope=bogus" | tail -n1 | grep -q "HTTP 400" &&
	[ "$(sock h3 GET "/v1/vms/a1?scope=local" | tail -n1)" = "HTTP 404" ]
'

test_expect "a member cut off at the switch is reported unreachable; the others are listed" '
	ip -n "$(nhost_ns sw)" link set p2 down &&
	t0=$(now_ms) && on_host h3 vm list >cut.txt 2>cut.err; rc=$?; t1=$(now_ms) && cat cut.txt cut.err &&
	[ $rc = 0 ] && echo "vm list with h2 cut: $((t1 - t0)) ms" >>"$T/measured" && [ $((t1 - t0)) -lt 4000 ] &&
	grep -q "warning: host h2 did not answer" cut.err && grep -q "^a1  *h1" cut.txt && ! grep -q "^b2" cut.txt &&
	on_host h3 vm list --json 2>/dev/null | jq -e ".unreachable == [\"h2\"] and ([.vms[].host] | unique) == [\"h1\"]" >/dev/null &&
	fails on_host h3 vm show b2 2>err && grep -q "h2" err &&
	wait_for 15 "[ \"\$(online h3)\" = h1,h3 ]" &&
	on_host h3 vm list --json 2>/dev/null | jq -e ".unreachable == [\"h2\"]" >/dev/null &&
	on_host h3 vm list 2>&1 >/dev/null | grep -q "h2 did not answer.*offline"
'

cat "$T/measured" 2>/dev/null
finish
