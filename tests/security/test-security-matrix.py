#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The security matrix on the real-parts bed: every method of org.machina.Manager and
org.machina.Machine (as listed by the introspection XML in dbus/) called by root, by the guest's
owner, by the owner on a guest it does not own, by a member of group "machina" under the shipped
polkit/machina.rules, and by a stranger (uid 65534, no grant, no interactive authorization).
Each outcome is asserted: allowed (the call got past authorization: success or a domain error
such as NotRunning), or refused with AccessDenied / InteractiveAuthorizationRequired naming the
polkit action; after every refused call nothing changed (machine list, every property including
Generation, files of the config dir, units known to systemd). Refused control calls run twice:
against a stopped guest and against a started (paused) one."""

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbus  # noqa: E402
import json  # noqa: E402
from secfixture import (AUTH_ERRORS, MEMBER_USER, NOBODY, OWNER_USER, Caller, Failure,  # noqa: E402
                        MachinadBed, check, diff, ensure_user, guest_definition, install_rules,
                        pump_until, snapshot)

SRCDIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MGR, MACH = "org.machina.Manager", "org.machina.Machine"
CONTROL, CONSOLE, DEFINE = ("org.machina.machine.control", "org.machina.machine.console",
                            "org.machina.machine.define")
SIGCONT = 18


def introspected_methods():
    out = set()
    for iface in (MGR, MACH):
        tree = ET.parse(os.path.join(SRCDIR, "dbus", f"{iface}.xml"))
        for m in tree.getroot().iter("method"):
            out.add((iface, m.get("name")))
    return out


def rows(b, name, path, uuid):
    """(iface, method, object path, signature, args, polkit action or None for reading)."""
    intruder = json.dumps(guest_definition(b.guest_dir, "intruder"))
    return [
        (MGR, "ListMachines", "/org/machina", "", [], None),
        (MGR, "GetMachine", "/org/machina", "s", [name], None),
        (MGR, "GetMachineByUUID", "/org/machina", "s", [uuid], None),
        (MGR, "DefineMachine", "/org/machina", "st", [intruder, 0], DEFINE),
        (MGR, "DefineMachine", "/org/machina", "st", [json.dumps(guest_definition(b.guest_dir, name)), 1], DEFINE),
        (MGR, "UndefineMachine", "/org/machina", "st", [name, 0], DEFINE),
        (MGR, "CreateMachine", "/org/machina", "st", [intruder, 0], DEFINE),
        (MGR, "Reload", "/org/machina", "", [], DEFINE),
        (MGR, "StartMachine", "/org/machina", "s", [name], CONTROL),
        (MGR, "StopMachine", "/org/machina", "s", [name], CONTROL),
        (MGR, "ShutdownMachine", "/org/machina", "st", [name, 1_000_000], CONTROL),
        (MGR, "KillMachine", "/org/machina", "ssi", [name, "all", 9], CONTROL),
        (MACH, "GetConfig", path, "", [], None),
        (MACH, "GetDefinition", path, "", [], None),
        (MACH, "Start", path, "", [], CONTROL),
        (MACH, "Stop", path, "", [], CONTROL),
        (MACH, "Shutdown", path, "tt", [1_000_000, 1], CONTROL),
        (MACH, "Reboot", path, "", [], CONTROL),
        (MACH, "Pause", path, "", [], CONTROL),
        (MACH, "Resume", path, "", [], CONTROL),
        (MACH, "Kill", path, "si", ["all", 9], CONTROL),
        (MACH, "OpenConsole", path, "", [], CONSOLE),
    ]


def state(b, path):
    return str(b.props(path)["State"])


def wait_state(b, path, want, timeout=30):
    pump_until(lambda: state(b, path) == want, timeout, f"{path} State={want}")


def ok(r, what):
    check(r[0] == "ok", f"{what}: {r}")
    return r[1]


def authorized(r, what):
    """Past authorization: a reply, or a domain error (org.machina.Error.*)."""
    check(r[0] == "ok" or (r[1].startswith("org.machina.Error.") and r[1] not in AUTH_ERRORS),
          f"{what} should be authorized: {r}")


class Matrix:
    def __init__(self, b):
        self.b = b
        self.count = {"allowed": 0, "refused": 0}
        self.errors = {}
        self.uuids = {str(n): str(u) for n, u, _, _ in b.manager().ListMachines()}

    def path(self, name):
        return str(self.b.manager().GetMachine(name))

    def read_rows(self, caller, name):
        for iface, method, p, sig, args, action in rows(self.b, name, self.path(name), self.uuids[name]):
            if action is None:
                authorized(caller.call(p, iface, method, sig, *args), f"uid {caller.uid} {method}")
                self.count["allowed"] += 1
        # Properties and the object tree are readable too.
        for p, iface, method, sig, args in [
                ("/org/machina", "org.freedesktop.DBus.Properties", "GetAll", "s", [MGR]),
                (self.path(name), "org.freedesktop.DBus.Properties", "GetAll", "s", [MACH]),
                ("/org/machina", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", [])]:
            ok(caller.call(p, iface, method, sig, *args), f"uid {caller.uid} {method}")
            self.count["allowed"] += 1

    def refused_rows(self, caller, name, actions, running):
        """Every row guarded by one of actions is refused, names its action, changes nothing."""
        for iface, method, p, sig, args, action in rows(self.b, name, self.path(name), self.uuids[name]):
            if action not in actions or (running and action == DEFINE):
                continue
            before = snapshot(self.b)
            r = caller.call(p, iface, method, sig, *args)
            what = f"uid {caller.uid} {iface}.{method} on {name} ({'running' if running else 'stopped'})"
            check(r[0] == "error" and r[1] in AUTH_ERRORS, f"{what} not refused: {r}")
            check(action in r[2], f"{what}: error does not name {action}: {r}")
            changed = diff(before, snapshot(self.b))
            check(not changed, f"{what} was refused but changed: {changed}")
            self.count["refused"] += 1
            self.errors[r[1].rsplit(".", 1)[1]] = self.errors.get(r[1].rsplit(".", 1)[1], 0) + 1

    def allowed_control(self, caller, name):
        """The control and console rows as caller, in an order that exercises each for real."""
        p = self.path(name)
        who = f"uid {caller.uid} on {name}"
        ok(caller.call(p, MACH, "Start"), f"{who} Start")
        check(state(self.b, p) == "running", f"{who}: running after Start")
        ok(caller.call(p, MACH, "Reboot"), f"{who} Reboot")
        ok(caller.call(p, MACH, "Pause"), f"{who} Pause")
        check(state(self.b, p) == "paused", f"{who}: paused")
        ok(caller.call(p, MACH, "Resume"), f"{who} Resume")
        check(state(self.b, p) == "running", f"{who}: running after Resume")
        check(ok(caller.call(p, MACH, "OpenConsole"), f"{who} OpenConsole") == "<fd>", "an fd")
        ok(caller.call(p, MACH, "Kill", "si", "main", SIGCONT), f"{who} Kill")
        ok(caller.call(p, MACH, "Pause"), f"{who} Pause")
        ok(caller.call(p, MACH, "Stop"), f"{who} Stop")        # paused: quit at once
        wait_state(self.b, p, "stopped")
        # The Manager's redirects.
        ok(caller.call("/org/machina", MGR, "StartMachine", "s", name), f"{who} StartMachine")
        ok(caller.call("/org/machina", MGR, "KillMachine", "ssi", name, "main", SIGCONT), f"{who} KillMachine")
        authorized(caller.call("/org/machina", MGR, "ShutdownMachine", "st", name, 500_000),
                   f"{who} ShutdownMachine")   # ok, or Timeout if the guest missed the button
        ok(caller.call(p, MACH, "Pause"), f"{who} Pause")
        ok(caller.call("/org/machina", MGR, "StopMachine", "s", name), f"{who} StopMachine")
        wait_state(self.b, p, "stopped")
        ok(caller.call(p, MACH, "Start"), f"{who} Start")
        ok(caller.call(p, MACH, "Shutdown", "tt", 500_000, 1), f"{who} Shutdown FORCE")
        wait_state(self.b, p, "stopped")
        # Stopped: still authorized, the domain answers.
        for method, sig, args in [("Stop", "", []), ("Pause", "", []), ("Resume", "", []),
                                  ("Reboot", "", []), ("Kill", "si", ["all", 9])]:
            r = caller.call(p, MACH, method, sig, *args)
            check(r[:2] == ["error", "org.machina.Error.NotRunning"], f"{who} {method} when stopped: {r}")
        r = caller.call(p, MACH, "OpenConsole")
        check(r[0] == "error" and r[1] not in AUTH_ERRORS, f"{who} OpenConsole when stopped: {r}")
        self.count["allowed"] += 20

    def allowed_define(self, caller):
        who = f"uid {caller.uid}"
        d = json.dumps(guest_definition(self.b.guest_dir, "scratch"))
        p = ok(caller.call("/org/machina", MGR, "DefineMachine", "st", d, 0), f"{who} DefineMachine")
        check(os.path.exists(os.path.join(self.b.config_dir, "machine.conf.d", "scratch.conf.json")), "file written")
        r = caller.call("/org/machina", MGR, "DefineMachine", "st", d, 0)
        check(r[:2] == ["error", "org.machina.Error.MachineExists"], f"{who} second DefineMachine: {r}")
        ok(caller.call("/org/machina", MGR, "DefineMachine", "st", d, 1), f"{who} DefineMachine REPLACE")
        ok(caller.call("/org/machina", MGR, "UndefineMachine", "st", "scratch", 0), f"{who} UndefineMachine")
        check(not os.path.exists(os.path.join(self.b.config_dir, "machine.conf.d", "scratch.conf.json")), "file gone")
        t = json.dumps(guest_definition(self.b.guest_dir, "transient"))
        p = ok(caller.call("/org/machina", MGR, "CreateMachine", "st", t, 0), f"{who} CreateMachine")
        ok(caller.call(p, MACH, "Pause"), f"{who} Pause transient")
        ok(caller.call(p, MACH, "Stop"), f"{who} Stop transient")
        pump_until(lambda: "transient" not in {str(n) for n, _, _, _ in self.b.manager().ListMachines()},
                   30, "transient guest to go away")
        ok(caller.call("/org/machina", MGR, "Reload"), f"{who} Reload")
        self.count["allowed"] += 8

    def refused_all_states(self, caller, name, actions):
        """Refused against the guest stopped, then started by root and paused."""
        self.refused_rows(caller, name, actions, running=False)
        p = self.path(name)
        self.b.manager().StartMachine(name)
        dbus.Interface(self.b.conn.get_object("org.machina", p), MACH).Pause()
        check(state(self.b, p) == "paused", "paused by root")
        self.refused_rows(caller, name, actions - {DEFINE}, running=True)
        dbus.Interface(self.b.conn.get_object("org.machina", p), MACH).Stop(timeout=60)
        wait_state(self.b, p, "stopped")


def interactive_stranger(m):
    """With ALLOW_INTERACTIVE_AUTHORIZATION set (busctl) and no agent on the bed: still refused,
    the message names the action, nothing changes."""
    p = m.path("other")
    for iface, path, method, action in [(MACH, p, "Start", CONTROL), (MACH, p, "OpenConsole", CONSOLE),
                                        (MGR, "/org/machina", "Reload", DEFINE)]:
        before = snapshot(m.b)
        r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            "busctl", "--address=" + m.b.bed.address,
                            "--allow-interactive-authorization=yes", "call", "org.machina", path, iface, method],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and action in r.stderr, f"interactive stranger {method}: {r.returncode} {r.stderr}")
        changed = diff(before, snapshot(m.b))
        check(not changed, f"interactive stranger {method} changed: {changed}")
        m.count["refused"] += 1
        m.errors["interactive: " + r.stderr.strip().split(":", 1)[-1].strip()] = 1


def run(b, owner_uid, member_uid):
    m = Matrix(b)
    check(introspected_methods() == {(i, meth) for i, meth, *_ in rows(b, "owned", "/", "")},
          "the matrix covers exactly the methods of dbus/*.xml")
    callers = {uid: Caller(b, uid) for uid in (0, owner_uid, member_uid, NOBODY)}
    try:
        # The shipped rule, and wait until polkitd has loaded it (the member's Pause of a
        # stopped guest then gets past authorization to NotRunning).
        with open(os.path.join(SRCDIR, "polkit", "machina.rules")) as f:
            install_rules(b, "machina.rules", f.read())
        member = callers[member_uid]
        pump_until(lambda: member.call(m.path("other"), MACH, "Pause")[1] == "org.machina.Error.NotRunning",
                   30, "polkitd to load machina.rules")

        for uid, c in callers.items():
            for name in ("owned", "other"):
                m.read_rows(c, name)
        # Stranger: nothing but reading, on either guest, stopped or running.
        m.refused_all_states(callers[NOBODY], "owned", {CONTROL, CONSOLE, DEFINE})
        m.refused_all_states(callers[NOBODY], "other", {CONTROL, CONSOLE})
        interactive_stranger(m)
        # Owner: controls its own guest without polkit; not another's; defines nothing.
        m.allowed_control(callers[owner_uid], "owned")
        m.refused_all_states(callers[owner_uid], "other", {CONTROL, CONSOLE, DEFINE})
        m.refused_rows(callers[owner_uid], "owned", {DEFINE}, running=False)
        # Group machina under the shipped rule: control and console of any guest, never define.
        m.allowed_control(member, "other")
        m.refused_rows(member, "other", {DEFINE}, running=False)
        # Root: everything.
        m.allowed_control(callers[0], "other")
        m.allowed_define(callers[0])
        # Undefine as root last (the guest is stopped).
        ok(callers[0].call("/org/machina", MGR, "UndefineMachine", "st", "other", 0), "root UndefineMachine")
    finally:
        for c in callers.values():
            c.close()
    print(f"matrix: {m.count['allowed']} allowed calls, {m.count['refused']} refused calls "
          f"each with an unchanged snapshot {m.errors}", flush=True)


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    owner_uid = ensure_user(OWNER_USER)
    member_uid = ensure_user(MEMBER_USER, groups=("machina",))
    b = None
    failed = True
    t0 = time.monotonic()
    try:
        b = MachinadBed([dict(name="owned", owner=owner_uid), dict(name="other")])
        run(b, owner_uid, member_uid)
        b.check_daemon_exit()
        failed = False
    except (Failure, dbus.DBusException, OSError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if b:
            b.close(failed=failed)
    print(f"{'FAIL' if failed else 'PASS'} in {time.monotonic() - t0:.1f} s", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
