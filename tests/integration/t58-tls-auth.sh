#!/usr/bin/env bash
# The TLS API (docs/remote.md): corrald listening on 127.0.0.1 with its own
# certificate; users, API tokens and roles.  An Operator token starts and
# stops a VM but may not delete it; an Auditor only reads; missing, wrong
# and expired credentials get 401, repeated failures 429; a client that
# does not trust the certificate is refused; a stalled TLS handshake is
# closed within the header deadline while others are served; changes are
# recorded with who made them; no secret reaches the log, the events,
# `host export-db` or the database file.
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"

PORT=$((20000 + RANDOM % 20000))
URL=https://127.0.0.1:$PORT
start_daemon --listen "127.0.0.1:$PORT" --auth-fail-limit 10 --http-header-timeout 2 ||
	{ FAILED=$((FAILED + 1)); exit 1; }
CRT=$STATE/tls/host.crt
FP=$(corral host info --json | jq -r .tls_fingerprint)
PASS=op-password-1
# rcorral TOKEN ARGS: the CLI over TLS, pinned to corrald's certificate, token from the environment
rcorral() { local tok=$1; shift; CORRAL_TOKEN=$tok "$CORRAL" --url "$URL" --fingerprint "$FP" "$@"; }
# status [CURL ARGS] PATH: the HTTP status of a request over TLS trusting the host certificate
status() { local p=${*: -1}; curl -s -o /dev/null -w '%{http_code}' --cacert "$CRT" "${@:1:$#-1}" "$URL$p"; }
secret_of() { tail -n1 | sed 's/^[^:]*://'; }

test_expect "the certificate is made at first start: key 0600, fingerprint in host info and the log" '
	[ "$(stat -c %a "$STATE/tls/host.key")" = 600 ] &&
	[ "$(openssl x509 -in "$CRT" -noout -fingerprint -sha256 | cut -d= -f2)" = "$FP" ] &&
	corral host info | grep -q "^tls_fingerprint: *$FP" &&
	grep -q "SHA-256 fingerprint $FP" "$T/corrald.log" &&
	openssl s_client -connect 127.0.0.1:$PORT -tls1_1 </dev/null >/dev/null 2>&1; [ $? -ne 0 ] &&
	openssl s_client -connect 127.0.0.1:$PORT -tls1_3 </dev/null 2>/dev/null | grep -q "TLSv1.3"
'

test_expect "users, tokens and ACL entries through the unix socket" '
	create_guest web >/dev/null &&
	printf "%s\n" "$PASS" | corral user add op --comment "the operator" &&
	printf "%s\n" "aud-password" | corral user add aud &&
	corral token add op ci --comment "CI runner" >op.tok && OPTOK=$(tail -n1 op.tok) &&
	corral token add aud ro --ttl 1h >aud.tok && AUDTOK=$(tail -n1 aud.tok) &&
	corral token add op short --ttl 1 >short.tok && SHORTTOK=$(tail -n1 short.tok) &&
	corral token add op lonely >lonely.tok && LONELYTOK=$(tail -n1 lonely.tok) &&
	corral acl add op Operator / && corral acl add op!ci Operator && corral acl add op!short Operator &&
	corral acl add aud Auditor / && corral acl add aud!ro Auditor / &&
	corral user list | grep -E "^op +(ci,lonely,short|ci,short,lonely|[a-z,]+) +the operator" &&
	corral token list op --json | jq -e "[.tokens[].id] | sort == [\"ci\",\"lonely\",\"short\"]" &&
	corral acl list | grep -E "^/ +op!ci +Operator" &&
	! corral user list --json | grep -q "\\\$y\\\$\|sha256:" &&
	fails corral acl add op Superuser / 2>err && grep -q "unknown role" err &&
	fails corral acl add nobody Operator / 2>err && grep -q "no user or token" err &&
	fails corral acl add op Operator "/vms/../x" 2>err && grep -q "scope" err &&
	printf "short\n" | fails corral user add weak 2>err && grep -q "8 to 255" err &&
	fails corral user add "bad!name" </dev/null 2>err
'

test_expect "an Operator token starts and stops a VM but cannot delete it (403 naming the right)" '
	rcorral "$OPTOK" vm start web &&
	wait_state web running 30 &&
	rcorral "$OPTOK" vm stop web --timeout 2 --kill &&
	wait_state web stopped 30 &&
	fails rcorral "$OPTOK" vm delete --yes web 2>err && grep -q "forbidden: op!ci lacks VM.Config on /vms/web" err &&
	[ "$(status -H "Authorization: Bearer $OPTOK" -X DELETE /v1/vms/web)" = 403 ] &&
	fails rcorral "$OPTOK" acl add op Administrator / 2>err &&
	grep -q "lacks User.Modify" err &&
	corral vm show web >/dev/null
'

test_expect "an Auditor only reads" '
	rcorral "$AUDTOK" vm list | grep -q "^web " &&
	rcorral "$AUDTOK" host info | grep -q "^tls_fingerprint" &&
	rcorral "$AUDTOK" acl list | grep -q "op!ci" &&
	fails rcorral "$AUDTOK" vm start web 2>err && grep -q "lacks VM.PowerMgmt on /vms/web" err &&
	fails rcorral "$AUDTOK" vm create x --memory 64M 2>err && grep -q "lacks VM.Config" err &&
	[ "$(vm_state web)" = stopped ]
'

test_expect "a token never has more rights than its own ACL entries and its user" '
	fails rcorral "$LONELYTOK" vm list 2>err && grep -q "forbidden: op!lonely lacks VM.Audit" err &&
	corral acl add op!lonely Administrator / &&
	fails rcorral "$LONELYTOK" vm delete --yes web 2>err && grep -q "lacks VM.Config" err &&
	corral acl delete op!lonely / && corral token delete op lonely &&
	fails rcorral "$LONELYTOK" vm list 2>err && grep -q "authentication failed" err
'

test_expect "a password works over TLS (Basic); scopes narrow rights (and lists) to one VM" '
	[ "$(status -u "op:$PASS" /v1/vms/web)" = 200 ] &&
	create_guest db >/dev/null &&
	printf "%s\n" "web-owner-pw" | corral user add webowner && corral acl add webowner Administrator /vms/web &&
	[ "$(status -u webowner:web-owner-pw /v1/vms/web)" = 200 ] &&
	[ "$(status -u webowner:web-owner-pw /v1/vms/db)" = 403 ] &&
	curl -s --cacert "$CRT" -u webowner:web-owner-pw "$URL/v1/vms" | jq -e "[.vms[].name] == [\"web\"]" &&
	[ "$(status -u webowner:web-owner-pw /v1/pools)" = 403 ]
'

test_expect "an Operator of one VM backs it up and reads its backups, not those of another VM" '
	corral repo create "$T/repo" >/dev/null &&
	corral disk create web-b 16M >/dev/null && corral disk attach web web-b >/dev/null &&
	corral disk create db-b 16M >/dev/null && corral disk attach db db-b >/dev/null &&
	corral backup run db >/dev/null &&
	printf "%s\n" "web-op-pw" | corral user add webop && corral acl add webop Operator /vms/web &&
	corral token add webop t >webop.tok && WTOK=$(tail -n1 webop.tok) && corral acl add webop!t Operator /vms/web &&
	rcorral "$WTOK" backup run web >/dev/null &&
	fails rcorral "$WTOK" backup run db 2>err && grep -q "forbidden: webop!t lacks VM.Backup on /vms/db" err &&
	rcorral "$WTOK" backup list --json | jq -e "[.backups[].vm] == [\"web\"]" &&
	corral backup list --json | jq -e "[.backups[].vm] | sort == [\"db\",\"web\"]" &&
	WID=$(corral backup list web --json | jq -r ".backups[0].id") &&
	DID=$(corral backup list db --json | jq -r ".backups[0].id") &&
	rcorral "$WTOK" backup show "$WID" --json | jq -e ".vm == \"web\"" &&
	fails rcorral "$WTOK" backup show "$DID" 2>err && grep -q "forbidden" err &&
	fails rcorral "$WTOK" backup forget --yes "$WID" 2>err && grep -q "forbidden" err
'

test_expect "no token, a wrong secret, an expired token, a wrong password: 401" '
	[ "$(status /v1/vms)" = 401 ] &&
	[ "$(status /v1/no/such/route)" = 401 ] &&
	[ "$(status -H "Authorization: Bearer ${OPTOK%%:*}:0000" /v1/vms)" = 401 ] &&
	[ "$(status -H "Authorization: Bearer op!nosuch:$(echo "$OPTOK" | secret_of)" /v1/vms)" = 401 ] &&
	sleep 1.2 && [ "$(status -H "Authorization: Bearer $SHORTTOK" /v1/vms)" = 401 ] &&
	corral token list op | grep -E "^short .* yes" &&
	[ "$(status -u op:wrong-password /v1/vms)" = 401 ] &&
	[ "$(status -H "Authorization: Negotiate abc" /v1/vms)" = 401 ] &&
	fails env CORRAL_TOKEN= "$CORRAL" --url "$URL" --fingerprint "$FP" vm list 2>err &&
	grep -q "authentication required" err &&
	grep -q "login refused for op!short from 127.0.0.1: token expired" "$T/corrald.log"
'

test_expect "a client that does not trust the certificate is refused" '
	[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $OPTOK" "$URL/v1/vms")" = 000 ] &&
	fails env CORRAL_TOKEN="$OPTOK" "$CORRAL" --url "$URL" vm list 2>err && grep -q "certificate" err &&
	fails rcorral "$OPTOK" --fingerprint "$(echo "$FP" | tr 0-9A-F 1-9A-F0)" vm list 2>err &&
	grep -q "not the pinned" err &&
	fails rcorral "$OPTOK" --fingerprint nonsense vm list 2>err && grep -q "64 hex digits" err
'

test_expect "a stalled TLS handshake is closed within the header deadline while others are served" '
	python3 - "$PORT" >stall.out <<-EOF &
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(b"\x16\x03\x01\x00\xff\x01")   # the start of a ClientHello, then nothing
	t = time.time(); s.settimeout(15)
	try:
	    got = s.recv(64)
	    print("closed %.1f %r" % (time.time() - t, got))
	except Exception as e:
	    print("open", e)
	EOF
	STALL=$! &&
	sleep 0.5 && [ "$(status -H "Authorization: Bearer $AUDTOK" /v1/vms)" = 200 ] &&
	wait $STALL && cat stall.out &&
	awk "/^closed/ { exit !(\$2 >= 1.5 && \$2 <= 5) } /^open/ { exit 1 }" stall.out
'

test_expect "every change over TCP is in the events with who made it" '
	corral events --kind api --limit 200 --json >ev.json &&
	grep -q "op!ci from 127.0.0.1: POST /v1/vms/web/start -> 202" ev.json &&
	grep -q "op!ci from 127.0.0.1: DELETE /v1/vms/web -> 403" ev.json &&
	grep -q "aud!ro from 127.0.0.1: POST /v1/vms/web/start -> 403" ev.json &&
	! grep -q "GET /v1/vms " ev.json
'

test_expect "failed logins are rate-limited per user and per address (429 even with the right password)" '
	n=0 && while [ $n -lt 12 ] && [ "$(status -u op:bad-password-$n /v1/host)" = 401 ]; do n=$((n + 1)); done &&
	echo "refused after $n more failures" && [ $n -ge 1 ] && [ $n -lt 10 ] &&
	[ "$(status -u "op:$PASS" /v1/host)" = 429 ] &&
	curl -s -D hdr -o body --cacert "$CRT" -u "op:$PASS" "$URL/v1/host" && grep -qi "^retry-after: [1-9]" hdr &&
	grep -q "too many failed logins" body &&
	[ "$(status -H "Authorization: Bearer $AUDTOK" /v1/host)" = 429 ] &&
	corral host info >/dev/null
'

test_expect "no secret in the log, the events, host export-db or the database file" '
	corral host export-db >export.json &&
	corral events --limit 500 --json >ev2.json &&
	leaks=0 &&
	for s in "$PASS" aud-password web-owner-pw "$(echo "$OPTOK" | secret_of)" "$(echo "$AUDTOK" | secret_of)" \
		"$(echo "$SHORTTOK" | secret_of)" "$(grep -v -- "-----" "$STATE/tls/host.key" | head -n1)"; do
		[ ${#s} -ge 8 ] || { echo "empty secret"; leaks=$((leaks + 1)); }
		for f in "$T/corrald.log" export.json ev2.json "$STATE/state.db" "$STATE"/state.db-wal; do
			[ -f "$f" ] && grep -qaF -- "$s" "$f" && { echo "secret found in $f"; leaks=$((leaks + 1)); }
		done
	done
	[ "$leaks" = 0 ]
'

test_expect "docs/remote.md lists every route with the privilege the route table gives it" '
	api GET /v1/openapi.json | head -n -1 >openapi.json &&
	python3 - openapi.json "$SRC_DIR/docs/remote.md" <<-EOF
	import json, re, sys
	spec = json.load(open(sys.argv[1]))
	want = {(m.upper(), p): op.get("x-corral-privilege") for p, item in spec["paths"].items() for m, op in item.items()}
	got = {}
	for line in open(sys.argv[2]):
	    m = re.match(r"\| \`(GET|POST|PUT|DELETE) (/v1/[^\`]*|/metrics)\` \| (\S+) \|", line)
	    if m:
	        got[(m.group(1), m.group(2))] = m.group(3)
	bad = [f"{k}: table {want[k]}, docs {got.get(k)}" for k in want if got.get(k) != want[k]]
	bad += [f"{k}: documented, not a route" for k in got if k not in want]
	print("\n".join(bad)); sys.exit(1 if bad else 0)
	EOF
'

test_expect "the administrator's own certificate; users and tokens survive a restart" '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=own \
		-keyout own.key -out own.crt 2>/dev/null && chmod 600 own.key && KEYSUM=$(sha256sum <own.key) &&
	stop_daemon &&
	fails "$CORRALD" --config /dev/null --state-dir "$STATE" --socket "$SOCK" --listen "127.0.0.1:$PORT" \
		--tls-cert "$T/own.crt" --tls-key "$T/missing.key" 2>err && grep -q "missing.key (named by tls_key) does not exist" err &&
	fails "$CORRALD" --config /dev/null --state-dir "$STATE" --socket "$SOCK" --listen "127.0.0.1:$PORT" \
		--tls-cert "$T/own.crt" --tls-key "$STATE/tls/host.key" 2>err && grep -q "does not belong" err &&
	start_daemon --listen "127.0.0.1:$PORT" --tls-cert "$T/own.crt" --tls-key "$T/own.key" &&
	FP=$(openssl x509 -in own.crt -noout -fingerprint -sha256 | cut -d= -f2) &&
	[ "$(corral host info --json | jq -r .tls_fingerprint)" = "$FP" ] &&
	rcorral "$AUDTOK" vm list | grep -q "^web " &&
	[ "$(sha256sum <own.key)" = "$KEYSUM" ]
'

finish
