#!/usr/bin/env python3
"""pty-run.py - run one command on a pseudo-terminal and answer it as a person would.

Usage: pty-run.py [--timeout S] [--expect REGEX --send TEXT]... [--after S --send TEXT]... -- CMD [ARG...]

The command gets a fresh pseudo-terminal as its stdin, stdout and stderr, so
isatty() is true and it asks what it asks a person ([y/N] confirmations,
passwords with echo off, fingerprints to trust).  Each --expect REGEX waits
until the output seen so far (since the previous answer) matches REGEX, then
sends TEXT; --after S sends TEXT S seconds after the previous step instead.
Steps run in the order given.  TEXT is sent as typed: backslash escapes
(\\n, \\r, \\x1d for Ctrl-]) are decoded, and a TEXT without any gets an
Enter appended.  Everything the command prints (answers typed with echo on
included, as on a screen) goes to this program's stdout.  The exit status is
the command's; 124 when --timeout S (default 60) passes first (the command
is then killed), 125 when an --expect never matched before the command ended.
"""
import codecs
import os
import pty
import re
import select
import signal
import sys
import time


def main(argv):
    timeout = 60.0
    steps = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        a = argv[i]
        if a == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
        elif a in ("--expect", "--after") and i + 3 < len(argv) and argv[i + 2] == "--send":
            text = argv[i + 3]
            data = codecs.decode(text, "unicode_escape") if "\\" in text else text + "\n"
            steps.append((a, argv[i + 1], data.encode("latin-1")))
            i += 4
        else:
            sys.stderr.write("pty-run.py: bad arguments near %r (see the header)\n" % a)
            return 2
    cmd = argv[i + 1:]
    if not cmd:
        sys.stderr.write("pty-run.py: no command after --\n")
        return 2

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    out = sys.stdout.buffer
    seen = b""
    step = 0
    last = time.monotonic()
    deadline = last + timeout
    status = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            out.write(b"\npty-run.py: timed out after %g s\n" % timeout)
            out.flush()
            return 124
        if step < len(steps):
            kind, arg, data = steps[step]
            ready = (kind == "--after" and now - last >= float(arg)) or (
                kind == "--expect" and re.search(arg.encode(), seen))
            if ready:
                # a prompt is printed before the terminal mode is changed:
                # give a password prompt's tcsetattr(TCSAFLUSH) time to happen
                time.sleep(0.2)
                os.write(fd, data)
                seen = b""
                step += 1
                last = time.monotonic()
                continue
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    if step < len(steps) and steps[step][0] == "--expect":
        out.write(b"\npty-run.py: the command ended before printing /%s/\n" % steps[step][1].encode())
        out.flush()
        return 125
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
