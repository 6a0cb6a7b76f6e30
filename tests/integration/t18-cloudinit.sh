#!/usr/bin/env bash
# cloud-init: a VM with --cloud-init gets a NoCloud seed (an ISO 9660 CD-ROM
# labelled cidata) beside its own CD-ROM drive; the guest mounts it and reads
# the meta-data and user-data corral wrote; a changed setting gives a new
# instance-id at the next start; a clone and a --from copy get their own;
# hostile values are refused and change nothing; after a live migration the
# guest reads the same seed, built by the destination, which the devices of
# both sides must match (docs/cloud-init.md).  Two hosts (lib.sh nhost_*)
# from the start, so one guest does it all in two boots: the CLI talks to
# host a until the VM has moved to b.
. "$(dirname "$0")/lib.sh"

nhost_setup a b && nhost_start a && nhost_start b || { say "cannot start the two hosts"; FAILED=1; exit 1; }
SOCK=$T/a.sock STATE=$T/a

KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx3bq7CorralTestKeyOnlyForT18xxxxxxxxxxxx admin@t18"
printf '# the admin key\n%s\n\n' "$KEY" >"$T/k.pub"
printf 'correct horse battery\n' >"$T/pw"
# an "installer" CD for the VM's own drive
mkdir -p "$T/inst" && echo CORRAL-INSTALLER-MARK >"$T/inst/MARK.TXT"
xorriso -as mkisofs -quiet -output "$T/installer.iso" -volid INSTALLER "$T/inst" 2>/dev/null

iid() { corral vm show "$1" --json | jq -r .status.cloud_init_instance_id; }
# The seed's files as corrald built them (extracted from the image into seed/),
# and a check that the guest reads exactly those bytes from its /dev/sr1 (sr0 is
# the VM's own CD-ROM drive on ide.2): checksums, as long lines on the serial
# console are not reliable under load; guest_sh commands stay short (the serial
# echo of a long one wraps, and a command run twice needs a unique comment).
host_seed() {
	rm -rf seed && mkdir seed &&
		xorriso -osirrox on -indev "$STATE/run/$(corral vm show "$1" --json | jq -r .uuid)/cidata.iso" \
			-extract / seed >/dev/null 2>&1 && chmod -R u+rw seed
}
same_in_guest() {
	local want got
	want=$(cd seed && for f in meta-data network-config user-data; do md5sum "$f" | sed "s|  |  /mnt/|"; done)
	# a unique comment: guest_sh finds its output after the first echo of the command
	got=$(guest_sh "$1" "md5sum /mnt/* # $RANDOM$RANDOM" | grep "^[0-9a-f]\{32\}  /mnt/")
	[ "$want" = "$got" ] || { say "the guest read: $got"; say "the image has: $want"; return 1; }
}


test_expect "create with --cloud-init, an installer CD and a key; vm show shows it" '
	create_guest ci1 --cdrom "$T/installer.iso" --cloud-init --ci-user admin --ci-ssh-key "$T/k.pub" &&
	corral vm show ci1 --json | jq -e ".cloud_init == {\"user\":\"admin\",\"ssh_keys\":[\"$KEY\"]}" &&
	corral vm show ci1 >show.txt && cat show.txt && grep -q "^cloud-init: *on, instance-id iid-" show.txt &&
	grep -q "user: *admin$" show.txt && grep -q "ssh keys: *1$" show.txt &&
	grep -q "hostname: *ci1 (the VM.s name)" show.txt
'
test_expect "the guest sees both CD-ROMs and reads the seed" '
	boot ci1 && wait_block ci1 "sr0 sr1" &&
	guest_sh ci1 "mount -t iso9660 -o ro /dev/sr1 /mnt && ls -1 /mnt" >ls.txt &&
	grep -qx meta-data ls.txt && grep -qx user-data ls.txt && grep -qx network-config ls.txt &&
	host_seed ci1 && cat seed/meta-data seed/user-data seed/network-config &&
	grep -qx "instance-id: \"$(iid ci1)\"" seed/meta-data &&
	grep -q "^instance-id: \"iid-$(corral vm show ci1 --json | jq -r .uuid)-[0-9a-f]\{16\}\"" seed/meta-data &&
	grep -qx "local-hostname: \"ci1\"" seed/meta-data &&
	head -n1 seed/user-data | grep -qx "#cloud-config" &&
	grep -qx "  - name: \"admin\"" seed/user-data && grep -qxF "      - \"$KEY\"" seed/user-data &&
	grep -qi "macaddress: \"$(corral vm show ci1 --json | jq -r .nics[0].mac)\"" seed/network-config &&
	same_in_guest ci1 &&
	guest_sh ci1 "grep hostname /mnt/meta-data" | grep -qx "local-hostname: \"ci1\"" &&
	guest_sh ci1 "mkdir -p /cd && mount -t iso9660 -r /dev/sr0 /cd" &&
	guest_sh ci1 "cat /cd/MARK.TXT" | grep -q CORRAL-INSTALLER-MARK
'
test_expect "the seed belongs to the QEMU account, mode 0600, and goes when the VM stops" '
	iso=$STATE/run/$(corral vm show ci1 --json | jq -r .uuid)/cidata.iso &&
	[ "$(stat -c %a "$iso")" = 600 ] &&
	[ "$(stat -c %U "$iso")" = "$(stat -c %U "$(dirname "$iso")")" ] &&
	corral vm kill ci1 && wait_state ci1 stopped && [ ! -e "$iso" ]
'
test_expect "hostile values are refused and change nothing" '
	gen=$(corral vm show ci1 --json | jq .status.generation) &&
	fails corral vm edit ci1 --ci-user "$(printf "ad\nmin")" 2>err && grep -q "user must not contain control characters" err &&
	fails corral vm edit ci1 --ci-user "x\" : y" 2>err && grep -q "login name" err &&
	fails corral vm edit ci1 --ci-hostname "a b" 2>err && grep -q "host name" err &&
	def=$(corral vm show ci1 --json | jq -c "del(.status) | .cloud_init.ssh_keys = [\"ssh-ed25519 AAAA\nusers: []\"]") &&
	api PUT /v1/vms/ci1 "$def" >put.txt; grep -q "must be one line of text" put.txt &&
	grep -q "HTTP 400" put.txt &&
	def=$(corral vm show ci1 --json | jq -c "del(.status) | .cloud_init.password_hash = \"plain-password\"") &&
	api PUT /v1/vms/ci1 "$def" | grep -q "crypt(3) hash" &&
	head -c 70000 /dev/zero | tr "\0" x >big.yaml &&
	fails corral vm edit ci1 --ci-user "" --ci-ssh-key "" --ci-password-file "" --ci-user-data big.yaml 2>err &&
	grep -q "larger than 64 KiB" err &&
	printf "#cloud-config\nusers: []\n" >ud.yaml &&
	fails corral vm edit ci1 --ci-user-data ud.yaml 2>err && grep -q "user_data is used as it is" err &&
	[ "$(corral vm show ci1 --json | jq .status.generation)" = "$gen" ] &&
	corral vm show ci1 --json | jq -e ".cloud_init == {\"user\":\"admin\",\"ssh_keys\":[\"$KEY\"]}"
'
test_expect "a changed setting is a new instance-id at the next start" '
	old=$(iid ci1) &&
	corral vm edit ci1 --ci-hostname web-new --ci-password-file "$T/pw" &&
	new=$(iid ci1) && [ -n "$new" ] && [ "$new" != "$old" ] &&
	corral vm show ci1 --json | jq -e ".cloud_init.password_hash | startswith(\"\$y\$\")" &&
	! corral vm show ci1 --json | grep -q "correct horse" &&
	! grep -q "correct horse" "$T/a.log" &&
	corral vm show ci1 | grep -q "user: *admin (password set)" &&
	! corral vm show ci1 | grep -q "\$y\$" &&
	boot ci1 &&
	guest_sh ci1 "mount -t iso9660 -o ro /dev/sr1 /mnt" &&
	host_seed ci1 && cat seed/meta-data &&
	grep -qx "instance-id: \"$new\"" seed/meta-data && grep -qx "local-hostname: \"web-new\"" seed/meta-data &&
	grep -q "^    hashed_passwd: \"\$y\\$" seed/user-data && same_in_guest ci1
'
test_expect "live migration: the destination builds the same seed" '
	nhost_trust a b && corral cdrom eject ci1 &&
	before=$(guest_sh ci1 "md5sum /mnt/* # $RANDOM$RANDOM" | grep "^[0-9a-f]\{32\}  ") && echo "$before" &&
	uuid=$(corral vm show ci1 --json | jq -r .uuid) &&
	corral vm migrate ci1 --to b && SOCK=$T/b.sock STATE=$T/b &&
	wait_state ci1 running 10 &&
	[ -f "$T/b/run/$uuid/cidata.iso" ] && [ ! -e "$T/a/run/$uuid/cidata.iso" ] &&
	guest_sh ci1 "sync; echo 3 >/proc/sys/vm/drop_caches" &&
	after=$(guest_sh ci1 "md5sum /mnt/* # $RANDOM$RANDOM" | grep "^[0-9a-f]\{32\}  ") && echo "$after" &&
	[ "$(echo "$before" | grep -c "^[0-9a-f]\{32\}  /mnt/")" = 3 ] && [ "$before" = "$after" ] &&
	host_seed ci1 && same_in_guest ci1 &&
	corral vm kill ci1 && wait_state ci1 stopped
'
test_expect "own user-data from the admin is used verbatim" '
	printf "#cloud-config\nruncmd: [\"echo hi: \\\"there\\\"\"]\n" >mine.yaml &&
	corral vm edit ci1 --ci-user "" --ci-ssh-key "" --ci-password-file "" --ci-user-data mine.yaml &&
	corral vm show ci1 --json | jq -e ".cloud_init | has(\"user\") | not" &&
	corral vm show ci1 --json | jq -j .cloud_init.user_data | cmp - mine.yaml
'
test_expect "a clone and a --from copy get their own instance-id" '
	corral vm clone ci1 ci2 &&
	[ "$(iid ci2)" != "$(iid ci1)" ] &&
	corral vm show ci1 --json >ci1.json &&
	corral vm create ci3 --from ci1.json &&
	[ "$(iid ci3)" != "$(iid ci1)" ] && [ "$(iid ci3)" != "$(iid ci2)" ] &&
	corral vm show ci3 --json | jq -e ".cloud_init.user_data != null"
'
test_expect "--no-cloud-init removes the seed drive" '
	corral vm edit ci1 --no-cloud-init &&
	corral vm show ci1 --json | jq -e ".cloud_init == null and (.status | has(\"cloud_init_instance_id\") | not)" &&
	corral vm show ci1 | grep -q "^cloud-init: *off"
'
finish
