#!/usr/bin/env bash
# Lifecycle of a real guest: create, start, ready marker on the serial
# console, pause/resume, graceful ACPI stop, kill, reboot, events, delete.
. "$(dirname "$0")/lib.sh"
setup_daemon

test_expect "host info says which accelerator and why" '
	corral host info --json | jq -e ".accel == \"tcg\" or .accel == \"kvm\"" &&
	corral host info --json | jq -e ".accel_reason | length > 5"
'
test_expect "create a VM from flags" '
	create_guest g1 --cpus 1 --description "lifecycle test" --tag test &&
	[ "$(vm_state g1)" = stopped ] &&
	corral vm show g1 --json | jq -e ".cpus == 1 and .memory_mib == 256 and .rng == true and .tags == [\"test\"]"
'
test_expect "start boots the guest to its ready marker" '
	corral vm start g1 &&
	[ "$(vm_state g1)" = running ] &&
	wait_ready_after g1 0
'
test_expect "show reports pid, the accelerator really used, and recent events" '
	pid=$(corral vm show g1 --json | jq -r .status.pid) &&
	! proc_gone "$pid" &&
	host_accel=$(corral host info --json | jq -r .accel) &&
	[ "$(corral vm show g1 --json | jq -r .status.accel)" = "$host_accel" ] &&
	corral vm show g1 | grep -Eq "^accel: +auto \(running on $host_accel\)" &&
	corral vm show g1 --json | jq -e "[.status.events[].detail] | any(test(\"running\"))"
'
test_expect "list with a name pattern" '
	corral vm list "name:g*" --json | jq -e ".vms | length == 1 and .[0].state == \"running\"" &&
	corral vm list "name:zz*" --json | jq -e ".vms | length == 0"
'
test_expect "pause and resume" '
	corral vm pause g1 && [ "$(vm_state g1)" = paused ] &&
	corral vm resume g1 && [ "$(vm_state g1)" = running ]
'
test_expect "a running VM cannot be edited or deleted" '
	fails corral vm delete --yes g1 2>err && grep -q "stop it first" err &&
	fails corral vm edit g1 --cpus 2 2>err && grep -q "stop it first" err
'
test_expect "graceful stop: the guest powers off through ACPI" '
	start=$SECONDS &&
	corral vm stop g1 --timeout 60 --json >"$T/g1stop.json" &&
	[ "$(vm_state g1)" = stopped ] && jq -e ".results[0].killed == false" "$T/g1stop.json" &&
	[ $((SECONDS - start)) -lt 30 ] &&
	corral vm show g1 --json | jq -e ".status.reason | test(\"stopped by user\")" &&
	corral vm log g1 | grep -q "reboot: Power down"
'
test_expect "edit a stopped VM" '
	corral vm edit g1 --cpus 2 --memory 300M &&
	corral vm show g1 --json | jq -e ".cpus == 2 and .memory_mib == 300"
'
test_expect "reboot restarts the guest (graceful)" '
	boot g1 &&
	n=$(ready_count g1) &&
	corral vm reboot g1 &&
	wait_ready_after g1 "$n" &&
	[ "$(vm_state g1)" = running ] &&
	corral vm show g1 --json | jq -e "[.status.events[].type] | index(\"reboot\") != null"
'
test_expect "kill stops at once" '
	corral vm kill g1 && [ "$(vm_state g1)" = stopped ] &&
	corral vm show g1 --json | jq -e ".status.reason | test(\"killed\")"
'
test_expect "a stop never kills silently: a deaf guest fails the stop, runs on, and says how to force it" '
	create_guest deaf --agent off --cmdline "console=ttyS0 quiet no_timer_check corral.noacpi" &&
	boot deaf && pid=$(corral vm show deaf --json | jq -r .status.pid) &&
	fails corral vm stop deaf --timeout 2 >"$T/stop.out" 2>"$T/stop.err" && cat "$T/stop.err" &&
	grep -q "^corral: deaf: the guest ignored the ACPI power button for 2 s and keeps running (not killed).*--force.*--kill" "$T/stop.err" &&
	[ "$(vm_state deaf)" = running ] && ! proc_gone "$pid" &&
	corral vm show deaf --json | jq -e ".status.reason | test(\"stop timed out\")" &&
	fails corral vm stop deaf --kill 2>err && grep -q "needs an explicit --timeout" err &&
	fails corral vm stop deaf --kill --timeout 1 --force 2>err && grep -q "give one of them" err &&
	[ "$(vm_state deaf)" = running ]
'
test_expect "stop --timeout S --kill kills a deaf guest after S seconds and says so" '
	start=$SECONDS && corral vm stop deaf --timeout 3 --kill >"$T/stop.out" && cat "$T/stop.out" &&
	grep -q "^deaf: stopped (.*ignored the power button for 3 s; killed)" "$T/stop.out" &&
	[ "$(vm_state deaf)" = stopped ] && [ $((SECONDS - start)) -lt 20 ] &&
	corral vm show deaf --json | jq -e ".status.reason | test(\"ignored\")"
'
test_expect "stop --force kills at once and says so" '
	boot deaf &&
	corral vm stop deaf --force --json | jq -e ".results[0].killed == true and (.results[0].reason | test(\"forced\"))" &&
	[ "$(vm_state deaf)" = stopped ]
'
test_expect "a guest that powers itself off ends stopped, not crashed" '
	boot deaf &&
	printf "poweroff -f\n" | corral vm console deaf --linger 1 >/dev/null &&
	wait_state deaf stopped 30 &&
	corral vm show deaf --json | jq -e ".status.reason | test(\"guest shut down\")"
'
test_expect "QEMU killed from outside: the VM is crashed, with the reason" '
	corral vm start deaf &&
	pid=$(corral vm show deaf --json | jq -r .status.pid) && kill -9 "$pid" &&
	wait_state deaf crashed 20 &&
	corral vm show deaf --json | jq -e ".status.reason | test(\"unexpectedly\")" &&
	corral vm start deaf && wait_state deaf running 60 && corral vm kill deaf
'
test_expect "a second start is refused while running" '
	corral vm start g1 && fails corral vm start g1 2>err && grep -qx "corral: g1: vm is already running" err
'
test_expect "a request while another job holds the VM is refused as busy" '
	boot deaf &&
	(corral vm stop deaf --timeout 4 --kill >/dev/null 2>&1 &) &&
	sleep 1 &&
	fails corral vm pause deaf 2>err && grep -q "busy: stop (job [0-9]*) in progress" err &&
	api POST /v1/vms/deaf/reboot "" | sed "\$d" | jq -e ".error.code == \"busy\"" &&
	wait_state deaf stopped 30
'
test_expect "vm show --json round-trips into vm create --from" '
	corral vm show g1 --json >"$T/g1.json" &&
	jq ".name = \"g1-copy\" | del(.uuid) | del(.nics[0].mac)" "$T/g1.json" >"$T/copy.json" &&
	corral vm create --from "$T/copy.json" &&
	corral vm show g1-copy --json | jq -S "del(.uuid, .name, .nics[0].mac, .status)" >"$T/b" &&
	jq -S "del(.uuid, .name, .nics[0].mac, .status)" "$T/g1.json" >"$T/a" &&
	diff "$T/a" "$T/b" &&
	corral vm delete --yes g1-copy &&
	corral vm create g1-copy2 --from "$T/g1.json" >/dev/null &&
	[ "$(corral vm show g1-copy2 --json | jq -r .uuid)" != "$(jq -r .uuid "$T/g1.json")" ] &&
	[ "$(corral vm show g1-copy2 --json | jq -r ".nics[0].mac")" != "$(jq -r ".nics[0].mac" "$T/g1.json")" ] &&
	corral vm delete --yes g1-copy2
'
test_expect "actions on a pattern act on every match" '
	corral vm start deaf &&
	corral vm kill "name:*" --json | jq -e ".results | length == 2 and all(.ok)" &&
	[ "$(vm_state g1)" = stopped ] && [ "$(vm_state deaf)" = stopped ]
'
test_expect "delete removes the VM" '
	corral vm delete --yes deaf && fails corral vm show deaf 2>err && grep -q "not found" err
'
finish
