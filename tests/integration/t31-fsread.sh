#!/usr/bin/env bash
# Files of EL and Fedora guests without booting them: a VM disk whose LVM2
# volume group (two PVs, made by pvcreate/vgcreate) holds a linear and a
# striped ext4 logical volume, a whole-disk PV, and a btrfs disk with
# Fedora's `root` and `home` subvolumes and zstd, zlib and LZO compressed
# files (tests/unit/mkimg-lvmbtrfs.py makes them).  `disk files/cat/get` read
# the right bytes through --partition VG/LV and the subvolume directories;
# `backup files/get` do the same inside a backup; thin LVs and LVs needing a PV
# that is not on the disk are listed with the reason, and named ones refused.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
IMG=$T/img
if ! python3 "$here/../unit/mkimg-lvmbtrfs.py" "$IMG" >"$T/mkimg.out" 2>&1; then
	if grep -q '^SKIP' "$T/mkimg.out"; then
		say "t31-fsread: skipped: $(cat "$T/mkimg.out")"; finish; exit 0
	fi
	say "t31-fsread: mkimg-lvmbtrfs.py failed:"; tail -n 20 "$T/mkimg.out" >&2
	FAILED=1; finish; exit 1
fi
setup_daemon

test_expect "import an EL-style LVM disk and a Fedora-style btrfs disk" '
	corral disk import "$IMG/lvm.img" --name el9 >/dev/null &&
	corral disk import "$IMG/lvm-patched.img" --name el9p --format raw >/dev/null &&
	corral disk import "$IMG/btrfs.img" --name f40 >/dev/null &&
	corral disk list --json | jq -e "[.volumes[].name] | sort == [\"el9\",\"el9p\",\"f40\"]"
'

test_expect "disk files: the partition table lists the logical volumes" '
	corral disk files el9 >out && cat out &&
	grep -q "^2 .*0x8e *LVM2_member" out && grep -q "^3 .*0x8e *LVM2_member" out &&
	grep -q "^vgtest/root  *12M  *ext4" out && grep -q "^vgtest/data  *8M  *ext4" out &&
	corral disk files el9 --json | jq -e "[.volumes[] | [.name, .fstype, .error]] ==
		[[\"vgtest/root\",\"ext4\",null],[\"vgtest/data\",\"ext4\",null]]"
'

test_expect "disk files/cat/get inside LVM2 logical volumes (linear in two segments, striped)" '
	corral disk files el9 / --partition vgtest/root | grep -qx "etc/" &&
	[ "$(corral disk cat el9 /etc/hostname --partition vgtest/root)" = el9-guest ] &&
	corral disk get el9 /var/log/messages "$T/messages" --partition vgtest/root &&
	cmp "$T/messages" "$IMG/lvm-src/root/var/log/messages" &&
	corral disk get el9 /srv/db.bin "$T/db.bin" --partition vgtest-data &&
	cmp "$T/db.bin" "$IMG/lvm-src/data/srv/db.bin" &&
	[ "$(corral disk cat el9 /boot/grub/grub.cfg --partition 1)" = "set default=0" ]
'

test_expect "a PV on the whole disk: its one logical volume is the disk's filesystem" '
	corral disk files "$IMG/lvm-whole.img" >out && cat out &&
	grep -q "filesystem on the whole disk: LVM2_member" out && grep -q "^vgw/root  *8M  *ext4" out &&
	[ "$(corral disk cat "$IMG/lvm-whole.img" /etc/hostname)" = whole-disk-pv ]
'

test_expect "without --partition the choice is named; bad LV names are refused" '
	! corral disk cat el9 /etc/hostname 2>err && cat err &&
	grep -q "vgtest/root (ext4)" err && grep -q "name one" err &&
	! corral disk cat el9 /etc/hostname --partition vgtest/nope 2>err && grep -q "no logical volume vgtest/nope" err &&
	! corral disk cat el9 /etc/hostname --partition "vg/../x" 2>err && grep -q "VG/LV" err &&
	api GET "/v1/volumes/el9/fs?lv=a%2Fb%2Fc" | grep -q "HTTP 400" &&
	api GET "/v1/volumes/el9/fs?lv=vgtest%2Froot&partition=1" | grep -q "HTTP 400"
'

test_expect "thin LVs and PVs missing from the disk: listed with the reason, the others readable" '
	corral disk files el9p >out && cat out &&
	grep -q "^vgtest/pool .*unreadable" out && grep -q "^vgtest/pool: .*thin segment: not supported" out &&
	grep -q "^vgtest/far: volume group vgtest needs a PV .* not on this disk" out &&
	! corral disk cat el9p /x --partition vgtest/pool 2>err && grep -q "not supported" err &&
	! corral disk cat el9p /x --partition vgtest/far 2>err && grep -q "not on this disk" err &&
	[ "$(corral disk cat el9p /etc/hostname --partition vgtest/root)" = el9-guest ]
'

test_expect "btrfs: subvolumes as directories, compressed files read back byte for byte" '
	corral disk files f40 | grep -q "filesystem on the whole disk: btrfs" &&
	corral disk files f40 / >out && grep -qx "root/" out && grep -qx "home/" out && grep -qx "readme.txt" out &&
	[ "$(corral disk cat f40 /root/etc/os-release | head -n1)" = "NAME=\"Fedora Linux\"" ] &&
	corral disk get f40 /root/var/big.log "$T/big.log" && cmp "$T/big.log" "$IMG/btrfs-src/root/var/big.log" &&
	corral disk cat f40 /home/user/notes.txt | cmp - "$IMG/btrfs-src/home/user/notes.txt" &&
	corral disk cat f40 /root/lzo/text.txt | cmp - "$IMG/btrfs-src/root/lzo/text.txt" &&
	corral disk cat f40 /root/var/sparse.bin | cmp - "$IMG/btrfs-src/root/var/sparse.bin" &&
	corral disk files f40 /root/usr --long | grep -q "bin-tool -> lib/x$" &&
	[ "$(corral disk files f40 /root/many --json | jq ".entries | length")" = 300 ]
'

test_expect "backup files/get inside LVM2 and btrfs disks of a VM" '
	corral repo create "$T/repo" >/dev/null &&
	corral vm create elvm --memory 128M --disk el9 >/dev/null &&
	corral vm create fvm --memory 128M --disk f40 >/dev/null &&
	corral backup run elvm >/dev/null && corral backup run fvm >/dev/null &&
	EID=$(corral backup list --json | jq -r "[.backups[] | select(.vm == \"elvm\")][0].id") &&
	FID=$(corral backup list --json | jq -r "[.backups[] | select(.vm == \"fvm\")][0].id") &&
	corral backup files "$EID" /etc --partition vgtest/root | grep -qx "hostname" &&
	[ "$(corral backup get "$EID" /etc/hostname - --partition vgtest/root)" = el9-guest ] &&
	corral backup get "$EID" /srv/db.bin "$T/db2.bin" --partition vgtest/data &&
	cmp "$T/db2.bin" "$IMG/lvm-src/data/srv/db.bin" &&
	corral backup files "$FID" /home/user | grep -qx "notes.txt" &&
	corral backup get "$FID" /root/var/big.log - | cmp - "$IMG/btrfs-src/root/var/big.log"
'

finish
