#!/usr/bin/env bash
# The API front end against slow, lying and hostile clients (no guest
# needed): header, body and idle deadlines close stalled requests on time;
# malformed input gets 400/413/431, never 500; a table full of idle
# connections and 20 trickling clients do not lock others out; streamed
# replies work and a reader that stalls or vanishes frees everything it
# held; 405 names the allowed methods; SIGTERM stops at once with streams
# and idle connections open.  Limits are small so the script runs in ~30 s.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
probe() { python3 "$HERE/httpprobe.py" "$SOCK" "$@"; }

IDLE=2 HEAD_S=3 BODY_S=4 MAXC=32
start_daemon --http-idle-timeout $IDLE --http-header-timeout $HEAD_S --http-body-timeout $BODY_S \
	--http-max-connections $MAXC --http-workers 4 --http-queue 2 || { FAILED=1; finish; exit 1; }

# field NAME KEY: a value from the probe results in $T/probes.
field() { jq -r --arg n "$1" "select(.name == \$n) | .$2" "$T/probes"; }
# between X LO HI: LO <= X <= HI (decimals).
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }' || { say "$1 not in [$2, $3]"; return 1; }; }
# latency PATH: curl's total time for one GET, in seconds; fails unless 200.
latency() {
	local out
	out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 --unix-socket "$SOCK" "http://corral$1")
	[ "${out% *}" = 200 ] || { say "GET $1: $out"; return 1; }
	echo "${out#* }"
}
# bg_probe OUT ARGS...: run a probe in the background, its output in OUT; sets BG.
# The output file is emptied first: wait_line must not read an earlier probe's "open".
bg_probe() { local out=$1; shift; : >"$out"; probe "$@" >"$out" 2>&1 & BG=$!; }
# wait_line FILE LINE: FILE's first line is LINE within 10 s.
wait_line() {
	for _ in $(seq 1 100); do
		[ "$(head -n1 "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	say "no '$2' from the probe: $(cat "$1")"; return 1
}
# all_closed_fast PROBE...: the server closed each within 1.5 s.
all_closed_fast() { for p in "$@"; do between "$(field "$p" closed_after)" 0 1.5 || return 1; done; }
# fast_gets N MAX_S: N GETs of /v1/host each answered within MAX_S seconds; prints the slowest.
fast_gets() {
	local i t worst=0
	for i in $(seq 1 "$1"); do
		t=$(latency /v1/host) && between "$t" 0 "$2" || return 1
		worst=$(awk -v a="$t" -v b="$worst" 'BEGIN { print (a > b ? a : b) }')
	done
	echo "$1 GETs of /v1/host, slowest $worst s"
}
fd_count() { ls "/proc/$CORRALD_PID/fd" | wc -l; }
thread_count() { ls "/proc/$CORRALD_PID/task" | wc -l; }
# back_to BASE_FDS BASE_THREADS: corrald returns to that many fds and threads within 3 s.
back_to() {
	for _ in $(seq 1 30); do
		[ "$(fd_count)" -le "$1" ] && [ "$(thread_count)" -le "$2" ] && return 0
		sleep 0.1
	done
	say "corrald holds $(fd_count) fds and $(thread_count) threads, expected $1 and $2"
	ls -l "/proc/$CORRALD_PID/fd" >&2
	return 1
}

test_expect "stalled requests are closed by the idle, header and body deadlines" '
	probe probe nothing crlf short-body trickle-head trickle-body >"$T/probes" && cat "$T/probes" &&
	[ "$(jq -s "map(.status) | unique" -c "$T/probes")" = "[null]" ] &&
	between "$(field nothing closed_after)" 1.8 $((IDLE + 1)) &&
	between "$(field crlf closed_after)" 1.8 $((IDLE + 1)) &&
	between "$(field short-body closed_after)" 1.8 $BODY_S &&
	between "$(field trickle-head closed_after)" $((HEAD_S - 1)).8 $((HEAD_S + 1)) &&
	between "$(field trickle-body closed_after)" $((BODY_S - 1)).8 $((BODY_S + 1))
'
test_expect "malformed requests get 4xx at once, never 500" '
	probe probe garbage junk-header huge-header bad-query big-body big-chunked bad-version bad-request-line ok \
		>"$T/probes" && cat "$T/probes" &&
	[ "$(field garbage status)" = 400 ] && [ "$(field junk-header status)" = 400 ] &&
	[ "$(field huge-header status)" = 431 ] && [ "$(field bad-query status)" = 400 ] &&
	[ "$(field big-body status)" = 413 ] && [ "$(field big-chunked status)" = 413 ] &&
	[ "$(field bad-version status)" = 505 ] && [ "$(field ok status)" = 200 ] &&
	case "$(field bad-request-line status)" in null|400) ;; *) false ;; esac &&
	all_closed_fast garbage junk-header huge-header bad-query big-body big-chunked bad-version bad-request-line &&
	corral host info >/dev/null
'
test_expect "405 names the allowed methods in Allow" '
	curl -s -i -X PATCH --unix-socket "$SOCK" http://corral/v1/vms >out &&
	grep -q "^HTTP/1.1 405" out && grep -q "^Allow: GET, POST" out &&
	curl -s -i -X DELETE --unix-socket "$SOCK" http://corral/v1/host >out &&
	grep -q "^HTTP/1.1 405" out && tr -d "\r" <out | grep -qx "Allow: GET" &&
	tail -n1 out | jq -e ".error.code == \"invalid_argument\"" >/dev/null
'
test_expect "a table full of idle connections does not lock out the CLI" '
	bg_probe "$T/hold" hold $((MAXC * 2)) $((IDLE * 3)) && wait_line "$T/hold" open &&
	fast_gets 5 1 && corral host info >/dev/null &&
	wait $BG && cat "$T/hold" && tail -n1 "$T/hold" | jq -e ".closed_by_server == $((MAXC * 2))" >/dev/null
'
test_expect "20 clients trickling their headers do not delay others" '
	bg_probe "$T/slow" slow 20 $HEAD_S && wait_line "$T/slow" open &&
	fast_gets 10 0.5 && corral vm list >/dev/null && wait $BG
'
mkdir -p "$T/fsroot/d" && head -c 16M /dev/urandom >"$T/fsroot/d/big" &&
	mkfs.ext4 -q -F -d "$T/fsroot" "$T/fs.img" 64M >/dev/null 2>&1
CONTENT="/v1/images/content?file=$T/fs.img&path=/d/big"
test_expect "a streamed reply arrives whole" '
	curl -sf --unix-socket "$SOCK" "http://corral$CONTENT" -o "$T/got" && cmp "$T/got" "$T/fsroot/d/big" &&
	curl -sf --unix-socket "$SOCK" "http://corral$CONTENT" --limit-rate 16M -o "$T/got" && cmp "$T/got" "$T/fsroot/d/big"
'
test_expect "a reader that stalls or vanishes frees its connection, pipe and reader thread" '
	sleep 0.5 && fds=$(fd_count) && threads=$(thread_count) &&
	bg_probe "$T/stall" get "$CONTENT" stall 100000 && wait_line "$T/stall" stalled &&
	[ "$(fd_count)" -gt "$fds" ] && wait $BG && cat "$T/stall" &&
	between "$(tail -n1 "$T/stall" | jq .server_closed_after)" $((IDLE - 1)) $((IDLE + 2)) &&
	back_to "$fds" "$threads" &&
	probe get "$CONTENT" drop 100000 && back_to "$fds" "$threads"
'
test_expect "a full queue answers 503 + Retry-After; the CLI retries, so 40 parallel creates all land" '
	pids= && for i in $(seq 1 40); do
		curl -s -o /dev/null -D - --unix-socket "$SOCK" -X POST -H "Content-Type: application/json" \
			-d "{\"name\":\"raw$i\",\"memory_mib\":16}" http://corral/v1/vms > "$T/raw.$i" & pids="$pids $!"
	done && wait $pids &&
	n503=$(grep -l "^HTTP/1.1 503" "$T"/raw.* | wc -l) && echo "raw curl: $n503 of 40 refused with 503" &&
	[ "$n503" -gt 0 ] && grep -qi "^Retry-After: 1" $(grep -l "^HTTP/1.1 503" "$T"/raw.* | head -n1) &&
	pids= && for i in $(seq 1 40); do corral vm create "cli$i" --memory 16 >"$T/cli.$i" 2>&1 & pids="$pids $!"; done &&
	fails=0 && for p in $pids; do wait "$p" || fails=$((fails + 1)); done &&
	echo "CLI: $fails of 40 failed" && [ "$fails" = 0 ] &&
	[ "$(corral vm list --json | jq "[.vms[] | select(.name | startswith(\"cli\"))] | length")" = 40 ]
'
test_expect "SIGTERM stops at once with a stream and idle connections open" '
	bg_probe "$T/stall" get "$CONTENT" stall 100000 && wait_line "$T/stall" stalled && stall=$BG &&
	bg_probe "$T/hold" hold 5 30 && wait_line "$T/hold" open &&
	start=$(date +%s%N) && stop_daemon &&
	# a client that stopped reading keeps its reply 2 s at most (STOP_FLUSH_MS in src/api/http.c)
	ms=$((($(date +%s%N) - start) / 1000000)) && echo "stopped in $ms ms" && [ "$ms" -lt 3000 ] &&
	{ wait $BG $stall; r=$?; cat "$T/hold"; [ $r = 0 ]; } && tail -n1 "$T/hold" | jq -e ".closed_by_server == 5" >/dev/null
'
finish
