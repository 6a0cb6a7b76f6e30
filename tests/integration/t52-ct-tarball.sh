#!/usr/bin/env bash
# t52-ct-tarball.sh - containers from root filesystem tarballs (`ct create
# --from-tarball`, docs/containers.md "Roots from tarballs"): a tarball of
# the busybox template's root (gzip and zstd) becomes an unprivileged
# container whose owners are shifted into its id range, which starts, sees
# its hostname through `ct exec` and stops gracefully (busybox init's halt
# signal found in the tarball); hostile tarballs (absolute names, `..`, a
# symlink written through, a hard link out of the root, a device node
# outside dev/, an owner beyond the id range, not a tar) and tarballs
# outside the allowed paths are refused with nothing left; one that unpacks
# past its pool's room fails the job with nothing left; a second create of a
# name being unpacked names the job making it; a cancel and a
# kill -9 of corrald mid-unpack leave no half root.  The debian template's
# cached base expires, and an old base serves when it cannot be rebuilt.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
setup_daemon
OUT=$(mktemp -d /tmp/corral-t52-outside.XXXXXX)
tb_cleanup() {
	if [ -n "$CORRALD_PID" ]; then
		corral ct kill "name:*" >/dev/null 2>&1
		corral ct delete --yes bb t1 t2 >/dev/null 2>&1
	fi
	mountpoint -q "$T/tiny" && { umount "$T/tiny" || umount -l "$T/tiny"; }
	rm -rf "$OUT"
	return 0
}
trap 'tb_cleanup; cleanup' EXIT
LXCP=$STATE/lxc
UIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)
vol() { corral disk list --json | jq -c ".volumes[] | select(.name == \"$1\")"; }
mkdir -p "$T/p1" "$T/tiny"
echo untouched >"$OUT/victim"

# nothing_of NAME: no container, no liblxc directory, no root volume, no files in pool p1 but the tarballs
nothing_of() {
	fails corral ct show "$1" >/dev/null 2>&1 && [ ! -e "$LXCP/$1" ] && [ -z "$(vol "$1-root")" ] &&
		[ ! -e "$T/p1/$1-root" ] && [ "$(cat "$OUT/victim")" = untouched ] && [ ! -e "$OUT/owned" ]
}
# hostile NAME WANT PYTHON: a tarball p1/NAME.tar written by PYTHON (tarfile t, TarInfo ti, data
# helper add(info, bytes)) is refused with WANT in the error, leaving nothing
hostile() {
	python3 - "$T/p1/$1.tar" "$OUT" <<EOF || return 1
import io, sys, tarfile
out = sys.argv[2]
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(ti, data=b""):
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    def ent(name, kind=tarfile.REGTYPE, link="", uid=0):
        ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = link; ti.uid = ti.gid = uid; ti.mode = 0o755
        return ti
    add(ent("sbin", tarfile.DIRTYPE))
$3
EOF
	fails corral ct create "$1" --from-tarball "$T/p1/$1.tar" --pool p1 2>err || return 1
	grep -q "$2" err || { say "error: $(cat err)"; return 1; }
	nothing_of "$1"
}

test_expect "a tarball of the busybox root becomes an unprivileged container that starts, knows its name and stops" '
	corral pool create p1 "$T/p1" >/dev/null &&
	corral ct create bb --template busybox --privileged --pool p1 >/dev/null &&
	echo hi >"$T/p1/bb-root/rootfs/root/f" && chown 1000:1001 "$T/p1/bb-root/rootfs/root/f" &&
	tar --numeric-owner -C "$T/p1/bb-root/rootfs" -czf "$T/p1/bb.tar.gz" . &&
	tar --numeric-owner -C "$T/p1/bb-root/rootfs" --zstd -cf "$T/p1/bb.tar.zst" . &&
	corral ct create t1 --from-tarball "$T/p1/bb.tar.gz" --pool p1 >out && grep -q "created container t1 (unprivileged)" out &&
	[ "$(stat -c %u "$T/p1/t1-root/rootfs/bin/busybox")" = "$UIDBASE" ] &&
	[ "$(stat -c %u:%g "$T/p1/t1-root/rootfs/root/f")" = "$((UIDBASE + 1000)):$((UIDBASE + 1001))" ] &&
	[ "$(stat -c %u "$T/p1/t1-root/rootfs")" = "$UIDBASE" ] &&
	corral ct show t1 | grep -Eq "^root: +tarball $T/p1/bb.tar.gz" &&
	corral ct show t1 --json | jq -e ".tarball == \"$T/p1/bb.tar.gz\" and .halt_signal == \"SIGUSR1\" and .volume == \"t1-root\"" >/dev/null &&
	corral job list --json | jq -e "[.jobs[] | select(.type == \"ct-create\" and .target == \"t1\" and .state == \"succeeded\")] | length == 1" >/dev/null &&
	corral ct start t1 >/dev/null && [ "$(corral ct exec t1 -- hostname)" = t1 ] &&
	[ "$(corral ct exec t1 -- stat -c %u:%g /root/f)" = "1000:1001" ] &&
	start=$SECONDS && corral ct stop t1 --timeout 30 >/dev/null && [ $((SECONDS - start)) -lt 15 ] &&
	corral ct create t2 --from-tarball "$T/p1/bb.tar.zst" --pool p1 --privileged >/dev/null &&
	[ "$(stat -c %u:%g "$T/p1/t2-root/rootfs/root/f")" = "1000:1001" ] &&
	corral ct delete --yes t2 >/dev/null && [ ! -e "$T/p1/t2-root" ]
'

test_expect "hostile tarballs are refused, naming the entry, and nothing is left" '
	hostile h1 "has an absolute name" "    add(ent(out + \"/owned\"), b\"x\")" &&
	hostile h2 "has a .\.\.. component" "    add(ent(\"../owned\"), b\"x\")" &&
	hostile h3 "has a .\.\.. component" "    add(ent(\"sbin/../../owned\"), b\"x\")" &&
	hostile h4 "cannot be unpacked" "    add(ent(\"evil\", tarfile.SYMTYPE, out)); add(ent(\"evil/owned\"), b\"x\")" &&
	hostile h5 "not a regular file" "    add(ent(\"s\", tarfile.SYMTYPE, out + \"/victim\")); add(ent(\"h\", tarfile.LNKTYPE, \"s\"))" &&
	hostile h6 "hard link .h. names .*, a .\.\.. component" "    add(ent(\"h\", tarfile.LNKTYPE, \"../../../victim\"))" &&
	hostile h7 "device node outside dev/" "    ti = ent(\"kmem\", tarfile.CHRTYPE); ti.devmajor = 1; ti.devminor = 2; add(ti)" &&
	hostile h8 "beyond the 65536 ids" "    add(ent(\"sbin/init\", uid=70000), b\"x\")" &&
	hostile h9 "no /sbin/init" "    add(ent(\"etc\", tarfile.DIRTYPE))" &&
	echo "just text" >"$T/p1/h10.tar" &&
	fails corral ct create h10 --from-tarball "$T/p1/h10.tar" --pool p1 2>err && grep -q "cannot read the archive" err && nothing_of h10 &&
	cp "$T/p1/bb.tar.gz" "$OUT/bb.tar.gz" &&
	fails corral ct create h11 --from-tarball "$OUT/bb.tar.gz" --pool p1 2>err &&
	grep -q "not inside a storage pool or an allow_path" err && nothing_of h11 &&
	fails corral ct create h12 --from-tarball "$T/p1/nosuch.tar" --pool p1 2>err && nothing_of h12 &&
	api POST /v1/containers "{\"name\":\"h13\",\"tarball\":\"$T/p1/bb.tar.gz\",\"template\":\"busybox\"}" | grep -q "HTTP 400" &&
	nothing_of h13
'

test_expect "a tarball that unpacks past its pool's room fails the job; nothing is left" '
	mount -t tmpfs -o size=8m tmpfs "$T/tiny" && corral pool create tiny "$T/tiny" >/dev/null &&
	mkdir -p "$T/big/sbin" && head -c 20m /dev/zero >"$T/big/sbin/init" && tar -C "$T/big" -czf "$T/p1/big.tar.gz" . &&
	fails corral ct create b1 --from-tarball "$T/p1/big.tar.gz" --pool tiny 2>err &&
	grep -q "unpacks to more than" err && fails corral ct show b1 2>/dev/null && [ -z "$(ls -A "$T/tiny")" ] &&
	[ ! -e "$LXCP/b1" ] && [ -z "$(vol b1-root)" ]
'

# a tarball that takes a few seconds to unpack: 4000 files of 64 KiB of random bytes
mkdir -p "$T/slow/sbin" && ln -s /bin/busybox "$T/slow/sbin/init" &&
	python3 -c 'import os, sys
for i in range(4000):
    open("%s/f%d" % (sys.argv[1], i), "wb").write(os.urandom(65536))' "$T/slow" &&
	tar -C "$T/slow" -cf "$T/p1/slow.tar" . && rm -rf "$T/slow"
# unpacking JOB NAME: wait until job JOB unpacks into NAME's root
unpacking() {
	for _ in $(seq 1 500); do
		compgen -G "$T/p1/$2-root/rootfs/f*" >/dev/null && return 0
		sleep 0.01
	done
	say "job $1 never unpacked: $(corral job show "$1" --json)"
	return 1
}

test_expect "a second create of the name mid-unpack names the job making it; a cancel ends the job cancelled with nothing left" '
	job=$(api POST /v1/containers "{\"name\":\"c1\",\"tarball\":\"$T/p1/slow.tar\",\"pool\":\"p1\"}" | sed "\$d" | jq -r .job.id) &&
	[ "$job" -gt 0 ] && unpacking "$job" c1 &&
	fails corral ct create c1 --from-tarball "$T/p1/bb.tar.gz" --pool p1 2>err &&
	grep -q "a container named .c1. is being made by job $job" err &&
	corral job cancel "$job" >/dev/null &&
	for _ in $(seq 1 100); do st=$(corral job show "$job" --json | jq -r .state); [ "$st" != running ] && break; sleep 0.1; done &&
	[ "$st" = cancelled ] && nothing_of c1
'

test_expect "kill -9 of corrald mid-unpack: the next corrald removes the half root" '
	job=$(api POST /v1/containers "{\"name\":\"k1\",\"tarball\":\"$T/p1/slow.tar\",\"pool\":\"p1\"}" | sed "\$d" | jq -r .job.id) &&
	[ "$job" -gt 0 ] && unpacking "$job" k1 && kill9_daemon && start_daemon &&
	corral job show "$job" --json | jq -e ".state == \"failed\"" >/dev/null &&
	corral job show "$job" --json | jq -r .error | grep -q "corrald stopped during the create" &&
	nothing_of k1 && corral ct create k1 --from-tarball "$T/p1/bb.tar.gz" --pool p1 >/dev/null &&
	corral ct delete --yes k1 >/dev/null
'

# The debian template's cached base expires (ct_base_days, docs/containers.md):
# a base older than that is built again; with debootstrap failing (a stand-in
# on PATH, as when no mirror answers) the old base serves and the log says so.
# A base younger than that is used as it is (debootstrap not run).
test_expect "a debian base older than ct_base_days is built again; when that fails the old one serves" '
	mkdir -p "$T/fakebin" "$STATE/cache" &&
	printf "#!/bin/sh\necho called >>\"%s\"\necho \"E: Failed getting release file\" >&2\nexit 1\n" "$T/debootstrap.calls" >"$T/fakebin/debootstrap" &&
	chmod +x "$T/fakebin/debootstrap" &&
	base="$STATE/cache/ct-debian-bookworm-$(dpkg --print-architecture).tar.zst" &&
	cp "$T/p1/bb.tar.zst" "$base" && touch -d "40 days ago" "$base" &&
	stop_daemon && PATH="$T/fakebin:$PATH" start_daemon &&
	corral ct create d1 --template debian --pool p1 >/dev/null &&
	[ "$(wc -l <"$T/debootstrap.calls")" = 1 ] &&
	grep -q "debian template: the bookworm base .* is older than 30 days: building it again" "$T/corrald.log" &&
	grep -q "could not be built again (debootstrap bookworm from .* failed (exit 1).*): the old one serves" "$T/corrald.log" &&
	[ -x "$T/p1/d1-root/rootfs/bin/busybox" ] && [ -f "$base" ] &&
	touch "$base" && corral ct create d2 --template debian --pool p1 >/dev/null &&
	[ "$(wc -l <"$T/debootstrap.calls")" = 1 ] &&
	corral ct delete --yes d1 d2 >/dev/null &&
	stop_daemon && start_daemon
'

finish
