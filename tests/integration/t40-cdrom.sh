#!/usr/bin/env bash
# CD-ROM media on a running guest: insert, read inside the guest, eject,
# re-insert (the installer's second boot).
. "$(dirname "$0")/lib.sh"
setup_daemon

# The first read after a media change may fail (the drive reports UNIT
# ATTENTION once); a guest's udev would simply retry, so do we.
READ_CD='for i in 1 2 3 4 5 6; do head -c 14 /dev/sr0 2>/dev/null && break; sleep 0.5; done; echo'

mkiso() { head -c 1048576 /dev/zero >"$1" && printf "%s" "$2" | dd of="$1" conv=notrunc 2>/dev/null; }

test_expect "start a guest with an empty drive" '
	mkiso "$T/one.iso" CORRAL-ISO-ONE && mkiso "$T/two.iso" CORRAL-ISO-TWO &&
	create_guest c1 && boot c1
'
test_expect "insert a medium while running; the guest reads it" '
	corral cdrom insert c1 "$T/one.iso" &&
	corral vm show c1 --json | jq -e ".cdrom == \"$T/one.iso\"" &&
	out=$(printf "%s\n" "$READ_CD" | corral vm console c1 --linger 5) &&
	echo "$out" | grep -q CORRAL-ISO-ONE
'
test_expect "eject and insert another" '
	corral cdrom eject c1 &&
	corral vm show c1 --json | jq -e ".cdrom == null" &&
	corral cdrom insert c1 "$T/two.iso" &&
	out=$(printf "%s\n" "$READ_CD" | corral vm console c1 --linger 5) &&
	echo "$out" | grep -q CORRAL-ISO-TWO &&
	corral vm show c1 --json | jq -e "[.status.events[].type] | index(\"cdrom\") != null"
'
test_expect "missing and relative ISO paths are refused" '
	fails corral cdrom insert c1 "$T/nonexistent.iso" 2>err && grep -qi "does not exist" err &&
	corral vm show c1 --json | jq -e ".cdrom == \"$T/two.iso\""
'
test_expect "the medium stays in the definition for the next boot" '
	corral vm kill c1 && boot c1 &&
	out=$(printf "%s\n" "$READ_CD" | corral vm console c1 --linger 5) &&
	echo "$out" | grep -q CORRAL-ISO-TWO
'
finish
