# cluster-lib.sh - sourced (after lib.sh) by the scripts of pools on
# Corosync (t74, t76, t81-t83): three corrald hosts h1 h2 h3 in network namespaces,
# each in a mount namespace of its own (corosync locks /run/corosync.pid),
# and the helpers both use.  Not a test by itself (run.sh runs t*.sh).
command -v corosync >/dev/null || { echo "corosync is not installed (scripts/install-deps.sh)"; FAILED=1; finish; exit 1; }
NH_PRIVATE_RUN=1
# corosync outlives corrald by design: at the end, once the corralds are gone
# (their supervisors would restart it), end the corosyncs this
# script's hosts ran (found by their configuration path, in this run's $T)
coro_cleanup() {
	local p
	for p in $(pgrep -f "^corosync -f -c $T/h[0-9]/cluster/corosync.conf\$"); do kill "$p" 2>/dev/null; done
	# and their HA guards (corral-guard outlives corrald too)
	for p in $(pgrep -f "corral-guard --socket $T/h[0-9]/cluster/guard.sock( |$)"); do kill "$p" 2>/dev/null; done
	for _ in $(seq 1 50); do pgrep -f "^corosync -f -c $T/" >/dev/null || break; sleep 0.1; done
}
trap 'cleanup; coro_cleanup' EXIT
nhost_setup h1 h2 h3 || { echo "cannot set up the three hosts"; FAILED=1; exit 1; }
# CL_ARGS_hN: more corrald flags for host hN (word-split)
# shellcheck disable=SC2086
nhost_start h1 ${CL_ARGS_h1:-} && nhost_start h2 ${CL_ARGS_h2:-} && nhost_start h3 ${CL_ARGS_h3:-} || { FAILED=1; exit 1; }

st() { on_host "$1" cluster status --json; }
# online H: the names of the nodes H sees online, sorted, comma-joined
online() { st "$1" | jq -r '[.nodes[] | select(.online) | .name] | sort | join(",")'; }
quorate() { st "$1" | jq -r '.quorate'; }
# wait_for SECONDS 'condition': poll every 0.1 s
wait_for() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -le $end ]; do eval "$2" && return 0; sleep 0.1; done
	say "timed out waiting for: $2"; return 1
}
now_ms() { date +%s%3N; }

# HA (t82, t83).  qemus UUID: the live QEMU processes of that VM on the whole
# machine (every "host" is a process tree here), by their command line
# (-uuid), comm qemu* (so no pgrep or shell naming the uuid counts), no zombies
qemus() {
	local p c
	for p in $(pgrep -f -- "-uuid $1"); do
		c=$(cat "/proc/$p/comm" 2>/dev/null) && [ "${c#qemu}" != "$c" ] &&
			[ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)" != Z ] && echo "$p"
	done
	return 0
}
# qemu_new UUID OLD: the VM's QEMU runs and is not OLD (one look, no race between two)
qemu_new() { local q; q=$(qemus "$1"); [ -n "$q" ] && [ "$q" != "$2" ]; }
# ha_checker_start: every 100 ms, for each uuid in $T/uuids, at most one live
# QEMU on the machine (hacheck.py: one /proc scan a pass); a violation is a
# line in $T/violations, each pass a line in $T/ticks
ha_checker_start() {
	touch "$T/checking"
	python3 "$TESTS/hacheck.py" "$T" &
	echo $! >"$T/checker.pid"
}
# ha_checker_stop: end it; prints "invariant checks: N, violations: M", fails on any violation
ha_checker_stop() {
	rm -f "$T/checking"
	[ -f "$T/checker.pid" ] && wait "$(cat "$T/checker.pid")" 2>/dev/null
	echo "invariant checks: $(cat "$T/ticks" 2>/dev/null | wc -l), violations: $(cat "$T/violations" 2>/dev/null | wc -l)"
	[ ! -s "$T/violations" ] || { cat "$T/violations"; return 1; }
}
# ha_trust_all H...: every host trusts every other (the manager asks survivors for their memory and pools)
ha_trust_all() {
	local a b
	for a in "$@"; do for b in "$@"; do
		[ "$a" = "$b" ] || on_host "$a" host trust list 2>/dev/null | grep -qw "$b" || nhost_trust "$a" "$b" >/dev/null 2>&1
	done; done
	for a in "$@"; do for b in "$@"; do
		[ "$a" = "$b" ] || on_host "$a" host trust list | grep -qw "$b" || { say "$a does not trust $b"; return 1; }
	done; done
}
# ha_pool3: h1 h2 h3 trust each other, form the pool "lab" (token 1000), and
# each has the shared pool "shared" on $T/shared (t82, t83, t85)
ha_pool3() {
	mkdir -p "$T/shared" &&
	ha_trust_all h1 h2 h3 &&
	on_host h1 cluster create lab --token 1000 >/dev/null &&
	on_host h2 cluster join h1 >/dev/null && on_host h3 cluster join h1 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
		on_host $h pool create shared "$T/shared" --shared >/dev/null || return 1
	done
}
