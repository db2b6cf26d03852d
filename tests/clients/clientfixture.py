# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared by the client tests: the machinad bed, and child processes that are always stopped by
the PIDs recorded at start (the process and any helper it spawned into its process group)."""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.realpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "daemon"))

from bedfixture import BUILDDIR, Failure, MachinadBed, check, pump_until  # noqa: E402,F401
from e2e import pump  # noqa: E402,F401
import testbed  # noqa: E402

ARTEFACT_DIR = os.path.join(BUILDDIR, "meson-logs")


def _stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields


def group_members(pgid, since):
    """PIDs in process group pgid that started no earlier than `since` (the leader's start time),
    so a recycled PID of someone else is never included."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields and int(fields[2]) == pgid and int(fields[19]) >= since:
            pids.append(int(name))
    return pids


def descendants(pid, since):
    """(pid, starttime) of every live descendant of pid started no earlier than `since`."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields and int(fields[19]) >= since:
                children.setdefault(int(fields[1]), []).append((int(name), int(fields[19])))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


class Child:
    """A process started in its own session; stop() ends it and everything in its group."""

    def __init__(self, name, argv, env, log_path, cwd=None, stdout=None, pass_fds=()):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=stdout if stdout is not None else self.log,
                                     stderr=self.log, start_new_session=True,
                                     pass_fds=pass_fds)
        self.pid = self.proc.pid
        self.starttime = testbed.proc_starttime(self.pid)
        self.known = []

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        return testbed.kill_recorded(self.pid, self.starttime, sig)

    def members(self):
        """Live processes of ours: the process group, plus descendants seen by note_descendants()
        (a helper that left the group is still found and stopped)."""
        if self.starttime is None:
            return []
        pids = set(group_members(self.pid, self.starttime))
        pids.update(pid for pid, start in self.known if testbed.proc_alive(pid, start))
        return sorted(pids)

    def note_descendants(self):
        """Remember the current descendants (by PID and start time) for stop()."""
        if self.starttime is not None:
            for d in descendants(self.pid, self.starttime):
                if d not in self.known:
                    self.known.append(d)
        return [pid for pid, _ in self.known]

    def stop(self, timeout=10.0):
        """SIGTERM to the group, SIGKILL after the timeout; waits until nothing is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            self.note_descendants()     # before the parent goes and they are re-parented
            if self.proc.poll() is None:
                testbed.kill_recorded(self.pid, self.starttime, sig)
            for pid in group_members(self.pid, self.starttime) if self.starttime is not None else []:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            for pid, start in self.known:
                testbed.kill_recorded(pid, start, sig)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.proc.poll()
                if self.proc.returncode is not None and not self.members():
                    break
                time.sleep(0.05)
            else:
                continue
            break
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        left = self.members()
        self.log.close()
        if left:
            raise Failure(f"{self.name}: processes left running after SIGKILL: {left}")

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def install_tree(tmp):
    """`meson install --destdir` of the build into tmp: the clients are tested as installed.
    Returns the prefix inside the destdir."""
    dest = os.path.join(tmp, "dest")
    r = subprocess.run(["meson", "install", "-C", BUILDDIR, "--no-rebuild", "--quiet", "--destdir", dest],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"meson install failed: {r.stdout}{r.stderr}")
    r = subprocess.run(["meson", "introspect", BUILDDIR, "--buildoptions"],
                       capture_output=True, text=True, timeout=60, check=True)
    prefix = next(o["value"] for o in json.loads(r.stdout) if o["name"] == "prefix")
    return dest + prefix
