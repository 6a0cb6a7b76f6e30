#!/usr/bin/env bash
# Host integration: `meson install --destdir` puts the systemd unit, the
# tmpfiles.d entry, the init script and a commented corrald.conf in place
# (never overwriting an existing corrald.conf); the unit passes
# `systemd-analyze verify` (a syntax check where systemd-analyze is
# missing); the init script starts corrald without systemd and its
# restart leaves a running guest alone; socket_group opens the API socket
# to a group.
. "$(dirname "$0")/lib.sh"
BUILD=$(cd "$(dirname "$CORRALD")" && pwd)
D=$T/root
PREFIX=$(meson introspect --buildoptions "$BUILD" | jq -r '.[] | select(.name == "prefix") | .value')

test_expect "meson install --destdir installs unit, tmpfiles entry, init script and corrald.conf" '
	meson install -C "$BUILD" --destdir "$D" --quiet >"$T/install.out" 2>&1 || { cat "$T/install.out"; return 1; } &&
	for f in "$PREFIX/sbin/corrald" "$PREFIX/bin/corral" "$PREFIX/lib/systemd/system/corrald.service" \
		 "$PREFIX/lib/tmpfiles.d/corral.conf" /etc/init.d/corrald /etc/corral/corrald.conf \
		 "$PREFIX/share/corral/corrald.conf.example"; do
		[ -f "$D$f" ] || { say "missing $f"; return 1; }
	done &&
	[ -x "$D/etc/init.d/corrald" ] &&
	grep -qx "ExecStart=$PREFIX/sbin/corrald" "$D$PREFIX/lib/systemd/system/corrald.service" &&
	grep -qx "KillMode=process" "$D$PREFIX/lib/systemd/system/corrald.service" &&
	grep -q "^DAEMON=$PREFIX/sbin/corrald$" "$D/etc/init.d/corrald"
'
test_expect "the installed corrald.conf explains every key, all commented out, and is valid once uncommented" '
	conf=$D/etc/corral/corrald.conf &&
	! grep -v "^#" "$conf" | grep -q . &&
	for k in state_dir socket storage_dir allow_path listen; do grep -q "^#$k =" "$conf" || return 1; done &&
	"$CORRALD" --config "$conf" --check-config | grep -q "settings valid" &&
	sed -n "s/^#\([a-z_]*\) = \(.*\)$/\1 = \2/p" "$conf" | grep -v "^state_dir\|^socket" >"$T/uncommented.conf" &&
	[ "$(wc -l <"$T/uncommented.conf")" -gt 15 ] &&
	"$CORRALD" --config "$T/uncommented.conf" --check-config &&
	echo "http_workers = 0" >>"$T/uncommented.conf" &&
	fails "$CORRALD" --config "$T/uncommented.conf" --check-config 2>err && grep -q "uncommented.conf:.*http_workers" err
'
test_expect "a second install keeps an existing corrald.conf" '
	echo "http_workers = 3" >>"$D/etc/corral/corrald.conf" &&
	meson install -C "$BUILD" --destdir "$D" >"$T/install2.out" 2>&1 &&
	[ "$(grep -c "^#[a-z_]* =" "$D/etc/corral/corrald.conf")" -gt 15 ] &&
	tail -n1 "$D/etc/corral/corrald.conf" | grep -qx "http_workers = 3"
'
test_expect "the unit passes systemd-analyze verify (else a syntax check); tmpfiles creates the dirs" '
	unit=$D$PREFIX/lib/systemd/system/corrald.service &&
	if command -v systemd-analyze >/dev/null; then
		mkdir -p "$T/units" &&
		sed "s|$PREFIX/sbin/corrald|$CORRALD|" "$unit" >"$T/units/corrald.service" &&
		systemd-analyze verify "$T/units/corrald.service"
	else
		say "systemd-analyze missing: syntax check only" &&
		awk "/^\[/{s=\$0; next} /^[A-Za-z]+=/{if(s==\"\")exit 1; next} /^(#|$)/{next} {exit 1}" "$unit"
	fi &&
	if command -v systemd-tmpfiles >/dev/null; then
		systemd-tmpfiles --root="$T/tmproot" --create "$D$PREFIX/lib/tmpfiles.d/corral.conf" &&
		[ "$(stat -c %a "$T/tmproot/run/corral")" = 700 ] && [ -d "$T/tmproot/var/lib/corral" ]
	fi &&
	sh -n "$D/etc/init.d/corrald"
'
# The installed init script, pointed at this test'"'"'s corrald and directories.
sed -e "s|^DAEMON=.*|DAEMON=$CORRALD|" -e "s|^PIDFILE=.*|PIDFILE=$T/corrald.pid|" \
    -e "s|^LOGFILE=.*|LOGFILE=$T/corrald.log|" -e "s|^DEFAULTS=.*|DEFAULTS=$T/default|" \
    "$D/etc/init.d/corrald" >"$T/init" 2>/dev/null && chmod +x "$T/init"
echo "CORRALD_ARGS=\"--config /dev/null --allow-path $T --allow-path $GUEST_DIR --state-dir $STATE --socket $SOCK --socket-group nogroup\"" >"$T/default"

test_expect "the init script starts corrald without systemd (socket_group applied); restart leaves a running guest alone" '
	"$T/init" start && for _ in $(seq 50); do corral host info >/dev/null 2>&1 && break; sleep 0.2; done &&
	"$T/init" status | grep -q "corrald is running" &&
	[ "$(stat -c "%a %G" "$SOCK")" = "660 nogroup" ] &&
	setpriv --reuid 65534 --regid 65534 --clear-groups "$CORRAL" --socket "$SOCK" host info >/dev/null &&
	fails setpriv --reuid 65534 --regid 65533 --clear-groups "$CORRAL" --socket "$SOCK" host info 2>err &&
	grep -qi "permission denied\|cannot connect" err &&
	create_guest i1 >/dev/null && boot i1 &&
	pid=$(corral vm show i1 --json | jq -r .status.pid) &&
	"$T/init" restart && for _ in $(seq 50); do corral host info >/dev/null 2>&1 && break; sleep 0.2; done &&
	! proc_gone "$pid" && [ "$(vm_state i1)" = running ] &&
	[ "$(corral vm show i1 --json | jq -r .status.pid)" = "$pid" ] &&
	corral vm kill i1 && "$T/init" stop && fails "$T/init" status >/dev/null &&
	! [ -e "$T/corrald.pid" ]
'
"$T/init" stop >/dev/null 2>&1
finish
