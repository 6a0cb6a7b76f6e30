#!/usr/bin/env bash
# Appliances and disk imports that are not disks (docs/import.md).
# An OVA built here the way VMware exports one (the test guest's bootable
# disk converted to a streamOptimized VMDK, a VMware-style OVF descriptor,
# a SHA256 manifest, a ustar archive) is imported with `vm import`: the VM
# has the descriptor's CPUs, memory, disks and NIC, the disk holds the
# source's bytes, the warnings name what corral does not make, and the VM
# boots from the imported disk.  The bare .ovf with its files imports too.
# Hostile or broken appliances (a manifest that does not match, ../ and
# symlink members, a DOCTYPE with entities, a disk the archive lacks, a
# size that lies) are refused with nothing left behind; `disk import` of a
# text file or an OVA is refused unless --source-format raw is given. A corrald killed
# during an import leaves nothing of it after the restart.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
DISKS=$GUEST_DIR/disks
if ! bash "$ROOT/guest/build-disk.sh" "$GUEST_DIR" "$DISKS" >"$T/build-disk.out" 2>&1; then
	say "t92-import: guest/build-disk.sh failed:"; tail -n 20 "$T/build-disk.out" >&2
	FAILED=1; finish; exit 1
fi
setup_daemon

# The test guest's Debian-style disk: its GRUB configuration names the
# kernel, which --boot disk-kernel starts (the disk's own bytes, read back
# from the imported volume).
SRC=$DISKS/debian-ext4.img
VMDK="web appliance-disk1.vmdk"
mkdir -p "$T/app" && chmod 755 "$T/app"

# make_ova DIR OVA [CAPACITY_MIB]: web.ovf (from the VMware-style data file, its
# File size made true, its first disk's capacity CAPACITY_MIB, default 128), web.mf
# over it and the disk, and a ustar archive of the three.
make_ova() {
	local d=$1 size cap=${3:-128}
	size=$(stat -c %s "$d/$VMDK") &&
	sed "s/ovf:size=\"[0-9]*\"/ovf:size=\"$size\"/; s/<Disk ovf:capacity=\"128\"/<Disk ovf:capacity=\"$cap\"/" \
		"$ROOT/tests/data/ovf/vmware.ovf" >"$d/web.ovf" &&
	(cd "$d" && printf 'SHA256(web.ovf)= %s\nSHA256(%s)= %s\n' "$(sha256sum web.ovf | cut -d" " -f1)" "$VMDK" \
		"$(sha256sum "$VMDK" | cut -d" " -f1)" >web.mf &&
		tar --format=ustar -cf "$2" web.ovf web.mf "$VMDK")
}

# nothing_left: no VM and no volume besides the expected ones, no scratch or temp files in the pool.
nothing_left() {
	corral vm list --json | jq -e "[.vms[].name] | sort == $1" >/dev/null &&
	corral disk list --json | jq -e "[.volumes[].name] | sort == $2" >/dev/null &&
	! ls -A "$STATE/storage" | grep -q "^\.vm-import-\|\.tmp$"
}

test_expect "build a VMware-style OVA from the test guest's disk" '
	qemu-img convert -O vmdk -o subformat=streamOptimized "$SRC" "$T/app/$VMDK" &&
	make_ova "$T/app" "$T/web.ova" &&
	tar -tf "$T/web.ova" | grep -qx "web.ovf"
'
test_expect "vm import: the descriptor's hardware, the disk's bytes, warnings for the rest" '
	corral vm import "$T/web.ova" --json >job.json &&
	jq -e ".state == \"succeeded\" and .type == \"vm-import\" and .result.vm == \"web-appliance\" and
		.result.volumes == [\"web-appliance-disk0\",\"web-appliance-disk1\"]" job.json &&
	jq -e "[.result.warnings[] | select(test(\"USB controller\"))] | length == 1" job.json &&
	jq -e "[.result.warnings[] | select(test(\"VmxNet3\"))] | length == 1" job.json &&
	jq -e "[.result.warnings[] | select(test(\"VM Network.*user mode\"))] | length == 1" job.json &&
	corral vm show web-appliance --json >vm.json &&
	jq -e ".cpus == 2 and .memory_mib == 320 and
		([.disks[] | [.volume, .bus]] == [[\"web-appliance-disk0\",\"ide\"],[\"web-appliance-disk1\",\"scsi\"]]) and
		(.nics | length) == 1 and .nics[0].mode == \"user\"" vm.json &&
	corral disk show web-appliance-disk1 --json | jq -e ".capacity == 33554432" &&
	p=$(corral disk show web-appliance-disk0 --json | jq -r .path) &&
	qemu-img compare -q "$SRC" "$p" &&
	nothing_left "[\"web-appliance\"]" "[\"web-appliance-disk0\",\"web-appliance-disk1\"]"
'
test_expect "the imported VM boots from its disk (its GRUB configuration picks the kernel)" '
	corral vm edit web-appliance --boot-mode disk-kernel >/dev/null &&
	corral vm edit web-appliance --memory 256M --cpus 1 >/dev/null &&
	boot web-appliance &&
	corral vm kill web-appliance >/dev/null && wait_state web-appliance stopped
'
test_expect "the same appliance as a bare .ovf with its files, under another name and manifest-checked" '
	corral vm import "$T/app/web.ovf" --name bare >out &&
	grep -q "imported vm bare" out &&
	corral vm show bare --json | jq -e ".cpus == 2 and (.disks | length) == 2" &&
	fails corral vm import "$T/web.ova" 2>err && grep -q "web-appliance exists already" err
'
BASE_VMS="[\"bare\",\"web-appliance\"]"
BASE_VOLS="[\"bare-disk0\",\"bare-disk1\",\"web-appliance-disk0\",\"web-appliance-disk1\"]"
test_expect "a disk that does not match the manifest is refused, nothing kept" '
	mkdir -p "$T/bad" && cp "$T/app/$VMDK" "$T/bad/" &&
	make_ova "$T/bad" "$T/bad.ova" &&
	printf "X" | dd of="$T/bad/$VMDK" bs=1 seek=70000 conv=notrunc 2>/dev/null &&
	(cd "$T/bad" && tar --format=ustar -cf "$T/bad.ova" web.ovf web.mf "$VMDK") &&
	fails corral vm import "$T/bad.ova" --name tampered 2>err &&
	grep -q "does not match the manifest" err &&
	nothing_left "$BASE_VMS" "$BASE_VOLS"
'
test_expect "hostile archives: ../ names, symlinks and a member past the end are refused at once" '
	python3 - "$T" <<-EOF &&
	import io, sys, tarfile
	t = sys.argv[1]
	def ova(path, members):
	    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
	        for name, kind, data in members:
	            ti = tarfile.TarInfo(name)
	            if kind == "sym":
	                ti.type, ti.linkname = tarfile.SYMTYPE, data
	                tf.addfile(ti)
	            else:
	                ti.size = len(data)
	                tf.addfile(ti, io.BytesIO(data))
	ovf = open(t + "/app/web.ovf", "rb").read()
	ova(t + "/dotdot.ova", [("web.ovf", "f", ovf), ("../escape.vmdk", "f", b"x" * 1024)])
	ova(t + "/abs.ova", [("web.ovf", "f", ovf), ("/tmp/abs.vmdk", "f", b"x")])
	ova(t + "/link.ova", [("web.ovf", "f", ovf), ("web appliance-disk1.vmdk", "sym", "/etc/shadow")])
	EOF
	fails corral vm import "$T/dotdot.ova" 2>err && grep -q "directory part; refused" err &&
	fails corral vm import "$T/abs.ova" 2>err && grep -q "directory part; refused" err &&
	fails corral vm import "$T/link.ova" 2>err && grep -q "symbolic link" err &&
	head -c 5000000 "$T/web.ova" >"$T/short.ova" &&
	fails corral vm import "$T/short.ova" 2>err && grep -q "claims [0-9]* bytes but the file ends" err &&
	test ! -e "$STATE/escape.vmdk" && test ! -e "$T/escape.vmdk" &&
	nothing_left "$BASE_VMS" "$BASE_VOLS"
'
test_expect "hostile or lying descriptors: entities, missing disks, sizes that lie, unknown networks" '
	mkdir -p "$T/h" && cp "$T/app/$VMDK" "$T/h/" &&
	{ printf "<?xml version=\"1.0\"?>\n<!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/shadow\">]>\n"; sed 1d "$T/app/web.ovf"; } >"$T/h/ent.ovf" &&
	fails corral vm import "$T/h/ent.ovf" --name ent 2>err && grep -q "DOCTYPE" err &&
	sed "s/ovf:href=\"[^\"]*\"/ovf:href=\"missing.vmdk\"/" "$T/app/web.ovf" >"$T/h/web.ovf" &&
	(cd "$T/h" && tar --format=ustar -cf "$T/missing.ova" web.ovf "$VMDK") &&
	fails corral vm import "$T/missing.ova" --name miss 2>err && grep -q "missing.vmdk named by the descriptor is missing" err &&
	sed "s/ovf:size=\"[0-9]*\"/ovf:size=\"4096\"/" "$T/app/web.ovf" >"$T/h/web.ovf" &&
	(cd "$T/h" && tar --format=ustar -cf "$T/lying.ova" web.ovf "$VMDK") &&
	fails corral vm import "$T/lying.ova" --name liar 2>err && grep -q "but the descriptor says 4096" err &&
	sed "s|<Name>web appliance</Name>|<Name>../..</Name>|" "$T/app/web.ovf" >"$T/h/web.ovf" &&
	fails corral vm import "$T/h/web.ovf" 2>err && grep -q "nothing usable as a corral name; give --name" err &&
	fails corral vm import "$T/app/web.ovf" --name n1 --network nonet 2>err && grep -qi "network" err &&
	fails corral vm import "$T/app/web.ovf" --name "$(head -c 60 /dev/zero | tr "\0" a)" 2>err && grep -q "too long" err &&
	printf "not an appliance\n" >"$T/h/notes.txt" &&
	fails corral vm import "$T/h/notes.txt" 2>err && grep -q "neither an .ova archive nor an .ovf" err &&
	nothing_left "$BASE_VMS" "$BASE_VOLS"
'
test_expect "disk import refuses a text file and an OVA unless --source-format raw" '
	seq 1 20000 >"$T/notes.txt" &&
	fails corral disk import "$T/notes.txt" --name notes 2>err &&
	grep -q "does not look like a disk image: it looks like a text file; give --source-format raw" err &&
	fails corral disk import "$T/web.ova" --name app 2>err && grep -q "OVA appliance archive (import it with .corral vm import.)" err &&
	nothing_left "$BASE_VMS" "$BASE_VOLS" &&
	corral disk import "$T/notes.txt" --name notes --source-format raw >/dev/null &&
	corral disk show notes --json | jq -e ".format == \"qcow2\"" &&
	fails corral disk import "$T/notes.txt" --name n2 --source-format ext4 2>err && grep -q "unknown source format" err &&
	corral disk import "$SRC" --name plain >/dev/null
'
# wait_tmp JOB VOLUME: the job runs and qemu-img is writing VOLUME's import temp file.
wait_tmp() {
	local end=$((SECONDS + 60))
	until ls -A "$STATE/storage" | grep -q "^\.$2\.import\.tmp$"; do
		[ $SECONDS -lt $end ] && [ "$(corral job show "$1" --json | jq -r .state)" = running ] || return 1
		sleep 0.05
	done
}
ALL_VOLS=$(jq -nc "$BASE_VOLS + [\"notes\",\"plain\"] | sort")
test_expect "a cancelled vm import keeps nothing" '
	mkdir -p "$T/big" && qemu-img create -q -f raw "$T/big/big.raw" 512M &&
	qemu-io -f raw -c "write -P 0x5a 0 512M" "$T/big/big.raw" >/dev/null &&
	qemu-img convert -O vmdk -o subformat=streamOptimized "$T/big/big.raw" "$T/big/$VMDK" && rm "$T/big/big.raw" &&
	make_ova "$T/big" "$T/big.ova" 512 && rm "$T/big/$VMDK" &&
	id=$(api POST /v1/vms/import "{\"path\":\"$T/big.ova\",\"name\":\"cancelled\"}" | sed "\$d" | jq -r .job.id) &&
	wait_tmp "$id" cancelled-disk0 && corral job cancel "$id" >/dev/null &&
	end=$((SECONDS + 30)) &&
	until [ "$(corral job show "$id" --json | jq -r .state)" = cancelled ]; do
		[ $SECONDS -lt $end ] || return 1; sleep 0.1
	done &&
	nothing_left "$BASE_VMS" "$ALL_VOLS"
'
test_expect "kill -9 during a vm import: after the restart no volume, scratch copy or VM of it is left" '
	id=$(api POST /v1/vms/import "{\"path\":\"$T/big.ova\",\"name\":\"crash\"}" | sed "\$d" | jq -r .job.id) &&
	wait_tmp "$id" crash-disk0 &&
	kill9_daemon && start_daemon &&
	corral job show "$id" --json | jq -e ".state == \"failed\" and .error == \"corrald stopped during the import; nothing of it was kept\"" &&
	nothing_left "$BASE_VMS" "$ALL_VOLS"
'
finish
