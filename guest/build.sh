#!/bin/bash
# Build the corral test guest: a Debian kernel (vmlinuz) and a small busybox
# initramfs (initrd.img, cpio newc + gzip) from Debian packages.
#
# Usage: guest/build.sh [OUTDIR]
#   OUTDIR              default: <repo root>/build/guest
#   CORRAL_GUEST_CACHE  download cache for the .deb files
#                       default: /var/cache/corral-guest
#   CORRAL_GUEST_VMLINUX=0  do not write vmlinux (uncompressed, PVH-bootable,
#                       ~65 MB; written by default: it boots ~5 s sooner under TCG)
#   CORRAL_GUEST_EXTRA_MODULES  extra kernel module names to load at boot
#                       (space separated; their dependencies are added)
#
# Needs: apt-get, apt-cache, dpkg-deb, xz (xz-utils), gzip, cpio (or the
# busybox applet from busybox-static), coreutils, findutils, awk.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/.." && pwd)
outdir=${1:-$repo_root/build/guest}
cache=${CORRAL_GUEST_CACHE:-/var/cache/corral-guest}

# Modules loaded at boot, in this order (each one's dependencies are loaded
# before it; the order of the list itself also matters: virtio_ring before
# virtio, virtio_pci before the virtio device drivers).
modules=(
    virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio_mmio
    virtio_blk
    scsi_common scsi_mod
    crct10dif_generic crc64_rocksoft_generic sd_mod
    virtio_scsi
    failover net_failover virtio_net
    virtio-rng
    virtio_console
    virtio_balloon
    libata libahci ahci
    cdrom sr_mod isofs
    button evdev
)
# shellcheck disable=SC2206
modules+=(${CORRAL_GUEST_EXTRA_MODULES:-})
# In the image but not loaded at boot (so the boot time does not change):
# `modprobe NAME` in the guest loads them with their dependencies.  ext4
# mounts the ext2 filesystems busybox mke2fs makes (the guest agent's
# filesystem freeze needs a real filesystem; tmpfs cannot be frozen), and
# crc32c_generic, which ext4 asks the crypto API for at mount.  efivarfs:
# /init loads it only when the guest booted through UEFI firmware, and mounts
# the firmware's variables at /sys/firmware/efi/efivars, as distributions do.
ondemand_modules=(ext4 crc32c_generic efivarfs)

log() { printf 'guest/build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb xz gzip find awk; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

mkdir -p "$cache" "$outdir"
cache=$(cd "$cache" && pwd)
outdir=$(cd "$outdir" && pwd)

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        log "running apt-get update"
        apt-get update -qq >&2 || log "warning: apt-get update failed"
        apt_updated=1
    fi
}

# Resolve the concrete kernel image package (linux-image-6.1.0-NN-amd64)
# from the linux-image-amd64 metapackage.
resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

# Newest cached .deb whose name matches the glob $1 (empty if none).
cached_deb() {
    local f best=""
    for f in "$cache"/$1; do
        [ -f "$f" ] || continue
        if [ -z "$best" ] || [ "$f" -nt "$best" ]; then best=$f; fi
    done
    printf '%s' "$best"
}

# apt-get download package $1 into the cache (quietly; 0 on success).
download() {
    log "downloading $1 into $cache"
    (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2)
}

# Sets $kdeb: the cached kernel .deb, downloaded if needed.  Runs
# apt-get update only when the package cannot be resolved or downloaded.
kdeb=""
kpkg=$(resolve_kernel_pkg || true)
[ -n "$kpkg" ] && kdeb=$(cached_deb "${kpkg}_*.deb")
if [ -z "$kdeb" ] && { [ -z "$kpkg" ] || ! download "$kpkg"; }; then
    apt_update_once
    kpkg=$(resolve_kernel_pkg || true)
    if [ -n "$kpkg" ]; then
        kdeb=$(cached_deb "${kpkg}_*.deb")
        [ -n "$kdeb" ] || download "$kpkg" || log "warning: apt-get download $kpkg failed"
    fi
fi
[ -z "$kdeb" ] && [ -n "$kpkg" ] && kdeb=$(cached_deb "${kpkg}_*.deb")
if [ -z "$kdeb" ]; then
    # Offline and nothing resolvable: the newest kernel package in the cache.
    kdeb=$(cached_deb 'linux-image-[0-9]*-amd64_*.deb')
    [ -n "$kdeb" ] || die "cannot get the linux-image-amd64 kernel package (and none is cached)"
    log "warning: using cached $(basename "$kdeb")"
fi

bbdeb=$(cached_deb 'busybox-static_*.deb')
if [ -z "$bbdeb" ]; then
    if ! download busybox-static; then
        apt_update_once
        download busybox-static || die "apt-get download busybox-static failed"
    fi
    bbdeb=$(cached_deb 'busybox-static_*.deb')
    [ -n "$bbdeb" ] || die "no busybox-static .deb in $cache after download"
fi
log "kernel: $(basename "$kdeb")"
log "busybox: $(basename "$bbdeb")"

# QEMU guest agent: qemu-ga and the shared libraries it needs, from these
# packages (their NEEDED entries are resolved below; a missing one fails).
qga_pkgs=(qemu-guest-agent libglib2.0-0 libnuma1 libudev1 liburing2 libpcre2-8-0 libc6)
qga_debs=()
for p in "${qga_pkgs[@]}"; do
    d=$(cached_deb "${p}_*.deb")
    if [ -z "$d" ]; then
        if ! download "$p"; then
            apt_update_once
            download "$p" || die "apt-get download $p failed"
        fi
        d=$(cached_deb "${p}_*.deb")
        [ -n "$d" ] || die "no $p .deb in $cache after download"
    fi
    qga_debs+=("$d")
done
log "guest agent: $(basename "${qga_debs[0]}")"

work=$(mktemp -d "${TMPDIR:-/tmp}/corral-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- unpack ---------------------------------------------------------------
mkdir -p "$work/kernel" "$work/bb"
dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$bbdeb" "$work/bb"

vmlinuz=""
for f in "$work"/kernel/boot/vmlinuz-*; do [ -f "$f" ] && vmlinuz=$f; done
[ -n "$vmlinuz" ] || die "no /boot/vmlinuz-* in $kdeb"
kver=${vmlinuz##*/vmlinuz-}
kmoddir=$work/kernel/lib/modules/$kver
[ -d "$kmoddir/kernel" ] || die "no modules for $kver in $kdeb"
busybox=$work/bb/bin/busybox
[ -x "$busybox" ] || die "no bin/busybox in $bbdeb"

# --- initramfs tree -------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/acpi/PWRF,proc,sys,dev,tmp,run,var/log,root,mnt}
mkdir -p "$root/lib/modules/$kver"
cp "$busybox" "$root/bin/busybox"
# One symlink per applet, at the path busybox says it belongs to.
# (Absolute links: they are resolved inside the guest.)
while read -r applet; do
    case $applet in
        bin/busybox|"") continue ;;
        */*) ;;
        *) continue ;;   # linuxrc: /init is ours
    esac
    [ -d "$root/${applet%/*}" ] || mkdir -p "$root/${applet%/*}"
    ln -sfn /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)
[ -e "$root/bin/sh" ] || ln -s busybox "$root/bin/sh"

# qemu-ga (dynamically linked) with its libraries in /lib/x86_64-linux-gnu
# (a search directory of Debian's ld.so) and the loader at its ELF path.
command -v readelf >/dev/null || die "missing tool: readelf (binutils)"
mkdir -p "$work/qga" "$root/lib/x86_64-linux-gnu" "$root/lib64"
for d in "${qga_debs[@]}"; do dpkg-deb -x "$d" "$work/qga"; done
[ -x "$work/qga/usr/sbin/qemu-ga" ] || die "no usr/sbin/qemu-ga in ${qga_debs[0]}"
cp "$work/qga/usr/sbin/qemu-ga" "$root/usr/sbin/qemu-ga"
declare -A qga_libs=()
qga_need() {
    local lib src dir
    for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -z "${qga_libs[$lib]:-}" ] || continue
        src=""
        for dir in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
            if [ -e "$work/qga/$dir/$lib" ]; then src=$work/qga/$dir/$lib; break; fi
        done
        [ -n "$src" ] || die "qemu-ga needs $lib, not in ${qga_pkgs[*]}"
        qga_libs[$lib]=1
        cp -L "$src" "$root/lib/x86_64-linux-gnu/$lib"
        qga_need "$src"
    done
}
qga_need "$work/qga/usr/sbin/qemu-ga"
[ -n "${qga_libs[ld-linux-x86-64.so.2]:-}" ] ||
    cp -L "$work/qga/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$root/lib/x86_64-linux-gnu/"
ln -sfn /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"

# Index of available module files: normalised name (- -> _) -> path.
declare -A modpath=()
while IFS= read -r -d '' f; do
    b=${f##*/}; b=${b%%.ko*}; b=${b//-/_}
    modpath[$b]=$f
done < <(find "$kmoddir/kernel" -type f \( -name '*.ko' -o -name '*.ko.xz' \
    -o -name '*.ko.gz' -o -name '*.ko.zst' \) -print0)

declare -A builtin=()
if [ -f "$kmoddir/modules.builtin" ]; then
    while read -r f; do
        b=${f##*/}; b=${b%%.ko*}; b=${b//-/_}
        builtin[$b]=1
    done < "$kmoddir/modules.builtin"
fi

# Copy (decompressing) a module into the tree; print the destination path
# relative to /lib/modules/$kver.
declare -A staged=()
stage_module() {
    local name=$1 src rel dst
    src=${modpath[$name]}
    rel=${src#"$kmoddir"/}
    rel=${rel%.xz}; rel=${rel%.gz}; rel=${rel%.zst}
    dst=$root/lib/modules/$kver/$rel
    if [ -z "${staged[$name]:-}" ]; then
        mkdir -p "$(dirname "$dst")"
        case $src in
            *.ko.xz)  xz -dc "$src" > "$dst" ;;
            *.ko.gz)  gzip -dc "$src" > "$dst" ;;
            *.ko.zst) command -v zstd >/dev/null || die "zstd needed for $src"
                      zstd -qdc "$src" > "$dst" ;;
            *)        cp "$src" "$dst" ;;
        esac
        staged[$name]=$rel
    fi
}

# depends= field of the module's .modinfo (a NUL separated string table).
module_depends() {
    tr '\0' '\n' < "$1" | awk '/^depends=/ && !done { sub(/^depends=/, ""); gsub(/,/, " "); print; done = 1 }'
}

declare -A visiting=() loaded=()
load_order=()
add_module() {
    local name=${1//-/_} dep
    [ -n "${loaded[$name]:-}" ] && return 0
    if [ -z "${modpath[$name]:-}" ]; then
        if [ -n "${builtin[$name]:-}" ]; then loaded[$name]=builtin; return 0; fi
        die "kernel module $name not found in $kver"
    fi
    [ -z "${visiting[$name]:-}" ] || die "module dependency cycle at $name"
    visiting[$name]=1
    stage_module "$name"
    for dep in $(module_depends "$root/lib/modules/$kver/${staged[$name]}"); do
        add_module "$dep"
    done
    loaded[$name]=1
    load_order+=("${staged[$name]}")
}
for m in "${modules[@]}"; do add_module "$m"; done
# Stage a module and its dependencies without loading them at boot.
declare -A ondemand_seen=()
stage_ondemand() {
    local name=${1//-/_} dep
    [ -z "${loaded[$name]:-}" ] && [ -z "${ondemand_seen[$name]:-}" ] || return 0
    if [ -z "${modpath[$name]:-}" ]; then
        [ -n "${builtin[$name]:-}" ] && return 0
        die "kernel module $name not found in $kver"
    fi
    ondemand_seen[$name]=1
    stage_module "$name"
    for dep in $(module_depends "$root/lib/modules/$kver/${staged[$name]}"); do
        stage_ondemand "$dep"
    done
}
for m in "${ondemand_modules[@]}"; do stage_ondemand "$m"; done
printf '%s\n' "${load_order[@]}" > "$root/etc/modules.load"

# modules.dep & co. so that busybox modprobe (and the kernel's
# request_module) can find what is in the image.
(cd "$root" && "$busybox" depmod -b "$root" "$kver") 2>/dev/null ||
    log "warning: busybox depmod failed; modprobe will not work in the guest"
cp "$kmoddir/modules.builtin" "$root/lib/modules/$kver/" 2>/dev/null || true

# --- configuration files --------------------------------------------------
cat > "$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# ACPI power button (QMP system_powerdown): power off at once.
sync
poweroff -f
EOF
chmod 755 "$root/etc/acpi/PWRF/00000080"

cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
EOF
cat > "$root/etc/profile" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
export TERM=${TERM:-vt100}
PS1='\h:\w# '
EOF
echo corral-guest > "$root/etc/hostname"
# What qemu-ga reports for guest-get-osinfo.
cat > "$root/etc/os-release" <<'EOF'
NAME="corral test guest"
ID=corral-guest
VERSION_ID=1
PRETTY_NAME="corral test guest (busybox)"
EOF
# qemu-ga's guest-shutdown runs /sbin/shutdown -h|-r|-H -P +0 MESSAGE;
# busybox has no shutdown applet (rm: never write through an applet link).
rm -f "$root/sbin/shutdown"
cat > "$root/sbin/shutdown" <<'EOF'
#!/bin/sh
# Called by qemu-ga (guest-shutdown): power off, halt or reboot at once.
sync
case " $* " in
    *" -r "*) exec reboot -f ;;
    *" -H "*) exec halt -f ;;
    *) exec poweroff -f ;;
esac
EOF
chmod 755 "$root/sbin/shutdown"
ln -sfn /run "$root/var/run"

install -m 755 "$here/init" "$root/init"

# --- pack -----------------------------------------------------------------
# Reproducible: fixed mtimes (the kernel's), sorted names, owner root, and
# initrd.img is only replaced when its content changes.
epoch=$(stat -c %Y "$vmlinuz")
find "$root" -exec touch -h -d "@$epoch" {} +
tmp_initrd=$outdir/.initrd.img.tmp
(
    cd "$root"
    find . -mindepth 1 -print0 | LC_ALL=C sort -z > "$work/filelist"
    if command -v cpio >/dev/null; then
        cpio --null --create --format=newc --quiet --reproducible \
            --owner=0:0 < "$work/filelist"
    else
        tr '\0' '\n' < "$work/filelist" |
            "$busybox" cpio -o -H newc -R 0:0 2>/dev/null
    fi
) | gzip -6n > "$tmp_initrd"
if cmp -s "$tmp_initrd" "$outdir/initrd.img"; then
    rm -f "$tmp_initrd"
else
    mv -f "$tmp_initrd" "$outdir/initrd.img"
fi

if ! cmp -s "$vmlinuz" "$outdir/vmlinuz" 2>/dev/null; then
    cp "$vmlinuz" "$outdir/.vmlinuz.tmp"
    mv -f "$outdir/.vmlinuz.tmp" "$outdir/vmlinuz"
fi

# The uncompressed kernel (ELF with a PVH entry), ~65 MB: QEMU boots it with
# -kernel vmlinux about 5 s sooner under TCG (12 s -> 7 s to the smoke
# test's end here: no decompression in the emulated CPU).  The test suite
# boots it wherever the firmware is BIOS; UEFI needs vmlinuz's EFI stub.
if [ "${CORRAL_GUEST_VMLINUX:-1}" = 1 ]; then
    if [ ! -s "$outdir/vmlinux" ] || [ "$vmlinuz" -nt "$outdir/vmlinux" ] ||
       [ "$outdir/vmlinuz" -nt "$outdir/vmlinux" ]; then
        # The bzImage payload is an xz stream (CONFIG_KERNEL_XZ); xz
        # complains about the bytes after it, so judge by the ELF magic.
        off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | awk -F: 'NR == 1 { print $1 }' || true)
        [ -n "$off" ] || die "no xz payload in $vmlinuz"
        tail -c +$((off + 1)) "$vmlinuz" | xz -dc > "$outdir/.vmlinux.tmp" 2>/dev/null || true
        [ "$(head -c 4 "$outdir/.vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] ||
            die "could not extract vmlinux from $vmlinuz"
        mv -f "$outdir/.vmlinux.tmp" "$outdir/vmlinux"
    fi
fi

{
    echo "kernel_package=$(basename "$kdeb")"
    echo "kernel_release=$kver"
    echo "busybox_package=$(basename "$bbdeb")"
    echo "agent_package=$(basename "${qga_debs[0]}")"
    echo "modules=${load_order[*]}"
} > "$outdir/build-info.txt"

log "wrote $outdir/vmlinuz ($kver) and $outdir/initrd.img ($(stat -c %s "$outdir/initrd.img") bytes)"
