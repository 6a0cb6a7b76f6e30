#!/usr/bin/env bash
# t79-ct-autostart.sh - containers in the one inventory (issue 15, part 2;
# docs/containers.md "Autostart and tags"): --autostart, --start-order and
# --start-delay put containers into the same ordered autostart as VMs (a
# corrald start starts container, VM, container by order, waiting the
# delay); tags on containers: `tag:T` selects them in `ct list`/`ct start`
# and a backup policy selects tagged containers and VMs alike; `ct events`
# lists a container's events; `ct edit` changes a stopped one.  Bad values
# are refused with nothing made.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
setup_daemon
trap 'corral ct kill "name:*" >/dev/null 2>&1; cleanup' EXIT
ct_state() { corral ct show "$1" --json | jq -r .state; }
ev_ms() { corral events --vm "$1" --kind autostart --limit 200 --json | jq -r "[.events[]] | last | .time" | xargs -I{} date -d {} +%s%3N; }

test_expect "autostart, order, delay and tags are container definition fields, validated and shown" '
	corral ct create a1 --template busybox --autostart --start-order 5 --tag web --tag web >/dev/null &&
	corral ct create a2 --template busybox --autostart --start-order 1 --start-delay 2 >/dev/null &&
	corral ct create a3 --template busybox --tag web --tag db >/dev/null &&
	create_guest v1 --autostart --start-order 3 --tag web >/dev/null &&
	corral ct show a1 --json | jq -e ".autostart == true and .start_order == 5 and .start_delay == 0 and .tags == [\"web\"]" >/dev/null &&
	corral ct show a3 --json | jq -e "has(\"autostart\") | not" >/dev/null &&
	corral ct show a2 | grep -q "^autostart: *yes (order 1, delay 2 s)" && corral ct show a3 | grep -q "^tags: *web, db" &&
	fails corral ct create x1 --template busybox --start-order 2000000 2>err && grep -q "invalid --start-order" err &&
	fails corral ct create x1 --template busybox --start-delay -1 2>err && grep -q "invalid --start-delay" err &&
	fails corral ct create x1 --template busybox --tag "../x" 2>err && grep -q "container tag" err &&
	api POST /v1/containers "{\"name\":\"x1\",\"template\":\"busybox\",\"start_delay\":4000}" | tail -n1 | grep -q "HTTP 400" &&
	fails corral ct show x1 && [ ! -e "$STATE/lxc/x1" ]
'

test_expect "tag:T selects containers: ct list, ct start" '
	[ "$(corral ct list tag:web --json | jq -r "[.containers[].name] | join(\",\")")" = "a1,a3" ] &&
	[ "$(corral ct list tag:db --json | jq -r "[.containers[].name] | join(\",\")")" = "a3" ] &&
	corral ct start tag:db >/dev/null && [ "$(ct_state a3)" = running ] && [ "$(ct_state a1)" = stopped ] &&
	corral ct kill a3 >/dev/null
'

test_expect "a backup policy selects tagged containers and VMs alike" '
	corral repo create "$T/repo" >/dev/null &&
	printf "name=webs\nrepo=%s\nselect=tag:web\n" "$T/repo" >"$T/pol" && corral policy set "$T/pol" >/dev/null &&
	corral backup run webs --preview --json >prev.json &&
	[ "$(jq -r "[.backup[].vm] | sort | join(\",\")" prev.json)" = "a1,a3,v1" ] &&
	jq -e "[.skip[].vm] | index(\"a2\")" prev.json >/dev/null
'

test_expect "ct edit changes a stopped container (flags, --from), refuses what cannot change and a running one" '
	corral ct edit a3 --autostart --start-order 9 --no-tags --tag db --memory 64M --description "edited" >/dev/null &&
	corral ct show a3 --json | jq -e ".autostart and .start_order == 9 and .tags == [\"db\"] and .limits.memory_limit_mib == 64 and .description == \"edited\"" >/dev/null &&
	corral ct show a3 --json | jq ".idmap" >idmap.before &&
	corral ct show a3 --json | jq "{name, template, privileged, tags: [\"web\", \"db\"]}" >def.json &&
	corral ct edit a3 --from def.json >/dev/null &&
	corral ct show a3 --json | jq -e ".tags == [\"web\", \"db\"] and (has(\"limits\") | not) and (.autostart // false) == false" >/dev/null &&
	corral ct show a3 --json | jq ".idmap" | diff idmap.before - &&
	corral ct events a3 | grep -q "definition edited" &&
	jq ".privileged = true" def.json >p.json && fails corral ct edit a3 --from p.json 2>err && grep -q "privileged cannot change" err &&
	jq ".name = \"zz\"" def.json >n.json && fails corral ct edit a3 --from n.json 2>err && grep -q "name cannot change" err &&
	fails corral ct edit a3 --start-order x 2>err && grep -q "invalid --start-order" err &&
	fails corral ct edit a3 </dev/null 2>err && grep -q "nothing to change" err &&
	corral ct start a3 >/dev/null && fails corral ct edit a3 --tag x 2>err && grep -q "is running: stop it first" err &&
	corral ct kill a3 >/dev/null && corral ct show a3 --json | jq -e ".tags == [\"web\", \"db\"]" >/dev/null
'

test_expect "a corrald start autostarts containers and VMs in one order, waiting the delays" '
	stop_daemon && start_daemon &&
	for _ in $(seq 1 150); do [ "$(ct_state a1)" = running ] && break; sleep 0.2; done &&
	[ "$(ct_state a1)" = running ] && [ "$(ct_state a2)" = running ] && [ "$(ct_state a3)" = stopped ] &&
	wait_state v1 running 20 &&
	corral events --kind autostart --json | jq -r "[.events[].name] | join(\",\")" >order && cat order &&
	[ "$(cat order)" = "a2,v1,a1" ] &&
	corral ct show a1 --json | jq -e "[.status.events[].detail] | any(test(\"3 of 3, order 5\"))" >/dev/null &&
	t2=$(ev_ms a2) && tv=$(ev_ms v1) && t1=$(ev_ms a1) && echo "gaps: $((tv - t2)) ms, $((t1 - tv)) ms" &&
	[ $((tv - t2)) -ge 2000 ] &&
	corral ct events a1 | grep -Eq " autostart +started at corrald start \(3 of 3, order 5\)" &&
	corral ct events a1 --limit 1 --json | jq -e ".events | length == 1" >/dev/null &&
	fails corral ct events nosuch 2>err && grep -q "not found" err &&
	fails corral ct events a1 --limit 0 2>err && grep -q "invalid --limit" err &&
	corral vm kill v1 >/dev/null && corral ct kill "name:a*" >/dev/null
'

finish
