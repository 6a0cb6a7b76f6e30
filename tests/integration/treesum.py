#!/usr/bin/env python3
"""treesum.py DIR: one line per entry of a directory tree, for comparing two
copies of a container's root exactly (t78-ct-migrate.sh): relative path,
type, mode, owner, group, device number, link count, hard-link group (the
first path of the same inode), symlink target, content hash and mtime of
regular files, and every extended attribute (POSIX ACLs included) with its
value.  No symlink is followed, no mount crossed."""
import hashlib
import os
import stat
import sys


def xattrs(p):
    try:
        names = sorted(os.listxattr(p, follow_symlinks=False))
    except OSError:
        return ""
    return ",".join("%s=%s" % (n, os.getxattr(p, n, follow_symlinks=False).hex()) for n in names)


def main(top):
    inodes = {}
    out = []
    dev = os.lstat(top).st_dev
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + files) if root == top else sorted(dirs + files):
            p = os.path.join(root, name)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode) and st.st_dev != dev:
                dirs.remove(name)
                continue
            rel = os.path.relpath(p, top)
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
            group = ""
            extra = ""
            if stat.S_ISREG(st.st_mode):
                if st.st_nlink > 1:
                    group = inodes.setdefault(st.st_ino, rel)
                with open(p, "rb") as f:
                    extra = "%s %d" % (hashlib.sha256(f.read()).hexdigest(), int(st.st_mtime))
            rdev = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)) if (
                stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else ""
            out.append("%s %o %d:%d %s n%d g=%s l=%s %s x=%s" % (
                rel, st.st_mode, st.st_uid, st.st_gid, rdev, st.st_nlink if not stat.S_ISDIR(st.st_mode) else 0,
                group, link, extra, xattrs(p)))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
