#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The GJS panel (clients/gjs/machina-panel.js, as installed, with the installed introspection
XML) on the bed's bus: it lists the guest, then follows a Start made by busctl and a Stop made
over dbus-python, and a guest defined and undefined while it runs; --once lists and exits; SIGTERM
ends it cleanly."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clientfixture import Child, Failure, MachinadBed, check, install_tree, pump_until  # noqa: E402
from bedfixture import guest_definition  # noqa: E402
import dbus  # noqa: E402

GJS = "/usr/bin/gjs"
GUEST = "alpha"


def log(msg):
    print(f"test-gjs-panel: {msg}", file=sys.stderr, flush=True)


class Panel:
    """machina-panel.js running, its stdout collected line by line by a reader thread."""

    def __init__(self, root, bus_address, tmp, *args):
        self.lines = []
        self.env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp,
                    "DBUS_SYSTEM_BUS_ADDRESS": bus_address,
                    "DBUS_SESSION_BUS_ADDRESS": bus_address}
        self.argv = [GJS, os.path.join(root, "share", "doc", "machina", "examples", "gjs", "machina-panel.js"),
                     "--interfaces-dir=" + os.path.join(root, "share", "dbus-1", "interfaces"), *args]
        self.child = Child("machina-panel", self.argv, self.env, os.path.join(tmp, "panel.err"),
                           stdout=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.child.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append((time.monotonic(), line))

    def wait_line(self, line, timeout, since=0):
        """Wait (pumping the bus main loop) until `line` is printed; returns its index."""
        def seen():
            for i, (_, text) in enumerate(self.lines[since:], since):
                if text == line:
                    return i + 1
            if self.child.proc.poll() is not None and not self.reader.is_alive():
                raise Failure(f"panel exited ({self.child.proc.returncode}) before {line!r}: "
                              f"{self.texts()} {self.child.log_text()[-2000:]}")
            return None
        try:
            return pump_until(seen, timeout, f"panel line {line!r}") - 1
        except Failure as e:
            raise Failure(f"{e}; panel printed {self.texts()}; stderr {self.child.log_text()[-2000:]!r}") from None

    def texts(self):
        return [t for _, t in self.lines]

    def stop(self):
        self.child.stop()
        self.reader.join(timeout=10)


def busctl(bed, *args):
    r = subprocess.run(["busctl", "--address=" + bed.bed.address, *args],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"busctl {args}: {r.stderr}")
    return r.stdout


def drive(b, root, tmp):
    path, m = b.machine(GUEST)
    panel = Panel(root, b.bed.address, tmp)
    try:
        t0 = time.monotonic()
        panel.wait_line(f"list {GUEST} stopped -", 30)
        ready = panel.wait_line("ready 1", 30)
        log(f"panel listed the guest in {time.monotonic() - t0:.2f}s")

        # Start from another client (busctl): the panel follows through PropertiesChanged.
        t0 = time.monotonic()
        busctl(b, "call", "org.machina", path, "org.machina.Machine", "Start")
        running = panel.wait_line(f"state {GUEST} running user", 60, ready)
        log(f"panel printed running {time.monotonic() - t0:.2f}s after busctl Start")

        # Booted (acpid up) before the orderly stop, so it is not cut short on a slow host.
        b.wait_guest_ready(GUEST, timeout=120)
        t0 = time.monotonic()
        r = b.call_async(m.Stop)
        check(r[0] == "ok", f"Stop: {r}")
        stopped = panel.wait_line(f"state {GUEST} stopped user", 60, running)
        log(f"panel printed stopped {time.monotonic() - t0:.2f}s after Stop")
        # Every transition once, in lifecycle order (starting and stopping may be seen or not).
        states = [t.split()[2] for t in panel.texts()[ready:stopped + 1] if t.startswith(f"state {GUEST} ")]
        order = ["starting", "running", "stopping", "stopped"]
        check(all(st in order for st in states) and states == sorted(states, key=order.index) and
              len(states) == len(set(states)) and "running" in states and states[-1] == "stopped",
              f"state lines in lifecycle order, one per transition: {states}")

        # A guest defined and undefined while the panel runs.
        d = guest_definition(b.guest_dir, "beta")
        b.manager().DefineMachine(json.dumps(d), dbus.UInt64(0))
        added = panel.wait_line("added beta stopped", 30, stopped)
        b.manager().UndefineMachine("beta", dbus.UInt64(0))
        panel.wait_line("removed beta", 30, added)
    finally:
        panel.child.proc.poll()
        alive = panel.child.alive()
        if alive:
            panel.child.signal(signal.SIGTERM)
        try:
            panel.child.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        code = panel.child.proc.returncode
        panel.stop()
    check(alive and code == 0, f"panel on SIGTERM: alive before {alive}, exit code {code}")

    # --once: the list as it is now, then exit 0.
    once = Panel(root, b.bed.address, tmp, "--once")
    try:
        once.wait_line("ready 1", 30)
        check(once.texts() == [f"list {GUEST} stopped user", "ready 1"], f"--once printed {once.texts()}")
        pump_until(lambda: once.child.proc.poll() is not None, 30, "panel --once to exit")
        check(once.child.proc.returncode == 0, f"--once exit code {once.child.proc.returncode}")
    finally:
        once.stop()


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    if not os.path.exists(GJS):
        print("FAIL: gjs missing: run tools/install-deps", file=sys.stderr, flush=True)
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="machina-gjs-")
    b = None
    failed = True
    try:
        root = install_tree(tmp)
        b = MachinadBed([dict(name=GUEST)])
        drive(b, root, tmp)
        b.check_daemon_exit()
        failed = False
    except (Failure, dbus.DBusException, subprocess.SubprocessError, OSError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if b:
            b.close(failed=failed)
        shutil.rmtree(tmp, ignore_errors=True)
    print("FAIL" if failed else "PASS", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
