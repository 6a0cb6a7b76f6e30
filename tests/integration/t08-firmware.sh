#!/usr/bin/env bash
# Boot firmware and CPU model (docs/boot.md): a UEFI guest (OVMF) boots to
# its ready marker and shell (OVMF's release build prints only screen
# control codes on the serial console, so the proof is the guest's
# /sys/firmware/efi) and keeps its NVRAM vars across restarts (a clone gets
# a copy, delete removes them; migration carries them: t62, t64); a named CPU model
# is what the guest sees, a wrong one is refused with a "did you mean" and
# nothing created; a `--boot disk-kernel` guest that reboots (from inside,
# or by `vm reboot`) boots what its grub.cfg says now, not what it said at
# `vm start`; boot-entries flags an entry whose kernel is missing; a BIOS
# boot that finds nothing says so in `vm log`.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
DISKS=$GUEST_DIR/disks
if ! bash "$ROOT/guest/build-disk.sh" "$GUEST_DIR" "$DISKS" >"$T/build-disk.out" 2>&1; then
	say "t08-firmware: guest/build-disk.sh failed:"; tail -n 20 "$T/build-disk.out" >&2
	FAILED=1; finish; exit 1
fi
setup_daemon

OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
uuid_of() { corral vm show "$1" --json | jq -r .uuid; }
nvram_of() { echo "$STATE/nvram/$(uuid_of "$1").fd"; }
qemu_cmdline() { tr '\0' '\n' <"/proc/$(corral vm show "$1" --json | jq -r .status.pid)/cmdline"; }
append_of() { qemu_cmdline "$1" | sed -n '/^-append$/{n;p}'; }
KVER=$(sed -n "s/^kernel=//p" "$DISKS/debian-ext4.img.info"); KVER=${KVER#/vmlinuz-}
# grub.cfg of the Debian test disk with a new first entry whose command line
# names corral.hostname=$1 (the guest's hostname says which entry booted).
grub_with_entry() {
	awk -v k="$KVER" -v h="$1" "/^menuentry .Debian GNU\\/Linux. /&&!d{print \"menuentry \\x27Debian GNU/Linux, \" h \"\\x27 {\";print \"\\tlinux /vmlinuz-\" k \" root=/dev/vda2 ro console=ttyS0 quiet corral.hostname=\" h;print \"\\tinitrd /initrd.img-\" k;print \"}\";d=1}{print}" grub.orig
}
# boot_fs_write IMG FILE PATH: replace PATH in the ext4 /boot (partition 1 at 1 MiB) of raw IMG.
boot_fs_write() {
	debugfs -w -R "rm $3" "$1?offset=1048576" >/dev/null 2>&1
	debugfs -w -R "write $2 $3" "$1?offset=1048576" 2>&1 | grep -v "^debugfs" || true
	debugfs -R "cat $3" "$1?offset=1048576" 2>/dev/null | cmp -s - "$2"
}
# (guest_sh finds its command in the whole console history, earlier boots'
# too: each check below runs a command of its own; after a reboot it waits
# for the new boot's prompt, since busybox ash swallows what is typed while
# it asks the terminal for the cursor position.)

test_expect "three guests boot at once: UEFI, a named CPU model, disk-kernel" '
	create_guest efi --firmware uefi &&
	create_guest cpu1 --cpu Nehalem-v1 &&
	corral disk import "$DISKS/debian-ext4.img" --name dkraw --format raw &&
	corral vm create dk --disk dkraw --boot disk-kernel --memory 256M &&
	corral vm start efi cpu1 dk &&
	wait_ready_after efi 0 && wait_ready_after cpu1 0 && wait_ready_after dk 0
'
test_expect "the UEFI guest booted through OVMF and sees EFI firmware" '
	corral vm show efi --json | jq -e ".firmware == \"uefi\" and (has(\"secure_boot\") | not) and .status.cpu == \"max\"" &&
	corral vm show efi | grep -qx "firmware: *uefi" &&
	qemu_cmdline efi | grep -qx "if=pflash,unit=0,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" &&
	[ "$(guest_sh efi "ls /sys/firmware/efi >/dev/null && echo efi-yes")" = efi-yes ] &&
	fails corral vm migrate efi --to elsewhere --with-local-disks 2>err && grep -q "no trusted host" err &&
	[ "$(vm_state efi)" = running ]
'
test_expect "a named CPU model is what the guest sees (and a BIOS guest has no EFI)" '
	corral vm show cpu1 --json | jq -e ".cpu == \"Nehalem-v1\" and .status.cpu == \"Nehalem-v1\" and .firmware == \"bios\"" &&
	qemu_cmdline cpu1 | grep -qx Nehalem-v1 &&
	guest_sh cpu1 "grep -m1 \"model name\" /proc/cpuinfo" | grep -q "Nehalem" &&
	[ "$(guest_sh cpu1 "ls /sys/firmware/efi >/dev/null 2>&1 || echo bios")" = bios ] &&
	corral vm kill cpu1 &&
	corral host info --json | jq -e ".cpu_models | index(\"Skylake-Server-v4\") != null"
'
test_expect "an unknown CPU model is refused with a suggestion and nothing is created" '
	fails corral vm create bad1 --memory 256M --cpu Skylake-Sever-v4 2>err &&
	grep -q "knows no CPU model Skylake-Sever-v4; did you mean Skylake-Server-v4?" err &&
	fails corral vm create bad2 --cpu "max,+avx" 2>err && grep -q "cpu must be" err &&
	fails corral vm create bad3 --cpu host 2>err && grep -q "cpu host needs KVM" err &&
	fails corral vm edit cpu1 --cpu Nehalem-v9 2>err && grep -q "did you mean Nehalem-v1" err &&
	corral vm show cpu1 --json | jq -e ".cpu == \"Nehalem-v1\"" &&
	corral vm list --json | jq -e "[.vms[] | select(.name | startswith(\"bad\"))] | length == 0"
'
test_expect "disk-kernel: a reboot from inside the guest boots the entry grub.cfg names now" '
	[ "$(guest_sh dk hostname)" = corral-guest ] &&
	p=$(corral disk show dkraw --json | jq -r .path) &&
	debugfs -R "cat /grub/grub.cfg" "$p?offset=1048576" 2>/dev/null > grub.orig &&
	grub_with_entry upgraded > grub.new && boot_fs_write "$p" grub.new /grub/grub.cfg &&
	n=$(ready_count dk) && pid=$(corral vm show dk --json | jq -r .status.pid) &&
	efi_n=$(ready_count efi) && ino=$(stat -c %i "$(nvram_of efi)") && corral vm kill efi && corral vm start efi &&
	corral vm console dk --linger 0.3 <<<"reboot -f" >/dev/null &&
	wait_ready_after dk "$n" && wait_console dk "^upgraded:/# " && sleep 1 &&
	[ "$(guest_sh dk "uname -n")" = upgraded ] &&
	append_of dk | grep -q "corral.hostname=upgraded$" &&
	[ "$(corral vm show dk --json | jq -r .status.pid)" != "$pid" ] &&
	corral vm events dk > ev && grep -q "guest rebooted; reading its boot configuration again" ev &&
	grep -q "entry 0 .Debian GNU/Linux, upgraded." ev && ! grep -qi "crashed" ev &&
	[ "$(vm_state dk)" = running ]
'
test_expect "the UEFI guest keeps its NVRAM vars (its own file, owned by the QEMU user) across the restart" '
	wait_ready_after efi "$efi_n" &&
	f=$(nvram_of efi) && [ -f "$f" ] &&
	[ "$(stat -c "%U %a" "$f")" = "corral-qemu 600" ] &&
	[ "$(stat -c %i "$f")" = "$ino" ] &&
	corral vm events efi | grep -c "running: started" | grep -qx 2 &&
	! cmp -s "$f" "$OVMF_VARS" &&
	corral vm kill efi &&
	fails corral vm migrate efi --to elsewhere --offline 2>err && grep -q "no trusted host" err
'
test_expect "disk-kernel: corral vm reboot re-reads it too" '
	p=$(corral disk show dkraw --json | jq -r .path) &&
	grub_with_entry second > grub.2 && boot_fs_write "$p" grub.2 /grub/grub.cfg &&
	n=$(ready_count dk) &&
	corral vm reboot dk &&
	wait_ready_after dk "$n" && wait_console dk "^second:/# " && sleep 1 &&
	[ "$(guest_sh dk "cat /proc/sys/kernel/hostname")" = second ] &&
	corral vm events dk | grep -q "entry 0 .Debian GNU/Linux, second." &&
	corral vm kill dk
'
test_expect "boot-entries flags an entry whose kernel is not on the disk" '
	p=$(corral disk show dkraw --json | jq -r .path) &&
	sed "0,/linux \/vmlinuz-$KVER/s//linux \/vmlinuz-gone/" grub.2 > grub.gone &&
	boot_fs_write "$p" grub.gone /grub/grub.cfg &&
	corral vm boot-entries dk --json > be.json &&
	jq -e ".entries[0].problem | test(\"kernel /vmlinuz-gone of boot entry .Debian GNU/Linux, second. .*does not exist\")" be.json &&
	jq -e "[.entries[1:][] | .problem] | all(. == null)" be.json &&
	corral vm boot-entries dk > be.txt && grep -q "^\*>! *0  Debian GNU/Linux, second$" be.txt &&
	grep -q "cannot boot: the kernel /vmlinuz-gone" be.txt && grep -q "^    *1  Debian GNU/Linux$" be.txt
'
test_expect "a BIOS boot that finds nothing says so on the serial console (SeaBIOS sercon)" '
	corral disk create blank 16M &&
	corral vm create nob --disk blank --memory 64M &&
	corral vm start nob &&
	wait_console nob "No bootable device" 30 &&
	corral vm kill nob
'
test_expect "a backup keeps the NVRAM vars; a restore under a new name gets them" '
	corral repo create "$T/repo" >/dev/null &&
	corral disk create efi-b 16M >/dev/null && corral disk attach efi efi-b >/dev/null &&
	corral backup run efi >/dev/null &&
	ID=$(corral backup list efi --json | jq -r ".backups[-1].id") && [ -n "$ID" ] &&
	corral backup restore "$ID" --name efi3 >/dev/null &&
	cmp "$(nvram_of efi)" "$(nvram_of efi3)" &&
	corral vm delete efi3 --disks --yes >/dev/null && corral disk detach efi efi-b >/dev/null
'
test_expect "a clone gets a copy of the vars; delete removes them; back to bios" '
	corral vm clone efi efi2 >/dev/null &&
	cmp -s "$(nvram_of efi)" "$(nvram_of efi2)" &&
	f2=$(nvram_of efi2) && corral vm delete efi2 --yes && [ ! -e "$f2" ] &&
	corral vm edit efi --firmware bios && [ ! -e "$(nvram_of efi)" ] &&
	corral vm show efi --json | jq -e ".firmware == \"bios\"" &&
	fails corral vm edit efi --firmware efi 2>err && grep -q "want bios or uefi" err &&
	fails corral vm edit efi --firmware bios --secure-boot 2>err && grep -q "needs --firmware uefi" err &&
	api PUT /v1/vms/efi "{\"name\":\"efi\",\"secure_boot\":true}" | tail -n1 | grep -q "HTTP 400"
'
test_expect "UEFI refuses an ELF vmlinux (no EFI stub) with the reason, at create and edit; BIOS boots it" '
	[ -f "$GUEST_DIR/vmlinux" ] || { say "the guest kit has no vmlinux"; return 1; }
	fails corral vm create efix --firmware uefi --kernel "$GUEST_DIR/vmlinux" 2>err &&
	grep -q "is an ELF image (vmlinux): UEFI firmware boots only a kernel with an EFI stub" err &&
	! corral vm show efix >/dev/null 2>&1 &&
	corral vm create efix --kernel "$GUEST_DIR/vmlinux" >/dev/null &&
	fails corral vm edit efix --firmware uefi 2>err && grep -q "is an ELF image" err &&
	corral vm show efix --json | jq -e ".firmware == \"bios\"" >/dev/null && corral vm delete efix --yes
'
finish
