#!/usr/bin/env python3
"""Stress test: many threads and many short processes inside one sandbox.

Checks, for each load: the guest's own result checks pass (proc_stress exits 0 and prints
"ok <mode>"), the sandbox exits cleanly, no host process of the sandbox survives it, and the
number of host processes alive at once stays bounded. A multi-round run then measures the
sandbox's host memory (PSS of all its processes) after each round: it must not keep growing.
The same loads run natively first, as the oracle.

Usage: stress_test.py --sandbox PATH --stress PATH
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import BASE_ENV, Harness, show  # noqa: E402
from proctree import Tracker, Watched, leftovers, pss_kib  # noqa: E402

ROUNDS = 6
# Allowed growth of the sandbox's PSS between the second and the last round. The first round
# warms caches and pools; after it, every round does the same work and frees it.
MAX_GROWTH_KIB = 48 * 1024

LOADS = [
    # (name, argv, max host processes alive at once)
    ("200 threads", ["threads", "200"], 16),
    ("2000 short processes, 32 at a time", ["procs", "2000", "32"], 32 + 16),
    ("3000 fork+wait", ["forks", "3000"], 16),
]


def rounds(h, argv, env):
    """Runs proc_stress rounds under `argv` prefix, sampling PSS after each round; returns
    (exit status, output, PSS list in KiB, tracker)."""
    proc = subprocess.Popen(argv + ["rounds", str(ROUNDS)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    tracker = Tracker(proc.pid)
    pss = []
    out = b""
    for k in range(1, ROUNDS + 1):
        line = proc.stdout.readline()
        out += line
        if line != b"round %d\n" % k:
            break
        pss.append(pss_kib(tracker.sample()))
        if k < ROUNDS:
            proc.stdin.write(b"x")
            proc.stdin.flush()
    try:
        rest, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, err = proc.communicate()
    return proc.returncode, out + rest, err, pss, tracker


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", default="")
    ap.add_argument("--stress", required=True)
    args = ap.parse_args()
    h = Harness(args.sandbox)
    env = dict(BASE_ENV)

    for name, argv, _ in LOADS:
        res = h.host([args.stress] + argv, timeout=300)
        h.check_result("native: " + name, res, 0, b"ok %s\n" % argv[0].encode())
    h.require_sandbox()

    for name, argv, bound in LOADS:
        w = Watched([args.sandbox, "run", "--", args.stress] + argv, env, timeout=900)
        h.check_result(name, w, 0, b"ok %s\n" % argv[0].encode())
        left = w.leftovers()
        h.check(name + ": no host process left", not left, "leftovers: %s" % left)
        h.check(name + ": host processes bounded", w.max_alive <= bound,
                "%d host processes alive at once (bound %d)" % (w.max_alive, bound))

    code, out, err, pss, tracker = rounds(h, [args.sandbox, "run", "--", args.stress], env)
    ok = code == 0 and out.endswith(b"ok rounds\n") and len(pss) == ROUNDS
    h.check("%d rounds of processes + threads" % ROUNDS, ok,
            "exit %r stdout %s stderr %s" % (code, show(out), show(err)))
    if len(pss) == ROUNDS:
        print("sandbox PSS after each round (MiB): %s"
              % " ".join("%.1f" % (p / 1024.0) for p in pss))
        growth = pss[-1] - pss[1]
        h.check("host memory does not grow across rounds", growth <= MAX_GROWTH_KIB,
                "PSS grew by %.1f MiB from round 2 to round %d" % (growth / 1024.0, ROUNDS))
    left = leftovers(tracker.seen, tracker.namespaces)
    h.check("rounds: no host process left", not left, "leftovers: %s" % left)
    return h.finish()


if __name__ == "__main__":
    sys.exit(main())
