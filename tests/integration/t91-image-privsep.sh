#!/usr/bin/env bash
# Privilege separation of the image readers: corrald parses no image byte
# itself.  Proven here: corrald does not even contain the parsers; while a
# big `disk cat` streams, the reader is a separate corral-imgd process,
# chrooted into an empty directory, running as the corral-imgd user with no
# groups, no_new_privs and a seccomp filter, small resource limits, and
# holding nothing but its socket and the image; the hostile images of the
# fuzz corpus give clean answers; a reader that crashes, hangs or tries to
# escape (corral-imgd-test: the helper built with test hooks) costs only
# that request - a clear error, the process gone, corrald serving on.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$CORRALD")
IMGD_TEST=$BUILD/tests/corral-imgd-test
IMGD_USER=corral-imgd
"$ROOT/scripts/setup-user.sh" "$IMGD_USER" >/dev/null || { FAILED=1; finish; exit 1; }
setup_daemon

# helpers: the corral-imgd children of corrald, one per line
helpers() {
	local c
	for c in $(cat /proc/"$CORRALD_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = corral-imgd ] && echo "$c"
	done
}
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' '; }
limit_of() { awk -v n="$2" 'index($0, n) == 1 { print $(NF-2) }' "/proc/$1/limits"; }

test_expect "corrald contains no image parser; the helper is installed next to it" '
	! ldd "$CORRALD" | grep -q libext2fs && ! nm "$CORRALD" | grep -qw -e img_fs_open -e bootcfg_load -e img_dev_open_fds &&
	[ -x "$BUILD/corral-imgd" ] && ldd "$BUILD/corral-imgd" | grep -q libseccomp
'
test_expect "a volume with a 64 MiB file" '
	mkdir -p tree/data && head -c 64m /dev/urandom > tree/data/big.bin && echo sandboxed > tree/hello &&
	mkfs.ext4 -q -F -d tree big.img 100M >/dev/null && corral disk import big.img --name big >/dev/null
'
test_expect "a big file streams from a separate, unprivileged, sandboxed reader" '
	want=$(sha256sum < tree/data/big.bin)
	{ corral disk cat big /data/big.bin | { sleep 8; sha256sum > got.sum; }; } &
	reader=$!
	for _ in $(seq 1 60); do pids=$(helpers); [ -n "$pids" ] && break; sleep 0.1; done &&
	[ "$(echo "$pids" | wc -w)" = 1 ] && p=$pids &&
	uid=$(id -u $IMGD_USER) && gid=$(id -g $IMGD_USER) && [ "$uid" != 0 ] &&
	[ "$(status_field $p Uid)" = "$uid $uid $uid $uid" ] && [ "$(status_field $p Gid)" = "$gid $gid $gid $gid" ] &&
	[ -z "$(status_field $p Groups)" ] && [ "$(status_field $p NoNewPrivs)" = 1 ] &&
	[ "$(status_field $p Seccomp)" = 2 ] && [ "$(status_field $p CapEff)" = 0000000000000000 ] &&
	[ "$(readlink /proc/$p/root)" = "$STATE/run/imgd-root" ] && [ -z "$(ls -A "$STATE/run/imgd-root")" ] &&
	[ "$(limit_of $p "Max open files")" = 32 ] && [ "$(limit_of $p "Max processes")" = 0 ] &&
	[ "$(limit_of $p "Max core file size")" = 0 ] &&
	vol=$(corral disk show big --json | jq -r .path) &&
	for fd in /proc/$p/fd/*; do readlink "$fd"; done | sort > fds &&
	printf "%s\n" /dev/null /dev/null "$vol" > fds.want && grep -q "^pipe:" fds && grep -q "^socket:" fds &&
	[ "$(grep -v -e "^pipe:" -e "^socket:" fds)" = "$(sort fds.want)" ] && [ "$(wc -l < fds)" = 5 ] &&
	wait $reader && [ "$(cat got.sum)" = "$want" ] && [ -z "$(helpers)" ]
'
test_expect "a client that stops reading early: the reader is stopped, nothing is left behind" '
	# corrald also opens short-lived descriptors (the lease poll, connections
	# closing): a leak shows as more after, never fewer.
	fds_before=$(ls /proc/$CORRALD_PID/fd | wc -l) &&
	n=0 && for _ in 1 2 3 4 5; do [ "$(corral disk cat big /data/big.bin | head -c 1000 | wc -c)" = 1000 ] && n=$((n + 1)); done &&
	[ $n = 5 ] &&
	for _ in $(seq 50); do [ -z "$(helpers)" ] && break; sleep 0.1; done && [ -z "$(helpers)" ] &&
	corral host info >/dev/null &&
	for _ in $(seq 50); do [ "$(ls /proc/$CORRALD_PID/fd | wc -l)" -le "$fds_before" ] && break; sleep 0.1; done &&
	fds_after=$(ls /proc/$CORRALD_PID/fd | wc -l) && echo "corrald fds: $fds_before before, $fds_after after" &&
	[ "$fds_after" -le "$fds_before" ]
'
test_expect "listings, single files and partitions through the reader, as before" '
	[ "$(corral disk cat big /hello)" = sandboxed ] &&
	corral disk files big / --json | jq -e "[.entries[].name] == [\"data\",\"hello\",\"lost+found\"] and .fstype == \"ext4\"" &&
	corral disk files big --json | jq -e ".scheme == \"none\" and .fstype == \"ext4\"" &&
	[ -z "$(helpers)" ]
'
test_expect "the hostile images of the fuzz corpus: an answer or a clean error each, never a crash" '
	bad=0 && for f in "$ROOT"/tests/fuzz/corpus/image/* "$ROOT"/tests/fuzz/corpus/xfs/*; do
		cp "$f" img.tmp && corral disk files "$T/img.tmp" / > out 2>&1; rc=$?
		[ $rc -le 1 ] || { echo "$f: exit $rc"; bad=1; }
		if grep -q -e "helper crashed" -e "sandbox" -e "no progress" out; then cat out; bad=1; fi
	done && [ $bad = 0 ] &&
	! grep -q "image helper" "$T/corrald.log" && corral host info >/dev/null && [ -z "$(helpers)" ]
'
test_expect "a reader that crashes, hangs or tries to escape: a clear error, corrald serves on" '
	stop_daemon && start_daemon --image-helper "$IMGD_TEST" --image-timeout 3 &&
	fails corral disk cat big /corral-test/crash 2>err && cat err &&
	grep -qx "corral: cannot read volume big: the image helper crashed (Segmentation fault); the image may be damaged or hostile" err &&
	api GET "/v1/volumes/big/fs?path=/corral-test/crash" | tail -n1 | grep -q "HTTP 400" &&
	start=$SECONDS && fails corral disk files big /corral-test/hang 2>err && cat err &&
	grep -q "made no progress for 3 s and was stopped" err && [ $((SECONDS - start)) -lt 10 ] &&
	fails corral disk cat big /corral-test/escape 2>err && cat err &&
	grep -q "stopped by its sandbox (a forbidden system call)" err && ! grep -q escaped err &&
	[ "$(corral disk cat big /hello)" = sandboxed ] && corral host info >/dev/null &&
	[ -z "$(helpers)" ] && ! grep -q "^Z" <(for c in $(cat /proc/$CORRALD_PID/task/*/children 2>/dev/null); do sed "s/.*) //" /proc/$c/stat; done) &&
	[ "$(grep -c "warn: cannot read volume big: the image helper" "$T/corrald.log")" -ge 4 ]
'
test_expect "a missing reader account is a clear error, not a root fallback" '
	stop_daemon && start_daemon --image-user corral-no-such-user &&
	fails corral disk files big / 2>err && grep -q "user corral-no-such-user does not exist" err &&
	stop_daemon && start_daemon --image-user root &&
	fails corral disk files big / 2>err && grep -q "must not run as root" err
'
finish
