#!/usr/bin/env bash
# Guests with the host: --start-order/--start-delay are definition fields;
# a corrald start autostarts in ascending order, waiting the delays; `host
# shutdown-guests` and corrald's SIGTERM with shutdown_guests stop every
# guest at once, in reverse start order, and kill the one that ignores the
# power button (corral.noacpi) after the timeout, saying so.
. "$(dirname "$0")/lib.sh"
setup_daemon

# ms since the epoch of the event (newest of kind KIND for VM) with detail matching RE
ev_ms() { corral events --vm "$1" --kind "$2" --limit 200 --json |
	jq -r --arg re "$3" "[.events[] | select(.detail | test(\$re))] | last | .time" | xargs -I{} date -d {} +%s%3N; }

test_expect "start order and delay are definition fields, validated and shown" '
	create_guest first --autostart --start-order 1 --start-delay 4 >/dev/null &&
	create_guest second --autostart --start-order 2 >/dev/null &&
	create_guest deaf --autostart --start-order 3 --agent off --cmdline "$GUEST_CMDLINE corral.noacpi" >/dev/null &&
	create_guest manual >/dev/null &&
	corral vm show first --json | jq -e ".start_order == 1 and .start_delay == 4" &&
	corral vm show manual --json | jq -e ".start_order == 0 and .start_delay == 0 and .autostart == false" &&
	corral vm show second | grep -q "^autostart: .*(order 2, delay 0 s)" &&
	fails corral vm edit manual --start-delay 4000 2>err && grep -q "invalid --start-delay" err &&
	fails corral vm edit manual --start-order x 2>err && grep -q "invalid --start-order" err &&
	api POST /v1/vms "{\"name\":\"bad\",\"start_order\":2000000}" | tail -n1 | grep -q "HTTP 400" &&
	api POST /v1/vms "{\"name\":\"bad\",\"start_delay\":-1}" | sed "\$d" | jq -e ".error.message | test(\"start_delay\")" &&
	fails corral vm show bad &&
	corral vm edit manual --start-order 7 && corral vm show manual --json | jq -e ".start_order == 7"
'
test_expect "a corrald start autostarts in ascending order, waiting --start-delay after a VM" '
	n1=$(ready_count first); n2=$(ready_count second); n3=$(ready_count deaf);
	stop_daemon && start_daemon &&
	wait_state deaf running 40 &&
	corral events --kind autostart --json | jq -r "[.events[].name] | join(\",\")" >"$T/order" && cat "$T/order" &&
	[ "$(cat "$T/order")" = "first,second,deaf" ] &&
	corral events --vm second --kind autostart --json | jq -e ".events[-1].detail | test(\"2 of 3, order 2\")" &&
	t1=$(ev_ms first autostart .) && t2=$(ev_ms second autostart .) && t3=$(ev_ms deaf autostart .) &&
	echo "autostart gaps: $((t2 - t1)) ms, $((t3 - t2)) ms" &&
	[ $((t2 - t1)) -ge 4000 ] && [ $((t3 - t2)) -lt 4000 ] &&
	[ "$(vm_state manual)" = stopped ] &&
	wait_ready_after first "$n1" && wait_ready_after second "$n2" && wait_ready_after deaf "$n3"
'
test_expect "host shutdown-guests stops all at once in reverse order, kills the deaf one after the timeout, says so" '
	pid=$(corral vm show deaf --json | jq -r .status.pid) &&
	start=$SECONDS && corral host shutdown-guests --timeout 6 >"$T/sd.out" && took=$((SECONDS - start)) &&
	cat "$T/sd.out" && echo "took $took s" && [ "$took" -ge 5 ] && [ "$took" -lt 15 ] &&
	[ "$(head -n1 "$T/sd.out")" = "deaf: stopped (stopped by host shutdown (guest ignored the power button for 6 s; killed))" ] &&
	grep -qx "second: stopped" "$T/sd.out" && grep -qx "first: stopped" "$T/sd.out" && [ "$(wc -l <"$T/sd.out")" = 3 ] &&
	proc_gone "$pid" &&
	corral vm show first --json | jq -e ".status.reason == \"stopped by host shutdown (the guest powered off)\"" &&
	td=$(ev_ms deaf state "^stopped") && t1=$(ev_ms first state "^stopped") && t2=$(ev_ms second state "^stopped") &&
	echo "first and second stopped $((td - t1)) and $((td - t2)) ms before deaf was killed" &&
	[ $((td - t1)) -ge 3000 ] && [ $((td - t2)) -ge 3000 ] &&
	corral host shutdown-guests --timeout 1 | grep -qx "no guest was running" &&
	fails corral host shutdown-guests --timeout 0 2>err && grep -q "invalid --timeout" err
'
test_expect "with shutdown_guests = yes, corrald SIGTERM stops the guests first and logs the kill" '
	corral vm edit first --no-autostart && corral vm edit second --no-autostart &&
	stop_daemon && start_daemon --shutdown-guests --shutdown-timeout 3 &&
	wait_state deaf running 30 && pid=$(corral vm show deaf --json | jq -r .status.pid) &&
	[ "$(vm_state first)" = stopped ] &&
	stop_daemon && proc_gone "$pid" &&
	grep -q "stopping the guests first (shutdown_guests)" "$T/corrald.log" &&
	grep -q "vm deaf: stopped by host shutdown (guest ignored the power button for 3 s; killed)" "$T/corrald.log" &&
	grep -q "guests stopped: 1, of which 1 had to be killed" "$T/corrald.log" &&
	start_daemon && corral events --vm deaf --kind state --json | jq -e "any(.events[]; .detail | test(\"host shutdown.*killed\"))"
'
finish
