#!/usr/bin/env bash
# demo.sh - `make demo`: start corrald (system defaults: /var/lib/corral,
# /run/corral/corral.sock), create the demo VM from the guest kit, boot it,
# print its console up to the ready marker, then say how to go on.
# Re-running it reuses the running daemon and the existing VM.  It never
# waits for a terminal.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
corrald=$build/corrald
corral=$build/corral
guest=$build/guest
log=/var/log/corrald.log

say() { printf '==> %s\n' "$*"; }

if ! "$corral" host info >/dev/null 2>&1; then
	say "starting corrald (log: $log)"
	setsid "$corrald" --log-file "$log" </dev/null >/dev/null 2>&1 &
	for _ in $(seq 1 50); do
		"$corral" host info >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$corral" host info >/dev/null || { echo "corrald did not start; see $log" >&2; exit 1; }
else
	say "corrald is already running"
fi
"$corral" host info | grep -E '^(accel|accel_reason):'

if ! "$corral" vm show demo >/dev/null 2>&1; then
	"$corral" disk show demo-data >/dev/null 2>&1 || "$corral" disk create demo-data 1G
	"$corral" vm create demo --memory 256M --disk demo-data \
		--kernel "$guest/vmlinuz" --initrd "$guest/initrd.img" \
		--cmdline "console=ttyS0 quiet no_timer_check panic=-1" --description "corral demo guest"
fi

state=$("$corral" vm list demo --json | tr -d ' \n' | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')
before=$("$corral" vm log demo --tail 64M | tr -d '\r' | grep -c '^CORRAL-GUEST-READY$' || true)
if [ "$state" = running ] || [ "$state" = paused ]; then
	say "vm demo is already $state"
else
	say "starting vm demo"
	"$corral" vm start demo
fi

say "console of vm demo (until the guest says it is ready):"
for _ in $(seq 1 240); do
	n=$("$corral" vm log demo --tail 64M | tr -d '\r' | grep -c '^CORRAL-GUEST-READY$' || true)
	if [ "$n" -gt "$before" ] || { [ "$state" = running ] && [ "$n" -gt 0 ]; }; then
		break
	fi
	sleep 0.5
done
"$corral" vm log demo --tail 4K | tr -d '\r' | sed 's/\x1b[[?0-9;]*[A-Za-z]//g; s/\x1bc//g' | sed -n '/./p' | tail -n 25
if [ "$n" -le "$before" ] && [ "$state" != running ]; then
	echo "the demo guest did not report ready in 120 s; see '$corral vm log demo'" >&2
	exit 1
fi

cat <<EOT

The demo guest is up.  Try:
  $corral vm list
  $corral vm show demo
  $corral vm console demo          # serial console; detach with Ctrl-]
  $corral vm stop demo             # graceful ACPI power-off
To stop everything:
  $corral vm stop demo && kill \$(pidof corrald)
(corrald can be stopped at any time; running guests keep running.)
EOT
