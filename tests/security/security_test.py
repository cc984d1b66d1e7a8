#!/usr/bin/env python3
"""Escape attempts under `sandbox run`, checked from both sides.

The guest half is the `escape` program (escape.c), which reports each attempt; this driver
prepares host-side bait (a canary directory outside /tmp, a marker in the host's /tmp),
runs the guest, and then verifies on the host that nothing changed and nothing leaked.

Usage: security_test.py --sandbox PATH --escape PATH
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Harness, show  # noqa: E402


def snapshot(dir_path):
    """name -> (mode, size, mtime_ns, contents) for every entry of dir_path, plus the dir."""
    st = os.stat(dir_path)
    snap = {".": (st.st_mode, st.st_ino, st.st_nlink, st.st_uid, st.st_mtime_ns)}
    for name in sorted(os.listdir(dir_path)):
        p = os.path.join(dir_path, name)
        st = os.lstat(p)
        with open(p, "rb") as f:
            snap[name] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_uid, f.read())
    return snap


def guest_ok(h, name, res):
    h.check(name, res.returncode == 0,
            "exit %r\nstdout:\n%s\nstderr: %s" % (res.returncode, show(res.stdout, 2000),
                                                   show(res.stderr)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", default="")
    ap.add_argument("--escape", required=True)
    args = ap.parse_args()
    h = Harness(args.sandbox)

    # Negative control, safe to run natively: the host process is not pid 1 in a sandbox,
    # so the identity probe must report breaches there. This shows the probe can fail.
    native = h.host([args.escape, "identity", os.uname().release])
    h.check("identity probe fails natively (control)", native.returncode == 1,
            show(native.stdout))

    h.require_sandbox()
    tag = "%d" % os.getpid()

    # 1. The host root is read-only. The canary lives outside /tmp (the guest's /tmp is its
    #    own tmpfs), in a fresh directory so that nothing else can be hit.
    bait = tempfile.mkdtemp(prefix="sbx-sec-", dir="/var/tmp")
    try:
        canary = os.path.join(bait, "canary")
        with open(canary, "wb") as f:
            f.write(b"canary contents\n")
        os.chmod(canary, 0o644)
        os.chmod(bait, 0o755)
        before = snapshot(bait)
        res = h.sandbox([args.escape, "rootfs", bait])
        guest_ok(h, "rootfs writes all fail with EROFS", res)
        after = snapshot(bait)
        changed = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
        h.check("host canary directory untouched", not changed,
                "changed entries: %r" % sorted(changed))
    finally:
        shutil.rmtree(bait, ignore_errors=True)

    # 2. /tmp isolation in both directions.
    host_marker = "/tmp/sbx-host-%s" % tag
    guest_file = "/tmp/sbx-guest-%s" % tag
    with open(host_marker, "w") as f:
        f.write("host\n")
    try:
        res = h.sandbox([args.escape, "tmp", tag])
        guest_ok(h, "guest /tmp is private and .. stays inside", res)
        leaked = os.path.exists(guest_file)
        h.check("guest /tmp file does not appear in host /tmp", not leaked, guest_file)
        if leaked:
            os.unlink(guest_file)
    finally:
        os.unlink(host_marker)

    # 3. The guest's identity is the sandbox's.
    guest_ok(h, "guest is pid 1 with the sentry's uname",
             h.sandbox([args.escape, "identity", os.uname().release]))

    # 4. No host descriptors leak in, even ones the frontend inherited.
    r, w = os.pipe()
    try:
        res = h.sandbox([args.escape, "fds"], pass_fds=(r, w))
    finally:
        os.close(r)
        os.close(w)
    guest_ok(h, "no host descriptors in the guest", res)

    # 5. The host's kernel filesystems never show through a rootfs of "/": the guest's /proc
    #    and /sys are the sentry's (empty until procfs/sysfs land), never the host's, so no
    #    host process, cmdline or kernel setting is visible.
    host_pids = sorted(n for n in os.listdir("/proc") if n.isdigit())
    res = h.sandbox(["/bin/ls", "-a", "/proc", "/sys"])
    listed = res.stdout.decode(errors="replace").split()
    leaked = [n for n in listed if n.isdigit() or n in ("kernel", "devices", "cmdline", "class")]
    h.check("host /proc and /sys are not visible", not leaked and len(host_pids) > 0,
            "guest listed %r" % leaked)
    for path in ("/proc/1/cmdline", "/proc/version", "/sys/kernel/hostname"):
        res = h.sandbox(["/bin/cat", path])
        h.check("host %s is not readable" % path, res.returncode != 0,
                "exit %r stdout %s" % (res.returncode, show(res.stdout)))

    return h.finish()


if __name__ == "__main__":
    sys.exit(main())
