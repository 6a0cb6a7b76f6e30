#!/usr/bin/env bash
# Host files named through the API are confined to the storage pools and the
# allow_path directories (here: the test dir and the guest kit): everything
# else is 403 "forbidden" naming the rule, and nothing is created; files
# inside work.  A corrald.conf with a bad key stops corrald at start.
. "$(dirname "$0")/lib.sh"
setup_daemon

# forbidden METHOD PATH BODY MESSAGE-REGEX: 403 with code "forbidden" and the message.
forbidden() {
	local out status body
	out=$(api "$1" "$2" "$3")
	status=$(printf '%s\n' "$out" | tail -n1 | cut -d" " -f2)
	body=$(printf '%s\n' "$out" | sed '$d')
	[ "$status" = 403 ] || { say "$1 $2 $3: status $status, want 403: $body"; return 1; }
	printf '%s' "$body" | jq -e '.error.code == "forbidden"' >/dev/null || { say "body $body"; return 1; }
	printf '%s' "$body" | jq -r .error.message | grep -Eq -- "$4" ||
		{ say "$1 $2: message does not match '$4': $body"; return 1; }
}

nothing_created() {
	corral disk list --json | jq -e '.volumes | length == 0' >/dev/null &&
		corral vm list --json | jq -e '.vms | length == 0' >/dev/null
}

OUT_RULE="not inside a storage pool or an allow_path directory of corrald.conf \(allowed: .*$T"
LEAVES="leads out of $T"
mkdir -p "$T/iso" && ln -s /etc/shadow "$T/iso/shadow-link" && ln -s ../../../etc/passwd "$T/iso/rel-link" &&
	mkfifo "$T/iso/fifo" && mknod "$T/iso/blk" b 7 0 && mknod "$T/iso/null" c 1 3 &&
	qemu-img create -f raw "$T/iso/ok.raw" 1M >/dev/null || exit 1

test_expect "imports from outside, through links and '..', of FIFOs and devices are forbidden" '
	forbidden POST /v1/volumes/import "{\"path\":\"/etc/shadow\",\"name\":\"a\"}" "^source image /etc/shadow: $OUT_RULE" &&
	forbidden POST /v1/volumes/import "{\"path\":\"/proc/self/environ\",\"name\":\"a\"}" "$OUT_RULE" &&
	forbidden POST /v1/volumes/import "{\"path\":\"$T/iso/shadow-link\",\"name\":\"a\"}" "$LEAVES" &&
	forbidden POST /v1/volumes/import "{\"path\":\"$T/iso/rel-link\",\"name\":\"a\"}" "$LEAVES" &&
	forbidden POST /v1/volumes/import "{\"path\":\"$T/iso/../../etc/shadow\",\"name\":\"a\"}" "$LEAVES" &&
	forbidden POST /v1/volumes/import "{\"path\":\"$T/iso/fifo\",\"name\":\"a\"}" "a FIFO; only regular files" &&
	forbidden POST /v1/volumes/import "{\"path\":\"$T/iso/null\",\"name\":\"a\"}" "a character device" &&
	forbidden POST /v1/volumes/import "{\"path\":\"$T/iso/blk\",\"name\":\"a\"}" "a block device, allowed only with allow_block_devices = yes" &&
	fails corral disk import /etc/shadow 2>err && grep -q "source image /etc/shadow: not inside a storage pool" err &&
	nothing_created
'
test_expect "kernel, initrd, cdrom and disk reads outside are forbidden" '
	forbidden POST /v1/vms "{\"name\":\"v\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/proc/self/environ\"}}" "^kernel /proc/self/environ: $OUT_RULE" &&
	forbidden POST /v1/vms "{\"name\":\"v\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"$KERNEL\",\"initrd\":\"$T/iso/shadow-link\"}}" "^initrd .*$LEAVES" &&
	fails corral vm create v --kernel "$KERNEL" --cdrom /etc/shadow 2>err &&
	grep -q "cdrom image /etc/shadow: not inside a storage pool" err &&
	forbidden GET "/v1/images/fs?file=/etc/shadow" "" "^image file /etc/shadow: $OUT_RULE" &&
	nothing_created
'
test_expect "files in allowed directories work: import, a VM with kernel and initrd" '
	corral disk import "$T/iso/ok.raw" --source-format raw --name ok >/dev/null &&
	corral disk show ok --json | jq -e ".capacity == 1048576" >/dev/null &&
	create_guest g >/dev/null && corral vm show g --json | jq -e ".boot.kernel == \"$KERNEL\"" >/dev/null
'
test_expect "a file swapped for a link after the definition is refused at start; a CD change too" '
	mkdir -p "$T/boot" && cp "$KERNEL" "$T/boot/vmlinuz" &&
	corral vm create s --memory 128M --kernel "$T/boot/vmlinuz" >/dev/null &&
	rm "$T/boot/vmlinuz" && ln -s /etc/shadow "$T/boot/vmlinuz" &&
	fails corral vm start s 2>err && grep -q "kernel $T/boot/vmlinuz: leads out of $T" err &&
	[ "$(vm_state s)" = stopped ] &&
	forbidden POST /v1/vms/g/cdrom "{\"path\":\"/etc/shadow\"}" "^cdrom image /etc/shadow: $OUT_RULE" &&
	corral vm show g --json | jq -e ".cdrom == null" >/dev/null
'
test_expect "a corrald.conf with a bad key or value refuses to start, naming the line" '
	printf "# test\nhttp_workers = 4\nallow_paths = /srv\n" >"$T/corrald.conf" &&
	fails "$CORRALD" --config "$T/corrald.conf" --state-dir "$T/s2" --socket "$T/s2.sock" 2>err &&
	grep -q "$T/corrald.conf:3: unknown key .allow_paths." err &&
	printf "history_days = 100000\n" >"$T/corrald.conf" &&
	fails "$CORRALD" --config "$T/corrald.conf" --state-dir "$T/s2" --socket "$T/s2.sock" 2>err &&
	grep -q "corrald.conf:1: history_days must be a whole number from 0 to 36500" err &&
	fails "$CORRALD" --config "$T/none.conf" --state-dir "$T/s2" --socket "$T/s2.sock" 2>err &&
	grep -q "cannot read $T/none.conf" err && [ ! -e "$T/s2.sock" ]
'
finish
