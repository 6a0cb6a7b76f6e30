#!/bin/bash
# record-migrate.sh - record the QMP transcripts test_migrate replays
# (tests/data/qmp/migrate-{disk,cancel}-{src,dst}.replies): two real QEMUs
# as tests/migrate/mig-drive.c describes, one record-proxy.py per QMP
# socket, and mig-drive with the arguments test_migrate.c's mig_seq uses.
# Run it again whenever the QMP steps of src/qemu/migrate.c or their order
# in tests/migrate/mig_seq.c change, then update the numbers test_migrate
# asserts (total time, downtime, polls) from what it prints.
#   tests/data/qmp/record-migrate.sh BUILD_DIR GUEST_DIR
set -euo pipefail
B=$(realpath "$1") G=$(realpath "$2") HERE=$(dirname "$(realpath "$0")")
W=$(mktemp -d /tmp/corral-record.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$W" /tmp/migman' EXIT

qemu() { # NAME IMAGE [EXTRA...]
	local n=$1 img=$2
	shift 2
	qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 128 -nodefaults -display none -no-shutdown \
		-kernel "$G/vmlinuz" -initrd "$G/initrd.img" -serial "file:$W/$n.serial" \
		-qmp "unix:$W/$n.sock,server=on,wait=off" \
		-blockdev "driver=file,filename=$img,node-name=disk0-file" \
		-blockdev driver=qcow2,file=disk0-file,node-name=disk0 \
		-device virtio-blk-pci,drive=disk0,id=disk0 "$@" &
	PIDS+=($!)
}
wait_for() { # PATH: a socket or a ready marker
	for _ in $(seq 600); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	echo "no $1" >&2
	return 1
}
booted() {
	for _ in $(seq 600); do
		grep -q CORRAL-GUEST-READY "$W/$1.serial" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$1 did not boot" >&2
	return 1
}
record() { # NAME MIG-DRIVE-ARGS...: source $NAME-src, destination $NAME-dst
	local n=$1
	shift
	python3 "$HERE/record-proxy.py" "$W/$n-src.proxy" "$W/$n-src.sock" "$HERE/migrate-$n-src.replies" &
	PIDS+=($!)
	python3 "$HERE/record-proxy.py" "$W/$n-dst.proxy" "$W/$n-dst.sock" "$HERE/migrate-$n-dst.replies" &
	PIDS+=($!)
	wait_for "$W/$n-src.proxy" && wait_for "$W/$n-dst.proxy"
	"$B/tests/mig-drive" --src "$W/$n-src.proxy" --dst "$W/$n-dst.proxy" --host 127.0.0.1 --poll-ms 300 "$@" || true
}

mkdir -p /tmp/migman/s /tmp/migman/d
# A local disk copied over NBD, all TLS (test_local_disk).
qemu-img create -q -f qcow2 "$W/disk-src.qcow2" 64M
qemu-img create -q -f qcow2 "$W/disk-dst.qcow2" 64M
qemu disk-src "$W/disk-src.qcow2"
qemu disk-dst "$W/disk-dst.qcow2" -S -incoming defer
wait_for "$W/disk-src.sock" && wait_for "$W/disk-dst.sock" && booted disk-src
record disk --port 47001 --nbd-port 47002 --disks 1 --src-dir /tmp/migman/s --dst-dir /tmp/migman/d
# Shared storage at 10 MB/s, cancelled at the third poll (test_cancel).
qemu-img create -q -f qcow2 "$W/shared.qcow2" 64M
qemu cancel-src "$W/shared.qcow2"
qemu cancel-dst "$W/shared.qcow2" -S -incoming defer
wait_for "$W/cancel-src.sock" && wait_for "$W/cancel-dst.sock" && booted cancel-src
record cancel --port 47003 --src-dir /tmp/migman/s --dst-dir /tmp/migman/d --bandwidth 10000000 --downtime 100 \
	--cancel-after 2
