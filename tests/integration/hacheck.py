#!/usr/bin/env python3
"""hacheck.py T: the HA invariant checker (cluster-lib.sh ha_checker_start).

While T/checking exists, every 100 ms: one scan of /proc for live QEMU
processes (comm qemu*, not a zombie, not a live migration's -incoming
target: it runs no guest until the source stops), grouped by the -uuid on
their command line; a uuid listed in T/uuids with more than one is a line in
T/violations.  Each pass is a line in T/ticks.  Every "host" of the tests is
a process tree on this one machine, so this sees them all.

Containers (T/roots: one container root directory a line, e.g. a shared
pool's NAME-root/rootfs): a process runs that root when its /proc/PID/root
is that directory (same device and inode: liblxc pivots into a bind mount
of it); the copies running it are the distinct PID namespaces of those
processes, leaving out this machine's own PID namespace: a copy's processes
all live in the container's namespace, while liblxc's attach helper (`ct
exec`) enters the container's mounts but stays in its caller's namespace
for the moment it forks the command.  A root with more than one is a line
in T/violations.

hacheck.py --inits ROOT: print the pids (as this machine sees them) of the
inits running ROOT, one a line: the processes that run it and are pid 1 of
their PID namespace; nothing when no copy runs.
"""
import os
import sys
import time

T = sys.argv[1]


def live_qemus():
    found = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/comm') as f:
                if not f.read().startswith('qemu'):
                    continue
            with open(f'/proc/{pid}/stat') as f:
                if f.read().rsplit(') ', 1)[1][0] == 'Z':
                    continue
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
        except (OSError, IndexError):
            continue
        if b'-incoming' in argv or b'-uuid' not in argv:
            continue
        i = argv.index(b'-uuid')
        if i + 1 < len(argv):
            found.setdefault(argv[i + 1].decode(), []).append(pid)
    return found


def root_copies(root):
    """{pid namespace: [pids]} of the live processes running root, and the inits among them."""
    try:
        want = os.stat(root)
    except OSError:
        return {}, []
    copies, inits = {}, []
    own = os.readlink('/proc/self/ns/pid')
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            st = os.stat(f'/proc/{pid}/root')
            if (st.st_dev, st.st_ino) != (want.st_dev, want.st_ino):
                continue
            ns = os.readlink(f'/proc/{pid}/ns/pid')
            with open(f'/proc/{pid}/status') as f:
                status = f.read()
        except OSError:
            continue
        state = next((l.split()[1] for l in status.splitlines() if l.startswith('State:')), 'Z')
        if state == 'Z':
            continue
        if ns == own:
            continue
        nspid = next((l.split()[1:] for l in status.splitlines() if l.startswith('NSpid:')), [])
        copies.setdefault(ns, []).append(pid)
        if nspid and nspid[-1] == '1':
            inits.append(pid)
    return copies, inits


def main():
    if sys.argv[1] == '--inits':
        print('\n'.join(root_copies(sys.argv[2])[1]))
        return
    with open(f'{T}/ticks', 'a') as ticks, open(f'{T}/violations', 'a') as bad:
        while os.path.exists(f'{T}/checking'):
            try:
                with open(f'{T}/uuids') as f:
                    want = f.read().split()
            except OSError:
                want = []
            q = live_qemus()
            for u in want:
                if len(q.get(u, [])) > 1:
                    bad.write(f'{time.strftime("%H:%M:%S")}.{int(time.time() * 1000) % 1000:03d} '
                              f'{u}: {len(q[u])} QEMUs: {" ".join(q[u])}\n')
                    bad.flush()
            try:
                with open(f'{T}/roots') as f:
                    roots = f.read().split()
            except OSError:
                roots = []
            for r in roots:
                copies = root_copies(r)[0]
                if len(copies) > 1:
                    bad.write(f'{time.strftime("%H:%M:%S")}.{int(time.time() * 1000) % 1000:03d} '
                              f'{r}: {len(copies)} copies running (pid namespaces {" ".join(copies)})\n')
                    bad.flush()
            ticks.write('.\n')
            ticks.flush()
            time.sleep(0.1)


main()
