#!/usr/bin/env python3
"""Informational benchmark: syscall round trip and start-up cost, native vs sandboxed.

Prints getppid() ns/call natively and under `sandbox run` with their ratio, and the median
wall time of 5 runs of `/bin/true` natively and under `sandbox run`. Exits 0 when everything
ran, SKIP_CODE when the sandbox binary does not exist yet, 1 if a run failed.

Usage: bench.py --sandbox PATH --bench PATH [--calls N]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import BASE_ENV, SKIP_CODE  # noqa: E402


def ns_per_call(cmd):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BASE_ENV,
                         timeout=600)
    m = re.search(rb"^ns_per_call=([0-9.]+)$", res.stdout, re.M)
    if res.returncode != 0 or not m:
        raise RuntimeError("%s failed (exit %r): %s %s" % (
            " ".join(cmd), res.returncode, res.stdout[-300:], res.stderr[-300:]))
    return float(m.group(1))


def median_wall(cmd, runs=5):
    times = []
    for _ in range(runs):
        start = time.monotonic()
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=BASE_ENV, timeout=120)
        times.append(time.monotonic() - start)
        if res.returncode != 0:
            raise RuntimeError("%s failed (exit %r): %s" % (
                " ".join(cmd), res.returncode, res.stderr[-300:]))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", default="")
    ap.add_argument("--bench", required=True)
    ap.add_argument("--calls", type=int, default=100000)
    args = ap.parse_args()
    calls = str(args.calls)

    native = min(ns_per_call([args.bench, calls]) for _ in range(3))
    native_true = median_wall(["/bin/true"])
    print("getppid native:    %10.1f ns/call" % native)
    print("/bin/true native:  %10.2f ms (median of 5)" % (native_true * 1e3))
    if not args.sandbox or not os.access(args.sandbox, os.X_OK):
        print("SKIP: sandbox binary not built (%r)" % (args.sandbox,))
        return SKIP_CODE
    try:
        sandboxed = ns_per_call([args.sandbox, "run", "--", args.bench, calls])
        sandbox_true = median_wall([args.sandbox, "run", "--", "/bin/true"])
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s" % e)
        return 1
    print("getppid sandboxed: %10.1f ns/call  (%.1fx native)" % (sandboxed, sandboxed / native))
    print("/bin/true sandbox: %10.2f ms (median of 5, %.1fx native)"
          % (sandbox_true * 1e3, sandbox_true / native_true))
    return 0


if __name__ == "__main__":
    sys.exit(main())
