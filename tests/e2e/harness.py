"""Shared harness for the e2e and security drivers.

Runs commands on the host and under `sandbox run`, with one fixed environment for both (so
that output such as `ls -la` is comparable), records PASS/FAIL lines and turns them into the
driver's exit status: 0 when every check passed, 1 on any failure, SKIP_CODE when the sandbox
binary does not exist (CTest maps it to "skipped" through SKIP_RETURN_CODE).
"""

import os
import subprocess
import sys

SKIP_CODE = 77

# The environment every command (host and sandbox) runs with.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
    "LANG": "C",
    "TZ": "UTC",
    "HOME": "/root",
}


def show(data, limit=400):
    """Bytes -> short printable text for failure messages."""
    if data is None:
        return "<none>"
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "...[%d bytes]" % len(data)


class Harness:
    """Runs commands and collects check results for one driver."""

    def __init__(self, sandbox):
        self.sandbox_path = sandbox
        self.failures = []
        self.passes = 0

    def require_sandbox(self):
        """Exits with SKIP_CODE if the sandbox binary is missing."""
        if not self.sandbox_path or not os.access(self.sandbox_path, os.X_OK):
            print("SKIP: sandbox binary not built (%r)" % (self.sandbox_path,))
            sys.exit(SKIP_CODE)

    def host(self, argv, stdin=None, env=None, timeout=60):
        """Runs argv on the host; returns subprocess.CompletedProcess (bytes)."""
        return self._run(list(argv), stdin, env, timeout, ())

    def sandbox(self, argv, options=(), stdin=None, env=None, timeout=120, pass_fds=()):
        """Runs `sandbox run OPTIONS -- argv` (the frontend inherits pass_fds besides stdio);
        returns subprocess.CompletedProcess (bytes)."""
        cmd = [self.sandbox_path, "run", *options, "--", *argv]
        return self._run(cmd, stdin, env, timeout, pass_fds)

    def _run(self, cmd, stdin, env, timeout, pass_fds):
        try:
            return subprocess.run(
                cmd,
                pass_fds=pass_fds,
                input=stdin if stdin is not None else b"",
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env if env is not None else dict(BASE_ENV),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(
                cmd, "timeout after %ss" % timeout, e.stdout or b"", e.stderr or b"")

    def check(self, name, ok, detail=""):
        """Records one check and prints its PASS/FAIL line; returns ok."""
        if ok:
            self.passes += 1
            print("PASS: %s" % name)
        else:
            self.failures.append(name)
            print("FAIL: %s" % name)
            if detail:
                for line in str(detail).rstrip("\n").split("\n"):
                    print("    " + line)
        sys.stdout.flush()
        return ok

    def check_result(self, name, res, code=0, stdout=None, stderr_contains=None):
        """Checks exit status, and optionally exact stdout and a stderr substring."""
        problems = []
        if res.returncode != code:
            problems.append("exit status %r, want %r" % (res.returncode, code))
        if stdout is not None and res.stdout != stdout:
            problems.append("stdout differs:\n  got:  %s\n  want: %s"
                            % (show(res.stdout), show(stdout)))
        if stderr_contains is not None and stderr_contains not in res.stderr:
            problems.append("stderr lacks %r" % stderr_contains)
        if problems:
            problems.append("stderr: %s" % show(res.stderr))
        return self.check(name, not problems, "\n".join(problems))

    def finish(self):
        """Prints the summary; returns the driver's exit status."""
        print("%d passed, %d failed" % (self.passes, len(self.failures)))
        for name in self.failures:
            print("  failed: %s" % name)
        return 1 if self.failures else 0
