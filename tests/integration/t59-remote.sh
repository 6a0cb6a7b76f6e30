#!/usr/bin/env bash
# Remotes in the CLI (docs/remote.md, "Remotes"): `corral remote add` pins
# the certificate of a corrald listening on TLS on 127.0.0.1 (refused with
# a wrong fingerprint, or without one and no terminal to ask on), stores
# the token in a 0600 file; commands go there with --remote NAME or the
# default remote, the serial console included; an Operator token starts
# and stops but cannot delete; an Auditor scoped to one VM only reads and
# lists only that VM (one scoped to a pool, that pool's volumes); events and
# jobs carry who did it; a changed server
# certificate is refused with how to trust it again, and `remote trust`
# pins the new one.
. "$(dirname "$0")/lib.sh"

# The remotes file lives in the test's own config dir, never root's.
export XDG_CONFIG_HOME=$T/config
unset CORRAL_URL CORRAL_REMOTE CORRAL_TOKEN CORRAL_SOCKET CORRAL_FINGERPRINT
CONF=$XDG_CONFIG_HOME/corral/remotes.conf
PORT=$((20000 + RANDOM % 20000))
URL=https://127.0.0.1:$PORT
start_daemon --listen "127.0.0.1:$PORT" || { FAILED=$((FAILED + 1)); exit 1; }
FP=$(corral host info --json | jq -r .tls_fingerprint)
WRONG=$(echo "$FP" | tr 0-9A-F 1-9A-F0)
# rc ARGS: the CLI as a user types it, without --socket (so remotes apply)
rc() { "$CORRAL" "$@"; }
secret_of() { sed 's/^[^:]*://'; }

test_expect "users, tokens and roles for the remotes (through the unix socket)" '
	create_guest web >/dev/null && create_guest db >/dev/null &&
	printf "op-password-1\n" | corral user add op && corral acl add op Operator / &&
	corral token add op ci | tail -n1 >op.tok && corral acl add op!ci Operator / &&
	printf "aud-password-1\n" | corral user add aud && corral acl add aud Auditor /vms/web &&
	printf "x!y:%064d\n" 0 >bogus.tok
'

test_expect "remote add refuses a wrong fingerprint, and asks for one when there is no terminal" '
	fails rc remote add h1 "$URL" --token-file op.tok --accept-fingerprint "$WRONG" 2>err &&
	grep -q "has fingerprint $FP, not the accepted $WRONG; nothing was saved" err &&
	fails rc remote add h1 "$URL" --token-file op.tok 2>err && grep -q "no terminal to ask" err &&
	grep -q "$FP" err && [ ! -e "$CONF" ] &&
	fails rc remote add h1 "$URL" --token-file bogus.tok --accept-fingerprint "$FP" 2>err &&
	grep -q "the remote refused the token: authentication failed" err && [ ! -e "$CONF" ] &&
	fails rc remote add local "$URL" --token-file op.tok 2>err && grep -q "reserved" err &&
	fails rc remote add h1 "http://127.0.0.1:$PORT" --token-file op.tok 2>err && grep -q "https://HOST:PORT" err
'

test_expect "on a terminal remote add shows the fingerprint and asks; only yes trusts" '
	(sleep 1; printf "n\n") | script -qec "$CORRAL remote add tty $URL --token-file $T/op.tok" /dev/null >tty.out
	cat tty.out && grep -q "Trust it? \[y/N\]" tty.out && grep -q "$FP" tty.out &&
	grep -q "not trusted; nothing was saved" tty.out && [ ! -e "$CONF" ] &&
	(sleep 1; printf "y\n") | script -qec "$CORRAL remote add tty $URL --token-file $T/op.tok" /dev/null >tty.out &&
	grep -q "added remote tty" tty.out && rc remote list | grep -q "^tty " && rc remote remove tty
'

test_expect "remote add pins the certificate and keeps the token in a 0600 file" '
	rc remote add op "$URL/" --token-file op.tok --accept-fingerprint "$(echo "$FP" | tr -d : | tr A-F a-f)" |
		grep -q "added remote op ($URL), certificate $FP pinned" &&
	[ "$(stat -c %a "$CONF")" = 600 ] && [ "$(stat -c %a "$XDG_CONFIG_HOME/corral")" = 700 ] &&
	grep -qx "fingerprint = $FP" "$CONF" && grep -qx "token = $(cat op.tok)" "$CONF" &&
	printf "aud-password-1\n" | rc remote add aud "$URL" --user aud --ttl 1h --accept-fingerprint "$FP" &&
	corral token list aud --json | jq -e ".tokens | length == 1 and (.[0].id | startswith(\"cli-\")) and .[0].expires != null" &&
	corral acl list --json | jq -e "[.acl[] | select(.subject | startswith(\"aud!cli-\")) | .path] == [\"/vms/web\"]" &&
	rc remote list | grep -E "^op +$URL +op!ci +$FP" &&
	rc remote list --json | jq -e "length == 2 and all(.[]; .default == false)" &&
	! rc remote list --json | grep -q "$(secret_of <op.tok)" &&
	chmod 644 "$CONF" && fails rc remote list 2>err && grep -q "chmod 600" err && chmod 600 "$CONF"
'

test_expect "commands go to --remote NAME and to the default remote; an Operator starts but cannot delete" '
	rc --remote op vm start web && wait_ready_after web 0 &&
	fails rc vm list 2>err && grep -q "cannot connect to corrald at /run/corral" err &&
	[ "$(rc remote default)" = local ] &&
	rc remote default op && [ "$(rc remote default)" = op ] &&
	rc vm list | grep -E "^web +running" &&
	fails rc vm delete --yes db 2>err && grep -q "forbidden: op!ci lacks VM.Config on /vms/db" err &&
	fails rc --remote nosuch vm list 2>err && grep -q "no remote called .nosuch." err &&
	fails rc --remote op --url "$URL" vm list 2>err && grep -q "exclude each other" err &&
	rc --remote local --socket "$SOCK" vm show db >/dev/null && corral vm show db >/dev/null
'

# remote_console VM CMD WANT: CMD typed into the console over the default
# remote prints the line WANT; a few tries with a growing linger, since a
# TCG guest under load (and an ASan CLI) can take seconds to answer.
remote_console() {
	for linger in 1 3 6; do
		printf "%s\n" "$2" | rc vm console "$1" --linger "$linger" >console.out &&
			tr -d "\r" <console.out | grep -qx "$3" && return 0
	done
	say "no '$3' from the console of $1:"; cat console.out >&2
	return 1
}

test_expect "vm console across the remote reaches the guest shell, detaches, and frees the console (Operator yes, Auditor no)" '
	remote_console web "echo remote-\$((6*7))" remote-42 &&
	(sleep 1; printf "\035") | script -qec "$CORRAL vm console web" /dev/null >tty.out &&
	tr -d "\r" <tty.out | grep -q "Connected to VM" && tr -d "\r" <tty.out | grep -q "Detached from VM" &&
	remote_console web "echo again-\$((6*7))" again-42 &&
	guest_sh web "echo unix-\$((6*7))" | grep -qx unix-42 &&
	fails rc --remote aud vm console web 2>err && grep -q "lacks VM.Console on /vms/web" err
'

test_expect "an Auditor scoped to one VM only reads, and lists and follows only that VM" '
	rc --remote aud events --follow --json >follow.out 2>&1 & fpid=$! &&
	sleep 0.5 &&
	rc --remote aud vm list --json | jq -e "[.vms[].name] == [\"web\"]" &&
	rc --remote aud vm show web >/dev/null &&
	fails rc --remote aud vm show db 2>err && grep -q "lacks VM.Audit on /vms/db" err &&
	fails rc --remote aud vm start db 2>err && grep -q "lacks VM.PowerMgmt" err &&
	fails rc --remote aud vm stop web 2>err && grep -q "lacks VM.PowerMgmt on /vms/web" err &&
	rc --remote aud job list --json | jq -e ".jobs | length > 0 and all(.[]; .target == \"web\")" &&
	rc --remote aud events --json | jq -e ".events | length > 0 and all(.[]; .name == \"web\")" &&
	corral vm start db && rc vm stop web --timeout 5 --kill && wait_state web stopped 30 && wait_state db running 30 &&
	sleep 0.5 && kill $fpid; wait $fpid 2>/dev/null
	cat follow.out &&
	grep -q "\"state\":\"stopped\"" follow.out && ! grep -q "\"name\":\"db\"" follow.out &&
	! grep -q "\"kind\":\"api\"" follow.out &&
	corral vm kill db
'

test_expect "a caller scoped to one pool lists only that pool and its volumes" '
	corral pool create p1 "$T/p1" && corral disk create v1 8M --pool p1 && corral disk create v0 8M &&
	printf "store-password-1\n" | corral user add store && corral acl add store Auditor /pools/p1 &&
	printf "store-password-1\n" | rc remote add store "$URL" --user store --accept-fingerprint "$FP" &&
	rc --remote store disk list --json | jq -e "[.volumes[].name] == [\"v1\"]" &&
	rc --remote store pool list --json | jq -e "[.pools[].name] == [\"p1\"]" &&
	fails rc --remote store vm list 2>err && grep -q "forbidden: store!cli-.* lacks VM.Audit on /vms" err &&
	corral disk list --json | jq -e "[.volumes[].name] | index(\"v0\") != null" &&
	rc remote remove store
'

test_expect "events and jobs carry who did it: root@unix, or the user or token" '
	corral events --limit 500 --json >ev.json &&
	jq -e "any(.events[]; .kind == \"api\" and .actor == \"root@unix\" and (.detail | test(\"^root@unix: POST /v1/vms -> 201\")))" ev.json &&
	jq -e "any(.events[]; .kind == \"api\" and (.detail | test(\"^op!ci from 127.0.0.1: POST /v1/vms/web/start -> 202\")))" ev.json &&
	jq -e "any(.events[]; .name == \"web\" and .type == \"state\" and (.detail | test(\"^running\")) and .actor == \"op!ci\")" ev.json &&
	jq -e "any(.events[]; .name == \"web\" and .type == \"state\" and (.detail | test(\"^stopped\")) and .actor == \"op!ci\")" ev.json &&
	jq -e "any(.events[]; .name == \"db\" and .type == \"state\" and .actor == \"root@unix\")" ev.json &&
	corral job list --json | jq -e "any(.jobs[]; .type == \"start\" and .target == \"web\" and .actor == \"op!ci\")" &&
	corral events | grep -E "web +state +running: .*\(by op!ci\)"
'

test_expect "a changed server certificate is refused with how to trust it again; remote trust pins the new one" '
	stop_daemon && rm "$STATE/tls/host.crt" "$STATE/tls/host.key" &&
	start_daemon --listen "127.0.0.1:$PORT" &&
	FP2=$(corral host info --json | jq -r .tls_fingerprint) && [ "$FP2" != "$FP" ] &&
	fails rc vm list 2>err && cat err &&
	grep -q "the certificate of remote .op. ($URL) has changed" err && grep -q "pinned:  $FP" err &&
	grep -q "offered: $FP2" err && grep -q "corral remote trust op" err && [ "$(wc -l <err)" -le 7 ] &&
	fails rc --remote aud vm console web 2>err && grep -q "corral remote trust aud" err &&
	fails rc remote trust op 2>err && grep -q "no terminal to ask" err &&
	fails rc remote trust op --accept-fingerprint "$FP" 2>err && grep -q "not the accepted" err &&
	rc remote trust op --accept-fingerprint "$FP2" | grep -q "trusted remote op" &&
	rc vm list | grep -q "^web " && grep -qx "fingerprint = $FP2" "$CONF"
'

test_expect "remote remove forgets a remote (and the default with it); no secret in the log or the events" '
	rc remote remove op && [ "$(rc remote default)" = local ] &&
	rc remote list --json | jq -e "[.[].name] == [\"aud\"]" &&
	fails rc remote remove op 2>err && grep -q "no remote called" err &&
	corral events --limit 500 --json >ev2.json &&
	leaks=0 &&
	for s in "$(secret_of <op.tok)" "$(grep "^token = aud" "$CONF" | secret_of)" op-password-1 aud-password-1; do
		[ ${#s} -ge 8 ] && ! grep -qF -- "$s" "$T/corrald.log" && ! grep -qF -- "$s" ev2.json ||
			{ echo "secret found (or empty): ${s:0:4}..."; leaks=$((leaks + 1)); }
	done &&
	[ $leaks = 0 ]
'

finish
