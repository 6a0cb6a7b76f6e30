#!/usr/bin/env bash
# Alarms (docs/alarms.md): a rule `cpu > 50% for 3s` on a test guest fires
# when the guest spins its CPU (metrics_interval 1), a local webhook receiver
# gets the JSON POST, the alarm stays firing without a second notification
# across a kill -9 of corrald, and resolves (a second POST) once the load
# stops (two vCPUs, a loop on each: MTTCG gives QEMU up to two host CPUs, so
# the guest stays above 50% of one CPU on a machine shared with other work);
# a `vm crashed` rule fires when the guest's QEMU is killed, also while
# corrald is down (it fires at the re-attach); `alarm test` mails through a
# local SMTP sink; the SMTP password is kept 0600 and
# never shown, logged or exported; bad rules are refused with nothing changed.
. "$(dirname "$0")/lib.sh"

HPORT=$((20000 + RANDOM % 20000))
SPORT=$((HPORT + 1))
HOOK=http://127.0.0.1:$HPORT/hook
SINK_PIDS=
trap 'for p in $SINK_PIDS; do kill "$p" 2>/dev/null; done; cleanup' EXIT
start_daemon --metrics-interval 1 || { FAILED=$((FAILED + 1)); exit 1; }

# The webhook receiver: every POST body as one line of hook.jsonl.
cat >hook.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
# The SMTP sink: a few lines of asyncio; every message's DATA appended to mail.txt.
cat >smtp.py <<'PY'
import asyncio, sys
async def client(r, w):
    w.write(b"220 sink ESMTP\r\n")
    data = None
    while True:
        line = await r.readline()
        if not line: break
        if data is not None:
            if line == b".\r\n":
                with open(sys.argv[2], "ab") as f: f.write(b"".join(data) + b"----END----\n")
                data = None; w.write(b"250 ok\r\n")
            else: data.append(line)
            continue
        cmd = line[:4].upper()
        if cmd in (b"EHLO", b"HELO"): w.write(b"250 sink\r\n")
        elif cmd == b"DATA": data = []; w.write(b"354 go\r\n")
        elif cmd == b"QUIT": w.write(b"221 bye\r\n"); await w.drain(); break
        else:
            with open(sys.argv[2] + ".cmds", "ab") as f: f.write(line)
            w.write(b"250 ok\r\n")
        await w.drain()
    w.close()
async def main():
    s = await asyncio.start_server(client, "127.0.0.1", int(sys.argv[1]))
    async with s: await s.serve_forever()
asyncio.run(main())
PY
python3 hook.py "$HPORT" "$T/hook.jsonl" >hook.log 2>&1 &
SINK_PIDS="$SINK_PIDS $!"
python3 smtp.py "$SPORT" "$T/mail.txt" >smtp.log 2>&1 &
SINK_PIDS="$SINK_PIDS $!"

# posts ALARM STATUS: how many POSTs the receiver got for that alarm with that status.
posts() { [ -f "$T/hook.jsonl" ] || { echo 0; return; }; jq -c --arg a "$1" --arg s "$2" 'select(.alarm == $a and .status == $s)' "$T/hook.jsonl" | wc -l; }
# wait_for SECONDS CMD...: CMD succeeds within SECONDS.
wait_for() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.5; done; }
obj_state() { corral alarm show "$1" --json | jq -r --arg n "$2" '[.objects[] | select(.name == $n) | .state][0] // "ok"'; }
is_state() { [ "$(obj_state "$1" "$2")" = "$3" ]; }
has_posts() { [ "$(posts "$1" "$2")" -ge "$3" ]; }

test_expect "bad rules are refused with a clear error and nothing changes" '
	fails corral alarm add a1 --when "cpux > 90%" 2>err && grep -q "column 1: unknown metric .cpux." err &&
	fails corral alarm add a1 --when "cpu > 90% for 5x" 2>err && grep -q "column 15: bad duration" err &&
	fails corral alarm add a1 --when "cpu > 90%; reboot" 2>err && grep -q "unexpected character" err &&
	fails corral alarm add "../x" --when "cpu > 90%" 2>err && grep -q "invalid alarm name" err &&
	fails corral alarm add "$(printf "a\nb")" --when "cpu > 90%" 2>err &&
	fails corral alarm add a1 --when "host_load > 4" --on m1 2>err && grep -q "takes no" err &&
	fails corral alarm add a1 --when "cpu > 90%" --on "bogus:x" 2>err &&
	fails corral alarm add a1 --when "cpu > 90%" --notify "file:///etc/passwd" 2>err && grep -q "invalid notify target" err &&
	fails corral alarm add a1 --when "cpu > 90%" --notify "mailto:ops@example.com" 2>err && grep -q "needs .smtp." err &&
	fails corral alarm add a1 --when "cpu > 90%" --notify "mailto:a@b>c" --smtp smtp://127.0.0.1 --mail-from x@y 2>err &&
	fails corral alarm add a1 --when "cpu > 90%" --notify "mailto:a@b.c" --smtp ftp://x --mail-from x@y 2>err &&
	api POST /v1/alarms "{\"name\":\"a1\",\"when\":\"cpu > 1%\",\"colour\":\"red\"}" | grep -q "HTTP 400" &&
	api POST /v1/alarms "{\"name\":\"a1\",\"when\":\"cpu > 1%\",\"smtp\":{\"url\":\"smtp://h\",\"from\":\"a@b\",\"port\":1}}" | grep -q "HTTP 400" &&
	api POST /v1/alarms "{\"name\":\"a1\",\"when\":\"cpu > 1%\",\"notify\":[\"http://x/\\r\\nHost: y\"]}" | grep -q "HTTP 400" &&
	fails corral alarm show nope 2>err && grep -q "not found" err &&
	[ "$(corral alarm list --json | jq ".alarms | length")" = 0 ] && [ -z "$(ls "$STATE/alarms")" ]
'

test_expect "a busy guest fires cpu > 50% for 3s: pending, then firing, one webhook POST with the value" '
	create_guest m1 --cpus 2 >/dev/null && boot m1 &&
	corral alarm add busy --when "cpu>50% for 3s" --on m1 --notify "$HOOK" >out && grep -q "cpu > 50% for 3s" out &&
	corral alarm add crash --when "vm crashed" --on "name:m*" --notify "$HOOK" >/dev/null &&
	corral alarm list >list && grep -q "^busy .*cpu > 50% for 3s.*m1" list &&
	corral __complete alarm show "" >names && grep -qx busy names && grep -qx crash names &&
	guest_sh m1 "for i in 1 2; do (while :; do :; done) >/dev/null 2>&1 & echo \$! >>/busy.pid; done" &&
	wait_for 40 is_state busy m1 firing && wait_for 10 has_posts busy firing 1 &&
	jq -e "select(.alarm == \"busy\" and .status == \"firing\") | .version == 1 and .object.kind == \"vm\" and
		.object.name == \"m1\" and .value > 50 and .threshold == 50 and .unit == \"%\" and .expr == \"cpu > 50% for 3s\"" \
		hook.jsonl &&
	corral alarm history busy --json | jq -e "[.history[].to] | index(\"pending\") < index(\"firing\")" &&
	corral events --kind alarm --json | jq -e "[.events[] | select(.detail | test(\"^busy firing: vm m1\"))] | length == 1"
'

test_expect "kill -9 of corrald while firing: after the restart it is still firing and not notified again" '
	kill9_daemon && start_daemon --metrics-interval 1 && sleep 4 &&
	is_state busy m1 firing && [ "$(posts busy firing)" = 1 ] && [ "$(posts busy resolved)" = 0 ]
'

test_expect "the load stops: the alarm resolves after 3 s below and the receiver gets the resolution" '
	guest_sh m1 "kill \$(cat /busy.pid)" &&
	wait_for 40 has_posts busy resolved 1 && is_state busy m1 ok && [ "$(posts busy firing)" = 1 ] &&
	jq -e "select(.alarm == \"busy\" and .status == \"resolved\") | .value < 50" hook.jsonl &&
	corral alarm history busy --json | jq -e "[.history[].to] | .[-1] == \"resolved\"" &&
	corral alarm history >h.txt && grep -q "busy .*m1 .*firing .*resolved" h.txt
'

test_expect "vm crashed fires when the guest QEMU is killed with kill -9" '
	pid=$(corral vm show m1 --json | jq -r .status.pid) && [ "$pid" -gt 0 ] && kill -9 "$pid" &&
	wait_for 15 has_posts crash firing 1 &&
	jq -e "select(.alarm == \"crash\") | .event == \"vm crashed\" and .object.name == \"m1\"" hook.jsonl &&
	corral events --kind alarm --json | jq -e "[.events[] | select(.detail | test(\"^crash firing\"))] | length == 1"
'

test_expect "a guest that died while corrald was down fires vm crashed when corrald re-attaches" '
	corral vm start m1 >/dev/null && wait_state m1 running &&
	pid=$(corral vm show m1 --json | jq -r .status.pid) && [ "$pid" -gt 0 ] &&
	kill9_daemon && kill -9 "$pid" && sleep 0.5 && start_daemon --metrics-interval 1 &&
	wait_for 15 has_posts crash firing 2 && [ "$(vm_state m1)" = crashed ]
'

test_expect "a receiver that is down at first gets the notification by a retry (1 s, 2 s, 4 s...)" '
	RPORT=$((SPORT + 1)) &&
	corral alarm add load --when "host_load >= 0" --notify "http://127.0.0.1:$RPORT/late" >/dev/null &&
	wait_for 10 grep -q "alarm .load.: a notification failed (attempt 1 of 5), retrying" "$T/corrald.log" &&
	! grep -q "127.0.0.1:$RPORT/late" "$T/corrald.log" &&
	{ python3 hook.py "$RPORT" "$T/late.jsonl" >late.log 2>&1 & SINK_PIDS="$SINK_PIDS $!"; } &&
	wait_for 20 test -s "$T/late.jsonl" && jq -e ".alarm == \"load\" and .status == \"firing\" and .object.kind == \"host\"" late.jsonl &&
	corral alarm delete load >/dev/null
'

test_expect "a notification still waiting when corrald is killed (-9) is sent once after the restart" '
	KPORT=$((SPORT + 2)) &&
	corral alarm add left --when "host_load >= 0" --notify "http://127.0.0.1:$KPORT/left" >/dev/null &&
	wait_for 10 grep -q "alarm .left.: a notification failed (attempt 1 of 5), retrying" "$T/corrald.log" &&
	kill9_daemon &&
	{ python3 hook.py "$KPORT" "$T/left.jsonl" >left.log 2>&1 & SINK_PIDS="$SINK_PIDS $!"; } &&
	start_daemon --metrics-interval 1 && grep -q "alarms: 1 notification from before the restart" "$T/corrald.log" &&
	wait_for 20 test -s "$T/left.jsonl" && sleep 2 && [ "$(wc -l <"$T/left.jsonl")" = 1 ] &&
	jq -e ".alarm == \"left\" and .status == \"firing\" and .object.kind == \"host\"" left.jsonl &&
	corral alarm show left --json | jq -e "[.objects[].state] == [\"firing\"]" &&
	corral alarm delete left >/dev/null
'
test_expect "alarm test mails through the SMTP sink; the password is kept 0600, never shown, logged nor exported" '
	printf "%s\n" "s3cret-Pw-42" >pw &&
	corral alarm add mail --when "pool_used > 99%" --on default --notify mailto:ops@example.com,dev@example.com \
		--smtp "smtp://127.0.0.1:$SPORT" --mail-from corral@example.com >/dev/null &&
	corral alarm test mail >t.out && grep -q "mailto:ops@example.com,dev@example.com: sent" t.out &&
	grep -q "^Subject: \[corral\] test: mail on pool test" mail.txt && grep -q "^From: corral@example.com" mail.txt &&
	grep -q "\"status\": \"test\"" mail.txt && grep -qi "RCPT TO:<dev@example.com>" mail.txt.cmds &&
	corral alarm set mail --smtp-user ops --smtp-password-file pw >/dev/null &&
	[ "$(stat -c %a "$STATE/alarms/mail.smtp-password")" = 600 ] &&
	corral alarm show mail --json | jq -e ".smtp.password_set == true and .smtp.user == \"ops\" and (.smtp | has(\"password\") | not)" &&
	corral alarm set mail --when "pool_used > 98%" >/dev/null &&
	corral alarm show mail --json | jq -e ".smtp.password_set == true and .when == \"pool_used > 98%\"" &&
	! corral alarm show mail --json | grep -q s3cret && ! corral host export-db | grep -q s3cret &&
	corral host export-db | jq -e ".alarms[] | select(.name == \"mail\") | .smtp.password_set == true" &&
	! grep -rq s3cret "$T/corrald.log" && ! sqlite3 "$STATE/state.db" .dump 2>/dev/null | grep -q s3cret &&
	corral alarm add hook2 --when "host_load > 1000" --notify "http://127.0.0.1:1/nothing" >/dev/null &&
	fails corral alarm test hook2 2>err && grep -q "webhook to 127.0.0.1:1 failed" err &&
	corral alarm remove mail hook2 >/dev/null && [ ! -e "$STATE/alarms/mail.smtp-password" ] &&
	corral alarm list --json | jq -e "[.alarms[].name] == [\"busy\", \"crash\"]"
'

finish
