#!/bin/bash
# record-replswitch.sh - record the QMP transcripts test_replswitch replays
# (tests/data/qmp/replswitch-{src,dst}.replies): a source QEMU whose disk is
# replicated onto a qemu-storage-daemon's writethrough NBD export (TLS-PSK),
# a destination QEMU with -incoming opening the image that daemon serves,
# one record-proxy.py per QMP socket, then test_replswitch --record, which
# runs the switchover's steps and stops the daemon where the release step
# does.  No guest is booted (-S): the steps are QEMU's block layer and
# migration.  Run it again whenever those steps or their order change.
#   tests/data/qmp/record-replswitch.sh BUILD_DIR
set -euo pipefail
B=$(realpath "$1") HERE=$(dirname "$(realpath "$0")")
W=$(mktemp -d /tmp/corral-record.XXXXXX)
K=/tmp/corral-replsw/k
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$W" /tmp/corral-replsw' EXIT

wait_for() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; return 1; }
qemu() { # NAME IMAGE [EXTRA...]
	local n=$1 img=$2
	shift 2
	qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 64 -nodefaults -display none -S \
		-qmp "unix:$W/$n.sock,server=on,wait=off" \
		-blockdev "driver=file,filename=$img,node-name=disk0-file" \
		-blockdev driver=qcow2,file=disk0-file,node-name=disk0 \
		-device virtio-blk-pci,drive=disk0,id=disk0 "$@" &
	PIDS+=($!)
}
mkdir -p "$K" && printf 'corral:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$K/keys.psk"
chmod 600 "$K/keys.psk"
qemu-img create -q -f qcow2 "$W/src.qcow2" 32M
qemu-img create -q -f qcow2 "$W/replica.qcow2" 32M
qemu-storage-daemon --object "tls-creds-psk,id=tls0,endpoint=server,dir=$K" \
	--blockdev "driver=file,node-name=f,filename=$W/replica.qcow2" --blockdev driver=qcow2,node-name=peer,file=f \
	--nbd-server addr.type=inet,addr.host=127.0.0.1,addr.port=47011,tls-creds=tls0 \
	--export type=nbd,id=e,node-name=peer,name=r1-d,writable=on,writethrough=on &
QSD=$!
PIDS+=($QSD)
for _ in $(seq 50); do ss -ltn | grep -q ':47011 ' && break; sleep 0.1; done
qemu src "$W/src.qcow2"
qemu dst "$W/replica.qcow2" -incoming defer
wait_for "$W/src.sock" && wait_for "$W/dst.sock"
python3 "$HERE/record-proxy.py" "$W/src.proxy" "$W/src.sock" "$HERE/replswitch-src.replies" &
P1=$!
python3 "$HERE/record-proxy.py" "$W/dst.proxy" "$W/dst.sock" "$HERE/replswitch-dst.replies" &
P2=$!
PIDS+=($P1 $P2)
wait_for "$W/src.proxy" && wait_for "$W/dst.proxy"
"$B/tests/test_replswitch" --record "$W/src.proxy" "$W/dst.proxy" "$QSD"
wait "$P1" "$P2" # each ends when the client closed: every line written
