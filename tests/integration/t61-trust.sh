#!/usr/bin/env bash
# Trusted hosts: two "hosts" (network namespaces, a corrald each with its TLS
# API) trust each other with `corral host trust add`, then call each other
# with mutual TLS.  A wrong fingerprint and an untrusted client certificate
# are refused; `host list` shows the other host's VMs and pools, and does not
# stall on a host that hangs (SIGSTOP); removal revokes access both ways.
. "$(dirname "$0")/lib.sh"

nhost_setup A B || { echo "cannot set up the two hosts"; FAILED=1; exit 1; }
nhost_start A && nhost_start B || { FAILED=1; exit 1; }
URL_A=$(nhost_url A)
URL_B=$(nhost_url B)
FP_A=$(nhost_fp A)
FP_B=$(nhost_fp B)
TOK_B=$(nhost_token B)
TOK_A=$(nhost_token A)

# curl_from H ARGS...: curl inside host H's namespace
# (-k: these checks are about the client certificate the server accepts, not the server's)
curl_from() { local h=$1; shift; nhost_in "$h" curl -sSk --max-time 10 "$@"; }

test_expect "a wrong fingerprint is refused, and nothing is trusted on either host" '
	OTHER_FP=$(echo "$FP_B" | sed "s/^../00/; s/:..\$/:00/") && [ "$OTHER_FP" != "$FP_B" ] &&
	fails on_host A host trust add "$URL_B" --token-file "$TOK_B" --accept-fingerprint "$OTHER_FP" 2>err &&
	grep -q "not the pinned" err &&
	fails on_host A host trust add "$URL_B" --token-file "$TOK_B" --accept-fingerprint "$FP_A" 2>err &&
	grep -q "this host.s own certificate" err &&
	fails on_host A host trust add "$URL_B" --token-file "$TOK_B" --accept-fingerprint 12:34 2>err &&
	grep -q "fingerprint" err &&
	on_host A host trust list --json | jq -e ".hosts | length == 0" &&
	on_host B host trust list --json | jq -e ".hosts | length == 0"
'

test_expect "without --accept-fingerprint (no terminal) the fingerprint is shown and nothing trusted" '
	fails on_host A host trust add "$URL_B" --token-file "$TOK_B" 2>err &&
	grep -q "$FP_B" err && grep -q "accept-fingerprint" err &&
	on_host B host trust list --json | jq -e ".hosts | length == 0"
'

test_expect "a token without Sys.Modify on /host cannot make B trust A" '
	printf "%s\n" "auditor-password" | on_host B user add aud && on_host B token add aud ro | tail -n1 >aud.tok &&
	on_host B acl add aud Auditor / && on_host B acl add "aud!ro" Auditor / &&
	fails on_host A host trust add "$URL_B" --token-file aud.tok --accept-fingerprint "$FP_B" 2>err &&
	grep -q "lacks Sys.Modify" err &&
	on_host B host trust list --json | jq -e ".hosts | length == 0" &&
	on_host A host trust list --json | jq -e ".hosts | length == 0"
'

test_expect "host trust add pins both certificates, verified both ways" '
	on_host A host trust add "$URL_B" --token-file "$TOK_B" --accept-fingerprint "$FP_B" >out &&
	grep -q "verified both ways" out &&
	on_host A events --kind trust | grep -q "trusting host B at $URL_B" &&
	on_host B events --kind trust | grep -q "trusting host A at $URL_A .*joined from 10.99.0.1" &&
	on_host A host trust list --json | jq -e --arg fp "$FP_B" --arg u "$URL_B" \
		".hosts | length == 1 and .[0].name == \"B\" and .[0].fingerprint == \$fp and .[0].url == \$u" &&
	on_host B host trust list --json | jq -e --arg fp "$FP_A" --arg u "$URL_A" \
		".hosts | length == 1 and .[0].name == \"A\" and .[0].fingerprint == \$fp and .[0].url == \$u" &&
	fails on_host A host trust add "$URL_B" --token-file "$TOK_B" --accept-fingerprint "$FP_B" 2>err &&
	grep -q "already trusted" err
'

test_expect "mutual TLS: a trusted host certificate is a host identity; an untrusted one is refused" '
	curl_from A --cert "$T/A/tls/host.crt" --key "$T/A/tls/host.key" \
		-o body -w "%{http_code}" "$URL_B/v1/vms" >code && [ "$(cat code)" = 200 ] && jq -e .vms body &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=A \
		-keyout fake.key -out fake.crt 2>/dev/null &&
	curl_from A --cert fake.crt --key fake.key \
		-o body -w "%{http_code}" "$URL_B/v1/vms" >code && [ "$(cat code)" = 401 ] &&
	grep -q "not a trusted host" body &&
	grep -q "client certificate .* from 10.99.0.1: not a trusted host" "$T/B.log" &&
	[ "$(grep -c "client certificate .* not a trusted host" "$T/B.log")" = 1 ] &&
	curl_from A -o body -w "%{http_code}" "$URL_B/v1/vms" >code &&
	[ "$(cat code)" = 401 ] &&
	curl_from A -H "Authorization: Bearer $(cat "$TOK_B")" -X POST \
		-o body -w "%{http_code}" "$URL_B/v1/host/trust/leave" >code && [ "$(cat code)" = 403 ] &&
	grep -q "lacks Host.Peer" body &&
	on_host B host trust list --json | jq -e ".hosts | length == 1" &&
	grep -q "api: host:A from 10.99.0.1: POST /v1/host/trust/ping -> 200" "$T/B.log"
'

test_expect "host list shows this host and the other host with their VMs and pools" '
	mkdir -p shared && on_host A pool create shr "$T/shared" --shared && on_host B pool create shr "$T/shared" --shared &&
	SOCK=$T/B.sock create_guest vmb && SOCK=$T/A.sock create_guest vma &&
	on_host A host list --json >list.json &&
	jq -e ".hosts | length == 2" list.json &&
	jq -e ".hosts[0].name == \"A\" and .hosts[0].self and (.hosts[0].vms | map(.name) == [\"vma\"])" list.json &&
	jq -e ".hosts[1].name == \"B\" and .hosts[1].reachable and (.hosts[1].vms | map(.name) == [\"vmb\"])" list.json &&
	jq -e ".hosts[1].pools | map(select(.name == \"shr\" and .shared)) | length == 1" list.json &&
	on_host B host list >list.txt && grep -q "^A .*up .*vma(stopped)" list.txt && grep -q "shr(shared)" list.txt
'

test_expect "a hung host (SIGSTOP) does not stall host list beyond its timeout" '
	kill -STOP "$(nhost_pid B)" &&
	start=$(date +%s%N) && on_host A host list --json >list.json; rc=$?; end=$(date +%s%N);
	kill -CONT "$(nhost_pid B)" && [ $rc -eq 0 ] &&
	ms=$(((end - start) / 1000000)) && echo "host list took $ms ms" && [ $ms -lt 7000 ] &&
	jq -e ".hosts[1].name == \"B\" and (.hosts[1].reachable | not) and (.hosts[1].error | length > 0)" list.json &&
	jq -e ".hosts[0].reachable" list.json &&
	on_host A host list --json | jq -e ".hosts[1].reachable"
'

test_expect "removing trust revokes access both ways" '
	on_host A host trust remove B >out && grep -q "forgot this host too" out &&
	on_host A host trust list --json | jq -e ".hosts | length == 0" &&
	on_host B host trust list --json | jq -e ".hosts | length == 0" &&
	curl_from A --cert "$T/A/tls/host.crt" --key "$T/A/tls/host.key" \
		-o body -w "%{http_code}" "$URL_B/v1/vms" >code && [ "$(cat code)" = 401 ] &&
	curl_from B --cert "$T/B/tls/host.crt" --key "$T/B/tls/host.key" \
		-o body -w "%{http_code}" "$URL_A/v1/vms" >code && [ "$(cat code)" = 401 ] &&
	on_host A host list --json | jq -e ".hosts | length == 1" &&
	fails on_host A host trust remove B 2>err && grep -q "no trusted host" err
'

test_expect "trust can be given again from the other side, with a name of our choosing" '
	on_host B host trust add "$URL_A" --token-file "$TOK_A" --accept-fingerprint "$FP_A" --name alpha >out &&
	grep -q "trusting host alpha" out && grep -q "verified both ways" out &&
	on_host A host trust list --json | jq -e ".hosts[0].name == \"B\"" &&
	on_host B host list --json | jq -e ".hosts[1].name == \"alpha\" and .hosts[1].reachable"
'

test_expect "bad input to host trust is refused" '
	fails on_host A host trust add "http://10.99.0.2:8006" --token-file "$TOK_B" --accept-fingerprint "$FP_B" 2>err &&
	grep -q "https://HOST" err &&
	fails on_host A host trust add "$URL_B" --accept-fingerprint "$FP_B" 2>err && grep -q "token-file" err &&
	fails on_host A host trust remove "../x" 2>err && grep -q "host name" err &&
	fails on_host A host trust frob 2>err
'

test_expect "machine types: pinned at create and at first start, listed by host info, a missing one refused" '
	on_host A host info --json | jq -e ".machine_types | index(\"pc-q35-7.2\") != null" &&
	on_host A vm show vma --json | jq -e ".machine | test(\"^pc-q35-[0-9.]+$\")" &&
	M=$(on_host A vm show vma --json | jq -r .machine) &&
	fails on_host A vm create old --memory 256 --kernel "$KERNEL" --initrd "$INITRD" --machine pc-q35-1.0 2>err &&
	grep -q "lacks machine type pc-q35-1.0" err &&
	fails on_host A vm create old --memory 256 --kernel "$KERNEL" --initrd "$INITRD" --machine pc-i440fx-7.2 2>err &&
	grep -q "machine must be q35" err &&
	on_host A vm show vma --json | jq "del(.status, .machine)" >def.json &&
	curl -sS --unix-socket "$T/A.sock" -X PUT --data-binary @def.json http://corral/v1/vms/vma >/dev/null &&
	on_host A vm show vma --json | jq -e ".machine == null" &&
	on_host A vm start vma && on_host A vm show vma --json | jq -e --arg m "$M" ".machine == \$m" &&
	pgrep -f "qemu-system.*-machine $M[ ,].*$T/A/" >/dev/null &&
	on_host A vm kill vma &&
	on_host A vm show vma --json | jq ".machine = \"q35\" | del(.status)" >def.json &&
	curl -sS --unix-socket "$T/A.sock" -X PUT --data-binary @def.json http://corral/v1/vms/vma >/dev/null &&
	on_host A vm show vma --json | jq -e ".machine == \"q35\"" &&
	on_host A vm start vma && on_host A vm show vma --json | jq -e --arg m "$M" ".machine == \$m" &&
	on_host A vm kill vma
'

finish
