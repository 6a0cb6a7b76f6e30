#!/usr/bin/env bash
# t49-ct-backup.sh - container backups (docs/backup.md, "Containers"): a real
# unprivileged busybox container with an 8 MiB random file, a symlink and a
# hardlink is backed up stopped, changed, backed up again (the incremental
# stores only the changed file's chunk), verified, restored under a new name
# (contents, links and raw ownership equal the source's, and it starts),
# and single files come out with `backup get`; a running container is
# backed up frozen and keeps running; hostile paths, unknown containers and
# restores over an existing name are refused with nothing changed.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib-backup.sh"
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
PORT=$((20000 + RANDOM % 20000))
start_daemon --listen "127.0.0.1:$PORT" || { FAILED=$((FAILED + 1)); exit 1; }
FP=$(corral host info --json | jq -r .tls_fingerprint)
rcorral() { local tok=$1; shift; CORRAL_TOKEN=$tok "$CORRAL" --url "https://127.0.0.1:$PORT" --fingerprint "$FP" "$@"; }
trap 'corral ct kill "name:*" >/dev/null 2>&1; cleanup' EXIT
LXCP=$STATE/lxc
UIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)
GIDBASE=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subgid)
REPO=$T/repo

nchunks() { find "$REPO/chunks" -type f | wc -l; }
nbytes() { du -sb "$REPO/chunks" | cut -f1; }
# inside CT: sha256 of the files, the symlink's target and the hardlinked inodes' equality
fingerprint() {
	corral ct exec "$1" -- sh -c 'cd /data && sha256sum big small sub/deep && readlink link && [ "$(stat -c %i big)" = "$(stat -c %i hard)" ] && echo HARD-OK'
}
owners() { (cd "$1" && stat -c '%n %u:%g %a' . bin/busybox etc/passwd data data/big data/hard data/link data/sub); }

test_expect "a busybox container with data; the repository" '
	corral repo create "$REPO" >/dev/null &&
	corral ct create cb1 --template busybox >/dev/null && corral ct start cb1 >/dev/null &&
	corral ct exec cb1 -- sh -c "mkdir -p /data/sub && dd if=/dev/urandom of=/data/big bs=1M count=8 2>/dev/null && echo one >/data/small && echo deep >/data/sub/deep && ln -s big /data/link && ln /data/big /data/hard && chmod 0640 /data/small && mkfifo /data/fifo && sync" &&
	fingerprint cb1 >"$T/fp-src1" && grep -q HARD-OK "$T/fp-src1" &&
	corral ct stop cb1 >/dev/null &&
	setcap cap_net_raw+ep "$STATE/storage/cb1-root/rootfs/data/big" && getcap "$STATE/storage/cb1-root/rootfs/data/big" | grep -q cap_net_raw
'

test_expect "back up the stopped container; list, show and files see it" '
	start=$SECONDS &&
	corral backup run cb1 --repo "$REPO" >out && C1=$(nchunks) && B1=$(nbytes) &&
	echo "$C1 $B1" >"$T/first" && echo "first backup: $C1 chunks, $B1 bytes in $((SECONDS - start)) s" >>"$T/stats" &&
	[ "$C1" -ge 8 ] &&
	corral backup list cb1 --repo "$REPO" --json | jq -e ".backups | length == 1 and .[0].kind == \"container\"" >/dev/null &&
	corral backup show cb1/latest --repo "$REPO" --json | jq -e ".consistency == \"stopped\" and .definition.name == \"cb1\"" >/dev/null &&
	corral backup files cb1/latest /data --repo "$REPO" --json >out &&
	jq -e "[.entries[].name] | sort == [\"big\",\"fifo\",\"hard\",\"link\",\"small\",\"sub\"]" out >/dev/null &&
	jq -e ".entries[] | select(.name == \"link\") | .type == \"symlink\" and .target == \"big\"" out >/dev/null &&
	jq -e ".entries[] | select(.name == \"hard\") | .type == \"hardlink\" and .target == \"data/big\" and .size == 8388608" out >/dev/null &&
	corral backup files cb1/latest /data --repo "$REPO" -l >out && grep -q "^lrwxrwxrwx .* link -> big$" out &&
	grep -q " hard => /data/big$" out && grep -q "^prw-r--r-- .* fifo$" out &&
	corral backup list --repo "$REPO" | grep -q "^cb1/.* container " &&
	corral backup show cb1/latest --repo "$REPO" | grep -q "^consistency: *stopped"
'

test_expect "incremental after a small change stores far less" '
	corral ct start cb1 >/dev/null && corral ct exec cb1 -- sh -c "echo two >/data/small && sync" &&
	corral ct stop cb1 >/dev/null &&
	read -r C1 B1 <"$T/first" &&
	corral backup run cb1 --repo "$REPO" --json >out && C2=$(nchunks) && B2=$(nbytes) &&
	echo "incremental: $((C2 - C1)) new chunks, $((B2 - B1)) new bytes" >>"$T/stats" &&
	[ $((C2 - C1)) -le 2 ] && [ $((B2 - B1)) -lt $((B1 / 20)) ] &&
	jq -e ".result.chunks_new <= 2" out >/dev/null &&
	[ "$(nbackups cb1 "$REPO")" = 2 ]
'

test_expect "verify checks every chunk of both backups" '
	corral backup verify --all --repo "$REPO" --json >out && jq -e ".state == \"succeeded\"" out >/dev/null
'

test_expect "an encrypted repository: no plaintext names or contents in it; get and restore read it" '
	printf "ct secret phrase\n" >"$T/pass" &&
	corral repo create "$T/erepo" --encrypt --passphrase-file "$T/pass" >/dev/null &&
	corral backup run cb1 --repo "$T/erepo" >/dev/null &&
	! grep -rqa "udhcpc" "$T/erepo" && ! grep -rqa "data/small" "$T/erepo" &&
	corral backup get cb1/latest /data/small - --repo "$T/erepo" | grep -qx two &&
	corral backup verify --all --repo "$T/erepo" >/dev/null
'

test_expect "backup get: the changed file and the big one match" '
	corral backup get cb1/latest /data/small - --repo "$REPO" >got && [ "$(cat got)" = two ] &&
	first=$(corral backup list cb1 --repo "$REPO" --json | jq -r ".backups[0].id") &&
	corral backup get "$first" /data/small - --repo "$REPO" >got && [ "$(cat got)" = one ] &&
	corral backup get cb1/latest /data/hard "$T/big.out" --repo "$REPO" >/dev/null &&
	[ "$(sha256sum <"$T/big.out" | cut -c1-64)" = "$(sha256sum <"$STATE/storage/cb1-root/rootfs/data/big" | cut -c1-64)" ]
'

test_expect "hostile paths and unknown names are refused" '
	fails corral backup get cb1/latest ../../etc/shadow - --repo "$REPO" 2>err && grep -q "must start with" err &&
	fails corral backup get cb1/latest /data/../../etc/shadow - --repo "$REPO" 2>err && grep -q "\.\." err &&
	fails corral backup get cb1/latest /data/link - --repo "$REPO" 2>err && grep -q "not a regular file" err &&
	fails corral backup get cb1/latest /nosuch - --repo "$REPO" 2>err && grep -q "not in backup" err &&
	fails corral backup run nosuchct --repo "$REPO" 2>err && grep -q "no vm or container named .nosuchct." err &&
	[ "$(nbackups cb1 "$REPO")" = 2 ]
'

test_expect "a hostile manifest in the repository is refused by restore, files and get; nothing is made" '
	m=$(ls "$REPO"/backups/cb1/*.json | head -n1) &&
	jq ".files += [{\"path\":\"../../evil\",\"type\":\"fifo\",\"mode\":420,\"uid\":0,\"gid\":0,\"mtime\":1}]" "$m" >"$REPO/backups/cb1/20300101T000000Z.json" &&
	jq ".files += [{\"path\":\"lnk\",\"type\":\"symlink\",\"mode\":511,\"uid\":0,\"gid\":0,\"mtime\":1,\"target\":\"$T\"},{\"path\":\"lnk/pwned\",\"type\":\"fifo\",\"mode\":420,\"uid\":0,\"gid\":0,\"mtime\":1}]" "$m" >"$REPO/backups/cb1/20300101T000001Z.json" &&
	before=$(ls -A "$LXCP" | sort | tr "\n" " ") &&
	fails corral backup restore cb1/20300101T000000Z --name evil --repo "$REPO" 2>err && grep -q "file tree is invalid.*\.\." err &&
	fails corral backup restore cb1/20300101T000001Z --name evil --repo "$REPO" 2>err && grep -q "not an earlier directory" err &&
	fails corral backup files cb1/20300101T000001Z / --repo "$REPO" 2>err && grep -q "invalid" err &&
	fails corral backup get cb1/20300101T000000Z /data/small - --repo "$REPO" 2>err && grep -q "invalid" err &&
	[ "$(ls -A "$LXCP" | sort | tr "\n" " ")" = "$before" ] && [ ! -e "$T/pwned" ] && [ ! -e "$STATE/evil" ] &&
	rm "$REPO"/backups/cb1/2030*.json
'

test_expect "restore under a new name: same contents, links and raw ownership; it starts" '
	before=$(ls -A "$LXCP" | sort | tr "\n" " ") &&
	fails corral backup restore cb1/latest --name cb1 --repo "$REPO" 2>err && grep -q "already exists" err &&
	fails corral backup restore cb1/latest --repo "$REPO" --yes 2>err && grep -q "already exists" err &&
	fails corral backup restore cb1/latest --name "../x" --repo "$REPO" 2>err &&
	[ "$(ls -A "$LXCP" | sort | tr "\n" " ")" = "$before" ] &&
	corral backup restore cb1/latest --name cb2 --repo "$REPO" >out &&
	[ "$(corral ct show cb2 --json | jq -r .state)" = stopped ] &&
	[ "$(corral ct show cb2 --json | jq -r .uuid)" != "$(corral ct show cb1 --json | jq -r .uuid)" ] &&
	owners "$STATE/storage/cb1-root/rootfs" >"$T/own1" && owners "$LXCP/cb2/rootfs" >"$T/own2" && diff "$T/own1" "$T/own2" &&
	[ -p "$LXCP/cb2/rootfs/data/fifo" ] &&
	[ "$(getcap "$LXCP/cb2/rootfs/data/big" | cut -d" " -f2-)" = "$(getcap "$STATE/storage/cb1-root/rootfs/data/big" | cut -d" " -f2-)" ] &&
	corral ct start cb1 >/dev/null && corral ct start cb2 >/dev/null &&
	[ "$(corral ct exec cb2 -- hostname)" = cb2 ] &&
	fingerprint cb1 >"$T/fp1" && fingerprint cb2 >"$T/fp2" && diff "$T/fp1" "$T/fp2" && grep -q HARD-OK "$T/fp2"
'

test_expect "a backup from another id range is restored with owners moved into the range of this host" '
	m=$(ls "$REPO"/backups/cb1/*.json | tail -n1) &&
	jq ".container.idmap.uid_base -= 1000 | .container.idmap.gid_base -= 1000" "$m" >"$REPO/backups/cb1/20300101T000002Z.json" &&
	corral backup restore cb1/20300101T000002Z --name cb4 --repo "$REPO" >/dev/null &&
	[ "$(stat -c %u:%g "$LXCP/cb4/rootfs/bin/busybox")" = "$((UIDBASE + 1000)):$((GIDBASE + 1000))" ] &&
	[ "$(stat -c %u:%g "$LXCP/cb4/rootfs/data/small")" = "$((UIDBASE + 1000)):$((GIDBASE + 1000))" ] &&
	corral ct delete --yes cb4 >/dev/null && rm "$REPO/backups/cb1/20300101T000002Z.json"
'

test_expect "a running container is backed up frozen and keeps running" '
	pid=$(corral ct show cb2 --json | jq -r .status.pid) &&
	corral backup run cb2 --repo "$REPO" --json >out &&
	jq -e ".state == \"succeeded\" and .result.consistency == \"frozen\" and .result.frozen_ms >= 0" out >/dev/null &&
	echo "running container frozen for $(jq .result.frozen_ms out) ms" >>"$T/stats" &&
	[ "$(corral ct show cb2 --json | jq -r .state)" = running ] &&
	[ "$(corral ct show cb2 --json | jq -r .status.pid)" = "$pid" ] &&
	[ "$(corral ct exec cb2 -- cat /data/small)" = two ] &&
	corral backup show cb2/latest --repo "$REPO" --json | jq -e ".consistency == \"frozen\"" >/dev/null
'

test_expect "a cancelled backup of a running container leaves no backup and thaws it; so do a SIGTERM and a kill -9 of corrald" '
	corral ct exec cb2 -- sh -c "dd if=/dev/urandom of=/data/huge bs=1M count=160 2>/dev/null && sync" &&
	n=$(nbackups cb2 "$REPO") &&
	jid=$(corral backup run cb2 --repo "$REPO" --detach --json | jq -r .id) && midway "$jid" &&
	[ "$(corral ct show cb2 --json | jq -r .state)" = frozen ] &&
	corral job cancel "$jid" >/dev/null && wait_job_end "$jid" 30 && [ "$(job_state "$jid")" = cancelled ] &&
	[ "$(nbackups cb2 "$REPO")" = "$n" ] && [ -z "$(ls -A "$REPO/tmp")" ] &&
	[ "$(corral ct show cb2 --json | jq -r .state)" = running ] && corral ct exec cb2 -- true &&
	jid=$(corral backup run cb2 --repo "$REPO" --detach --json | jq -r .id) && midway "$jid" &&
	kill9_daemon &&
	start_daemon --listen "127.0.0.1:$PORT" &&
	[ "$(job_state "$jid")" != running ] && [ "$(nbackups cb2 "$REPO")" = "$n" ] &&
	[ "$(corral ct show cb2 --json | jq -r .state)" = running ] && corral ct exec cb2 --timeout 10 -- true &&
	grep -q "container cb2: thawed" "$T/corrald.log" &&
	jid=$(corral backup run cb2 --repo "$REPO" --detach --json | jq -r .id) && midway "$jid" &&
	stop_daemon && lxc-info -P "$LXCP" -n cb2 -s | grep -q RUNNING &&
	start_daemon --listen "127.0.0.1:$PORT" && [ "$(job_state "$jid")" = cancelled ] &&
	[ "$(nbackups cb2 "$REPO")" = "$n" ] && [ "$(grep -c "container cb2: thawed" "$T/corrald.log")" = 1 ]
'

# cancelled_restore ID: a restore of ID as cb3, cancelled midway; it must
# end "cancelled".  A restore of 170 MB takes half a second: when it ends
# before the cancel reaches it (a loaded machine), the restored cb3 goes and
# it is tried again, up to three times.
cancelled_restore() {
	local jid i
	for i in 1 2 3; do
		jid=$(corral backup restore "$1" --name cb3 --repo "$REPO" --detach --json | jq -r .id) || return 1
		midway "$jid" && corral job cancel "$jid" >/dev/null 2>&1 && wait_job_end "$jid" 30 &&
			[ "$(job_state "$jid")" = cancelled ] && return 0
		wait_job_end "$jid" 30 && [ "$(job_state "$jid")" = succeeded ] || return 1
		say "restore $i ended before its cancel; again"
		corral ct delete --yes cb3 >/dev/null || return 1
	done
	return 1
}

test_expect "a cancelled restore leaves no container and no files" '
	corral backup run cb2 --repo "$REPO" >/dev/null && big=$(last_id cb2 "$REPO") &&
	cancelled_restore "$big" &&
	fails corral ct show cb3 2>/dev/null && [ ! -e "$LXCP/cb3" ] && [ ! -e "$LXCP/.restore-cb3" ] &&
	corral backup forget "$big" --repo "$REPO" --yes >/dev/null && corral ct exec cb2 -- rm /data/huge
'

test_expect "an Operator of one container backs it up and reads its backups, not those of another container" '
	printf "%s\n" ct-op-password | corral user add ctop >/dev/null && corral token add ctop t >tok && TOK=$(tail -n1 tok) &&
	corral acl add ctop Operator /containers/cb1 >/dev/null && corral acl add ctop!t Operator /containers/cb1 >/dev/null &&
	rcorral "$TOK" backup run cb1 --repo "$REPO" >/dev/null &&
	fails rcorral "$TOK" backup run cb2 --repo "$REPO" 2>err && grep -q "forbidden" err &&
	rcorral "$TOK" backup show cb1/latest --repo "$REPO" --json | jq -e ".vm == \"cb1\"" >/dev/null &&
	rcorral "$TOK" backup list --repo "$REPO" --json | jq -e "[.backups[].vm] | unique == [\"cb1\"]" >/dev/null &&
	corral backup list --repo "$REPO" --json | jq -e "[.backups[].vm] | unique == [\"cb1\",\"cb2\"]" >/dev/null &&
	rcorral "$TOK" backup get cb1/latest /data/small - --repo "$REPO" | grep -qx two &&
	fails rcorral "$TOK" backup show cb2/latest --repo "$REPO" 2>err && grep -q "forbidden" err &&
	fails rcorral "$TOK" backup get cb2/latest /data/small - --repo "$REPO" 2>err
'

test_expect "a policy selects containers by name and prunes them per container" '
	printf "name=ctn\nrepo=%s\nselect=cb1:1\n" "$REPO" >"$T/pol" && corral policy set "$T/pol" >/dev/null &&
	corral backup run ctn --preview >out && grep -q "back up cb1 (container, file-level)" out && grep -q "skip cb2" out &&
	grep -q "^    PRUNE  *cb1/" out &&
	corral backup run ctn --json >out && jq -e ".result.vms[0].kind == \"container\" and (.result.pruned | length) == 3" out >/dev/null &&
	[ "$(nbackups cb1 "$REPO")" = 1 ] && [ "$(nbackups cb2 "$REPO")" = 1 ] &&
	corral backup get cb1/latest /data/small - --repo "$REPO" | grep -qx two
'

test_expect "forget, and a damaged chunk is found by verify" '
	corral backup forget cb2/latest --repo "$REPO" --yes >/dev/null &&
	[ "$(nbackups cb2 "$REPO")" = 0 ] &&
	id=$(jq -r ".files[] | select(.path == \"data/small\") | .chunks[0]" "$REPO"/backups/cb1/*.json) &&
	f="$REPO/chunks/${id:0:2}/$id" && [ -f "$f" ] && printf "XXXX" | dd of="$f" bs=1 seek=17 conv=notrunc 2>/dev/null &&
	fails corral backup verify --all --repo "$REPO" >out 2>&1 && grep -q "cb1/" out &&
	fails corral backup get cb1/latest /data/small - --repo "$REPO" >/dev/null 2>&1
'
sed 's/^/# /' "$T/stats" 2>/dev/null
finish
