#!/usr/bin/env bash
# Install the Debian 12 packages corral needs to build, test and run,
# skipping those already present.  Needs root (apt-get).  Idempotent.
set -euo pipefail

pkgs=(
	# build
	gcc make pkg-config meson ninja-build
	libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev uuid-dev
	libext2fs-dev zlib1g-dev libzstd-dev libssl-dev libcrypt-dev libnbd-dev libseccomp-dev
	libmnl-dev libgnutls28-dev libxml2-dev
	# tests
	libcmocka-dev valgrind curl jq socat python3
	# runtime: QEMU, qemu-img
	qemu-system-x86 qemu-utils
	# runtime: cloud-init NoCloud seed images (src/qemu/cidata.c runs xorriso)
	xorriso
	# runtime: networks (dnsmasq per network, nft for corral's own tables)
	dnsmasq-base nftables
	# guest kit (guest/build.sh)
	busybox-static cpio xz-utils gzip zstd kmod
	# guest kit: readelf finds the shared libraries qemu-ga needs
	binutils
	# test disk images (guest/build-disk.sh): partition tables, ext4, XFS; GRUB's i386-pc
	# modules and grub-mkimage for the BIOS-bootable image the tour imports (t06)
	fdisk e2fsprogs xfsprogs grub-common grub-pc-bin
	# UEFI firmware for --firmware uefi (OVMF_CODE_4M.fd + per-VM copies of OVMF_VARS_4M.fd)
	ovmf
	# LVM2 and btrfs test images (tests/unit/mkimg-lvmbtrfs.sh); LZO-compressed btrfs extents
	lvm2 btrfs-progs liblzo2-dev
	# guest traffic shaping (src/net/shape.c: tc) and the hygiene test (t67: ethtool
	# turns off veth checksum offload for udhcpc)
	iproute2 ethtool
	# man pages (docs/man: scdoc builds them; the test renders them with man-db)
	scdoc man-db
	# metrics history (src/metrics/rrd.c: librrd, the RRD files Munin and Proxmox use)
	librrd-dev
	# tests: a real Prometheus scrapes /metrics (t71-metrics.sh)
	prometheus
	# system containers (src/lxc: liblxc; uidmap: the subordinate id tools and /etc/subuid)
	lxc lxc-dev uidmap
	# container roots: tarballs unpacked with libarchive (src/lxc/untar.c); the Debian
	# template builds its base with debootstrap (src/service/ct_debian.c)
	libarchive-dev debootstrap
	# web UI (docs/webui.md): noVNC for VNC displays, served from its Debian path
	# (xterm.js is vendored: bookworm's libjs-xterm ships a non-working stub);
	# tests: headless Chromium driven by Selenium (t75-webui.sh)
	novnc
	chromium chromium-driver python3-selenium
	# pools of hosts (src/cluster: corosync supervised by corrald, its client libraries)
	corosync libcpg-dev libquorum-dev libvotequorum-dev libcmap-dev libcfg-dev
	# two-host pools: the witness (corosync-qnetd on it, corosync-qdevice on the members,
	# certutil/pk12util for their NSS databases; src/cluster/qdevice.c, witness.c)
	corosync-qdevice corosync-qnetd libnss3-tools iputils-ping
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "corral: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "corral: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
