#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad in system mode on the real-parts test bed: bus activation, real guests started as
transient units of a real systemd manager, state followed through PropertiesChanged, ACPI
shutdown, timeouts, crash detection, re-adoption after the daemon dies, and polkit (the real
polkitd) for callers that are not root.

Usage: test-machinad-bed.py CASE   (one meson test per case)"""

import os
import signal
import socket
import time
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbus  # noqa: E402
import json  # noqa: E402
from bedfixture import Failure, MachinadBed, check, guest_definition, pump_until  # noqa: E402

def busctl_as(bed, uid, *args, interactive=False):
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "busctl",
           "--address=" + bed.bed.address, f"--allow-interactive-authorization={'yes' if interactive else 'no'}",
           "call", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def case_lifecycle(b):
    """Activation, Start → running (values in the signal), Shutdown → stopped/guest-shutdown,
    unit and runtime dir gone; errors for double Start and Stop of a stopped guest."""
    path, m = b.machine("alpha")            # first call bus-activates machinad
    props = b.props(path)
    check(props["State"] == "stopped", f"initial state {props['State']}")
    r = b.call_async(m.Start)
    check(r[0] == "ok", f"Start failed: {r}")
    running = b.wait_state(path, "running", "user", timeout=10)
    check(int(running["MainPID"]) > 0, f"MainPID in the running signal: {running}")
    check(running["Generation"] > props["Generation"], "Generation increases")
    check(b.unit_exists("machina-alpha.service"), "unit exists while running")
    r = b.call_async(m.Start)
    check(r[:2] == ("error", "org.machina.Error.AlreadyRunning"), f"double Start: {r}")
    b.wait_guest_ready("alpha")
    r = b.call_async(m.Shutdown, dbus.UInt64(60_000_000), dbus.UInt64(0))
    check(r[0] == "ok", f"Shutdown failed: {r}")
    b.wait_state(path, "stopped", "guest-shutdown", timeout=10)
    after = b.props(path)
    check(after["MainPID"] == 0, "MainPID 0 when stopped")
    pump_until(lambda: not b.unit_exists("machina-alpha.service"), 30, "unit to be collected")
    check(not os.path.exists(os.path.join(b.runtime_dir, "alpha")), "runtime dir removed")
    r = b.call_async(m.Stop)
    check(r[:2] == ("error", "org.machina.Error.NotRunning"), f"Stop of a stopped guest: {r}")
    # One transition, one signal: exactly one State=running and one State=stopped.
    states = [str(c["State"]) for c in b.changes(path) if "State" in c]
    check(states.count("running") == 1 and states.count("stopped") == 1, f"state signals {states}")


def case_timeout(b):
    """The guest that ignores ACPI: Shutdown times out (Timeout, still running), FORCE stops it."""
    path, m = b.machine("deaf")
    check(b.call_async(m.Start)[0] == "ok", "Start")
    b.wait_guest_ready("deaf")
    r = b.call_async(m.Shutdown, dbus.UInt64(2_000_000), dbus.UInt64(0))
    check(r[:2] == ("error", "org.machina.Error.Timeout"), f"Shutdown without FORCE: {r}")
    check(b.props(path)["State"] == "running", "still running after the timeout")
    r = b.call_async(m.Shutdown, dbus.UInt64(2_000_000), dbus.UInt64(1))
    check(r[0] == "ok", f"Shutdown with FORCE: {r}")
    b.wait_state(path, "stopped", "timeout-forced", timeout=10)


def qmp_status(b, name):
    q = b.qmp_stop(name)
    try:
        return q.execute("query-status")["status"]
    finally:
        q.close()


def case_control(b):
    """Pause/Resume (checked over QMP), Reboot (RESET event relayed), Stop → stopped/user."""
    path, m = b.machine("alpha")
    check(b.call_async(m.Start)[0] == "ok", "Start")
    b.wait_guest_ready("alpha")
    check(b.call_async(m.Pause)[0] == "ok", "Pause")
    check(b.props(path)["State"] == "paused", "State paused")
    check(qmp_status(b, "alpha") == "paused", "QEMU paused")
    check(b.call_async(m.Resume)[0] == "ok", "Resume")
    check(b.props(path)["State"] == "running", "State running")
    check(qmp_status(b, "alpha") == "running", "QEMU running")
    check(b.call_async(m.Reboot)[0] == "ok", "Reboot")
    pump_until(lambda: any(s[1] == "Event" and s[2] == path and str(s[3][0]) == "RESET" for s in b.signals),
               10, "Event RESET")
    r = b.call_async(m.Stop)
    check(r[0] == "ok", f"Stop: {r}")
    b.wait_state(path, "stopped", "user", timeout=10)
    check(not b.unit_exists("machina-alpha.service"), "unit gone after Stop")


def case_crash(b):
    """QEMU killed behind machinad's back → crashed/crashed."""
    path, m = b.machine("alpha")
    check(b.call_async(m.Start)[0] == "ok", "Start")
    pid = int(b.props(path)["MainPID"])
    check(pid > 0, "MainPID known")
    os.kill(pid, signal.SIGKILL)
    b.wait_state(path, "crashed", "crashed", timeout=30)
    r = b.call_async(m.Start)
    check(r[0] == "ok", f"a crashed guest starts again: {r}")
    check(b.call_async(m.Kill, "all", dbus.Int32(signal.SIGKILL))[0] == "ok", "Kill")
    b.wait_state(path, "stopped", "killed", timeout=30)


def case_adopt(b):
    """machinad SIGKILLed while three guests run: the next call re-activates it, which lists
    them running/adopted with the same QEMU PIDs; they were never interrupted."""
    names = ["alpha", "beta", "gamma"]
    pids = {}
    for n in names:
        path, m = b.machine(n)
        check(b.call_async(m.Start)[0] == "ok", f"Start {n}")
        pids[n] = int(b.props(path)["MainPID"])
    old = b.daemon_pid()
    os.kill(old, signal.SIGKILL)
    pump_until(lambda: not b.conn.name_has_owner("org.machina"), 10, "org.machina released")
    listed = {str(n): str(s) for n, _, s, _ in b.manager().ListMachines()}
    check(b.daemon_pid() != old, "a new machinad answered")
    for n in names:
        path, m = b.machine(n)
        p = b.props(path)
        check(listed[n] == "running", f"{n} listed {listed[n]}")
        check(p["StateReason"] == "adopted", f"{n} reason {p['StateReason']}")
        check(int(p["MainPID"]) == pids[n], f"{n} PID {p['MainPID']} != {pids[n]}")
        os.kill(pids[n], 0)     # still the same process
    for n in names:
        path, m = b.machine(n)
        check(b.call_async(m.Stop)[0] == "ok", f"Stop adopted {n}")
        b.wait_state(path, "stopped", "user", timeout=30)


def case_polkit(b):
    """uid 65534: refused without rights (nothing changes), allowed by a polkit rule, and as the
    guest's Owner without polkit. Reading is free."""
    path, m = b.machine("alpha")
    r = busctl_as(b, 65534, "org.machina", path, "org.machina.Machine", "Start")
    check(r.returncode != 0, "stranger's Start refused")
    check("org.machina.machine.control" in r.stderr or "nteractive" in r.stderr, f"error names the action: {r.stderr}")
    r = busctl_as(b, 65534, "org.machina", path, "org.machina.Machine", "Start", interactive=True)
    check(r.returncode != 0, "refused with interactive flag too (no agent)")
    check(b.props(path)["State"] == "stopped", "nothing changed")
    r = busctl_as(b, 65534, "org.machina", "/org/machina", "org.machina.Manager", "DefineMachine", "st", "{}", "0")
    check(r.returncode != 0 and "org.machina.machine.define" in r.stderr + r.stdout or "nteractive" in r.stderr,
          f"define refused: {r.stderr}")
    r = busctl_as(b, 65534, "org.machina", "/org/machina", "org.machina.Manager", "ListMachines")
    check(r.returncode == 0, f"reading is free: {r.stderr}")

    with open(os.path.join(b.bed.rules_dir, "50-test.rules"), "w") as f:
        f.write('polkit.addRule(function(action, subject) {\n'
                '  if (action.id == "org.machina.machine.control" && subject.user == "nobody")\n'
                '    return polkit.Result.YES;\n});\n')
    os.chmod(os.path.join(b.bed.rules_dir, "50-test.rules"), 0o644)
    # polkitd reloads rules when files change: poll until the rule is in force.
    def started():
        r = busctl_as(b, 65534, "org.machina", path, "org.machina.Machine", "Start")
        return r.returncode == 0
    pump_until(started, 30, "polkit rule to allow Start")
    b.wait_state(path, "running", timeout=10)
    check(b.call_async(m.Kill, "all", dbus.Int32(signal.SIGKILL))[0] == "ok", "Kill as root")
    b.wait_state(path, "stopped", "killed", timeout=30)

    path2, m2 = b.machine("owned")
    r = busctl_as(b, 65534, "org.machina", path2, "org.machina.Machine", "Start")
    check(r.returncode == 0, f"the owner starts without polkit: {r.stderr}")
    r = busctl_as(b, 65534, "org.machina", path2, "org.machina.Machine", "Stop")
    check(r.returncode == 0, f"the owner stops: {r.stderr}")
    b.wait_state(path2, "stopped", "user", timeout=30)


def read_until(s, needle, timeout, what):
    """Read from a console socket until needle shows up; b"" (EOF) is a failure."""
    buf = b""
    deadline = time.monotonic() + timeout
    s.settimeout(0.5)
    while needle not in buf:
        if time.monotonic() > deadline:
            raise Failure(f"{what}: no {needle!r} in {timeout}s: {buf[-300:]!r}")
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        if not data:
            raise Failure(f"{what}: console closed: {buf[-300:]!r}")
        buf += data
    return buf


def wait_eof(s, timeout, what):
    deadline = time.monotonic() + timeout
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if s.recv(4096) == b"":
                return
        except socket.timeout:
            pass
        except ConnectionResetError:
            return
    raise Failure(f"{what}: no EOF in {timeout}s")


def case_console(b):
    """OpenConsole: read the guest's echo and type into it; the newest opener takes the console
    over (the previous one reads EOF); closing and reopening works; strangers are refused; the
    console ends when the guest stops."""
    path, m = b.machine("alpha")
    r = b.call_async(m.OpenConsole)
    check(r[:2] == ("error", "org.machina.Error.NotRunning"), f"console of a stopped guest: {r}")
    check(b.call_async(m.Start)[0] == "ok", "Start")
    first, _ = b.wait_guest_ready("alpha")
    first.sendall(b"hello-console\r")
    read_until(first, b"echo: hello-console", 30, "typed line echoed")

    second = b.open_console("alpha")
    wait_eof(first, 10, "previous opener disconnected")
    second.sendall(b"second-opener\r")
    read_until(second, b"echo: second-opener", 30, "newest opener types")

    r = busctl_as(b, 65534, "org.machina", path, "org.machina.Machine", "OpenConsole")
    check(r.returncode != 0 and ("org.machina.machine.console" in r.stderr or "nteractive" in r.stderr),
          f"stranger's OpenConsole refused naming the action: {r.stderr}")

    second.close()
    third = b.open_console("alpha")     # QEMU's single connection was released and is re-made
    b.wait_guest_ready("alpha", timeout=30, console=third)
    check(b.call_async(m.Stop)[0] == "ok", "Stop")
    wait_eof(third, 30, "console ends with the guest")
    b.wait_state(path, "stopped", "user", timeout=10)


def case_create(b):
    """CreateMachine: a transient guest runs (Persistent=false, no file written), and vanishes
    (MachineRemoved, InterfacesRemoved) once it stops; bad input and name clashes are refused."""
    mgr = b.manager()
    conf_d = os.path.join(b.config_dir, "machine.conf.d")
    before = sorted(os.listdir(conf_d))
    r = b.call_async(mgr.CreateMachine, "{", dbus.UInt64(0))
    check(r[:2] == ("error", "org.machina.Error.InvalidConfig") and "<bus>" in r[2], f"bad JSON: {r}")
    r = b.call_async(mgr.CreateMachine, json.dumps(guest_definition(b.guest_dir, "alpha")), dbus.UInt64(0))
    check(r[:2] == ("error", "org.machina.Error.MachineExists"), f"name of a defined guest: {r}")
    r = b.call_async(mgr.CreateMachine, json.dumps(guest_definition(b.guest_dir, "tr")), dbus.UInt64(2))
    check(r[:2] == ("error", "org.freedesktop.DBus.Error.InvalidArgs"), f"unknown flags: {r}")
    check(sorted(str(n) for n, _, _, _ in mgr.ListMachines()) == ["alpha"], "nothing created")

    r = b.call_async(mgr.CreateMachine, json.dumps(guest_definition(b.guest_dir, "tr")), dbus.UInt64(0))
    check(r[0] == "ok", f"CreateMachine: {r}")
    path = str(r[1])
    check(path == "/org/machina/machine/tr", f"path {path}")
    p = b.props(path)
    check(p["State"] == "running" and not p["Persistent"], f"transient running: {p['State']} {p['Persistent']}")
    pump_until(lambda: any(s[1] == "MachineNew" and str(s[3][0]) == "tr" for s in b.signals), 5, "MachineNew")
    check(sorted(os.listdir(conf_d)) == before, "no file written")
    r = b.call_async(mgr.DefineMachine, json.dumps(guest_definition(b.guest_dir, "tr")), dbus.UInt64(1))
    check(r[:2] == ("error", "org.machina.Error.Busy"), f"define over a running transient: {r}")
    b.wait_guest_ready("tr")
    _, m = b.machine("tr")
    check(b.call_async(m.Shutdown, dbus.UInt64(60_000_000), dbus.UInt64(0))[0] == "ok", "Shutdown")
    pump_until(lambda: any(s[1] == "MachineRemoved" and str(s[3][0]) == "tr" for s in b.signals), 30,
               "MachineRemoved")
    pump_until(lambda: any(s[1] == "InterfacesRemoved" and s[2] == "/org/machina" and str(s[3][0]) == path
                           for s in b.signals), 5, "InterfacesRemoved")
    check(sorted(str(n) for n, _, _, _ in mgr.ListMachines()) == ["alpha"], "transient gone from the list")
    r = b.call_async(mgr.GetMachine, "tr")
    check(r[:2] == ("error", "org.machina.Error.NoSuchMachine"), f"GetMachine after: {r}")
    check(sorted(os.listdir(conf_d)) == before, "still no file")

    # A transient guest whose start fails leaves nothing behind.
    bad = guest_definition(b.guest_dir, "broken")
    bad["attrs"]["kernel"]["path"] = "/nonexistent/vmlinux"
    r = b.call_async(mgr.CreateMachine, json.dumps(bad), dbus.UInt64(0))
    check(r[0] == "error", f"failing transient start: {r}")
    pump_until(lambda: sorted(str(n) for n, _, _, _ in mgr.ListMachines()) == ["alpha"], 10,
               "failed transient removed")


CASES = {
    "create": (case_create, ["alpha"]),
    "console": (case_console, ["alpha"]),
    "lifecycle": (case_lifecycle, ["alpha"]),
    "timeout": (case_timeout, ["deaf"]),
    "control": (case_control, ["alpha"]),
    "crash": (case_crash, ["alpha"]),
    "adopt": (case_adopt, ["alpha", "beta", "gamma"]),
    "polkit": (case_polkit, ["alpha", "owned"]),
}


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    case = sys.argv[1]
    fn, names = CASES[case]
    b = None
    failed = True
    try:
        defs = [dict(name=n, variant="ignore" if n == "deaf" else "acpi",
                     owner=65534 if n == "owned" else None) for n in names]
        b = MachinadBed(defs)
        fn(b)
        b.check_daemon_exit()
        failed = False
    except (Failure, dbus.DBusException, subprocess.SubprocessError, OSError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if b:
            b.close(failed=failed)
    print("FAIL" if failed else "PASS", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
