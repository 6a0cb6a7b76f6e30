#!/usr/bin/env bash
# Volumes: create, list, show, resize, import, delete; hot-plug and
# hot-unplug on a running guest, seen inside the guest (/sys/block).
. "$(dirname "$0")/lib.sh"
setup_daemon

test_expect "create qcow2 and raw volumes (thin)" '
	corral disk create d1 64M &&
	corral disk create d2 32M --format raw &&
	corral disk show d1 --json | jq -e ".format == \"qcow2\" and .capacity == 67108864 and .used_by == null" &&
	corral disk show d2 --json | jq -e ".format == \"raw\" and .allocation < 1048576" &&
	corral disk list --json | jq -e ".volumes | length == 2"
'
test_expect "bad volume requests change nothing" '
	fails corral disk create ../x 1M 2>err && grep -qi "name" err &&
	fails corral disk create d1 1M 2>err && grep -qi "exists" err &&
	fails corral disk create big 999999T 2>/dev/null &&
	fails corral disk create fmt 1M --format vmdk 2>/dev/null &&
	corral disk list --json | jq -e ".volumes | length == 2"
'
test_expect "import a VMware disk (vmdk) with its content" '
	qemu-img create -f raw "$T/src.raw" 8M >/dev/null &&
	printf "CORRAL-IMPORT-MARK" | dd of="$T/src.raw" conv=notrunc 2>/dev/null &&
	qemu-img convert -O vmdk "$T/src.raw" "$T/src.vmdk" &&
	corral disk import "$T/src.vmdk" --name imported &&
	p=$(corral disk show imported --json | jq -r .path) &&
	qemu-img compare "$T/src.raw" "$p"
'
test_expect "import refuses missing files and images that pull in other host files" '
	fails corral disk import "$T/nonexistent.vmdk" 2>err && grep -qi "does not exist" err &&
	qemu-img create -f qcow2 -b /etc/hostname -F raw "$T/overlay.qcow2" >/dev/null &&
	fails corral disk import "$T/overlay.qcow2" 2>err && grep -q "backing file" err &&
	qemu-img create -f vmdk -o subformat=twoGbMaxExtentSparse "$T/split.vmdk" 8M >/dev/null &&
	fails corral disk import "$T/split.vmdk" 2>err && grep -q "extent" err &&
	fails corral disk show overlay 2>/dev/null && fails corral disk show split 2>/dev/null
'
test_expect "resize grows; shrinking is refused" '
	corral disk resize d1 128M && corral disk show d1 --json | jq -e ".capacity == 134217728" &&
	fails corral disk resize d1 64M 2>err && grep -qi "shrink" err
'
test_expect "a guest with one disk sees it" '
	create_guest h1 --disk d1 &&
	boot h1 && wait_block h1 "sr0 vda"
'
test_expect "a volume in use cannot be deleted or attached twice" '
	fails corral disk delete --yes d1 2>err && grep -q "used by vm" err &&
	create_guest other && fails corral disk attach other d1 2>err && grep -q "already used" err
'
test_expect "hot-plug: the running guest sees the new disk" '
	corral disk attach h1 d2 &&
	wait_block h1 "sr0 vda vdb" &&
	corral vm show h1 --json | jq -e "[.disks[].volume] == [\"d1\",\"d2\"]"
'
test_expect "live resize reaches the guest" '
	corral disk resize d2 64M &&
	corral disk show d2 --json | jq -e ".capacity == 67108864" &&
	printf "echo SIZE=\$(cat /sys/block/vdb/size)\n" | corral vm console h1 --linger 2 | tr -d "\r" | grep -q "^SIZE=131072$"
'
test_expect "hot-unplug: the disk disappears from the guest" '
	corral disk detach h1 d2 &&
	wait_block h1 "sr0 vda" &&
	corral vm show h1 --json | jq -e "[.disks[].volume] == [\"d1\"]" &&
	corral disk show d2 --json | jq -e ".used_by == null"
'
test_expect "IDE disks cannot be hot-plugged (clear error)" '
	fails corral disk attach h1 d2 --bus ide 2>err && grep -q "IDE" err &&
	corral vm show h1 --json | jq -e "[.disks[].volume] == [\"d1\"]"
'
test_expect "attach/detach on a stopped VM edits the definition" '
	corral vm kill h1 && corral disk attach h1 d2 --bus scsi &&
	corral vm show h1 --json | jq -e ".disks[1] == {\"volume\":\"d2\",\"bus\":\"scsi\"}" &&
	boot h1 && wait_block h1 "sda sr0 vda" &&
	corral vm kill h1
'
test_expect "delete a VM with its disks" '
	corral vm delete --yes h1 --disks &&
	fails corral disk show d1 2>/dev/null && fails corral disk show d2 2>/dev/null &&
	[ -z "$(ls "$STATE/storage" | grep -v imported)" ]
'
finish
