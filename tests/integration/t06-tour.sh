#!/usr/bin/env bash
# README's "A tour", run as written: every command line of its code block,
# read from README.md when the test runs (edit the tour and this test runs
# the new text), in order, each as the text says (bash runs the line; the
# comment after '#' is only left out of what is printed).  The test stops
# at the first line that fails, printing the line and its output.
#
# The tour names paths and hosts of an administrator's machine; the test
# gives it those in a private view of the system (nothing outside changes):
#   - its own mount and network namespace, and a root directory made of
#     bind mounts of the real one, where /srv and /backup are directories of
#     this test, /etc is an overlay holding the test's /etc/hosts (host1,
#     host2) and /etc/corral/corrald.conf (read by the tour's bare `corrald`);
#   - host1 and host2: two more corralds in network namespaces of their own
#     (lib.sh nhost_*), reached through a bridge as in t61/t62;
#   - what the tour names but does not make (the "prelude" below): the files
#     under /srv, nightly.conf, host2.token, the VMs db1 (running) and old1
#     (stopped), the VM base, the volume deb1-root (a Debian disk with a
#     GRUB config, guest/build-disk.sh), a user alice on host1, and on host2
#     the pool and network web1's disks and NICs need there.
# `corral` finds the tour's corrald through $CORRAL_SOCKET (no flag added to
# any line).  Lines that ask (passwords, [y/N], a certificate to trust) run
# on a pseudo-terminal and get typed answers (tests/integration/pty-run.py);
# lines that run until stopped (`vm console`, `events --follow`) are ended
# as a person ends them (Ctrl-], a timeout) and checked for their output.
# The one line that cannot run as written is in SUBST below, with why.
# TOUR_SHOW=1 prints what every line printed.
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SELF=$HERE/$(basename "$0")

# ---- the private view: stage 0 (here) makes a work directory and enters a new
# mount + network namespace (stage 1), which builds the root and runs the
# test in it (stage 2).  The mounts live only in that namespace: when it ends
# they are gone, and what stage 0 removes are this test's own files.
case ${T06_STAGE:-0} in
0)
	W=$(mktemp -d /tmp/corral-t06.XXXXXX) || exit 1
	T06_STAGE=1 T06_W=$W unshare --mount --net --propagation private -- bash "$SELF"
	rc=$?
	rm -rf "$W"
	exit $rc
	;;
1)
	R=$T06_W/root
	fail1() { echo "not ok - t06-tour: cannot build the private root: $*" >&2; exit 1; }
	mkdir -p "$R" "$T06_W"/{etc-up,etc-work,srv,backup} || fail1 "mkdir in $T06_W"
	chmod 755 "$T06_W" "$T06_W/srv" "$T06_W/backup"
	mount -t tmpfs -o mode=755 t06-root "$R" || fail1 "tmpfs on $R"
	# /tmp first: its copy then holds no other bind of this root
	mkdir "$R/tmp" && mount --rbind /tmp "$R/tmp" || fail1 "bind of /tmp"
	# every top-level directory of the real root but those replaced (and
	# /mnt, /media: removable things a test has no business with)
	for e in /*; do
		n=${e#/}
		case $n in tmp | etc | srv | backup | mnt | media | lost+found) continue ;; esac
		if [ -L "$e" ]; then
			ln -s "$(readlink "$e")" "$R/$n"
		elif [ -d "$e" ]; then
			mkdir "$R/$n" && mount --rbind "$e" "$R/$n" || fail1 "bind of $e"
		fi
	done
	mkdir "$R/etc" "$R/srv" "$R/backup" &&
		mount -t overlay t06-etc -o "lowerdir=/etc,upperdir=$T06_W/etc-up,workdir=$T06_W/etc-work" "$R/etc" ||
		fail1 "overlay on /etc"
	mount --bind "$T06_W/srv" "$R/srv" && mount --bind "$T06_W/backup" "$R/backup" || fail1 "/srv, /backup"
	ip link set lo up
	T06_STAGE=2 exec chroot "$R" bash "$SELF"
	;;
esac

# ---- stage 2: the test ----
. "$HERE/lib.sh"
DISKS=$GUEST_DIR/disks
TOUR=$T/tour         # the tour's working directory
BIN=$T/bin           # corrald and corral on PATH, as after `make install`
mkdir -p "$TOUR" "$BIN" "$T/home"

# One substitution, for the one line that cannot run as written.
# A tour cannot know the id of a job in advance: the test starts a job that
# runs until cancelled (a graceful stop of a prelude guest that ignores the
# power button, "stubborn") before `corral job list`, which lists it, and
# `job cancel` names that job's id instead of 42.
declare -A SUBST=(
	["corral job cancel 42"]='corral job cancel $STUBBORN_JOB'
)

# Lines that ask: run on a pseudo-terminal, answered as typed (pty-run.py
# steps: --expect REGEX --send TEXT).
ALICE_PW=alice-tour-password
REPO_PW=tour-repo-passphrase
declare -A ASK=(
	["corral snapshot revert web1 before-upgrade"]='--expect \[y/N\] --send y'
	["corral vm template base && corral vm clone base web2 --linked --start"]='--expect \[y/N\] --send y'
	["corral repo create /backup/repo --encrypt"]="--expect [Pp]assphrase.*: --send $REPO_PW --expect again: --send $REPO_PW"
	["corral user add alice && corral token add alice ci --ttl 90d"]="--expect Password: --send $ALICE_PW --expect again: --send $ALICE_PW"
	["corral remote add host1 https://host1:8006 --user alice"]="--expect Trust.it --send y --expect Password.of --send $ALICE_PW"
	["corral host trust add https://host2:8006 --token-file host2.token"]='--expect Trust.it --send y'
)

# Lines that run until stopped: a function runs the line ($1) and checks what it printed.
declare -A FOREVER=(
	["corral vm console web1"]=run_console
	["corral events --follow"]=run_follow
)

# Preparation at a point of the tour (not tour lines): before / after a line.
declare -A BEFORE=(
	["corral vm stop web1"]=wait_web1_up
	["corral job list"]=start_stubborn_stop
	["corral vm migrate db1 --to host2 --quick"]=start_db1
)
declare -A AFTER=(
	["corrald &"]=prelude_after_corrald
)

# What a line did, checked after it (beyond its exit status).
declare -A CHECK=(
	["corral vm create deb1 --disk deb1-root --boot disk-kernel"]='corral vm boot-entries deb1 | grep -q "^\*> *0  Debian GNU/Linux$"'
	["corral snapshot revert web1 before-upgrade"]='[ "$(vm_state web1)" = running ]'
	["corral backup get web1/latest /etc/fstab ./fstab --partition 2"]='grep -q "^LABEL=root  */ " fstab'
	["corral vm stop web1"]='[ "$(vm_state web1)" = stopped ]'
	["corral job cancel 42"]=stubborn_cancelled
	["corral vm start 'tag:prod'"]='[ "$(vm_state web1)" = running ]'
	["corral --remote host1 vm list"]='"$CORRAL" --remote host1 vm list --json | jq -e "[.vms[].name] == [\"app1\"]"'
	["corral vm show web1 --json > web1.json"]=round_trip
	["corral vm migrate web1 --to host2 --with-local-disks"]='moved web1 running'
	["corral vm migrate db1 --to host2 --quick"]='moved db1 running'
	["corral vm migrate old1 --to host2 --offline"]='moved old1 stopped'
	["corral host evacuate --local"]='moved web1-old running && [ -z "$(corral vm list --state running --json | jq -r ".vms[].name")" ]'
)
# the cancelled stop ends cancelled, its `vm stop` says so, stubborn runs on
stubborn_cancelled() {
	wait "$STUBBORN_STOP_PID"
	grep -q "cancelled" "$T/stubborn-stop.out" &&
		[ "$(corral job show "$STUBBORN_JOB" --json | jq -r '.state // .job.state')" = cancelled ] &&
		[ "$(vm_state stubborn)" = running ]
}
# "the JSON round-trips": a copy made from it (its own disk: web1's are in
# use) has web1's hardware, with its own uuid and MACs
round_trip() {
	local a b f='{cpus, memory, nics: [.nics[].network], tags, vnc: (.vnc != null)}'
	corral disk create web3-root 1G >/dev/null && corral vm create web3 --from web1.json --disk web3-root >/dev/null || return 1
	a=$(jq -c "$f" web1.json) && b=$(corral vm show web3 --json | jq -c "$f") || return 1
	[ "$a" = "$b" ] || { say "web3 from web1.json: $b, web1: $a"; return 1; }
	[ "$(jq -r '.nics[0].mac' web1.json)" != "$(corral vm show web3 --json | jq -r '.nics[0].mac')" ] &&
		[ "$(jq -r .uuid web1.json)" != "$(corral vm show web3 --json | jq -r .uuid)" ] &&
		corral vm delete web3 --disks --yes >/dev/null
}
# moved VM STATE: VM is on host2 only, in STATE there
moved() {
	! corral vm show "$1" >/dev/null 2>&1 || { say "$1 is still on this host"; return 1; }
	[ "$(on host2 vm_state "$1")" = "$2" ] || { say "$1 is '$(on host2 vm_state "$1")' on host2, not $2"; return 1; }
}

# ---- prelude: what the tour names but does not make ----
PATH=$BIN:$PATH
ln -s "$CORRALD" "$BIN/corrald" && ln -s "$CORRAL" "$BIN/corral" &&
	{ [ ! -e "$(dirname "$CORRALD")/corral-imgd" ] || ln -s "$(dirname "$CORRALD")/corral-imgd" "$BIN/corral-imgd"; }
export CORRAL_SOCKET=$SOCK HOME=$T/home

# On exit: the networks' dnsmasq processes (corrald leaves networks up when it
# stops, as it leaves guests running), then lib.sh's cleanup.
DNSMASQ_PIDS=
dnsmasq_pids() {
	local sock
	for sock in "$SOCK" "$T/host2.sock"; do
		DNSMASQ_PIDS="$DNSMASQ_PIDS $("$CORRAL" --socket "$sock" net show lan --json 2>/dev/null | jq -r '.status.dnsmasq_pid // empty')"
	done
}
tour_cleanup() {
	dnsmasq_pids
	cleanup
	# after the corralds are gone: they start a network's dnsmasq again when it exits
	for pid in $DNSMASQ_PIDS; do kill "$pid" 2>/dev/null; done
}
trap tour_cleanup EXIT

prelude_fail() { say "t06-tour: prelude: $*"; FAILED=1; finish; exit 1; }

# /srv: an old VMware disk (a real Debian test disk converted to VMDK, GRUB in
# its MBR so it boots), an installer ISO (a real, small ISO 9660 image), an
# empty directory for a pool.
bash "$ROOT/guest/build-disk.sh" "$GUEST_DIR" "$DISKS" >"$T/build-disk.out" 2>&1 ||
	{ tail -n 20 "$T/build-disk.out" >&2; prelude_fail "guest/build-disk.sh failed"; }
[ -f "$DISKS/debian-grub-bios.img" ] || prelude_fail "no debian-grub-bios.img (grub-pc-bin missing?)"
mkdir -p /srv/old /srv/iso /srv/nvme "$T/iso-src" &&
	qemu-img convert -O vmdk "$DISKS/debian-grub-bios.img" /srv/old/web.vmdk &&
	echo "Debian GNU/Linux 12 (a test stand-in)" >"$T/iso-src/README.txt" &&
	xorriso -as mkisofs -quiet -V DEBIAN_12 -o /srv/iso/debian-12.iso "$T/iso-src" 2>"$T/xorriso.err" ||
	prelude_fail "cannot make /srv: $(cat "$T/xorriso.err" 2>/dev/null)"

# The tour's working directory: its backup policy.
printf '%s\n' 'select=tag:prod' 'exclude=*-test' 'keep_daily=7' 'schedule=daily 02:00' >"$TOUR/nightly.conf"

# corrald.conf for the tour's bare `corrald`: the state and socket in this
# test's directory, the host paths the tour names, the TLS listener.
mkdir -p /etc/corral && cat >/etc/corral/corrald.conf <<EOF || prelude_fail "cannot write corrald.conf"
state_dir = $STATE
socket = $SOCK
log_file = $T/corrald.log
listen = 0.0.0.0:8006
host_name = tour
allow_path = /srv
allow_path = $GUEST_DIR
allow_path = $T
EOF

# host1 and host2 (10.99.0.1, .2) and this host (10.99.0.3) on one bridge.
nhost_setup host1 host2 || prelude_fail "cannot make the network namespaces"
ip link add eth0 type veth peer name p3 netns "$(nhost_ns sw)" &&
	ip -n "$(nhost_ns sw)" link set p3 master br0 && ip -n "$(nhost_ns sw)" link set p3 up &&
	ip addr add 10.99.0.3/24 dev eth0 && ip link set eth0 up || prelude_fail "cannot join the bridge"
{ grep -v "host[12]" /etc/hosts; echo "10.99.0.1 host1"; echo "10.99.0.2 host2"; } >"$T/hosts" && cat "$T/hosts" >/etc/hosts
nhost_start host1 --allow-path /srv && nhost_start host2 --allow-path /srv || prelude_fail "cannot start host1 and host2"
# host1: alice may use it (the tour's `remote add host1 ... --user alice` logs in as her)
# and sees its VM app1
printf '%s\n' "$ALICE_PW" | on_host host1 user add alice >/dev/null &&
	on_host host1 acl add alice Operator / >/dev/null &&
	on host1 create_guest app1 >/dev/null || prelude_fail "cannot add alice and app1 on host1"
# host2: an administrator's token for `host trust add`, and the pool and
# network web1 and web1-old use (migration puts disks in the pool of the
# same name, NICs on the network of the same name).
cp "$(nhost_token host2)" "$TOUR/host2.token" &&
	mkdir -p "$T/host2-fast" && on_host host2 pool create fast "$T/host2-fast" >/dev/null &&
	on_host host2 net create lan --type nat --subnet 10.20.0.0/24 >/dev/null || prelude_fail "cannot prepare host2"

# After `corrald &`: wait until it answers (as a person would before typing
# the next line), then make the VMs and the volume the tour names.
prelude_after_corrald() {
	CORRALD_PID=$TOUR_BG_PID
	local i
	for i in $(seq 1 100); do
		corral host info >/dev/null 2>&1 && break
		kill -0 "$CORRALD_PID" 2>/dev/null || { say "corrald exited:"; tail -n 20 "$T/corrald.log" >&2; return 1; }
		sleep 0.1
	done
	corral disk import "$DISKS/debian-ext4.img" --name deb1-root --format raw >/dev/null &&
		corral disk create base-root 64M >/dev/null &&
		create_guest base --disk base-root >/dev/null &&
		create_guest old1 >/dev/null &&
		create_guest db1 >/dev/null &&
		create_guest stubborn --agent off --cmdline "$GUEST_CMDLINE corral.noacpi" >/dev/null
}

# Before `vm stop web1`: wait until web1's guest is up (its agent answers; the
# test guest starts acpid before it), as a person stops a guest that has
# booted: a power button pressed while the guest boots is lost.  (Under TCG,
# with other guests booting, web1 takes up to a minute or more.)
wait_web1_up() {
	local i
	for i in $(seq 1 300); do
		[ "$(corral vm show web1 --json | jq -r '.status.agent.state')" = connected ] && return 0
		sleep 0.5
	done
	say "web1's guest did not come up; its console:"
	corral vm log web1 | tail -n 20 >&2
	return 1
}

# Before `vm migrate db1 --quick`: db1 runs (started only now, so that its
# boot does not slow down web1's).
start_db1() { corral vm start db1 >/dev/null; }

# Before `job list`: a graceful stop of stubborn, which ignores the power
# button, runs until cancelled; its job id is what `job cancel` names.
start_stubborn_stop() {
	corral vm start stubborn >/dev/null || return 1
	corral vm stop stubborn >"$T/stubborn-stop.out" 2>&1 &
	STUBBORN_STOP_PID=$!
	local i
	for i in $(seq 1 50); do
		STUBBORN_JOB=$(corral job list --json | jq -r '[.jobs[] | select(.target == "stubborn" and .state == "running")][0].id // empty')
		[ -n "$STUBBORN_JOB" ] && return 0
		sleep 0.1
	done
	say "no running stop job of stubborn"
	return 1
}

# `vm console web1` on a terminal: the banner names the VM; Ctrl-] detaches.
run_console() {
	python3 "$HERE/pty-run.py" --timeout 20 --expect 'escape character' --send '\x1d' -- bash -c "$1" >console.out
	local rc=$?
	cat console.out
	[ $rc -eq 0 ] && grep -q "Connected to VM web1 " console.out
}

# `events --follow` for a few seconds, while stubborn is killed: the kill
# appears as it happens.
run_follow() {
	timeout 7 bash -c "$1" >follow.out 2>&1 &
	local pid=$!
	sleep 2
	corral vm kill stubborn >/dev/null
	wait $pid
	local rc=$?
	cat follow.out
	# the state change, and the API call that made it, with its text (which
	# the stream once sent without: a blank line)
	[ $rc -eq 124 ] && grep -q "stubborn  *state  *stopped: killed" follow.out &&
		grep -q " api  *root@unix: POST /v1/vms/stubborn/kill -> 202" follow.out
}

# ---- the tour ----
tour_lines() {
	awk '/^## A tour/ { t = 1; next } t && /^## / { exit } t && /^```sh/ { c = 1; next } c && /^```/ { exit } c' \
		"$ROOT/README.md" | grep -v '^[[:space:]]*\(#\|$\)'
}
# the command of a line: without its comment (a '#' after a blank)
strip_comment() { sed 's/[[:space:]]\+#[[:space:]].*$//; s/[[:space:]]\+#$//; s/[[:space:]]*$//'; }

mapfile -t LINES < <(tour_lines | strip_comment)
[ "${#LINES[@]}" -gt 20 ] || prelude_fail "found only ${#LINES[@]} lines under '## A tour' in README.md"
# Every line a table names must be in the tour: a table that names a line
# the tour no longer has would silently stop applying.
for table in SUBST ASK FOREVER BEFORE AFTER CHECK; do
	declare -n tab=$table
	for key in "${!tab[@]}"; do
		printf '%s\n' "${LINES[@]}" | grep -qxF -- "$key" || prelude_fail "$table names a line the tour does not have: $key"
	done
done

run_tour_line() {
	local line=$1 cmd=$1 hook
	cd "$TOUR" || return 1
	hook=${BEFORE[$line]:-}
	if [ -n "$hook" ]; then "$hook" || { say "(the test's preparation before this line failed)"; return 1; }; fi
	[ -n "${SUBST[$line]:-}" ] && cmd=$(eval "echo \"${SUBST[$line]}\"") && say "(run as: $cmd)"
	if [[ $cmd == *'&' ]]; then
		# what it prints goes where a terminal would show it: a file of its own
		eval "$cmd" >>"$T/background.out" 2>&1
		TOUR_BG_PID=$!
	elif [ -n "${FOREVER[$line]:-}" ]; then
		"${FOREVER[$line]}" "$cmd" || return 1
	elif [ -n "${ASK[$line]:-}" ]; then
		# shellcheck disable=SC2086 # the steps are words
		python3 "$HERE/pty-run.py" --timeout 300 ${ASK[$line]} -- bash -c "$cmd" || return 1
	else
		bash -c "$cmd" || return 1
	fi
	hook=${AFTER[$line]:-}
	if [ -n "$hook" ]; then "$hook" || { say "(the test's preparation after this line failed)"; return 1; }; fi
	hook=${CHECK[$line]:-}
	if [ -n "$hook" ]; then eval "$hook" || { say "(the line succeeded but did not do what it says: $hook)"; return 1; }; fi
	return 0
}

for line in "${LINES[@]}"; do
	test_expect "\$ $line" 'run_tour_line "$line"'
	# TOUR_SHOW=1: what every line printed (on failure test_expect shows it anyway)
	[ -z "${TOUR_SHOW:-}" ] || [ "$FAILED" -gt 0 ] || sed 's/^/#   /' "$T/test.out"
	[ "$FAILED" -eq 0 ] || break
	cd "$T" || exit 1
done

# The tour's corrald (and an ASan build's) ends cleanly: no sanitizer report.
if [ "$FAILED" -eq 0 ]; then
	test_expect "the tour's corrald stops cleanly" '
		dnsmasq_pids && stop_daemon && ! grep -B2 -A20 "Sanitizer\|runtime error" "$T/background.out"
	'
fi

finish
