#!/usr/bin/env bash
# Hostile and malformed input: every request gets a 4xx with
# {"error":{"code","message"}}, nothing is half-created, corrald survives.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
setup_daemon

# expect_error METHOD PATH BODY STATUS CODE [MESSAGE-REGEX]
expect_error() {
	local out status body
	out=$(api "$1" "$2" "$3")
	status=$(printf '%s\n' "$out" | tail -n1 | cut -d" " -f2)
	body=$(printf '%s\n' "$out" | sed '$d')
	[ "$status" = "$4" ] || { say "$1 $2: status $status, want $4: $body"; return 1; }
	printf '%s' "$body" | jq -e --arg c "$5" '.error.code == $c and (.error.message | length > 0)' >/dev/null ||
		{ say "$1 $2: body $body"; return 1; }
	if [ -n "${6:-}" ]; then
		printf '%s' "$body" | jq -r .error.message | grep -Eqi -- "$6" ||
			{ say "$1 $2: message does not match '$6': $body"; return 1; }
	fi
}

nothing_created() { corral vm list --json | jq -e '.vms | length == 0' >/dev/null; }

test_expect "malformed JSON" '
	expect_error POST /v1/vms "{\"name\": \"x\"" 400 invalid_argument "malformed JSON" &&
	expect_error POST /v1/vms "[1,2]" 400 invalid_argument "object" &&
	expect_error POST /v1/vms "{\"name\":\"a\",\"name\":\"b\"}" 400 invalid_argument &&
	nothing_created
'
test_expect "unknown fields are rejected, at every level" '
	expect_error POST /v1/vms "{\"name\":\"x\",\"cpux\":2}" 400 invalid_argument "unknown field .cpux." &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"cpu\":2}" 400 invalid_argument "field .cpu. must be a string" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"firmware\":\"efi\"}" 400 invalid_argument "firmware must be bios or uefi" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"boot\":{\"mode\":\"kernel\",\"kernal\":\"/x\"}}" 400 invalid_argument "kernal" &&
	expect_error POST /v1/vms/x/stop "{\"timeout\":5,\"forse\":true}" 400 invalid_argument "forse" &&
	nothing_created
'
test_expect "out-of-range values" '
	expect_error POST /v1/vms "{\"name\":\"x\",\"cpus\":0}" 400 invalid_argument "cpus" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"cpus\":100000}" 400 invalid_argument "cpus" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"memory_mib\":99999999999}" 400 invalid_argument "memory" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"cpus\":\"2\"}" 400 invalid_argument "integer" &&
	fails corral vm create x --cpus 0 2>/dev/null &&
	fails corral vm create x --memory 4T 2>/dev/null &&
	nothing_created
'
test_expect "hostile names" '
	expect_error POST /v1/vms "{\"name\":\"../x\"}" 400 invalid_argument "name" &&
	expect_error POST /v1/vms "{\"name\":\"a/b\"}" 400 invalid_argument "name" &&
	expect_error POST /v1/vms "{\"name\":\"a\\u0001b\"}" 400 invalid_argument "name" &&
	expect_error POST /v1/vms "{\"name\":\"$(printf "x%.0s" $(seq 1 64))\"}" 400 invalid_argument "63" &&
	expect_error POST /v1/vms "{\"name\":\"\"}" 400 invalid_argument "empty" &&
	expect_error POST /v1/vms "{\"name\":\"-rf\"}" 400 invalid_argument &&
	expect_error POST /v1/volumes "{\"name\":\"../../etc/passwd\",\"size\":1048576}" 400 invalid_argument &&
	fails corral vm create "bad name" 2>err && grep -q "name" err &&
	nothing_created && [ -z "$(ls "$STATE/storage")" ]
'
test_expect "missing files and volumes" '
	expect_error POST /v1/vms "{\"name\":\"x\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"$T/nonexistent/vmlinuz\"}}" 404 not_found "nonexistent" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/nonexistent/vmlinuz\"}}" 403 forbidden "not inside a storage pool" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"disks\":[{\"volume\":\"nope\"}]}" 404 not_found "nope" &&
	expect_error POST /v1/vms "{\"name\":\"x\",\"cdrom\":\"relative.iso\"}" 400 invalid_argument "absolute" &&
	fails corral vm create x --kernel /nonexistent 2>err && grep -q "/nonexistent" err &&
	nothing_created
'
test_expect "unknown VMs, routes and methods" '
	expect_error GET /v1/vms/nope "" 404 not_found "nope" &&
	expect_error POST /v1/vms/nope/start "" 404 not_found &&
	expect_error POST /v1/vms/name:zz%2A/stop "" 404 not_found &&
	expect_error GET /v1/nothing "" 404 not_found &&
	expect_error PATCH /v1/vms "" 405 invalid_argument &&
	expect_error GET "/v1/vms/bad%zz" "" 400 invalid_argument &&
	expect_error GET "/v1/vms/foo:bar" "" 400 invalid_argument "prefix"
'
test_expect "duplicate names are refused and change nothing" '
	create_guest dup && fails create_guest dup 2>err && grep -q "already exists" err &&
	corral vm list --json | jq -e ".vms | length == 1"
'
test_expect "state conflicts answer 409 with a reason" '
	expect_error POST /v1/vms/dup/stop "" 409 conflict "not running" &&
	expect_error POST /v1/vms/dup/pause "" 409 conflict "not running"
'
test_expect "a request body over 1 MiB is refused" '
	head -c 1100000 /dev/zero | tr "\0" " " >"$T/big" &&
	status=$(curl -s -o /dev/null -w "%{http_code}" --unix-socket "$SOCK" -X POST --data-binary @"$T/big" http://corral/v1/vms) &&
	[ "$status" = 413 ]
'
test_expect "garbage on the socket does not hurt the daemon" '
	for i in $(seq 1 20); do head -c 4096 /dev/urandom | socat -t1 - UNIX-CONNECT:"$SOCK" >/dev/null 2>&1; done;
	printf "GET /v1/vms/%s HTTP/1.1\r\nHost: x\r\n\r\n" "$(head -c 5000 /dev/zero | tr "\0" a)" | socat -t1 - UNIX-CONNECT:"$SOCK" >/dev/null 2>&1;
	corral host info >/dev/null
'
test_expect "random JSON bodies never crash corrald and never get a 5xx (300 mutations)" '
	seed="{\"name\":\"fz\",\"cpus\":1,\"memory_mib\":64,\"boot\":{\"mode\":\"firmware\",\"order\":[\"disk\"]},\"disks\":[],\"nic\":{\"mode\":\"user\"},\"vnc\":null,\"tags\":[\"a\"]}" &&
	python3 "$HERE/httpprobe.py" "$SOCK" fuzz 300 POST /v1/vms "$seed" &&
	corral host info >/dev/null && { corral vm delete --yes "name:fz*" >/dev/null 2>&1; corral host info >/dev/null; }
'
test_expect "the CLI prints one clear line and exits non-zero" '
	fails corral vm show nope 2>err && [ "$(wc -l <err)" -eq 1 ] && grep -q "^corral: " err
'
finish
