#!/usr/bin/env python3
"""Make the LVM2 and btrfs disk images of test_lvmbtrfs (and t31-fsread.sh).

usage: mkimg-lvmbtrfs.py OUTDIR [lvm|btrfs]...   (default: both)

btrfs (OUTDIR/btrfs.img, OUTDIR/btrfs-default.img, sources in OUTDIR/btrfs-src):
  mkfs.btrfs, then a loop mount with compress-force=zstd (btrfs-progs 6.2
  cannot make subvolumes or compressed files offline): top-level subvolumes
  `root` and `home` as Fedora lays them out, zstd, zlib and LZO (per-directory
  `btrfs property`) compressed files, an incompressible file, a sparse file,
  a preallocated tail, inline files, symlinks and a directory of 300 entries.
  btrfs-default.img is the same with `root` set as the default subvolume.

lvm (OUTDIR/lvm.img, OUTDIR/lvm-patched.img, sources in OUTDIR/lvm-src):
  an MBR disk with an ext4 partition 1 and two LVM2 PVs (partitions 2, 3)
  in volume group `vgtest`, made by pvcreate/vgcreate on loop devices.  This
  kernel has no device-mapper, so the logical volumes are added to the
  metadata with vgcfgbackup/vgcfgrestore (no activation) and their ext4
  filesystems (mkfs.ext4 -d) are written through the LV's extent map here:
  `root` is linear in two segments (8 extents on the first PV, 4 on the
  second), `data` is striped over both PVs (64 KiB stripes).
  lvm-patched.img adds, by rewriting the metadata text in place, a thin LV
  (not supported) and an LV on a PV that is not on the disk.  lvm-whole.img
  is a PV on the whole disk (no partition table) with one linear LV,
  vgw/root, starting at extent 2.

Prints SKIP: <reason> and exits 77 when a tool or a loop mount is missing.
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

MIB = 1 << 20
LVMCONF = ("devices { obtain_device_list_from_udev=0 use_devicesfile=0 } "
           "activation { udev_sync=0 udev_rules=0 monitoring=0 } "
           "global { locking_type=1 use_lvmpolld=0 } backup { backup=0 archive=0 }")


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def run(*argv, check=True, **kw):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit("mkimg: %s failed (%d): %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r


def lvm(devs, *args, check=True):
    """An LVM command that sees only devs (our loop devices): another run at the
    same time, with its own VG of the same name, stays invisible."""
    return run(args[0], "--config", LVMCONF, "--devices", ",".join(devs), "--nohints", *args[1:], check=check)


def text(name, lines):
    return "".join("line %d of %s: the quick brown fox jumps over the lazy dog\n" % (i, name)
                   for i in range(lines)).encode()


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---- btrfs ----

def make_btrfs(out):
    for tool in ("mkfs.btrfs", "btrfs", "losetup", "mount"):
        if not shutil.which(tool):
            skip(tool + " is not installed")
    src = os.path.join(out, "btrfs-src")
    img = os.path.join(out, "btrfs.img")
    mnt = tempfile.mkdtemp(prefix="corral-mkimg-")
    with open(img, "wb") as f:
        f.truncate(160 * MIB)
    run("mkfs.btrfs", "-q", "-f", img)
    r = run("mount", "-o", "loop,compress-force=zstd", img, mnt, check=False)
    if r.returncode != 0:
        os.rmdir(mnt)
        skip("cannot loop-mount btrfs: " + r.stderr.strip())
    try:
        rnd = random.Random(7)
        files = {
            "readme.txt": b"top level of the btrfs test image\n",
            "root/etc/os-release": b'NAME="Fedora Linux"\nID=fedora\n',
            "root/var/big.log": text("big.log", 50000),
            "root/var/random.bin": rnd.randbytes(3 * MIB // 2),
            "root/usr/lib/x": b"the target of a symlink\n",
            "root/lzo/text.txt": text("lzo", 8000),
            "home/user/notes.txt": text("notes", 16000),
        }
        for sub in ("root", "home"):
            run("btrfs", "subvolume", "create", os.path.join(mnt, sub))
        os.makedirs(os.path.join(mnt, "root/lzo"))
        run("btrfs", "property", "set", os.path.join(mnt, "root/lzo"), "compression", "lzo")
        run("btrfs", "property", "set", os.path.join(mnt, "home"), "compression", "zlib")
        for name, data in files.items():
            put(os.path.join(mnt, name), data)
            put(os.path.join(src, name), data)
        # sparse: 64 KiB, a 2 MiB hole, 64 KiB
        a, b = text("sparse-a", 1000)[:65536], text("sparse-b", 1000)[:65536]
        for base in (mnt, src):
            with open(os.path.join(base, "root/var/sparse.bin"), "wb") as f:
                f.write(a)
                f.seek(65536 + 2 * MIB)
                f.write(b)
        # preallocated 1 MiB with 4 KiB written at the start
        p = os.path.join(mnt, "root/var/prealloc.bin")
        with open(p, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, MIB)
            f.write(b"P" * 4096)
        with open(os.path.join(src, "root/var/prealloc.bin"), "wb") as f:
            f.write(b"P" * 4096 + bytes(MIB - 4096))
        for base in (mnt, src):
            os.symlink("lib/x", os.path.join(base, "root/usr/bin-tool"))
            os.makedirs(os.path.join(base, "root/many"), exist_ok=True)
            for i in range(300):
                put(os.path.join(base, "root/many/file-%03d" % i), b"entry %d\n" % i)
    finally:
        run("umount", mnt)
    shutil.copyfile(img, os.path.join(out, "btrfs-default.img"))
    run("mount", "-o", "loop", os.path.join(out, "btrfs-default.img"), mnt)
    try:
        r = run("btrfs", "subvolume", "show", os.path.join(mnt, "root"))
        sid = re.search(r"Subvolume ID:\s+(\d+)", r.stdout).group(1)
        run("btrfs", "subvolume", "set-default", sid, mnt)
    finally:
        run("umount", mnt)
        os.rmdir(mnt)


# ---- LVM2 ----

P1, P2, P3 = (1 * MIB, 8 * MIB), (9 * MIB, 16 * MIB), (25 * MIB, 16 * MIB)
EXT = MIB


def mbr(path, parts):
    """A DOS label with the given (start, size, type) partitions."""
    m = bytearray(512)
    for i, (start, size, typ) in enumerate(parts):
        e = 446 + 16 * i
        m[e + 4] = typ
        m[e + 8:e + 12] = (start // 512).to_bytes(4, "little")
        m[e + 12:e + 16] = (size // 512).to_bytes(4, "little")
    m[510:512] = b"\x55\xaa"
    with open(path, "r+b") as f:
        f.write(m)


def mkext4(path, size, srcdir):
    with open(path, "wb") as f:
        f.truncate(size)
    run("mkfs.ext4", "-q", "-F", "-b", "4096", "-O", "^has_journal", "-d", srcdir, path)


def scatter(img, fs, pieces):
    """Write fs (a file) into img piece by piece: (fs_off, img_off, length)."""
    with open(fs, "rb") as src, open(img, "r+b") as dst:
        for fo, io, n in pieces:
            src.seek(fo)
            dst.seek(io)
            dst.write(src.read(n))


def losetup(img, off=None, size=None):
    """A loop device over img, or over its bytes [off, off + size); SKIP when none is free."""
    rng = ["-o", str(off), "--sizelimit", str(size)] if off is not None else []
    r = run("losetup", "-f", "--show", *rng, img, check=False)
    if r.returncode != 0:
        skip("no loop device: " + r.stderr.strip())
    return r.stdout.strip()


def lv_text(name, lv_id, segments):
    """The metadata of LV `name`: segments of (start_extent, extent_count,
    [(pv, its first extent), ...], stripe_size or None), all "striped"."""
    t = '\t\t%s {\n\t\t\tid = "%s"\n\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n\t\t\tflags = []\n' \
        '\t\t\tsegment_count = %d\n' % (name, lv_id, len(segments))
    for n, (start, count, stripes, stripe_size) in enumerate(segments, 1):
        t += "\t\t\tsegment%d {\n\t\t\t\tstart_extent = %d\n\t\t\t\textent_count = %d\n" % (n, start, count)
        t += '\t\t\t\ttype = "striped"\n\t\t\t\tstripe_count = %d\n' % len(stripes)
        if stripe_size:
            t += "\t\t\t\tstripe_size = %d\n" % stripe_size
        t += "\t\t\t\tstripes = [\n" + ",\n".join('\t\t\t\t\t"%s", %d' % st for st in stripes) + "\n\t\t\t\t]\n\t\t\t}\n"
    return t + "\t\t}\n"


def make_vg(devs, vg, bk, lvs):
    """pvcreate devs, vgcreate vg on them (1 MiB extents), and add the LVs
    `lvs` (lv_text) to its metadata: vgcfgbackup into bk, edit, vgcfgrestore
    (no device-mapper here: nothing is activated).  Returns ({dev: pe_start
    in bytes}, the metadata written)."""
    lvm(devs, "pvcreate", "-q", "-ff", "-y", "--dataalignment", "1m", *devs)
    lvm(devs, "vgcreate", "-q", "-s", "1m", vg, *devs)
    pe = {}
    for dev in devs:
        r = lvm(devs, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", dev)
        pe[dev] = int(r.stdout.strip())
    lvm(devs, "vgcfgbackup", "-q", "-f", bk, vg)
    cfg = open(bk).read()
    i = cfg.rindex("}")
    cfg = cfg[:i] + "\n\tlogical_volumes {\n" + "".join(lvs) + "\t}\n" + cfg[i:]
    open(bk, "w").write(cfg)
    lvm(devs, "vgcfgrestore", "-q", "-f", bk, vg)
    return pe, cfg


def make_lvm(out):
    for tool in ("pvcreate", "vgcreate", "vgcfgbackup", "vgcfgrestore", "losetup", "mkfs.ext4"):
        if not shutil.which(tool):
            skip(tool + " is not installed")
    img = os.path.join(out, "lvm.img")
    src = os.path.join(out, "lvm-src")
    with open(img, "wb") as f:
        f.truncate(42 * MIB)
    mbr(img, [(P1[0], P1[1], 0x83), (P2[0], P2[1], 0x8e), (P3[0], P3[1], 0x8e)])
    loops = []
    try:
        for off, size in (P2, P3):
            loops.append(losetup(img, off, size))
        pv0, pv1 = "pv0", "pv1"
        lvs = [lv_text("root", "rootLV-0000-0000-0000-0000-0000-000000",
                       [(0, 8, [(pv0, 0)], None), (8, 4, [(pv1, 0)], None)]),
               lv_text("data", "dataLV-0000-0000-0000-0000-0000-000000",
                       [(0, 8, [(pv0, 8), (pv1, 4)], 128)])]
        pe, cfg = make_vg(loops, "vgtest", os.path.join(out, "vgtest.cfg"), lvs)
        r = lvm(loops, "lvs", "--noheadings", "-o", "lv_name", "vgtest")
        if "root" not in r.stdout or "data" not in r.stdout:
            raise SystemExit("mkimg: vgcfgrestore did not create the LVs: " + r.stdout)
        # which loop is pv0?
        names = dict(re.findall(r'(pv\d+) \{\s*id = "[^"]*"\s*device = "([^"]*)"', cfg))
        base = {names[pv0]: P2[0] + pe[names[pv0]], names[pv1]: P3[0] + pe[names[pv1]]}
        b0, b1 = base[names[pv0]], base[names[pv1]]
    finally:
        for dev in loops:
            run("losetup", "-d", dev, check=False)
    files = {
        "p1/boot/grub/grub.cfg": b"set default=0\n",
        "root/etc/fstab": b"/dev/mapper/vgtest-root / ext4 defaults 0 1\n",
        "root/etc/hostname": b"el9-guest\n",
        "root/var/log/messages": text("messages", 60000),
        "data/srv/db.bin": random.Random(3).randbytes(5 * MIB // 2),
    }
    for name, data in files.items():
        put(os.path.join(src, name), data)
    tmp = os.path.join(out, "fs.tmp")
    mkext4(tmp, P1[1], os.path.join(src, "p1"))
    scatter(img, tmp, [(0, P1[0], P1[1])])
    mkext4(tmp, 12 * EXT, os.path.join(src, "root"))
    scatter(img, tmp, [(0, b0, 8 * EXT), (8 * EXT, b1, 4 * EXT)])
    mkext4(tmp, 8 * EXT, os.path.join(src, "data"))
    ss = 64 * 1024
    pieces = []
    for chunk in range(8 * EXT // ss):
        stripe, row = chunk % 2, chunk // 2
        pieces.append((chunk * ss, (b0 + 8 * EXT if stripe == 0 else b1 + 4 * EXT) + row * ss, ss))
    scatter(img, tmp, pieces)
    os.unlink(tmp)
    patch_lvm(img, os.path.join(out, "lvm-patched.img"))
    make_lvm_whole(out, src)


def make_lvm_whole(out, src):
    """A whole-disk PV (no partition table) with one linear LV `vgw/root`."""
    img = os.path.join(out, "lvm-whole.img")
    with open(img, "wb") as f:
        f.truncate(16 * MIB)
    dev = losetup(img)
    try:
        pe, _ = make_vg([dev], "vgw", os.path.join(out, "vgw.cfg"),
                        [lv_text("root", "wholeL-0000-0000-0000-0000-0000-000000", [(0, 8, [("pv0", 2)], None)])])
        pe = pe[dev]
    finally:
        run("losetup", "-d", dev, check=False)
    put(os.path.join(src, "whole/etc/hostname"), b"whole-disk-pv\n")
    put(os.path.join(src, "whole/var/data.txt"), text("whole", 20000))
    tmp = os.path.join(out, "fs.tmp")
    mkext4(tmp, 8 * EXT, os.path.join(src, "whole"))
    scatter(img, tmp, [(0, pe + 2 * EXT, 8 * EXT)])
    os.unlink(tmp)


def patch_lvm(img, out):
    """Copy img with a thin LV and an LV on a missing PV added to the newest metadata of both PVs."""
    shutil.copyfile(img, out)
    extra = """
pool {
id = "poolLV-0000-0000-0000-0000-0000-000000"
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 {
start_extent = 0
extent_count = 1
type = "thin"
thin_pool = "pool_tp"
}
}
far {
id = "farLV0-0000-0000-0000-0000-0000-000000"
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 {
start_extent = 0
extent_count = 1
type = "striped"
stripe_count = 1
stripes = [
"pv9", 0
]
}
}
"""
    missing_pv = """
pv9 {
id = "MISSIN-GPVx-xxxx-xxxx-xxxx-xxxx-xxxxxx"
device = "/dev/sdz"
status = ["ALLOCATABLE"]
dev_size = 2048
pe_start = 2048
pe_count = 4
}
"""
    with open(out, "r+b") as f:
        for pstart, _ in (P2, P3):
            f.seek(pstart + 512)
            lab = f.read(512)
            assert lab[:8] == b"LABELONE", "no PV label"
            h = int.from_bytes(lab[20:24], "little")
            pos, lists, mda = h + 40, 0, None
            while lists < 2:
                o = int.from_bytes(lab[pos:pos + 8], "little")
                s = int.from_bytes(lab[pos + 8:pos + 16], "little")
                pos += 16
                if o == 0 and s == 0:
                    lists += 1
                elif lists == 1 and mda is None:
                    mda = (o, s)
            f.seek(pstart + mda[0])
            hdr = bytearray(f.read(512))
            toff = int.from_bytes(hdr[40:48], "little")
            tsize = int.from_bytes(hdr[48:56], "little")
            f.seek(pstart + mda[0] + toff)
            t = f.read(tsize).rstrip(b"\0").decode()
            t = t.replace("logical_volumes {", "logical_volumes {" + extra, 1)
            t = t.replace("physical_volumes {", "physical_volumes {" + missing_pv, 1)
            data = t.encode() + b"\0"
            f.seek(pstart + mda[0] + toff)
            f.write(data)
            hdr[48:56] = len(data).to_bytes(8, "little")
            f.seek(pstart + mda[0])
            f.write(hdr)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    what = sys.argv[2:] or ["lvm", "btrfs"]
    if os.geteuid() != 0:
        skip("needs root (loop devices)")
    os.makedirs(out, exist_ok=True)
    if "btrfs" in what:
        make_btrfs(out)
    if "lvm" in what:
        make_lvm(out)


if __name__ == "__main__":
    main()
