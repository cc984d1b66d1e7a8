#!/usr/bin/env python3
"""Informational benchmark of issue 3's two figures, native vs sandboxed: a fork+exec+wait
loop of /bin/true (200 iterations) and a 32-thread futex ping-pong (token ring). Prints each
time natively and under `sandbox run` with the ratio, like bench.py. Exits 0 when everything
ran, SKIP_CODE when the sandbox binary does not exist yet, 1 if a run failed.

Usage: process_bench.py --sandbox PATH --fork-exec PATH --futex PATH
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import SKIP_CODE, ns_per_call  # noqa: E402

ITERATIONS = "200"  # fork+exec+wait iterations
ROUNDS = "200"      # ring rounds: 32 x 200 = 6400 hand-offs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", default="")
    ap.add_argument("--fork-exec", required=True)
    ap.add_argument("--futex", required=True)
    args = ap.parse_args()

    native_fe = min(ns_per_call([args.fork_exec, ITERATIONS]) for _ in range(3))
    native_fx = min(ns_per_call([args.futex, ROUNDS]) for _ in range(3))
    print("fork+exec+wait native:    %10.1f us/iteration (%s iterations)"
          % (native_fe / 1e3, ITERATIONS))
    print("futex ping-pong native:   %10.1f us/hand-off (32 threads)" % (native_fx / 1e3))
    if not args.sandbox or not os.access(args.sandbox, os.X_OK):
        print("SKIP: sandbox binary not built (%r)" % (args.sandbox,))
        return SKIP_CODE
    try:
        sandbox_fe = ns_per_call([args.sandbox, "run", "--", args.fork_exec, ITERATIONS])
        sandbox_fx = ns_per_call([args.sandbox, "run", "--", args.futex, ROUNDS])
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s" % e)
        return 1
    print("fork+exec+wait sandboxed: %10.1f us/iteration (%.1fx native)"
          % (sandbox_fe / 1e3, sandbox_fe / native_fe))
    print("futex ping-pong sandbox:  %10.1f us/hand-off (%.1fx native)"
          % (sandbox_fx / 1e3, sandbox_fx / native_fx))
    return 0


if __name__ == "__main__":
    sys.exit(main())
