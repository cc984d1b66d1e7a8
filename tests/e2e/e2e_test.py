#!/usr/bin/env python3
"""End-to-end checks of `sandbox run`: the user-facing commands, compared with the host.

Every case runs a real host program under the sandbox (single process: nothing here forks,
execs or needs signal delivery inside the guest) and checks stdout, stderr and the exit
status, using the host as the reference where the output must be identical.

Usage: e2e_test.py --sandbox PATH --segv PATH
"""

import argparse
import difflib
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BASE_ENV, Harness, show  # noqa: E402

PY_HASH = ('import json,hashlib; '
           'print(json.dumps({"h": hashlib.sha256(b"x").hexdigest()}))')


def diff(a, b, name_a="host", name_b="sandbox"):
    lines = difflib.unified_diff(
        a.decode(errors="replace").splitlines(), b.decode(errors="replace").splitlines(),
        name_a, name_b, lineterm="", n=1)
    return "\n".join(list(lines)[:40])


def same_as_host(h, name, argv, options=()):
    """The sandboxed run prints exactly what the host run prints and exits the same way."""
    host = h.host(argv)
    guest = h.sandbox(argv, options=options)
    problems = []
    if guest.returncode != host.returncode:
        problems.append("exit status %r, host %r" % (guest.returncode, host.returncode))
    if guest.stdout != host.stdout:
        problems.append("stdout differs:\n" + diff(host.stdout, guest.stdout))
    if host.returncode == 0 and not host.stdout:
        problems.append("host produced no output; the comparison is meaningless")
    if problems:
        problems.append("sandbox stderr: " + show(guest.stderr))
    h.check(name, not problems, "\n".join(problems))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", default="")
    ap.add_argument("--segv", required=True)
    ap.add_argument("--hello-static", required=True)
    args = ap.parse_args()
    h = Harness(args.sandbox)
    h.require_sandbox()

    # Output.
    h.check_result("echo hello", h.sandbox(["/bin/echo", "hello"]), 0, b"hello\n")
    same_as_host(h, "ls -la /usr/bin matches host", ["/bin/ls", "-la", "/usr/bin"],
                 options=["--env", "LC_ALL=C", "--env", "TZ=UTC"])
    same_as_host(h, "cat /etc/os-release matches host", ["/bin/cat", "/etc/os-release"])
    expected = h.host(["/usr/bin/python3", "-c", PY_HASH]).stdout
    h.check("host python3 oracle", expected.startswith(b'{"h": "2d711642'), show(expected))
    h.check_result("python3 json+hashlib",
                   h.sandbox(["/usr/bin/python3", "-c", PY_HASH]), 0, expected)
    h.check_result("stdin is passed through",
                   h.sandbox(["/bin/cat"], stdin=b"from stdin\n"), 0, b"from stdin\n")

    # Options.
    h.check_result("--cwd", h.sandbox(["/bin/pwd"], options=["--cwd", "/usr/share"]), 0,
                   b"/usr/share\n")
    res = h.sandbox(["/usr/bin/env"], options=["--env", "SBX_E2E=yes it works"])
    h.check("--env adds a variable",
            res.returncode == 0 and b"SBX_E2E=yes it works\n" in res.stdout, show(res.stdout))
    res = h.sandbox(["/usr/bin/env"], options=["--clear-env", "--env", "ONLY=1"])
    h.check("--clear-env drops the host environment",
            res.returncode == 0 and b"ONLY=1\n" in res.stdout and b"LC_ALL=" not in res.stdout,
            show(res.stdout))

    # The guest's view of the system.
    res = h.sandbox(["/bin/uname", "-r"])
    host_release = os.uname().release.encode() + b"\n"
    h.check_result("uname -r is the sentry's release", res, 0, b"6.6.0-sbx\n")
    h.check("uname -r differs from the host's", res.stdout != host_release, show(res.stdout))
    h.check_result("fresh empty /tmp", h.sandbox(["/bin/ls", "-A", "/tmp"]), 0, b"")

    # --strace.
    res = h.sandbox(["/bin/true"], options=["--strace"])
    err = res.stderr.decode(errors="replace")
    h.check("--strace exit status", res.returncode == 0, "exit %r" % res.returncode)
    h.check("--strace shows the first syscalls",
            re.search(r"^\[pid +1\] (brk|arch_prctl|mmap)\(", err, re.M) is not None,
            err[:600])
    h.check("--strace shows exit_group", re.search(r"exit_group\(0\)\s*=\s*\?", err) is not None,
            err[-600:])
    h.check("--strace keeps stdout clean", res.stdout == b"", show(res.stdout))

    # Exit statuses.
    h.check_result("true exits 0", h.sandbox(["/bin/true"]), 0, b"")
    h.check_result("false exits 1", h.sandbox(["/bin/false"]), 1, b"")
    h.check_result("sh -c 'exit 3'", h.sandbox(["/bin/sh", "-c", "exit 3"]), 3, b"")
    res = h.sandbox(["/nonexistent/sbx-program"])
    h.check_result("missing program exits 127", res, 127)
    h.check("missing program message",
            b"sandbox: /nonexistent/sbx-program: No such file or directory\n" in res.stderr,
            show(res.stderr))
    h.check_result("non-executable file exits 126", h.sandbox(["/etc/passwd"]), 126)
    host_segv = h.host([args.segv])
    h.check("segv helper faults natively", host_segv.returncode == -11,
            "exit %r" % host_segv.returncode)
    h.check_result("guest killed by SIGSEGV exits 139", h.sandbox([args.segv]), 139)

    # The host root is read-only. The name is unique so a broken sandbox cannot clobber
    # anything; if the file appears on the host it is removed and the check fails.
    victim = "/sbx-e2e-rofs-%d" % os.getpid()
    res = h.sandbox(["/usr/bin/python3", "-c", "open(%r, 'w')" % victim])
    h.check_result("writing under / fails with EROFS", res, 1,
                   stderr_contains=b"Read-only file system")
    leaked = os.path.exists(victim)
    if leaked:
        os.unlink(victim)
    h.check("the host root is untouched", not leaked, victim + " was created on the host")

    # --rootfs: the guest sees exactly the given tree (plus the sentry's own mounts).
    root = tempfile.mkdtemp(prefix="sbx-e2e-root-")
    try:
        shutil.copy(args.hello_static, os.path.join(root, "hello"))
        os.mkdir(os.path.join(root, "only-in-this-root"))
        res = h.sandbox(["/hello", "x y"], options=["--rootfs", root])
        lines = sorted(res.stdout.splitlines())  # directory order is the filesystem's
        h.check("--rootfs serves the given tree",
                res.returncode == 0 and
                lines == [b"arg x y", b"entry hello", b"entry only-in-this-root"],
                "exit %r stdout %s stderr %s" % (res.returncode, show(res.stdout),
                                                 show(res.stderr)))
        res = h.sandbox(["/bin/true"], options=["--rootfs", root])
        h.check_result("--rootfs: host programs are not there", res, 127,
                       stderr_contains=b"sandbox: /bin/true: No such file or directory")
    finally:
        shutil.rmtree(root, ignore_errors=True)

    # Bad command lines name the culprit and never start a guest.
    res = h.sandbox(["/bin/true"], options=["--rootfs", "/nonexistent-sbx-root"])
    h.check_result("missing --rootfs is a clear error", res, 125,
                   stderr_contains=b"--rootfs /nonexistent-sbx-root")
    res = h.sandbox(["/bin/true"], options=["--cwd", "relative/dir"])
    h.check_result("relative --cwd is refused", res, 2,
                   stderr_contains=b"--cwd relative/dir: must be an absolute path")
    res = h.sandbox(["/bin/true"], options=["--cwd", "/nonexistent-sbx-dir"])
    h.check_result("missing --cwd is a clear error", res, 125,
                   stderr_contains=b"--cwd /nonexistent-sbx-dir: No such file or directory")
    res = h.sandbox(["/bin/true"], options=["--no-such-flag"])
    h.check_result("unknown option is refused", res, 2,
                   stderr_contains=b"unknown option --no-such-flag")

    # --debug-log: an unimplemented syscall is logged once per sandbox, however often called.
    log = tempfile.NamedTemporaryFile(prefix="sbx-e2e-log-", delete=False)
    log.close()
    try:
        prog = ("import ctypes; l = ctypes.CDLL(None, use_errno=True); "
                "[l.syscall(163, 0) for _ in range(3)]")  # acct(2): refused in a sandbox
        res = h.sandbox(["/usr/bin/python3", "-c", prog], options=["--debug-log", log.name])
        with open(log.name, "rb") as f:
            lines = [l for l in f.read().splitlines() if b"unimplemented syscall: acct(" in l]
        h.check("debug log names an unimplemented syscall once", res.returncode == 0 and
                len(lines) == 1, "exit %r, acct lines %r" % (res.returncode, lines))
    finally:
        os.unlink(log.name)

    return h.finish()


if __name__ == "__main__":
    sys.exit(main())
