#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad in system mode on the real-parts test bed: bus activation, real guests started as
transient units of a real systemd manager, state followed through PropertiesChanged, ACPI
shutdown, timeouts, crash detection, re-adoption after the daemon dies, and polkit (the real
polkitd) for callers that are not root.

Usage: test-machinad-bed.py CASE   (one meson test per case)"""

import os
import pwd
import signal
import socket
import stat
import time
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbus  # noqa: E402
import json  # noqa: E402
import bedfixture  # noqa: E402
from bedfixture import MACHINED, Failure, MachinadBed, check, guest_definition, pump_until, run_bed_test  # noqa: E402
from e2e import pump  # noqa: E402

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
    con, _ = b.wait_guest_ready("alpha")    # back after the reset, acpid listening again
    r = b.call_async(m.Stop)
    check(r[0] == "ok", f"Stop: {r}")
    b.wait_state(path, "stopped", "user", timeout=10)
    # Stop is StopUnit; the unit's ExecStop=machina-qmp-stop pressed the power button. Had the
    # helper failed, systemd would have sent QEMU SIGTERM and the guest would not say this.
    out = b""
    deadline = time.monotonic() + 30
    while b"power button, powering off" not in out and time.monotonic() < deadline:
        try:
            data = con.recv(4096)
        except socket.timeout:
            continue
        if not data:
            break
        out += data
    check(b"power button, powering off" in out, f"guest saw the ACPI power button: {out[-300:]!r}")
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


def check_identity(b):
    """A definition's "id" is the guest's UUID everywhere (property, ListMachines, GetConfig,
    GetMachineByUUID); without one the guest has no UUID: empty, omitted, never matched (the
    all-zero UUID only feeds identifier derivation, IDENTIFIERS.md)."""
    mgr = b.manager()
    uid = "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40"
    d = guest_definition(b.guest_dir, "withid")
    d["id"] = uid.upper()
    path = str(mgr.DefineMachine(json.dumps(d), dbus.UInt64(0)))
    for name, want in (("withid", uid), ("alpha", "")):
        p = str(mgr.GetMachine(name))
        listed = {str(n): str(u) for n, u, _, _ in mgr.ListMachines()}
        _, m = b.machine(name)
        cfg = json.loads(str(m.GetConfig()))
        check(b.props(p)["UUID"] == want and listed[name] == want and cfg.get("id", "") == want,
              f"{name}: UUID {b.props(p)['UUID']!r}, listed {listed[name]!r}, GetConfig id {cfg.get('id')!r}")
    check(str(mgr.GetMachineByUUID(uid.upper())) == path, "GetMachineByUUID finds the id")
    r = b.call_async(mgr.GetMachineByUUID, "00000000-0000-0000-0000-000000000000")
    check(r[:2] == ("error", "org.machina.Error.NoSuchMachine"), f"the null UUID names no guest: {r}")
    mgr.UndefineMachine("withid", dbus.UInt64(0))


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

    tr = guest_definition(b.guest_dir, "tr")
    tr["vars"] = {"index": "${machine-index}"}
    r = b.call_async(mgr.CreateMachine, json.dumps(tr), dbus.UInt64(0))
    check(r[0] == "ok", f"CreateMachine: {r}")
    # Reload recounts the defined guests; the machine-index of a running transient one stays its own.
    mgr.Reload()
    mgr.DefineMachine(json.dumps({"name": "probe", "vars": tr["vars"]}), dbus.UInt64(0))
    index = {n: json.loads(str(b.machine(n)[1].GetConfig()))["vars"]["index"] for n in ("tr", "probe")}
    check(index["tr"] != index["probe"], f"machine-index reused after Reload: {index}")
    mgr.UndefineMachine("probe", dbus.UInt64(0))
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
    check(os.listdir(os.path.join(b.runtime_dir, ".transient")) == [], "no transient records left")
    check_identity(b)
    transient_survives_daemon(b)


def transient_survives_daemon(b):
    """machinad SIGKILLed while a transient guest runs (paused): the next one re-adopts it from
    its record in the runtime dir, with its state; a record whose unit is gone is forgotten."""
    mgr = b.manager()
    tdir = os.path.join(b.runtime_dir, ".transient")
    rec = os.path.join(tdir, "tr2.json")
    r = b.call_async(mgr.CreateMachine, json.dumps(guest_definition(b.guest_dir, "tr2")), dbus.UInt64(0))
    check(r[0] == "ok", f"CreateMachine tr2: {r}")
    path = str(r[1])
    st = os.stat(rec)
    check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, f"record mode {oct(st.st_mode)}")
    check(stat.S_IMODE(os.stat(tdir).st_mode) == 0o700, "record dir is root-only")
    with open(rec) as f:
        check(json.load(f)["definition"]["name"] == "tr2", "record holds the definition")
    _, m = b.machine("tr2")
    check(b.call_async(m.Pause)[0] == "ok", "Pause tr2")
    pid = int(b.props(path)["MainPID"])
    ghost = os.path.join(tdir, "ghost.json")
    with open(ghost, "w") as f:
        json.dump({"machine-index": 7, "definition": guest_definition(b.guest_dir, "ghost")}, f)
    partial = os.path.join(tdir, ".#ghost.json.Xy12Ab")     # a write killed before its rename
    with open(partial, "w") as f:
        f.write('{"machine-index": 8, "defin')

    old = b.daemon_pid()
    os.kill(old, signal.SIGKILL)
    pump_until(lambda: not b.conn.name_has_owner("org.machina"), 10, "org.machina released")
    mgr = b.manager()       # a proxy follows the unique name it was made for
    listed = sorted(str(n) for n, _, _, _ in mgr.ListMachines())    # activates a new machinad
    check(b.daemon_pid() != old, "a new machinad answered")
    check(listed == ["alpha", "tr2"], f"tr2 listed again, ghost not: {listed}")
    check(not os.path.exists(ghost) and not os.path.exists(partial), "stale record and temp file removed")
    pump_until(lambda: b.props(path)["State"] == "paused", 30, "tr2 re-adopted paused")
    p = b.props(path)
    check(p["StateReason"] == "adopted" and not p["Persistent"] and int(p["MainPID"]) == pid,
          f"adopted transient: {p['StateReason']} {p['Persistent']} {p['MainPID']} (was {pid})")
    n_signals = len(b.signals)
    _, m = b.machine("tr2")
    check(b.call_async(m.Stop)[0] == "ok", "Stop the adopted transient guest")
    pump_until(lambda: any(s[1] == "MachineRemoved" and str(s[3][0]) == "tr2" for s in b.signals[n_signals:]),
               30, "MachineRemoved tr2")
    check(sorted(str(n) for n, _, _, _ in mgr.ListMachines()) == ["alpha"], "tr2 gone from the list")
    check(not os.path.exists(rec), "its record is gone")


def restart_daemon(b, clear_boot_state=False):
    """Stop machinad (guests stay), optionally forget that this boot was handled (a fresh boot:
    the runtime dir is a tmpfs in production), and bus-activate a new one."""
    old = b.daemon_pid()
    os.kill(old, signal.SIGTERM)
    pump_until(lambda: not b.conn.name_has_owner("org.machina"), 10, "org.machina released")
    if clear_boot_state:
        os.unlink(os.path.join(b.runtime_dir, ".autostart"))
    b.manager().ListMachines()      # activates the new daemon
    check(b.daemon_pid() != old, "a new machinad answered")


def state_of(b, name):
    return {str(n): str(s) for n, _, s, _ in b.manager().ListMachines()}[name]


def starting_ts(b, path):
    """StateChangeTimestamp of the first State=starting signalled for path."""
    for c in b.changes(path):
        if c.get("State") == "starting":
            return int(c["StateChangeTimestamp"])
    return None


def case_autostart(b):
    """yes (with boot-delay) and oneshot guests start on the first activation of the boot, no
    guest does not; a daemon restart starts nothing; a fresh boot starts yes and oneshot again."""
    t0 = time.time_ns() // 1000
    b.manager().ListMachines()              # first activation of this "boot"
    paths = {n: b.manager().GetMachine(n) for n in ("ayes", "aone", "ano")}
    b.wait_state(paths["aone"], "running", timeout=60)
    b.wait_state(paths["ayes"], "running", timeout=60)
    delay = starting_ts(b, paths["ayes"]) - t0
    check(delay >= 2_000_000, f"boot-delay of 2 s honoured: started after {delay} µs")
    check(starting_ts(b, paths["aone"]) - t0 < 2_000_000, "oneshot without delay starts at once")
    check(state_of(b, "ano") == "stopped", "autostart=no stays stopped")
    check(os.path.exists(os.path.join(b.runtime_dir, ".autostart")), "boot recorded in the runtime dir")

    for n in ("ayes", "aone"):
        _, m = b.machine(n)
        check(b.call_async(m.Stop)[0] == "ok", f"Stop {n}")
        b.wait_state(paths[n], "stopped", "user", timeout=30)

    # A daemon restart in the same boot starts nothing; wait past the boot-delay to be sure.
    restart_daemon(b)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        for n in ("ayes", "aone", "ano"):
            check(state_of(b, n) == "stopped", f"{n} not started by a daemon restart")
        pump(0.25)
    # A Reload in the same boot does not start the oneshot guest either.
    b.manager().Reload()
    check(state_of(b, "aone") == "stopped", "oneshot not started by Reload")

    # A fresh boot (empty runtime dir): yes and oneshot start again.
    restart_daemon(b, clear_boot_state=True)
    pump_until(lambda: state_of(b, "aone") == "running", 60, "oneshot started on a fresh boot")
    pump_until(lambda: state_of(b, "ayes") == "running", 60, "yes started on a fresh boot")
    check(state_of(b, "ano") == "stopped", "autostart=no stays stopped")
    for n in ("ayes", "aone"):
        _, m = b.machine(n)
        check(b.call_async(m.Kill, "all", dbus.Int32(signal.SIGKILL))[0] == "ok", f"Kill {n}")
        pump_until(lambda: state_of(b, n) == "stopped", 30, f"{n} stopped")


def case_always(b):
    """autostart=always: the guest powers itself off (ACPI from outside machinad), its unit
    restarts QEMU, machinad follows (starting → running, new MainPID, console works); a
    Shutdown through machinad keeps it down."""
    path = b.manager().GetMachine("phoenix")   # activation autostarts it
    b.wait_state(path, "running", timeout=60)
    pid = int(b.props(path)["MainPID"])
    b.wait_guest_ready("phoenix")
    n_changes = len(b.changes(path))
    q = b.qmp_stop("phoenix")
    try:
        q.execute("system_powerdown")
    finally:
        q.close()
    def back():
        later = b.changes(path)[n_changes:]
        states = [(str(c["State"]), str(c["StateReason"])) for c in later if "State" in c]
        return ("running", "guest-shutdown") in states and states
    states = pump_until(back, 60, "phoenix back after Restart=")
    check(states[0] == ("starting", "guest-shutdown"), f"transitions after power-off: {states}")
    check(("stopped", "guest-shutdown") not in states and all(s[0] != "crashed" for s in states),
          f"never stopped/crashed: {states}")
    p = b.props(path)
    check(p["State"] == "running" and int(p["MainPID"]) not in (0, pid), f"new QEMU: {p['MainPID']} vs {pid}")
    b.wait_guest_ready("phoenix")
    _, m = b.machine("phoenix")
    r = b.call_async(m.Shutdown, dbus.UInt64(60_000_000), dbus.UInt64(0))
    check(r[0] == "ok", f"Shutdown: {r}")
    check(b.props(path)["State"] == "stopped", "stopped after Shutdown")
    pump_until(lambda: not b.unit_exists("machina-phoenix.service"), 30, "unit gone, not restarted")
    check(b.props(path)["State"] == "stopped", "still stopped")


# Runs as an unprivileged caller: sends its calls in order on one connection (so machinad sees
# them in that order) and prints each outcome as a JSON line the moment it arrives.
PARKED_CALLER = r"""
import json, sys, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
calls = json.loads(sys.argv[2])
left = [len(calls)]
def done(i, outcome):
    print(json.dumps([i] + outcome), flush=True)
    left[0] -= 1
    if not left[0]:
        loop.quit()
for i, (path, iface, method) in enumerate(calls):
    bus.get_object("org.machina", path).get_dbus_method(method, iface)(
        reply_handler=lambda *a, i=i: done(i, ["ok"]),
        error_handler=lambda e, i=i: done(i, ["error", e.get_dbus_name(), e.get_dbus_message()]),
        timeout=120)
loop = GLib.MainLoop()
loop.run()
"""


def case_limits(b):
    """Calls parked for polkit are bounded per guest and in total (limits lowered to 1 and 2
    here): with polkitd stopped, so checks stay in flight, a second call for one guest and a
    third call overall get LimitsExceeded at once, naming the guest or the total; the parked
    ones are answered when polkitd runs again; nothing changed; root is not affected."""
    alpha, _ = b.machine("alpha")
    beta, _ = b.machine("beta")
    bus = b.conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
    polkitd = int(bus.GetConnectionUnixProcessID("org.freedesktop.PolicyKit1",
                                                 dbus_interface="org.freedesktop.DBus"))
    calls = [(alpha, "org.machina.Machine", "Start"),       # parked: 1 for alpha, 1 in total
             (alpha, "org.machina.Machine", "Stop"),        # alpha has its 1
             (beta, "org.machina.Machine", "Start"),        # parked: 2 in total
             ("/org/machina", "org.machina.Manager", "Reload")]   # the total is used up
    os.kill(polkitd, signal.SIGSTOP)
    try:
        p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "/usr/bin/python3", "-c", PARKED_CALLER, b.bed.address, json.dumps(calls)],
                             stdout=subprocess.PIPE, text=True)
        outcomes = {}
        deadline = time.monotonic() + 30
        while len(outcomes) < 2 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            i, *o = json.loads(line)
            outcomes[i] = o
        check(sorted(outcomes) == [1, 3], f"refused at once, while polkit is stopped: {outcomes}")
        check(outcomes[1][:2] == ["error", "org.machina.Error.LimitsExceeded"]
              and "for machine alpha (limit 1)" in outcomes[1][2], f"per-guest limit: {outcomes[1]}")
        check(outcomes[3][:2] == ["error", "org.machina.Error.LimitsExceeded"]
              and "(limit 2)" in outcomes[3][2] and "machine" not in outcomes[3][2],
              f"total limit: {outcomes[3]}")
    finally:
        os.kill(polkitd, signal.SIGCONT)
    out, _ = p.communicate(timeout=60)
    for line in out.splitlines():
        i, *o = json.loads(line)
        outcomes[i] = o
    for i in (0, 2):
        check(outcomes.get(i, [None])[:2] == ["error", "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"],
              f"parked call {calls[i][2]} answered by polkit: {outcomes.get(i)}")
    check(b.props(alpha)["State"] == "stopped" and b.props(beta)["State"] == "stopped", "nothing changed")
    r = busctl_as(b, 65534, "org.machina", "/org/machina", "org.machina.Manager", "ListMachines")
    check(r.returncode == 0, f"reading is free: {r.stderr}")
    _, m = b.machine("alpha")
    check(b.call_async(m.Start)[0] == "ok", "root is not limited")
    check(b.call_async(m.Kill, "all", dbus.Int32(signal.SIGKILL))[0] == "ok", "Kill alpha")
    b.wait_state(alpha, "stopped", "killed", timeout=30)


def case_machined(b):
    """With the real systemd-machined on the bus, a running guest is registered there (class vm,
    service machina, leader = QEMU) and leaves it when it stops."""
    mm = b.start_machined()
    path, m = b.machine("alpha")
    check(b.call_async(m.Start)[0] == "ok", "Start")
    pid = int(b.wait_state(path, "running", timeout=60)["MainPID"])

    def listed():
        ms = mm.ListMachines(dbus_interface="org.freedesktop.machine1.Manager")
        return [tuple(str(x) for x in e[:3]) for e in ms if str(e[0]) == "alpha"]
    check(pump_until(listed, 30, "alpha in machined's ListMachines") == [("alpha", "vm", "machina")],
          f"machined lists {listed()}")
    mp = b.conn.get_object("org.freedesktop.machine1",
                           mm.GetMachine("alpha", dbus_interface="org.freedesktop.machine1.Manager"))
    props = mp.GetAll("org.freedesktop.machine1.Machine", dbus_interface=dbus.PROPERTIES_IFACE)
    check(int(props["Leader"]) == pid, f"leader {props['Leader']} is QEMU {pid}")
    check(str(props["Unit"]) == "machina-alpha.service", f"unit {props['Unit']}")
    check(b.call_async(m.Stop)[0] == "ok", "Stop")
    pump_until(lambda: not listed(), 30, "alpha gone from machined")


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def case_sandbox(b):
    """The guest under its hardened unit: QEMU runs as the QEMU user (as ps shows it) without
    capabilities, with no_new_privs and a seccomp filter, and boots with user-mode networking
    on the derived MAC."""
    path, m = b.machine("alpha")
    check(b.call_async(m.Start)[0] == "ok", "Start")
    pid = int(b.wait_state(path, "running", timeout=60)["MainPID"])
    b.wait_guest_ready("alpha")
    user = subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True, text=True,
                          check=True).stdout.strip()
    check(user == bedfixture.QEMU_USER, f"ps shows QEMU {pid} running as {user!r}")
    st = proc_status(pid)
    uid = pwd.getpwnam(bedfixture.QEMU_USER).pw_uid
    check(all(int(u) == uid for u in st["Uid"].split()), f"all uids are {uid}: {st['Uid']}")
    check(int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, f"no capabilities: {st['CapEff']}/{st['CapBnd']}")
    check(st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", f"no_new_privs {st['NoNewPrivs']}, seccomp {st['Seccomp']}")
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().decode().split("\0")
    mac = json.loads(str(m.GetConfig()))["connections"][0]["mac"]
    netdevs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-netdev"]
    devices = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-device"]
    check(any(n.startswith("user,") for n in netdevs), f"user-mode netdev: {netdevs}")
    check(any(f"mac={mac}" in d for d in devices), f"NIC with the derived MAC {mac}: {devices}")
    check(b.call_async(m.Stop)[0] == "ok", "Stop")
    b.wait_state(path, "stopped", timeout=30)


CASES = {
    "sandbox": (case_sandbox, [dict(name="alpha", connections=[{"name": "eth0", "network": "default"}])]),
    "machined": (case_machined, ["alpha"], None, dict(machined=True)),
    "limits": (case_limits, ["alpha", "beta"], {"MACHINA_POLKIT_QUERIES_MAX": "2",
                                                "MACHINA_POLKIT_QUERIES_PER_MACHINE_MAX": "1"}),
    "autostart": (case_autostart, [dict(name="ayes", autostart="yes", boot_delay=2),
                                   dict(name="aone", autostart="oneshot"),
                                   dict(name="ano", autostart="no")]),
    "always": (case_always, [dict(name="phoenix", autostart="always")]),
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
    case = sys.argv[1]
    fn, names, *env = CASES[case]
    if case == "machined" and not os.access(MACHINED, os.X_OK):
        print(f"SKIP: {MACHINED} is not installed (Debian package systemd-container)", flush=True)
        sys.exit(77)
    defs = [n if isinstance(n, dict) else
            dict(name=n, variant="ignore" if n == "deaf" else "acpi",
                 owner=65534 if n == "owned" else None) for n in names]
    run_bed_test(lambda: MachinadBed(defs, env=env[0] if env else None, **(env[1] if len(env) > 1 else {})),
                 fn)


if __name__ == "__main__":
    main()
