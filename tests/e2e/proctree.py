"""Host-side accounting of the processes a `sandbox run` creates, for leak checks.

Watched(cmd) starts the command and, while it runs, samples the host's /proc for its
descendants: their pids (with start times, so a reused pid is not mistaken for a survivor)
and their PID namespaces other than ours (the sentry's, where every stub lives, and the
gofer's). After the command exits, leftovers() lists every host process that is still one of
those descendants or still lives in one of those namespaces. A namespace's init (the sentry)
dying kills everything in it, so a leftover means the sandbox leaked a host process.
"""

import os
import subprocess
import threading
import time


def _stat(pid):
    """(ppid, starttime) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _pidns(pid):
    try:
        return os.readlink("/proc/%d/ns/pid" % pid)
    except OSError:
        return None


def _all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root):
    """{pid: starttime} of root's live descendants (not root itself)."""
    children = {}
    starts = {}
    for pid in _all_pids():
        st = _stat(pid)
        if st is None:
            continue
        children.setdefault(st[0], []).append(pid)
        starts[pid] = st[1]
    out = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out[child] = starts[child]
                todo.append(child)
    return out


class Watched:
    """Runs cmd (bytes output captured) while sampling its process tree every `period` s."""

    def __init__(self, cmd, env, stdin=b"", timeout=600, period=0.05):
        self.cmd = cmd
        self.seen = {}          # pid -> starttime, every descendant ever sampled
        self.namespaces = set()  # their PID namespaces other than ours
        self.max_alive = 0
        self.own_ns = _pidns(os.getpid())
        self._period = period
        self._stop = threading.Event()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        try:
            self.stdout, self.stderr = self.proc.communicate(stdin, timeout=timeout)
            self.returncode = self.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
            self.returncode = "timeout after %ss" % timeout
        self._stop.set()
        sampler.join()

    def _sample(self):
        while not self._stop.is_set():
            now = descendants(self.proc.pid)
            self.max_alive = max(self.max_alive, len(now))
            for pid, start in now.items():
                if pid not in self.seen:
                    self.seen[pid] = start
                    ns = _pidns(pid)
                    if ns is not None and ns != self.own_ns:
                        self.namespaces.add(ns)
            self._stop.wait(self._period)

    def leftovers(self, grace=5.0):
        """Host processes of this sandbox still alive after it exited (see leftovers())."""
        return leftovers(self.seen, self.namespaces, grace)


class Tracker:
    """Records the descendants of a running process and their PID namespaces, sampled on
    demand (sample()); for drivers that talk to the process themselves."""

    def __init__(self, root):
        self.root = root
        self.seen = {}
        self.namespaces = set()
        self.own_ns = _pidns(os.getpid())

    def sample(self):
        """Records the current descendants; returns {pid: starttime} of them."""
        now = descendants(self.root)
        for pid, start in now.items():
            if pid not in self.seen:
                self.seen[pid] = start
                ns = _pidns(pid)
                if ns is not None and ns != self.own_ns:
                    self.namespaces.add(ns)
        return now


def pss_kib(pids):
    """Sum of the proportional set size (KiB) of pids; shared pages are divided among their
    users, so the memory file mapped by the sentry and every stub is counted once."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid, "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def leftovers(seen, namespaces, grace=5.0):
    """Host processes still alive that were seen as descendants (same pid and start time) or
    that live in one of `namespaces`, as "pid (why)" strings. Teardown is asynchronous (the
    kernel kills a dead init's namespace after the frontend has already returned), so the
    scan is repeated for up to `grace` seconds before anything is reported."""
    deadline = time.monotonic() + grace
    while True:
        left = []
        for pid in _all_pids():
            st = _stat(pid)
            if st is None:
                continue
            if seen.get(pid) == st[1]:
                left.append("%d (descendant still alive)" % pid)
            elif _pidns(pid) in namespaces:
                left.append("%d (in the sandbox's PID namespace)" % pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
