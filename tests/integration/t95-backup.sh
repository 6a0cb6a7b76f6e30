#!/usr/bin/env bash
# Backups of real guests into real repositories: a running guest with two
# qcow2 disks writes known data with raw block I/O; full then incremental
# backups; every point restored to new VMs and compared with copies of the
# disks taken at that point (qemu-img compare) and read back inside a
# booted restored guest; one disk restored alone; a restore over the
# original; single files out of a backed-up ext4 disk; policies with
# selection, exclusion and retention; an encrypted repository round trip and
# a wrong passphrase; and the faults: kill -9 corrald and kill QEMU during a
# backup, a full repository disk, an unreachable repository, a flipped bit in
# a chunk (verify names the damaged backups, others still restore).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib-backup.sh"
setup_daemon

# write_data VM SEEK_MIB TAG: 2 MiB of new random data at SEEK_MIB on vda and vdb.
write_data() {
	gsh "$1" "for d in vda vdb; do dd if=/dev/urandom of=/dev/\$d bs=1M seek=$2 count=2 conv=fsync 2>/dev/null; done; echo WROTE-$3" |
		grep -q "^WROTE-$3"
}
# sum VM SEEK_MIB: sha256 of 2 MiB at SEEK_MIB of vda, read inside the guest.
sum_in_guest() {
	gsh "$1" "echo S=\$(dd if=/dev/vda bs=1M skip=$2 count=2 2>/dev/null | sha256sum | cut -c1-16)" | grep '^S=' | tail -n1 | cut -c3-
}

REPO=$T/repo
test_expect "repositories: create plain and encrypted, hostile paths refused" '
	corral repo create "$REPO" | grep -q "as the default" &&
	printf "correct horse battery\n" >"$T/pass" &&
	corral repo create "$T/erepo" --encrypt --passphrase-file "$T/pass" | grep -q "key file: " &&
	fails corral repo create "$REPO" &&
	fails corral repo create relative/../../x &&
	api POST /v1/repos "{\"path\":\"/tmp/a/../b\"}" | grep -q "HTTP 400" &&
	api POST /v1/repos "{\"path\":\"$T/r3\",\"encrypt\":true,\"passphrase\":\"short\"}" | grep -q "HTTP 400" &&
	api POST /v1/repos "{\"path\":\"$T/r4\",\"bogus\":1}" | grep -q "HTTP 400" &&
	[ ! -e "$T/r3" ] && [ ! -e "$T/r4" ] &&
	[ "$(corral repo list --json | jq ".repos | length")" = 2 ]
'

test_expect "a running guest with two disks: full backup, then an incremental reading only changed data" '
	corral disk create g-root 64M && corral disk create g-data 32M &&
	create_guest g --disk g-root --disk g-data &&
	boot g && wait_block g "sr0 vda vdb" &&
	write_data g 4 AAA && write_data g 20 BBB &&
	corral vm pause g && snap_copy g-root "$T/ref1-root" && snap_copy g-data "$T/ref1-data" && corral vm resume g &&
	corral backup run g >"$T/run1" && cat "$T/run1" && grep -q " full " "$T/run1" &&
	ID1=$(last_id g "$REPO") && [ -n "$ID1" ] &&
	write_data g 8 CCC &&
	corral vm pause g && snap_copy g-root "$T/ref2-root" && snap_copy g-data "$T/ref2-data" && corral vm resume g &&
	corral backup run g --json >"$T/run2" &&
	ID2=$(last_id g "$REPO") && [ "$ID2" != "$ID1" ] &&
	jq -e ".result.vms[0].disks | all(.incremental)" "$T/run2" &&
	read2=$(jq ".result.vms[0].bytes_read" "$T/run2") &&
	say "incremental read $read2 bytes" && [ "$read2" -gt 0 ] && [ "$read2" -le $((8 << 20)) ] &&
	[ "$(vm_state g)" = running ] &&
	corral backup list g | grep -q incremental &&
	corral backup show "$ID2" | grep -q "incremental"
'

test_expect "every point restores to a new VM identical to the disks at that point" '
	corral backup restore "$ID1" --name r1 >/dev/null && corral backup restore "$ID2" --name r2 >/dev/null &&
	same "$T/ref1-root" "$(vol_path r1-disk0)" && same "$T/ref1-data" "$(vol_path r1-disk1)" &&
	same "$T/ref2-root" "$(vol_path r2-disk0)" && same "$T/ref2-data" "$(vol_path r2-disk1)" &&
	[ "$(corral vm show r2 --json | jq -r .uuid)" != "$(corral vm show g --json | jq -r .uuid)" ] &&
	[ "$(corral vm show r2 --json | jq -r ".nics[0].mac")" != "$(corral vm show g --json | jq -r ".nics[0].mac")" ]
'

test_expect "a restored guest boots and reads the backed-up data inside" '
	want=$(sum_in_guest g 8) && [ -n "$want" ] &&
	boot r2 && [ "$(sum_in_guest r2 8)" = "$want" ] && corral vm kill r2
'

test_expect "one disk restored alone, and a restore over the stopped original" '
	corral backup restore "$ID1" --disk 1 --name only-data >/dev/null &&
	same "$T/ref1-data" "$(vol_path only-data)" &&
	fails corral backup restore "$ID1" --yes &&
	corral vm kill g && wait_state g stopped &&
	corral backup restore "$ID1" --yes >/dev/null &&
	same "$T/ref1-root" "$(vol_path g-root)" && same "$T/ref1-data" "$(vol_path g-data)" &&
	fails corral backup restore "$ID1" --disk 7 &&
	fails corral backup restore nosuch/20200101T000000Z --name zz && ! corral vm show zz >/dev/null 2>&1
'

test_expect "single files out of a backed-up ext4 disk, without restoring" '
	mkdir -p "$T/tree/etc" && echo files-vm >"$T/tree/etc/hostname" &&
	head -c 3000000 /dev/urandom >"$T/tree/big.bin" && ln -s etc/hostname "$T/tree/link" &&
	mkfs.ext4 -q -d "$T/tree" "$T/fs.img" 64M &&
	corral disk import "$T/fs.img" --name fsdisk >/dev/null &&
	corral vm create files --memory 128M --disk fsdisk >/dev/null &&
	corral backup run files >/dev/null && FID=$(last_id files "$REPO") &&
	corral backup files "$FID" / | grep -q "^etc/$" &&
	corral backup files "$FID" / -l | grep -q " 3000000 .*big.bin$" &&
	[ "$(corral backup get "$FID" /etc/hostname -)" = files-vm ] &&
	corral backup get "$FID" /big.bin "$T/out.bin" && cmp "$T/tree/big.bin" "$T/out.bin" &&
	fails corral backup get "$FID" /big.bin "$T/out.bin" &&
	[ "$(corral backup get "$FID" /link -)" = files-vm ] &&
	fails corral backup get "$FID" /nope "$T/x" && [ ! -e "$T/x" ] &&
	fails corral backup files "$FID" / --partition 3
'

test_expect "policies: selection by pattern and tag, exclusion, per-pattern retention, preview" '
	corral disk create pa 8M && corral disk create pt 8M && corral disk create dx 8M &&
	corral vm create PROD-a --memory 64M --disk pa >/dev/null &&
	corral vm create PROD-test --memory 64M --disk pt >/dev/null &&
	corral vm create dev-x --memory 64M --disk dx --tag db >/dev/null &&
	printf "name=nightly\nrepo=%s\nselect=PROD*:2\nselect=tag:db\nexclude=*-test\nmax_backups=3\n" "$REPO" >"$T/pol" &&
	corral policy set "$T/pol" | grep -q "saved policy nightly" &&
	corral backup run nightly --preview >"$T/prev" && cat "$T/prev" &&
	grep -q "back up PROD-a" "$T/prev" && grep -q "back up dev-x" "$T/prev" &&
	grep -q "skip PROD-test: excluded by \*-test" "$T/prev" &&
	[ "$(nbackups PROD-a "$REPO")" = 0 ] &&
	for i in 1 2 3; do corral backup run nightly >/dev/null || return 1; sleep 1; done &&
	[ "$(nbackups PROD-a "$REPO")" = 2 ] && [ "$(nbackups dev-x "$REPO")" = 3 ] &&
	[ "$(nbackups PROD-test "$REPO")" = 0 ] &&
	corral backup run nightly --preview | grep -q "PRUNE" &&
	corral backup restore "$(last_id dev-x "$REPO")" --name devcopy >/dev/null &&
	[ "$(corral vm show devcopy --json | jq ".tags // [] | length")" = 0 ] &&
	! corral backup run nightly --preview | grep -q "back up devcopy" &&
	printf "repo=%s\nselect=dev-*\nmax_backups=1\n" "$REPO" >"$T/weekly.conf" &&
	corral policy set "$T/weekly.conf" | grep -q "saved policy weekly" && corral policy delete weekly >/dev/null &&
	printf "name=bad\nselect=x\nkeep_daily=-1\n" >"$T/bad" && fails corral policy set "$T/bad" &&
	fails corral policy show bad
'

test_expect "a scheduled policy runs by itself and keeps its retention" '
	printf "name=often\nrepo=%s\nselect=PROD-a\nschedule=*:*:0/5\nmax_backups=2\n" "$REPO" >"$T/often" &&
	corral policy set "$T/often" >/dev/null && corral policy show often | grep -q "next_run: *20" &&
	before=$(corral job list --json | jq "[.jobs[] | select(.target == \"often\")] | length") && [ "$before" = 0 ] &&
	for _ in $(seq 1 80); do
		[ "$(corral job list --json | jq "[.jobs[] | select(.target == \"often\" and .state == \"succeeded\")] | length")" -ge 2 ] && break
		sleep 0.5
	done &&
	[ "$(corral job list --json | jq "[.jobs[] | select(.target == \"often\" and .state == \"succeeded\")] | length")" -ge 2 ] &&
	corral policy delete often >/dev/null &&
	[ "$(nbackups PROD-a "$REPO")" = 2 ] &&
	corral policy show often 2>&1 | grep -q "not found"
'

test_expect "encrypted repository: round trip, no plaintext in it, wrong passphrase refused" '
	corral backup run files --repo "$T/erepo" >/dev/null && EID=$(last_id files "$T/erepo") &&
	! grep -rq files-vm "$T/erepo" &&
	[ "$(corral backup get "$EID" /etc/hostname - --repo "$T/erepo")" = files-vm ] &&
	corral backup restore "$EID" --name efiles --repo "$T/erepo" >/dev/null &&
	same "$(vol_path fsdisk)" "$(vol_path efiles-disk0)" &&
	key=$(corral repo show "$T/erepo" --json | jq -r .keyfile) && cp "$key" "$T/saved.key" &&
	corral repo forget --yes "$T/erepo" &&
	printf "wrong passphrase\n" >"$T/wrong" &&
	corral repo add "$T/erepo" --keyfile "$T/saved.key" --passphrase-file "$T/wrong" 2>"$T/err"; cat "$T/err";
	grep -qi "passphrase" "$T/err" &&
	corral repo add "$T/erepo" --keyfile "$T/saved.key" --passphrase-file "$T/pass" >/dev/null &&
	[ "$(corral backup get "$EID" /etc/hostname - --repo "$T/erepo")" = files-vm ]
'

test_expect "a flipped bit in a chunk: verify names the damaged backups, others still restore" '
	corral backup verify --all >/dev/null &&
	chunk=$(ls "$REPO"/chunks/*/* | head -n 1) &&
	printf "\xff" | dd of="$chunk" bs=1 seek=40 conv=notrunc 2>/dev/null &&
	! corral backup verify --all >"$T/verify" 2>&1; cat "$T/verify";
	grep -q "damaged" "$T/verify" &&
	bad=$(corral job list --json | jq -r "[.jobs[] | select(.type == \"verify\")][0].result.damaged_backups | join(\" \")") &&
	[ -n "$bad" ] && say "damaged: $bad" &&
	good=$(corral backup list --json | jq -r --arg bad " $bad " ".backups[] | select(.error == null) | .id | select(. as \$i | (\$bad | contains(\" \" + \$i + \" \")) | not)" | head -n 1) &&
	[ -n "$good" ] && corral backup verify "$good" >/dev/null &&
	corral backup restore "$good" --name okrest >/dev/null
'

test_expect "a full repository disk fails the backup cleanly and prunes nothing" '
	mkdir -p "$T/small" && mount -t tmpfs -o size=6m tmpfs "$T/small" &&
	corral repo create "$T/small/repo" >/dev/null &&
	corral disk create big 32M && corral vm create bigvm --memory 64M --disk big >/dev/null &&
	qemu-io -f qcow2 -c "write -P 0x5a 0 1M" "$(vol_path big)" >/dev/null &&
	corral backup run bigvm --repo "$T/small/repo" >/dev/null && [ "$(nbackups bigvm "$T/small/repo")" = 1 ] &&
	head -c 16M /dev/urandom >"$T/rnd" && qemu-img convert -n -f raw -O qcow2 "$T/rnd" "$(vol_path big)" &&
	! corral backup run bigvm --repo "$T/small/repo" 2>"$T/err"; cat "$T/err";
	grep -qi "space" "$T/err" &&
	[ "$(nbackups bigvm "$T/small/repo")" = 1 ] &&
	corral backup verify --all --repo "$T/small/repo" >/dev/null
'
umount "$T/small" 2>/dev/null

test_expect "an unreachable repository is a clear error" '
	mkdir -p "$T/away" && corral repo create "$T/away/repo" >/dev/null && mv "$T/away" "$T/gone" &&
	! corral backup run files --repo "$T/away/repo" 2>"$T/err"; cat "$T/err";
	grep -q "$T/away/repo" "$T/err" &&
	! corral backup list --repo "$T/away/repo" 2>/dev/null &&
	corral repo show "$T/away/repo" --json | jq -e ".reachable == false"
'

test_expect "kill -9 corrald during a backup: the guest runs on, no incomplete backup, next run works" '
	corral disk create h-root 1G && head -c 1G /dev/urandom >"$T/rnd" &&
	qemu-img convert -n -f raw -O qcow2 "$T/rnd" "$(vol_path h-root)" && rm -f "$T/rnd" &&
	create_guest h --disk h-root && boot h &&
	n=$(nbackups h "$REPO") &&
	corral backup run h --detach --json >"$T/job" && midway "$(jq -r .id "$T/job")" &&
	kill -9 "$CORRALD_PID" && wait "$CORRALD_PID" 2>/dev/null; CORRALD_PID= ;
	start_daemon && [ "$(vm_state h)" = running ] &&
	[ "$(nbackups h "$REPO")" = "$n" ] &&
	corral backup run h >"$T/after" && cat "$T/after" && [ "$(nbackups h "$REPO")" = $((n + 1)) ] &&
	[ "$(vm_state h)" = running ]
'

test_expect "QEMU killed during a backup: the job fails, no manifest, the repository stays consistent" '
	corral repo create "$T/repo2" >/dev/null &&
	qpid=$(corral vm show h --json | jq -r .status.pid) && [ "$qpid" -gt 1 ] &&
	corral backup run h --repo "$T/repo2" --detach --json >"$T/job" && midway "$(jq -r .id "$T/job")" &&
	kill -9 "$qpid" &&
	jid=$(jq -r .id "$T/job") &&
	for _ in $(seq 1 100); do [ "$(corral job show "$jid" --json | jq -r .state)" != running ] && break; sleep 0.2; done &&
	[ "$(corral job show "$jid" --json | jq -r .state)" = failed ] &&
	[ "$(nbackups h "$T/repo2")" = 0 ] &&
	corral repo prune "$T/repo2" >/dev/null && corral backup verify "$(last_id h "$REPO")" >/dev/null
'

test_expect "snapshots revert on a backed-up running VM; the next backup reads whole and says why" '
	corral vm start files && wait_state files running &&
	corral backup run files >/dev/null && corral backup run files --json | jq -e ".result.vms[0].disks[0].incremental" &&
	corral snapshot create files s1 >/dev/null && corral snapshot revert --yes files s1 >/dev/null &&
	corral backup run files --json >"$T/afterrevert" &&
	jq -e ".result.vms[0].disks[0] | (.incremental | not) and (.full_reason | length > 0)" "$T/afterrevert" &&
	corral backup show "$(last_id files "$REPO")" | grep -q "full: " && corral vm kill files
'

test_expect "host export-db: every definition, no secrets" '
	corral host export-db >"$T/export" &&
	jq -e ".vms | map(.name) | index(\"g\") != null" "$T/export" &&
	jq -e ".repositories | length >= 2" "$T/export" &&
	jq -e ".policies[0].name == \"nightly\"" "$T/export" &&
	! grep -q "correct horse" "$T/export"
'

stop_daemon
finish
