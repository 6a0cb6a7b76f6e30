#!/usr/bin/env bash
# Inside disks: `disk files|cat|get` on volumes and host image files (raw,
# qcow2 from qemu-img and from corral, ext4 and XFS, MBR and GPT), hostile
# requests, the running-VM refusal and reading through a snapshot; and
# `--boot disk-kernel`: Debian (grub.cfg on ext4 /boot), EL7 (XFS /boot,
# saved_entry) and Fedora (BLS) test disks boot the kernel and command line
# their boot configuration names, chosen again at every start.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
DISKS=$GUEST_DIR/disks
if ! bash "$ROOT/guest/build-disk.sh" "$GUEST_DIR" "$DISKS" >"$T/build-disk.out" 2>&1; then
	say "t90-image: guest/build-disk.sh failed:"; tail -n 20 "$T/build-disk.out" >&2
	FAILED=1; finish; exit 1
fi
setup_daemon

info() { sed -n "s/^$2=//p" "$DISKS/$1.info"; }
KVER=$(info debian-ext4.img kernel); KVER=${KVER#/vmlinuz-}
DEB_CMDLINE=$(info debian-ext4.img cmdline)
# qemu_cmdline VM: the running QEMU's command line, one argument per line.
qemu_cmdline() { tr '\0' '\n' <"/proc/$(corral vm show "$1" --json | jq -r .status.pid)/cmdline"; }
# append_of VM: the -append argument QEMU got.
append_of() { qemu_cmdline "$1" | sed -n '/^-append$/{n;p}'; }
# boot_fs_write IMG FILE PATH: replace PATH in the ext4 /boot (partition 1 at 1 MiB) of raw IMG offline.
boot_fs_write() {
	debugfs -w -R "rm $3" "$1?offset=1048576" >/dev/null 2>&1
	debugfs -w -R "write $2 $3" "$1?offset=1048576" 2>&1 | grep -v '^debugfs' || true
	debugfs -R "cat $3" "$1?offset=1048576" 2>/dev/null | cmp -s - "$2"
}

test_expect "import the test disks (qcow2 and raw volumes)" '
	corral disk import "$DISKS/debian-ext4.img" --name deb &&
	corral disk import "$DISKS/debian-ext4.img" --name debraw --format raw &&
	corral disk import "$DISKS/debian-xfs.img" --name el7 &&
	corral disk import "$DISKS/fedora-bls.img" --name bls &&
	corral disk list --json | jq -e "[.volumes[].name] | sort == [\"bls\",\"deb\",\"debraw\",\"el7\"]"
'
test_expect "disk files: partition tables (MBR with boot flag, GPT with names)" '
	corral disk files deb --json | jq -e ".scheme == \"mbr\" and (.partitions | length) == 2 and
		.partitions[0].fstype == \"ext4\" and .partitions[0].bootable and .partitions[0].start == 1048576 and
		.partitions[1].fstype == \"ext4\" and (.partitions[1].bootable | not)" &&
	corral disk files el7 --json | jq -e "[.partitions[].fstype] == [\"xfs\",\"ext4\"]" &&
	corral disk files bls --json | jq -e ".scheme == \"gpt\" and (.partitions | length) == 3 and
		.partitions[2].type == \"4f68bce3-e8cd-4db1-96e7-fbcaf984b709\"" &&
	corral disk files deb > out && grep -q "^NUMBER *START *SIZE *TYPE *FSTYPE *NAME" out && grep -q "^1 .*0x83 *ext4" out
'
test_expect "disk files: directories, files and symlinks" '
	corral disk files deb / --partition 2 > out && grep -qx "etc/" out && grep -qx "srv/" out &&
	corral disk files deb /home/user --partition 2 --json | jq -e "
		[.entries[] | {name, type, target}] == [
		 {name: \"hello-link.txt\", type: \"symlink\", target: \"hello.txt\"},
		 {name: \"hello.txt\", type: \"file\", target: null}] and .entries[1].size == 30 and .entries[1].mode == 420" &&
	corral disk files deb /home/user --partition 2 --long | grep -q "^lrwxrwxrwx .* hello-link.txt -> hello.txt$" &&
	corral disk files deb /etc/hostname --partition 2 --json | jq -e ".type == \"file\" and .entries[0].name == \"hostname\"" &&
	corral disk files deb --partition 1 | grep -qx "vmlinuz-$KVER"
'
test_expect "disk cat: a known file, through a symlink too" '
	[ "$(corral disk cat deb /home/user/hello.txt --partition 2)" = "hello from a corral test disk" ] &&
	[ "$(corral disk cat deb /home/user/hello-link.txt --partition 2)" = "hello from a corral test disk" ] &&
	[ "$(corral disk cat deb /etc/hostname --partition 2)" = corral-disk-test ]
'
test_expect "disk get: the 3 MiB file arrives whole (sha256), atomically, never over a file without --force" '
	want=$(grep " srv/blob.bin$" "$DISKS/rootfs.sha256sum" | cut -d" " -f1) && [ -n "$want" ] &&
	mkdir dl && corral disk get deb /srv/blob.bin dl --partition 2 &&
	[ "$(sha256sum < dl/blob.bin | cut -d" " -f1)" = "$want" ] &&
	[ "$(stat -c %s dl/blob.bin)" = 3145728 ] &&
	echo keep > dl/other && fails corral disk get deb /srv/blob.bin dl/other --partition 2 2>err &&
	grep -q "already exists" err && [ "$(cat dl/other)" = keep ] &&
	corral disk get deb /srv/blob.bin dl/other --partition 2 --force &&
	[ "$(sha256sum < dl/other | cut -d" " -f1)" = "$want" ] &&
	[ -z "$(ls dl | grep corral-)" ]
'
test_expect "XFS /boot of the EL7-style image" '
	corral disk files el7 / --partition 1 --json | jq -e "[.entries[].name] | index(\"vmlinuz-$KVER\") != null" &&
	corral disk cat el7 /grub2/grub.cfg --partition 1 | grep -q "linux16 /vmlinuz-$KVER" &&
	[ "$(corral disk cat el7 /vmlinuz-$KVER --partition 1 | sha256sum)" = "$(sha256sum < "$GUEST_DIR/vmlinuz")" ]
'
test_expect "image files on the host: raw, compressed qcow2 from qemu-img, a qcow2 volume made by corral" '
	qemu-img convert -c -O qcow2 "$DISKS/debian-ext4.img" "$T/deb-c.qcow2" &&
	[ "$(corral disk cat "$T/deb-c.qcow2" /etc/hostname --partition 2)" = corral-disk-test ] &&
	[ "$(corral disk cat "$DISKS/debian-ext4.img" /etc/hostname --partition 2)" = corral-disk-test ] &&
	corral disk files "$DISKS/fedora-bls.img" /loader/entries --partition 2 | grep -q "$KVER.conf$" &&
	p=$(corral disk show deb --json | jq -r .path) && qemu-img info "$p" | grep -q "file format: qcow2" &&
	[ "$(corral disk cat "$p" /etc/hostname --partition 2)" = corral-disk-test ] &&
	cd "$DISKS" && [ "$(corral disk cat ./debian-ext4.img /etc/hostname --partition 2)" = corral-disk-test ]; rc=$?; cd "$T"; [ $rc = 0 ]
'
test_expect "hostile and wrong requests: stay inside the image, clear errors, nothing changes" '
	p=$(corral disk show deb --json | jq -r .path) && before=$(sha256sum < "$p") &&
	[ "$(corral disk cat deb /../../../etc/hostname --partition 2)" = corral-disk-test ] &&
	corral disk files deb /.. --partition 2 | grep -qx "srv/" &&
	fails corral disk cat deb /no/such/file --partition 2 2>err && grep -q "/no/such/file" err &&
	fails corral disk files deb / --partition 9 2>err && grep -q "partition 9" err &&
	fails corral disk files deb / 2>err && grep -qi "partition" err &&
	fails corral disk cat deb /etc --partition 2 2>err && grep -q "not a regular file" err &&
	fails corral disk files nosuchvol 2>err && grep -q "not found" err &&
	echo "not a disk" > notimage.txt && fails corral disk files ./notimage.txt 2>err && grep -q "not a disk image" err &&
	fails corral disk files ./notimage.txt / 2>err && grep -qi "filesystem" err &&
	fails corral disk files "$T/nonexistent.img" 2>err && grep -qi "does not exist" err &&
	fails corral disk files /nonexistent.img 2>err && grep -q "not inside a storage pool or an allow_path" err &&
	api GET "/v1/volumes/deb/fs?path=etc&partition=2" | tail -n1 | grep -q "HTTP 400" &&
	api GET "/v1/images/fs?file=relative.img" | tail -n1 | grep -q "HTTP 400" &&
	api GET "/v1/images/content?file=/etc&path=/x" | tail -n1 | grep -q "HTTP 403" &&
	api GET "/v1/images/content?file=$T&path=/x" | tail -n1 | grep -q "HTTP 403" &&
	api GET "/v1/volumes/deb/fs?partition=0" | tail -n1 | grep -q "HTTP 400" &&
	[ "$(sha256sum < "$p")" = "$before" ] &&
	corral disk list --json | jq -e ".volumes | length == 4"
'
test_expect "disk-kernel: boot-entries lists the Debian grub.cfg, default marked" '
	corral vm create dk --disk deb --boot disk-kernel --memory 256M &&
	corral vm show dk --json | jq -e ".boot == {\"mode\": \"disk-kernel\"}" &&
	corral vm boot-entries dk --json > be.json &&
	jq -e ".config == \"/grub/grub.cfg\" and .partition == 1 and .default == 0 and .selected == 0 and
		(.entries | length) == 3 and .entries[0].title == \"Debian GNU/Linux\" and
		.entries[0].kernel == \"/vmlinuz-$KVER\" and .entries[0].cmdline == \"$DEB_CMDLINE\" and
		(.entries[2].title | test(\"recovery mode\"))" be.json &&
	corral vm boot-entries dk | grep -q "^\*> *0  Debian GNU/Linux$"
'
test_expect "disk-kernel: the Debian disk boots its own kernel with grub.cfg's command line" '
	boot dk &&
	[ "$(append_of dk)" = "$DEB_CMDLINE" ] &&
	qemu_cmdline dk | grep -qx "$STATE/run/.*/boot/vmlinuz" &&
	cmp -s "$STATE/run/$(corral vm show dk --json | jq -r .uuid)/boot/vmlinuz" "$GUEST_DIR/vmlinuz" &&
	corral vm events dk | grep -q "boot .*entry 0 .Debian GNU/Linux. of /grub/grub.cfg on partition 1"
'
test_expect "a running VM's volume is refused; its snapshot is readable" '
	fails corral disk files deb / --partition 2 2>err &&
	grep -qx "corral: volume deb is in use by running VM dk; stop it or read a snapshot: --snapshot NAME" err &&
	p=$(corral disk show deb --json | jq -r .path) &&
	fails corral disk cat "$p" /etc/hostname --partition 2 2>err && grep -q "in use by running VM dk" err &&
	corral snapshot create dk s1 &&
	[ "$(corral disk cat deb /etc/hostname --partition 2 --snapshot s1)" = corral-disk-test ] &&
	corral disk files deb /srv --partition 2 --snapshot s1 | grep -qx blob.bin
'
test_expect "--boot-entry picks the recovery entry: its command line" '
	corral vm kill dk &&
	title=$(jq -r ".entries[2].title" be.json) &&
	corral vm edit dk --boot-entry "$title" &&
	corral vm show dk --json | jq -e --arg t "$title" ".boot.entry == \$t" &&
	corral vm boot-entries dk --json | jq -e ".selected == 2 and .default == 0" &&
	boot dk && append_of dk | grep -q " single " &&
	[ "$(append_of dk)" = "$(jq -r ".entries[2].cmdline" be.json)" ] &&
	corral vm kill dk
'
test_expect "a guest that updates grub.cfg boots the new entry next time" '
	corral vm create upd --disk debraw --boot disk-kernel --memory 256M &&
	corral vm start upd && [ "$(append_of upd)" = "$DEB_CMDLINE" ] && corral vm kill upd &&
	p=$(corral disk show debraw --json | jq -r .path) &&
	debugfs -R "cat /grub/grub.cfg" "$p?offset=1048576" 2>/dev/null > grub.cfg &&
	awk -v k="$KVER" "/^menuentry .Debian GNU\\/Linux. /&&!d{print \"menuentry \\x27Debian GNU/Linux, updated\\x27 {\";print \"\\tlinux /vmlinuz-\" k \" root=/dev/vda2 ro console=ttyS0 quiet corral.hostname=updated\";print \"\\tinitrd /initrd.img-\" k;print \"}\";d=1}{print}" grub.cfg > grub.new &&
	boot_fs_write "$p" grub.new /grub/grub.cfg &&
	corral vm boot-entries upd --json | jq -e ".entries[0].title == \"Debian GNU/Linux, updated\" and .selected == 0" &&
	boot upd && append_of upd | grep -q "corral.hostname=updated$" &&
	corral vm events upd | grep -q "entry 0 .Debian GNU/Linux, updated." &&
	corral vm kill upd
'
test_expect "disk-kernel errors are clear and the VM is not started" '
	p=$(corral disk show debraw --json | jq -r .path) &&
	corral vm edit upd --boot-entry "No such kernel" &&
	fails corral vm start upd 2>err && grep -q "no boot entry .No such kernel." err &&
	grep -q "Debian GNU/Linux, updated" err && [ "$(vm_state upd)" = stopped ] &&
	corral vm edit upd --boot-entry "" &&
	corral vm show upd --json | jq -e ".boot == {\"mode\": \"disk-kernel\"}" &&
	sed "0,/^\\tlinux /s//\\tlinux \"\\/vmlinuz-broken /" grub.new > grub.bad &&
	boot_fs_write "$p" grub.bad /grub/grub.cfg &&
	fails corral vm start upd 2>err && grep -q "grub.cfg:[0-9]*:" err && [ "$(vm_state upd)" = stopped ] &&
	sed "s|linux /vmlinuz-$KVER root=/dev/vda2|linux /vmlinuz-missing root=/dev/vda2|" grub.new > grub.nok &&
	boot_fs_write "$p" grub.nok /grub/grub.cfg &&
	fails corral vm start upd 2>err && grep -q "/vmlinuz-missing" err && [ "$(vm_state upd)" = stopped ] &&
	corral disk create empty 16M && corral vm create nocfg --disk empty --boot disk-kernel &&
	fails corral vm start nocfg 2>err && grep -q "no GRUB or BLS boot configuration found" err &&
	[ "$(vm_state nocfg)" = stopped ] &&
	fails corral vm create bad1 --boot disk-kernel --kernel "$KERNEL" 2>/dev/null &&
	api POST /v1/vms "{\"name\":\"bad2\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\",\"entry\":\"x\"}}" | tail -n1 | grep -q "HTTP 400" &&
	api POST /v1/vms "{\"name\":\"bad3\",\"boot\":{\"mode\":\"disk-kernel\",\"cmdline\":\"x\"}}" | tail -n1 | grep -q "HTTP 400"
'
test_expect "EL7-style XFS /boot boots the saved entry of grubenv" '
	corral vm create el7vm --disk el7 --boot disk-kernel --memory 256M &&
	corral vm boot-entries el7vm --json | jq -e ".config == \"/grub2/grub.cfg\" and .selected == .default and
		(.entries[.default].title | test(\"'"$KVER"'\"))" &&
	boot el7vm && [ "$(append_of el7vm)" = "$(info debian-xfs.img cmdline)" ] && corral vm kill el7vm
'
test_expect "Fedora-style BLS entries boot the saved entry with \$kernelopts" '
	corral vm create blsvm --disk bls --boot disk-kernel --memory 256M &&
	corral vm boot-entries blsvm --json | jq -e ".partition == 2 and (.entries | length) == 2" &&
	boot blsvm && [ "$(append_of blsvm)" = "$(info fedora-bls.img cmdline)" ] && corral vm kill blsvm
'
finish
