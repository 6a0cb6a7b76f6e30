#!/usr/bin/env bash
# Snapshots of a real guest with two qcow2 disks: the guest writes a marker
# to both disks with raw block I/O (sector 10 of vda and vdb) and keeps RAM
# state in its tmpfs (/tmp).  Disk-only and --memory snapshots of a running
# VM, snapshots of a stopped VM, a tree with branches, deleting a snapshot in
# the middle and reverting to its child, hostile input, busy VMs, kill -9 of
# corrald during a --memory snapshot, and qemu-img check of every image.
# A UEFI guest's snapshots carry its NVRAM vars: the guest stores a UEFI
# variable through efivarfs (the firmware writes it to the VM's vars file),
# changes it after a snapshot, and a revert (disk-only: a fresh boot; with
# RAM: loaded in place) brings back the value of the snapshot's moment, in
# the guest and in the file; delete drops the copy; at start corrald resumes
# a VM a crash left paused for its copy and drops copies no snapshot holds;
# deleting the VM removes every copy.
. "$(dirname "$0")/lib.sh"
setup_daemon

# gsh VM 'shell commands': run them on the guest's serial shell, print the output.
gsh() { printf '%s\n' "$2" | corral vm console "$1" --linger 1.5 | tr -d '\r'; }
# write_mark VM XY: the guest writes XY at sector 10 of vda and vdb, and "RAM-XY" to /tmp/ram.
write_mark() {
	gsh "$1" "for d in vda vdb; do echo $2 | dd of=/dev/\$d bs=512 seek=10 conv=fsync 2>/dev/null; done; echo RAM-$2 >/tmp/ram; echo WROTE-$2" |
		grep -q "^WROTE-$2"
}
# read_mark VM: "<vda marker><vdb marker> <tmpfs content or NONE>", e.g. "A1A1 RAM-A1".
read_mark() {
	gsh "$1" 'echo "M=$(dd if=/dev/vda bs=512 skip=10 count=1 2>/dev/null | head -c 2)$(dd if=/dev/vdb bs=512 skip=10 count=1 2>/dev/null | head -c 2) $(cat /tmp/ram 2>/dev/null || echo NONE)"' |
		grep '^M=' | tail -n1 | cut -c3-
}
vol_path() { corral disk show "$1" --json | jq -r .path; }
# img_tags VOLUME: the snapshot tags in the image, sorted, space-separated.
img_tags() {
	qemu-img info -U --output=json "$(vol_path "$1")" | jq -r '[.snapshots // [] | .[].name] | sort | join(" ")'
}
# listed VM: the ready snapshots corral lists, sorted, space-separated.
listed() { corral snapshot list "$1" --json | jq -r '[.snapshots[] | select(.state == "ready") | .name] | sort | join(" ")'; }
parent_of() { corral snapshot show "$1" "$2" --json | jq -r '.parent // "none"'; }
current_of() { corral snapshot list "$1" --json | jq -r '.current // "none"'; }
# consistent VM: every disk holds exactly the snapshots corral lists, and nothing is half done.
consistent() {
	local want
	want=$(listed "$1") &&
		[ "$(img_tags "$1-root")" = "$want" ] && [ "$(img_tags "$1-data")" = "$want" ] &&
		corral snapshot list "$1" --json | jq -e 'all(.snapshots[]; .state == "ready")' >/dev/null
}

test_expect "a guest with two qcow2 disks writes markers" '
	corral disk create g-root 64M && corral disk create g-data 32M &&
	create_guest g --disk g-root --disk g-data &&
	boot g && wait_block g "sr0 vda vdb" &&
	write_mark g A1 && [ "$(read_mark g)" = "A1A1 RAM-A1" ]
'
test_expect "disk-only snapshot of a running VM, revert reboots from the old disks" '
	corral snapshot create g s1 --description "first one" | grep -q "created snapshot s1" &&
	[ "$(vm_state g)" = running ] &&
	[ "$(img_tags g-root)" = s1 ] && [ "$(img_tags g-data)" = s1 ] &&
	write_mark g B2 && [ "$(read_mark g)" = "B2B2 RAM-B2" ] &&
	n=$(ready_count g) &&
	corral snapshot revert --yes g s1 &&
	wait_ready_after g "$n" && [ "$(vm_state g)" = running ] &&
	[ "$(read_mark g)" = "A1A1 NONE" ] &&
	[ "$(current_of g)" = s1 ]
'
test_expect "--memory snapshot: revert brings back RAM and disks, VM running, no reboot" '
	write_mark g C3 &&
	corral snapshot create g s2 --memory | grep -q "with RAM" &&
	[ "$(vm_state g)" = running ] &&
	corral snapshot show g s2 --json | jq -e ".memory and .was_running and .size > 1000000 and .parent == \"s1\"" &&
	write_mark g D4 && [ "$(read_mark g)" = "D4D4 RAM-D4" ] &&
	n=$(ready_count g) &&
	corral snapshot revert --yes g s2 &&
	wait_state g running 60 &&
	[ "$(read_mark g)" = "C3C3 RAM-C3" ] &&
	[ "$(ready_count g)" = "$n" ] &&
	corral snapshot list g | grep -E "^ +s2 \*" | grep -q yes
'
test_expect "stopped VM: snapshot and revert with qemu-img" '
	corral vm kill g &&
	corral snapshot create g s3 &&
	[ "$(img_tags g-root)" = "s1 s2 s3" ] && [ "$(img_tags g-data)" = "s1 s2 s3" ] &&
	corral snapshot show g s3 --json | jq -e "(.memory | not) and (.was_running | not) and .parent == \"s2\"" &&
	boot g && write_mark g E5 && corral vm kill g &&
	corral snapshot revert --yes g s3 && [ "$(vm_state g)" = stopped ] &&
	boot g && [ "$(read_mark g)" = "C3C3 NONE" ]
'
test_expect "--memory revert of a stopped VM starts it where the snapshot was taken" '
	corral vm kill g &&
	corral snapshot revert --yes g s2 && wait_state g running 60 &&
	[ "$(read_mark g)" = "C3C3 RAM-C3" ] && corral vm kill g
'
test_expect "a tree with branches: revert s1, then s4 is a child of s1" '
	corral snapshot revert --yes g s1 && [ "$(current_of g)" = s1 ] &&
	corral snapshot create g s4 &&
	[ "$(parent_of g s4)" = s1 ] && [ "$(parent_of g s2)" = s1 ] && [ "$(parent_of g s3)" = s2 ] &&
	[ "$(parent_of g s1)" = none ] &&
	corral snapshot list g >list.txt && cat list.txt &&
	grep -Eq "^s1 " list.txt && grep -Eq "^  s2 " list.txt && grep -Eq "^    s3 " list.txt &&
	grep -Eq "^  s4 \* " list.txt && grep -q "first one" list.txt
'
test_expect "delete a snapshot in the middle, then revert to its child" '
	corral snapshot delete --yes g s2 | grep -q "deleted snapshot s2" &&
	[ "$(parent_of g s3)" = s1 ] &&
	[ "$(img_tags g-root)" = "s1 s3 s4" ] && [ "$(img_tags g-data)" = "s1 s3 s4" ] &&
	corral snapshot revert --yes g s3 && boot g && [ "$(read_mark g)" = "C3C3 NONE" ] &&
	[ "$(current_of g)" = s3 ]
'
test_expect "delete on a running VM (QMP job), deleting the current one moves current up" '
	corral snapshot delete --yes g s3 && [ "$(current_of g)" = s1 ] &&
	[ "$(vm_state g)" = running ] &&
	[ "$(img_tags g-root)" = "s1 s4" ] && [ "$(img_tags g-data)" = "s1 s4" ] &&
	corral job list --vm g --json | jq -e "[.jobs[] | select(.state == \"succeeded\") | .type] | (index(\"snapshot-create\") and index(\"snapshot-revert\") and index(\"snapshot-delete\"))"
'
test_expect "hostile input is refused and changes nothing" '
	before=$(listed g) &&
	fails corral snapshot create nosuchvm x 2>err && grep -q "not found" err &&
	fails corral snapshot revert --yes g nosuch 2>err && grep -q "has no snapshot" err &&
	fails corral snapshot delete --yes g nosuch 2>err && grep -q "has no snapshot" err &&
	fails corral snapshot show g nosuch 2>err && grep -q "has no snapshot" err &&
	fails corral snapshot create g s1 2>err && grep -q "already has a snapshot" err &&
	fails corral snapshot create g a/b 2>err && grep -qi "invalid snapshot name" err &&
	fails corral snapshot create g .. 2>err && grep -qi "invalid snapshot name" err &&
	fails corral snapshot create g "$(printf "a\tb")" 2>err && grep -qi "invalid snapshot name" err &&
	fails corral snapshot revert --yes g ../s1 2>err && grep -qiE "invalid snapshot name|no such route" err &&
	api POST /v1/vms/g/snapshots "{\"name\":\"x\",\"bogus\":1}" | tail -n1 | grep -q "HTTP 400" &&
	api POST /v1/vms/g/snapshots "{\"name\":\"-x\"}" | tail -n1 | grep -q "HTTP 400" &&
	api POST /v1/vms/g/snapshots/%2e%2e/revert | tail -n1 | grep -q "HTTP 400" &&
	corral disk create r-raw 16M --format raw && corral vm create r --disk r-raw --no-nic &&
	fails corral snapshot create r x 2>err && grep -q "volume .r-raw. is raw" err &&
	corral vm create nodisk --no-nic &&
	fails corral snapshot create nodisk x 2>err && grep -q "nothing to snapshot" err &&
	corral vm kill g && fails corral snapshot create g m1 --memory 2>err && grep -q "not running" err &&
	[ "$(listed g)" = "$before" ] && [ "$(img_tags g-root)" = "$before" ] && [ "$(img_tags g-data)" = "$before" ] &&
	[ "$(corral snapshot list r --json | jq ".snapshots | length")" = 0 ]
'
test_expect "a second operation while a snapshot job runs is refused as busy" '
	boot g &&
	{ corral snapshot create g big --memory >bg.out 2>&1 & bgpid=$!; } &&
	busy=no &&
	for i in $(seq 1 100); do
		if corral snapshot revert --yes g nosuch 2>err; then break; fi
		grep -q "busy: snapshot-create (job [0-9]*) in progress" err && { busy=yes; break; }
		proc_gone $bgpid && break
		sleep 0.02
	done &&
	wait $bgpid && cat bg.out && [ "$busy" = yes ] &&
	[ "$(vm_state g)" = running ] && consistent g
'
# crash_during DELAY NAME: kill -9 corrald DELAY s after asking for a --memory snapshot.
crash_during() {
	corral snapshot create g "$2" --memory >/dev/null 2>&1 &
	local cli=$!
	sleep "$1" && kill9_daemon
	wait $cli
	start_daemon && wait_state g running 20 && consistent g &&
		echo "after $1 s: listed '$(listed g)', root '$(img_tags g-root)', data '$(img_tags g-data)'"
}
test_expect "kill -9 corrald during a --memory snapshot: consistent afterwards, VM still runs" '
	crash_during 0.3 crash1 && crash_during 0.05 crash2 && crash_during 0.02 crash3 && crash_during 0 crash4 &&
	corral snapshot list g &&
	write_mark g F6 && [ "$(read_mark g)" = "F6F6 RAM-F6" ]
'
# sql STATEMENT...: run SQL on the stopped corrald's database.
sql() {
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for q in sys.argv[2:]: db.execute(q)
db.commit()' "$STATE/state.db" "$@"
}
test_expect "at start corrald rolls back a half-created snapshot, keeps a complete one, finishes a deletion and a revert" '
	corral vm kill g && uuid=$(corral vm show g --json | jq -r .uuid) &&
	root=$(vol_path g-root) && data=$(vol_path g-data) &&
	stop_daemon &&
	qemu-img snapshot -c half "$root" &&
	qemu-img snapshot -c whole "$root" && qemu-img snapshot -c whole "$data" &&
	qemu-img snapshot -d s4 "$data" &&
	qemu-img snapshot -a s1 "$root" &&
	sql "INSERT INTO snapshots SELECT vm, \"half\", parent, created - 1, \"\", 0, 0, def, \"creating\" FROM snapshots WHERE vm = \"$uuid\" AND name = \"s1\"" \
	    "INSERT INTO snapshots SELECT vm, \"whole\", parent, created - 2, \"\", 0, 0, def, \"creating\" FROM snapshots WHERE vm = \"$uuid\" AND name = \"s1\"" \
	    "UPDATE snapshots SET state = \"deleting\" WHERE vm = \"$uuid\" AND name = \"s4\"" \
	    "UPDATE snapshots SET state = \"reverting\" WHERE vm = \"$uuid\" AND name = \"s1\"" &&
	start_daemon &&
	consistent g &&
	corral snapshot list g --json | jq -e "[.snapshots[].name] | (index(\"whole\") != null) and (index(\"half\") == null) and (index(\"s4\") == null)" &&
	[ "$(current_of g)" = s1 ] && [ "$(vm_state g)" = stopped ] &&
	boot g && [ "$(read_mark g)" = "A1A1 NONE" ]
'
test_expect "not enough free space: refused before anything is written" '
	mkdir -p "$T/small" && mount -t tmpfs -o size=40m tmpfs "$T/small" &&
	corral pool create small "$T/small" && corral disk create s-root 16M --pool small &&
	corral vm create s --disk s-root --no-nic &&
	fails corral snapshot create s x 2>err && grep -q "not enough space" err &&
	[ "$(corral snapshot list s --json | jq ".snapshots | length")" = 0 ] && [ -z "$(img_tags s-root)" ] &&
	corral vm delete --yes s --disks && corral pool delete --yes small && umount "$T/small"
'
mountpoint -q "$T/small" 2>/dev/null && umount -l "$T/small"
test_expect "a snapshot after the crash works, and every image passes qemu-img check" '
	corral snapshot create g after --memory && consistent g &&
	corral vm kill g &&
	ok=yes && for v in g-root g-data; do qemu-img check -f qcow2 "$(vol_path $v)" || ok=no; done && [ $ok = yes ]
'

# ---- a UEFI guest's NVRAM vars ----
EFIVARS=/sys/firmware/efi/efivars
# guest_try VM CMD: guest_sh, once more after a ^C if the command got lost
# (busybox ash swallows what is typed while it asks the terminal for the
# cursor position, and a half-read "$(" leaves it waiting for more).
guest_try() {
	guest_sh "$1" "$2" 15 && return 0
	printf '\003\n' | corral vm console "$1" --linger 0.5 >/dev/null
	sleep 1 && guest_sh "$1" "$2"
}
EFIGUID=3b8e1d52-6c0a-4f0e-9a51-0c0ffee0a001
# efi_new VM NAME VALUE: the guest creates UEFI variable NAME (non-volatile,
# boot + runtime access: attributes 7) holding VALUE through efivarfs, in one
# write, as an OS installer adds its boot entry.  (An existing variable is not
# changed: efivarfs makes variables it does not know immutable, and busybox
# has no chattr.)
efi_new() {
	guest_try "$1" "printf '\\007\\000\\000\\000%s' $3 >/tmp/v && cat /tmp/v >$EFIVARS/$2-$EFIGUID" >/dev/null
}
# efi_get VM NAME: the variable's value as the firmware returns it (NONE:
# there is none).  (Read from the console by a tag of its own: the command is
# longer than a console line, and guest_sh finds output by the command's echo.)
efi_get() {
	local tag=EFIV$RANDOM$RANDOM
	guest_try "$1" "echo $tag=\$(tail -c +5 $EFIVARS/$2-$EFIGUID 2>/dev/null || echo NONE)" >/dev/null &&
		corral vm log "$1" --tail 1M | tr -d '\r' | sed -n "s/^$tag=//p" | tail -n1
}
vars_of() { echo "$STATE/nvram/$(corral vm show "$1" --json | jq -r .uuid).fd"; }
copy_of() { echo "$STATE/nvram/$(corral vm show "$1" --json | jq -r .uuid)@$2.fd"; }
# nv_consistent VM: a copy of the vars for every snapshot listed, and none other.
nv_consistent() {
	local uu want have
	uu=$(corral vm show "$1" --json | jq -r .uuid) &&
		want=$(corral snapshot list "$1" --json | jq -r '[.snapshots[].name] | sort | join(" ")') &&
		have=$(ls "$STATE/nvram" | sed -n "s/^$uu@\(.*\)\.fd\$/\1/p" | sort | xargs) &&
		{ [ "$want" = "$have" ] || { say "snapshots '$want', nvram copies '$have'"; false; }; }
}
test_expect "UEFI guest: a snapshot keeps the NVRAM vars of its moment" '
	corral disk create u-root 32M && create_guest u --firmware uefi --disk u-root &&
	boot u && sleep 1 &&
	{ guest_try u "grep -q efivarfs /proc/mounts" >/dev/null ||
		{ say "the guest kit does not mount efivarfs (guest/init): rebuild it with make guest"; false; }; } &&
	efi_new u CorralA nv-one && [ "$(efi_get u CorralA)" = nv-one ] &&
	grep -aq nv-one "$(vars_of u)" &&
	corral snapshot create u e1 | grep -q "created snapshot e1" && [ "$(vm_state u)" = running ] &&
	cmp "$(vars_of u)" "$(copy_of u e1)" &&
	corral snapshot show u e1 | grep -q "^nvram: *yes" &&
	corral snapshot list u | grep -E "^e1 " | grep -q " yes " &&
	corral snapshot list u --json | jq -e ".snapshots[0].nvram == true" &&
	corral vm events u > ev && grep -q "paused while snapshot .e1. is taken" ev &&
	grep -q "resumed: snapshot .e1. taken" ev
'
test_expect "disk-only revert of the running UEFI guest: it boots with the vars it had" '
	efi_new u CorralB nv-two && [ "$(efi_get u CorralB)" = nv-two ] && grep -aq nv-two "$(vars_of u)" &&
	n=$(ready_count u) && corral snapshot revert --yes u e1 &&
	wait_ready_after u "$n" && sleep 1 && [ "$(efi_get u CorralB)" = NONE ] && [ "$(efi_get u CorralA)" = nv-one ] &&
	! grep -aq nv-two "$(vars_of u)"
'
test_expect "--memory revert of the UEFI guest in place: the vars come back with the RAM" '
	corral snapshot create u m1 --memory | grep -q "with RAM" && [ "$(vm_state u)" = running ] &&
	cmp "$(vars_of u)" "$(copy_of u m1)" &&
	efi_new u CorralC nv-three && grep -aq nv-three "$(vars_of u)" &&
	pid=$(corral vm show u --json | jq -r .status.pid) &&
	corral snapshot revert --yes u m1 && wait_state u running 60 &&
	[ "$(corral vm show u --json | jq -r .status.pid)" = "$pid" ] &&
	! grep -aq nv-three "$(vars_of u)" && cmp "$(vars_of u)" "$(copy_of u m1)" &&
	[ "$(efi_get u CorralC)" = NONE ] && [ "$(efi_get u CorralA)" = nv-one ]
'
test_expect "stopped UEFI VM: snapshot, revert elsewhere and back, byte for byte" '
	corral vm kill u && corral snapshot create u st && cmp "$(vars_of u)" "$(copy_of u st)" &&
	cp "$(vars_of u)" vars.st &&
	corral snapshot revert --yes u e1 && cmp "$(vars_of u)" "$(copy_of u e1)" && ! cmp -s "$(vars_of u)" vars.st &&
	corral snapshot revert --yes u st && cmp "$(vars_of u)" vars.st && [ "$(vm_state u)" = stopped ] &&
	nv_consistent u
'
# (A kill -9 in the instant a UEFI VM is paused for its copy is staged: the
# window is milliseconds, and a crash during QEMU's snapshot-save instead
# finds a monitor that does not answer until the save is done.)
test_expect "at start corrald resumes a UEFI VM a crash left paused for a snapshot, and drops copies no snapshot holds" '
	boot u && uu=$(corral vm show u --json | jq -r .uuid) && vars=$(vars_of u) &&
	corral vm pause u && stop_daemon &&
	cp "$vars" "$STATE/nvram/$uu@half.fd" && cp "$vars" "$STATE/nvram/$uu@stray.fd" &&
	cp "$vars" "$STATE/nvram/$uu@m1.fd.tmp.4242" &&
	sql "INSERT INTO snapshots SELECT vm, \"half\", parent, created + 1, \"\", 1, 1, def, \"creating\" FROM snapshots WHERE vm = \"$uu\" AND name = \"m1\"" &&
	start_daemon && wait_state u running 20 &&
	corral vm events u | grep -q "resumed: a snapshot cut off by a corrald restart had paused it" &&
	[ ! -e "$STATE/nvram/$uu@half.fd" ] && [ ! -e "$STATE/nvram/$uu@stray.fd" ] &&
	[ ! -e "$STATE/nvram/$uu@m1.fd.tmp.4242" ] && nv_consistent u &&
	corral snapshot list u --json | jq -e "all(.snapshots[]; .state == \"ready\" and .nvram) and ([.snapshots[].name] | index(\"half\") == null)" &&
	[ "$(efi_get u CorralA)" = nv-one ]
'
test_expect "delete drops a snapshot's copy; deleting the VM drops them all" '
	corral snapshot delete --yes u e1 && [ ! -e "$(copy_of u e1)" ] && [ -e "$(copy_of u m1)" ] &&
	nv_consistent u &&
	uu=$(corral vm show u --json | jq -r .uuid) && corral vm kill u && corral vm delete --yes u &&
	[ -z "$(ls "$STATE/nvram" | grep "^$uu")" ]
'
finish
