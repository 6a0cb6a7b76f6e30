#!/usr/bin/env bash
# The web UI (docs/webui.md) in a real browser: headless Chromium driven by
# Selenium (webui.py) over TLS logs in with a password, sees the dashboard
# and the VM list, creates and starts a VM from the form, sees the guest's
# ready marker in the xterm.js serial console and gets an answer to typed
# input, takes a snapshot with RAM and reverts it (the guest's memory is
# back as it was), starts a VM with VNC and sees its display in noVNC
# (relayed by corrald), shows a hostile description as text, lists 503 VMs
# (and times it), and refuses a
# change without the CSRF token, a console WebSocket from a foreign Origin,
# and an Auditor's start.  Then the pages beyond the VM's first: graphs
# of the running guest, a disk hot-added, settings saved (and refused for a
# running VM), a backup run and restored, the storage page, a NAT network
# made and deleted, the backups page, a token made and used with curl, an
# alarm firing; an Auditor sees no action and is refused (403) each one.
# Then, from outside the browser: the VM the Auditor tried to start is
# still stopped, the snapshot exists, the refusals were recorded, and the
# UI's answers carry the headers that keep hostile content inert.
# Screenshots: $ARTIFACTS/t75-webui, else build/artifacts/t75-webui.
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"

if ! command -v chromium >/dev/null || ! [ -x /usr/bin/chromedriver ] || ! /usr/bin/python3 -c "import selenium" 2>/dev/null; then
	say "t75-webui needs chromium, chromium-driver and python3-selenium (scripts/install-deps.sh)"
	FAILED=1
	finish
	exit 1
fi

PORT=$((20000 + RANDOM % 20000))
URL=https://127.0.0.1:$PORT
ART=${ARTIFACTS:-$(dirname "$CORRALD")/artifacts}/t75-webui
mkdir -p "$ART" && rm -f "$ART"/[0-9][0-9]-*.png # this run's screenshots only: the count below checks them
start_daemon --listen "127.0.0.1:$PORT" --metrics-interval 1 || { FAILED=$((FAILED + 1)); exit 1; }
CRT=$STATE/tls/host.crt
export ADMIN_PASS=admin-pass-$RANDOM AUD_PASS=audit-pass-$RANDOM
# webui.py runs this when it wants 500 more VMs (names bulk-000..bulk-499)
export BULK_CMD="seq -w 0 499 | xargs -P4 -I{} curl -sf --unix-socket '$SOCK' -X POST -H 'Content-Type: application/json' \
	-d '{\"name\":\"bulk-{}\",\"memory_mib\":64}' -o /dev/null http://corral/v1/vms"
# the NAT network the page makes (and deletes): a name and subnet of this run's own
export CD_ISO=$T/cd.iso
export NET_NAME=wu$((RANDOM % 100000)) NET_SUBNET=10.175.$((RANDOM % 250)).0/24 SOCK CORRAL
# the encrypted repository the backups page makes
export REPO2=$T/repo2 REPO_PASS=repo-pass-$RANDOM-$RANDOM
export XSS_TEXT='<img src=x onerror=alert(document.domain)><script>alert(1)</script>'

test_expect "users for the browser: an Administrator and an Auditor; a VM with a hostile description" '
	printf "%s\n" "$ADMIN_PASS" | corral user add admin && corral acl add admin Administrator / &&
	printf "%s\n" "$AUD_PASS" | corral user add aud && corral acl add aud Auditor / &&
	create_guest xss --description "$XSS_TEXT" >/dev/null &&
	create_guest gfx --vnc >/dev/null &&
	corral repo create "$T/repo" >/dev/null &&
	head -c 1048576 /dev/zero >"$CD_ISO"
'

test_expect "the UI is served over TLS with CSP, no framing, no sniffing; files outside it are not" '
	curl -s -D h.txt -o index.html --cacert "$CRT" "$URL/ui/" &&
	grep -qi "^content-security-policy: default-src .self.;" h.txt &&
	grep -qi "^x-frame-options: DENY" h.txt && grep -qi "^x-content-type-options: nosniff" h.txt &&
	grep -q "<script type=\"module\" src=\"js/app.js\">" index.html &&
	! grep -q "<script>" index.html &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" "$URL/ui/vendor/xterm/xterm.js")" = 200 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" --path-as-is "$URL/ui/../state/corral.db")" = 404 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" "$URL/ui/.hidden.js")" = 404 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" "$URL/v1/vms")" = 401 ] &&
	curl -s --unix-socket "$SOCK" http://corral/ui/ | grep -q "js/app.js" &&
	curl -s --unix-socket "$SOCK" http://corral/ui/session |
		jq -e ".local and .rights == [{\"path\":\"/\",\"role\":\"Administrator\",\"privileges\":.rights[0].privileges}] and
			(.rights[0].privileges | index(\"User.Modify\") and index(\"Sys.Audit\") and length == 11)"
'

test_expect "headless Chromium drives the UI (webui.py)" '
	/usr/bin/python3 "$SRC_DIR/tests/integration/webui.py" "$URL" "$ART" "$KERNEL" "$INITRD" "$GUEST_CMDLINE" >browser.out 2>&1
	rc=$?
	cat browser.out
	cp browser.out "$T/browser.log"
	[ $rc -eq 0 ] && ! grep -q "^not ok" browser.out
'
corral net delete --yes "$NET_NAME" >/dev/null 2>&1 # made by the page, gone already unless a step failed
cat "$T/browser.log" 2>/dev/null | sed -n -e "s/^\(ok\|not ok\) - /  browser: \1 - /p;t" -e "s/^  \([a-z]\)/  browser:   \1/p"

test_expect "after the browser: what it did and what it was refused, seen through the CLI" '
	[ "$(vm_state web)" = running ] && [ "$(vm_state xss)" = stopped ] &&
	corral snapshot list web --json | jq -e ".snapshots | map(.name) == [\"s1\"]" &&
	corral vm show web --json | jq -e ".description == \"made in the browser\" and ([.disks[].volume] == [\"web-root\", \"webdata\"])" &&
	corral alarm list --json | jq -e "any(.alarms[]; .name == \"webhot\" and .when == \"memory > 1M for 2s\")" &&
	corral token list aud --json | jq -e "any(.tokens[]; .id == \"page\")" &&
	! corral net list | grep -q "$NET_NAME" &&
	corral policy list --json | jq -e "[.policies[].name] == [\"webnightly\"]" &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --unix-socket "$SOCK" -X POST -H "Content-Type: application/json" \
		-d "{\"path\":\"/etc\"}" http://corral/v1/repos)" = 409 ] &&
	corral events --json --limit 5000 >events.json &&
	jq -e "[.events[] | select(.kind == \"api\") | .detail] |
		(any(test(\"^aud from .*: POST /v1/vms/xss/start -> 403\"))) and
		(any(test(\"^admin from .*: POST /ui/login -> 200\")))" events.json ||
		{ jq -c ".events[] | select(.kind == \"api\")" events.json | tail -n 20; false; } &&
	[ "$(vm_state gfx)" = stopped ] && [ "$(corral vm list --json | jq ".vms | length")" = 504 ] &&
	grep -q "web VNC display attached to" "$T/corrald.log" &&
	[ "$(ls "$ART" | grep -c "^[01][0-9]-.*\.png\$")" = 19 ]
'

test_expect "the session id and CSRF token are nowhere in the log, the events or the database" '
	[ "$(wc -l <session.id)" = 2 ] &&
	while read -r secret; do
		[ ${#secret} = 64 ] || return 1
		! grep -rq "$secret" "$T/corrald.log" "$STATE" || { say "found a session secret"; return 1; }
		! corral events --json --limit 1000 | grep -q "$secret" || return 1
	done <session.id
'

test_expect "a session cookie is no credential over the unix socket, and a bearer token ignores it" '
	printf "%s\n" "$ADMIN_PASS" >/dev/null &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" -X POST --unix-socket "$SOCK" -H "Content-Type: application/json" \
		-d "{\"user\":\"admin\",\"password\":\"$ADMIN_PASS\"}" http://corral/ui/login)" = 400 ] &&
	corral token add admin ci >tok && TOK=$(tail -n1 tok) && corral acl add admin!ci Auditor / &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" -H "Authorization: Bearer $TOK" \
		-b "corral_session=$(printf "%064d" 0)" "$URL/v1/vms")" = 200 ]
'
say "screenshots: $ART"
finish
