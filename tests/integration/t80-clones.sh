#!/usr/bin/env bash
# Templates and clones: a guest writes a marker to its disk, the VM becomes a
# read-only template (refuses start, disk and cdrom changes, edits), linked
# clones boot, read the template's marker and write their own without
# touching the template's image; a full clone (a job) is independent; the
# template cannot be deleted while linked clones depend on it; hostile
# requests create nothing.
. "$(dirname "$0")/lib.sh"
setup_daemon

# write_mark VM TEXT: the guest writes TEXT (5 chars) at sector 10 of /dev/vda.
write_mark() {
	printf 'echo %s | dd of=/dev/vda bs=512 seek=10 conv=fsync 2>/dev/null; echo WROTE-%s\n' "$2" "$2" |
		corral vm console "$1" --linger 2 | tr -d '\r' | grep -q "^WROTE-$2"
}
# read_mark VM: what the guest reads at sector 10 of /dev/vda (5 chars).
read_mark() {
	printf 'echo M=$(dd if=/dev/vda bs=512 skip=10 count=1 2>/dev/null | head -c 5)\n' |
		corral vm console "$1" --linger 2 | tr -d '\r' | grep '^M=' | tail -n1 | cut -c3-
}
# image_mark VOLUME: the marker read from the image on the host (through its backing chain).
image_mark() {
	local p
	p=$(corral disk show "$1" --json | jq -r .path) &&
		rm -f "$T/mark.raw" && qemu-img convert -U -O raw "$p" "$T/mark.raw" &&
		dd if="$T/mark.raw" bs=512 skip=10 count=1 2>/dev/null | head -c 5
}
vol_path() { corral disk show "$1" --json | jq -r .path; }

test_expect "a guest writes a marker to its qcow2 disk" '
	corral disk create base-root 64M &&
	create_guest base --disk base-root &&
	boot base &&
	write_mark base TPL-1 && [ "$(read_mark base)" = TPL-1 ]
'
test_expect "a running VM that is no template cannot be cloned" '
	fails corral vm clone base x 2>err && grep -q "stop it" err &&
	fails corral vm clone base x --linked 2>err && grep -q "not a template" err &&
	fails corral vm template --yes base 2>err && grep -q "stop it first" err &&
	corral vm list --json | jq -e ".vms | length == 1" && fails corral disk show x-disk0 2>/dev/null
'
test_expect "vm template makes the stopped VM a read-only template" '
	corral vm stop base --timeout 30 && wait_state base stopped &&
	[ "$(image_mark base-root)" = TPL-1 ] &&
	corral vm template --yes base &&
	corral vm show base --json | jq -e ".template == true and .autostart == false" &&
	corral disk show base-root --json | jq -e ".readonly == true and .backing == null" &&
	[ "$(stat -c %a "$(vol_path base-root)")" = 400 ] &&
	corral vm list --json | jq -e ".vms[0].template == true" &&
	corral vm list | grep -q "^base  *template" &&
	sha256sum "$(vol_path base-root)" | cut -d" " -f1 >"$T/tpl.sha"
'
test_expect "a template refuses start, disk and cdrom changes and edits" '
	fails corral vm start base 2>err && grep -q "is a template; clone it (corral vm clone base NEW)" err &&
	corral disk create spare 8M &&
	fails corral disk attach base spare 2>err && grep -q "template" err &&
	fails corral disk detach base base-root 2>err && grep -q "template" err &&
	fails corral cdrom insert base "$INITRD" 2>err && grep -q "template" err &&
	fails corral vm edit base --cpus 2 2>err && grep -q "only its name, description and tags" err &&
	fails corral vm template --yes base 2>err && grep -q "already a template" err &&
	corral vm edit base --description "golden image" &&
	corral vm show base --json | jq -e ".description == \"golden image\" and .cpus == 1 and .template == true" &&
	corral disk delete --yes spare
'
test_expect "the API does not let a definition set or clear template" '
	def=$(corral vm show base --json | jq -c "del(.status) | .template = false") &&
	api PUT /v1/vms/base "$def" | tail -n1 | grep -q "HTTP 400" &&
	new=$(corral vm show base --json | jq -c "del(.status, .uuid) | .name = \"t2\" | .disks = []") &&
	api POST /v1/vms "$new" >out && grep -q "corral vm template" out && tail -n1 out | grep -q "HTTP 400" &&
	corral vm show base --json | jq -e ".template == true" && fails corral vm show t2 2>/dev/null
'
test_expect "a linked clone is made at once, with a new uuid and MAC" '
	start=$SECONDS &&
	corral vm clone base c1 --linked >out && grep -q "cloned vm base as c1 (linked" out &&
	[ $((SECONDS - start)) -le 5 ] &&
	corral disk show c1-disk0 --json | jq -e ".backing == \"base-root\" and .readonly == false and .used_by == \"c1\"" &&
	[ "$(stat -c %a "$(vol_path c1-disk0)")" = 600 ] &&
	corral vm show base --json >b.json && corral vm show c1 --json >c.json &&
	[ "$(jq -r .uuid b.json)" != "$(jq -r .uuid c.json)" ] &&
	[ "$(jq -r ".nics[0].mac" b.json)" != "$(jq -r ".nics[0].mac" c.json)" ] &&
	jq -e ".template == false and .autostart == false and .disks == [{\"volume\":\"c1-disk0\",\"bus\":\"virtio\"}] and .cpus == 1 and .memory_mib == 256" c.json &&
	[ "$(jq -c ".boot" b.json)" = "$(jq -c ".boot" c.json)" ]
'
test_expect "the linked clone boots, reads the template marker, writes its own" '
	boot c1 &&
	[ "$(read_mark c1)" = TPL-1 ] &&
	write_mark c1 C1-01 && [ "$(read_mark c1)" = C1-01 ] &&
	corral vm kill c1 &&
	[ "$(sha256sum "$(vol_path base-root)" | cut -d" " -f1)" = "$(cat "$T/tpl.sha")" ] &&
	qemu-img check -q "$(vol_path c1-disk0)" &&
	[ "$(image_mark c1-disk0)" = C1-01 ] && [ "$(image_mark base-root)" = TPL-1 ]
'
test_expect "a second linked clone is independent of the first" '
	corral vm clone base c2 --linked --start >out && grep -q "^c2: running" out &&
	wait_ready_after c2 0 &&
	[ "$(read_mark c2)" = TPL-1 ] &&
	write_mark c2 C2-02 && corral vm kill c2 &&
	[ "$(image_mark c2-disk0)" = C2-02 ] && [ "$(image_mark c1-disk0)" = C1-01 ] &&
	[ "$(sha256sum "$(vol_path base-root)" | cut -d" " -f1)" = "$(cat "$T/tpl.sha")" ] &&
	qemu-img check -q "$(vol_path c2-disk0)"
'
test_expect "a full clone is a job, has no backing file, boots and is independent" '
	corral vm clone base f1 --json >f.json &&
	jq -e ".name == \"f1\" and .template == false" f.json &&
	corral job list --json | jq -e "[.jobs[] | select(.type == \"clone\" and .target == \"f1\")] | length == 1 and .[0].state == \"succeeded\" and .[0].progress == 100" &&
	p=$(vol_path f1-disk0) &&
	qemu-img info --output=json "$p" | jq -e "has(\"backing-filename\") | not" &&
	qemu-img check -q "$p" && [ "$(stat -c %a "$p")" = 600 ] &&
	corral disk show f1-disk0 --json | jq -e ".backing == null and .readonly == false" &&
	boot f1 && [ "$(read_mark f1)" = TPL-1 ] &&
	write_mark f1 F1-03 && corral vm kill f1 &&
	[ "$(image_mark f1-disk0)" = F1-03 ] &&
	[ "$(sha256sum "$(vol_path base-root)" | cut -d" " -f1)" = "$(cat "$T/tpl.sha")" ]
'
test_expect "hostile clone requests are refused and create nothing" '
	corral vm list --json | jq ".vms | length" >vms.before &&
	corral disk list --json | jq ".volumes | length" >vols.before &&
	ls "$STATE/storage" >files.before &&
	fails corral vm clone nosuch x 2>err && grep -q "not found" err &&
	fails corral vm clone base c1 --linked 2>err && grep -q "already exists" err &&
	fails corral vm clone base ../x 2>err && grep -qi "invalid" err &&
	fails corral vm clone base "a/b" --linked 2>err && grep -qi "invalid" err &&
	fails corral vm clone f1 x --linked 2>err && grep -q "f1 is not a template" err &&
	fails corral vm clone base x --bogus 2>/dev/null &&
	api POST /v1/vms/base/clone "{\"name\":\"x\",\"extra\":1}" | tail -n1 | grep -q "HTTP 400" &&
	[ "$(corral vm list --json | jq ".vms | length")" = "$(cat vms.before)" ] &&
	[ "$(corral disk list --json | jq ".volumes | length")" = "$(cat vols.before)" ] &&
	ls "$STATE/storage" | cmp -s - files.before
'
test_expect "a full clone whose volume name is taken is refused before copying" '
	corral disk create z-disk0 8M &&
	ls "$STATE/storage" >files.before &&
	fails corral vm clone base z 2>err && grep -q "volume z-disk0 already exists" err &&
	fails corral vm clone base z --linked 2>err && grep -q "volume z-disk0 already exists" err &&
	fails corral vm show z 2>/dev/null &&
	ls "$STATE/storage" | cmp -s - files.before &&
	corral disk delete --yes z-disk0
'
test_expect "a full clone failing half-way (second disk unreadable) removes what it made" '
	corral disk create two-a 8M && corral disk create two-b 8M --format raw &&
	create_guest two --disk two-a --disk two-b && corral vm template --yes two &&
	: >"$(vol_path two-b)" &&
	ls "$STATE/storage" >files.before &&
	fails corral vm clone two two2 2>err && grep -q "clone job [0-9]* failed: .*empty" err &&
	fails corral vm show two2 2>/dev/null && fails corral disk show two2-disk0 2>/dev/null &&
	! ls -a "$STATE/storage" | grep -Eq "^\.?two2" &&
	ls "$STATE/storage" | cmp -s - files.before &&
	corral vm delete --yes two --disks
'
test_expect "the template cannot be deleted while linked clones depend on it" '
	corral vm clone base c3 --linked && corral vm delete --yes c3 &&
	fails corral vm delete --yes base 2>err &&
	grep -q "template base has linked clones: c1, c2, volume c3-disk0" err &&
	fails corral vm delete --yes base --disks 2>/dev/null &&
	corral vm show base --json | jq -e ".template == true" &&
	fails corral disk delete --yes base-root 2>err && grep -q "used by vm" err
'
test_expect "deleting the clones (with their disks) frees the template" '
	corral vm delete --yes c1 c2 f1 --disks &&
	fails corral vm delete --yes base 2>err && grep -q "volume c3-disk0" err &&
	corral disk delete --yes c3-disk0 &&
	corral vm delete --yes base --disks &&
	corral vm list --json | jq -e ".vms | length == 0" &&
	corral disk list --json | jq -e ".volumes | length == 0" &&
	[ -z "$(ls "$STATE/storage")" ]
'
# Space: a second corrald whose storage is a small tmpfs (skipped where tmpfs cannot be mounted).
if mkdir -p "$T/small" && mount -t tmpfs -o size=4M tmpfs "$T/small" 2>/dev/null; then
	stop_daemon
	STATE=$T/state2 SOCK=$T/api2.sock
	start_daemon --storage-dir "$T/small" || { FAILED=$((FAILED + 1)); exit 1; }
	test_expect "clones are refused up front when space is short, leaving nothing" '
		corral disk create s-root 64M && create_guest s --disk s-root && corral vm template --yes s &&
		avail=$(df --output=avail -B1 "$T/small" | tail -n1) &&
		fallocate -l $((avail - 512 * 1024)) "$T/small/fill" &&
		ls "$T/small" >files.before &&
		fails corral vm clone s s2 2>err && grep -q "not enough space in $T/small for clone s2: .* needed, .* free" err &&
		fails corral vm clone s s3 --linked 2>err && grep -q "not enough space" err &&
		corral vm list --json | jq -e ".vms | length == 1" &&
		corral disk list --json | jq -e ".volumes | length == 1" &&
		ls "$T/small" | cmp -s - files.before &&
		rm "$T/small/fill" && corral vm clone s s2 --linked && corral vm delete --yes s2 --disks &&
		corral vm delete --yes s --disks
	'
	stop_daemon
	umount "$T/small"
else
	say "# skipped the space test: cannot mount a tmpfs"
fi
finish
