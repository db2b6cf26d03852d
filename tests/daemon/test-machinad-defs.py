#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad on a private bus (--user mode, no systemd needed): the objects it publishes for the
definitions on disk, their properties, GetConfig, DefineMachine / UndefineMachine / Reload with
good and bad input, the signals each emits, access checks and idle exit."""

import json
import os
import signal
import subprocess
import sys
import unittest

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from busfixture import Fixture, call_error, wait_for  # noqa: E402

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
SRCDIR = os.environ.get("MACHINA_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(SRCDIR, "data")

MINIMAL = {"name": "tiny", "id": "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40",
           "attrs": {"cpu": {"count": 2}, "ram": {"size": "256M"}}}


class SignalRecorder:
    def __init__(self, bus):
        self.signals = []
        self.bus = bus
        self.match = bus.add_signal_receiver(self._on, sender_keyword="sender", path_keyword="path",
                                             member_keyword="member", interface_keyword="interface")

    def _on(self, *args, **kw):
        self.signals.append((kw["interface"], kw["member"], kw["path"], args))

    def wait(self, pred, what, timeout=10):
        ctx = GLib.MainContext.default()

        def check():
            while ctx.pending():
                ctx.iteration(False)
            return [s for s in self.signals if pred(s)]
        return wait_for(check, timeout, what)


class MachinadDefinitions(unittest.TestCase):
    def setUp(self):
        self.fx = Fixture(config_src=DATA)
        self.addCleanup(self.fx.close)
        self.fx.start_machinad()
        self.mgr = self.fx.manager()

    def managed(self):
        om = dbus.Interface(self.fx.bus.get_object("org.machina", "/org/machina"),
                            "org.freedesktop.DBus.ObjectManager")
        return om.GetManagedObjects()

    def examples(self):
        d = os.path.join(DATA, "machine.conf.d")
        return sorted(f[:-len(".conf.json")] for f in os.listdir(d) if f.endswith(".conf.json"))

    def test_objects_for_every_example(self):
        objs = self.managed()
        names = sorted(str(v["org.machina.Machine"]["Name"]) for v in objs.values()
                       if "org.machina.Machine" in v)
        self.assertEqual(names, self.examples())
        for path, ifaces in objs.items():
            props = ifaces["org.machina.Machine"]
            self.assertEqual(props["State"], "stopped")
            self.assertEqual(props["MainPID"], 0)
            self.assertEqual(props["Unit"], "machina-%s.service" % props["Name"])
            self.assertTrue(props["Persistent"])
            self.assertGreaterEqual(props["CPUs"], 1)
            self.assertGreaterEqual(props["MemoryMiB"], 1)
            self.assertEqual(self.mgr.GetMachine(props["Name"]), path)
        listed = sorted(str(n) for n, _, _, _ in self.mgr.ListMachines())
        self.assertEqual(listed, self.examples())

    def test_manager_properties(self):
        props = dbus.Interface(self.fx.bus.get_object("org.machina", "/org/machina"),
                               "org.freedesktop.DBus.Properties").GetAll("org.machina.Manager")
        self.assertEqual(props["Mode"], "user")
        self.assertTrue(props["Version"])

    def test_lookup_errors(self):
        name, msg = call_error(self.mgr.GetMachine, "nosuch")
        self.assertEqual(name, "org.machina.Error.NoSuchMachine")
        self.assertIn("nosuch", msg)
        name, _ = call_error(self.mgr.GetMachineByUUID, "not-a-uuid")
        self.assertEqual(name, "org.machina.Error.NoSuchMachine")
        # Wrong signature: sd-bus refuses it before our handler runs.
        obj = self.fx.bus.get_object("org.machina", "/org/machina")
        name, _ = call_error(obj.get_dbus_method("GetMachine", "org.machina.Manager"),
                             dbus.UInt32(5), signature="u")
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")

    def test_get_config_is_resolved_json(self):
        for n in self.examples():
            path = self.mgr.GetMachine(n)
            m = dbus.Interface(self.fx.bus.get_object("org.machina", path), "org.machina.Machine")
            cfg = json.loads(str(m.GetConfig()))
            self.assertEqual(cfg["name"], n)
            # Resolved: derived identifiers are present for every named connection.
            for c in cfg.get("connections", []):
                self.assertRegex(c["mac"], r"^52:54:00(:[0-9a-f]{2}){3}$")

    def test_define_undefine(self):
        rec = SignalRecorder(self.fx.bus)
        path = self.mgr.DefineMachine(json.dumps(MINIMAL), dbus.UInt64(0))
        self.assertEqual(path, "/org/machina/machine/tiny")
        f = os.path.join(self.fx.config_dir, "machine.conf.d", "tiny.conf.json")
        with open(f) as fh:
            self.assertEqual(json.load(fh)["name"], "tiny")
        rec.wait(lambda s: s[1] == "InterfacesAdded" and s[3][0] == path, "InterfacesAdded")
        rec.wait(lambda s: s[1] == "MachineNew" and s[3][0] == "tiny", "MachineNew")
        props = self.fx.machine_props(path)
        self.assertEqual(props["CPUs"], 2)
        self.assertEqual(props["MemoryMiB"], 256)
        self.assertEqual(props["UUID"], MINIMAL["id"])

        name, _ = call_error(self.mgr.DefineMachine, json.dumps(MINIMAL), dbus.UInt64(0))
        self.assertEqual(name, "org.machina.Error.MachineExists")

        gen = props["Generation"]
        changed = dict(MINIMAL, attrs={"cpu": {"count": 3}})
        self.assertEqual(self.mgr.DefineMachine(json.dumps(changed), dbus.UInt64(1)), path)
        got = rec.wait(lambda s: s[1] == "PropertiesChanged" and s[2] == path
                       and "CPUs" in s[3][1], "PropertiesChanged with CPUs")
        self.assertEqual(got[-1][3][1]["CPUs"], 3)
        self.assertGreater(self.fx.machine_props(path)["Generation"], gen)
        self.assertFalse(self.fx.machine_props(path)["PendingChanges"])

        self.mgr.UndefineMachine("tiny", dbus.UInt64(0))
        self.assertFalse(os.path.exists(f))
        rec.wait(lambda s: s[1] == "MachineRemoved" and s[3][0] == "tiny", "MachineRemoved")
        name, _ = call_error(self.mgr.GetMachine, "tiny")
        self.assertEqual(name, "org.machina.Error.NoSuchMachine")
        name, _ = call_error(self.mgr.UndefineMachine, "tiny", dbus.UInt64(0))
        self.assertEqual(name, "org.machina.Error.NoSuchMachine")

    def test_crash_before_rename_keeps_old_definition(self):
        """Fault injection (a real crash cannot be timed): machinad SIGKILLs itself after the
        new content is complete in its temporary file, before the rename. The old definition
        stays intact and is what a restarted daemon serves; the temporary file is cleaned."""
        d = os.path.join(self.fx.config_dir, "machine.conf.d")
        f = os.path.join(d, "tiny.conf.json")
        self.mgr.DefineMachine(json.dumps(MINIMAL), dbus.UInt64(0))
        with open(f, "rb") as fh:
            old = fh.read()
        self.fx.machinad.send_signal(signal.SIGTERM)
        self.fx.machinad.wait(10)
        self.fx.start_machinad(env_extra={"MACHINA_TEST_CRASH_BEFORE_RENAME": "1"})
        changed = dict(MINIMAL, attrs={"cpu": {"count": 3}})
        name, _ = call_error(self.fx.manager().DefineMachine, json.dumps(changed), dbus.UInt64(1))
        self.assertIn(name, ("org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.ServiceUnknown",
                             "org.freedesktop.DBus.Error.Disconnected"))
        self.assertEqual(self.fx.machinad.wait(10), -signal.SIGKILL)
        with open(f, "rb") as fh:
            self.assertEqual(fh.read(), old)
        temps = [n for n in os.listdir(d) if n.startswith(".#tiny.conf.json.")]
        self.assertEqual(len(temps), 1, os.listdir(d))   # the crash really came after the write
        with open(os.path.join(d, temps[0])) as fh:
            self.assertEqual(json.load(fh)["attrs"]["cpu"]["count"], 3)

        self.fx.start_machinad()
        mgr = self.fx.manager()
        self.assertEqual(self.fx.machine_props(mgr.GetMachine("tiny"))["CPUs"], 2)
        self.assertFalse([n for n in os.listdir(d) if n.startswith(".#")])

    def assert_nothing_changed(self, before):
        self.assertEqual(sorted(os.listdir(os.path.join(self.fx.config_dir, "machine.conf.d"))), before)
        self.assertEqual(sorted(str(n) for n, _, _, _ in self.mgr.ListMachines()), self.examples())

    def test_define_bad_input(self):
        before = sorted(os.listdir(os.path.join(self.fx.config_dir, "machine.conf.d")))
        cases = [
            ("{", "<bus>"),                                        # malformed JSON
            (json.dumps({"name": "../x"}), "$.name"),              # hostile name
            (json.dumps({"name": "a" * 100}), "$.name"),           # too long
            (json.dumps({"name": "ok", "attrs": {"cpu": {"count": "two"}}}), "$.attrs.cpu.count"),
            (json.dumps({"name": "ok", "tags": ["no-such-tag"]}), "no-such-tag"),
            (json.dumps({"name": "ok", "id": "not-a-uuid"}), "$.id"),
            (json.dumps({"name": "x" * (10 * 1024 * 1024)}), "limit"),
        ]
        for doc, needle in cases:
            name, msg = call_error(self.mgr.DefineMachine, doc, dbus.UInt64(0))
            self.assertEqual(name, "org.machina.Error.InvalidConfig", msg)
            self.assertIn(needle, msg)
        name, _ = call_error(self.mgr.DefineMachine, json.dumps(MINIMAL), dbus.UInt64(8))
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        self.assert_nothing_changed(before)

    def test_reload(self):
        d = os.path.join(self.fx.config_dir, "machine.conf.d")
        with open(os.path.join(d, "tiny.conf.json"), "w") as f:
            json.dump(MINIMAL, f)
        with open(os.path.join(d, "broken.conf.json"), "w") as f:
            f.write('{"name": "broken", ')
        # The good files are applied; the reply lists the broken one.
        name, msg = call_error(self.mgr.Reload)
        self.assertEqual(name, "org.machina.Error.InvalidConfig")
        self.assertIn("broken.conf.json", msg)
        names = sorted(str(n) for n, _, _, _ in self.mgr.ListMachines())
        self.assertEqual(names, sorted(self.examples() + ["tiny"]))
        self.assertIn("broken.conf.json", self.fx.daemon_log())
        os.unlink(os.path.join(d, "broken.conf.json"))

        # A good guest whose file breaks keeps its previous version.
        path = self.mgr.GetMachine("tiny")
        with open(os.path.join(d, "tiny.conf.json"), "w") as f:
            f.write('{"name": "tiny", "attrs": {"cpu": {"count": "many"}}}')
        name, msg = call_error(self.mgr.Reload)
        self.assertEqual(name, "org.machina.Error.InvalidConfig")
        self.assertIn("tiny.conf.json", msg)
        self.assertIn("$.attrs.cpu.count", msg)
        self.assertEqual(self.fx.machine_props(path)["CPUs"], 2)

        # SIGHUP reloads too.
        with open(os.path.join(d, "tiny.conf.json"), "w") as f:
            json.dump(dict(MINIMAL, attrs={"cpu": {"count": 3}}), f)
        self.fx.machinad.send_signal(signal.SIGHUP)
        wait_for(lambda: self.fx.machine_props(path)["CPUs"] == 3, 10, "SIGHUP reload")

        os.unlink(os.path.join(d, "tiny.conf.json"))
        self.mgr.Reload()
        names = sorted(str(n) for n, _, _, _ in self.mgr.ListMachines())
        self.assertEqual(names, self.examples())

    def test_other_uid_is_refused(self):
        before = sorted(os.listdir(os.path.join(self.fx.config_dir, "machine.conf.d")))
        for args in (["DefineMachine", "st", json.dumps(MINIMAL), "0"],
                     ["UndefineMachine", "st", self.examples()[0], "0"],
                     ["Reload"]):
            p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                "busctl", "--address=" + self.fx.address, "call", "org.machina",
                                "/org/machina", "org.machina.Manager", *args],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn("Access denied", p.stderr)
        # Reading is free.
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "busctl", "--address=" + self.fx.address, "call", "org.machina",
                            "/org/machina", "org.machina.Manager", "ListMachines"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_nothing_changed(before)


class MachinadLimits(unittest.TestCase):
    def test_machine_limit(self):
        d = os.path.join(DATA, "machine.conf.d")
        n = len([f for f in os.listdir(d) if f.endswith(".conf.json")])
        os.environ["MACHINA_MACHINES_MAX"] = str(n + 1)
        try:
            fx = Fixture(config_src=DATA)
            self.addCleanup(fx.close)
            fx.start_machinad()
        finally:
            del os.environ["MACHINA_MACHINES_MAX"]
        mgr = fx.manager()
        mgr.DefineMachine(json.dumps(MINIMAL), dbus.UInt64(0))
        other = dict(MINIMAL, name="tiny2", id="5b0f8a3c-1d2e-4f60-8a7b-9c0d1e2f3a4b")
        name, msg = call_error(mgr.DefineMachine, json.dumps(other), dbus.UInt64(0))
        self.assertEqual(name, "org.machina.Error.LimitsExceeded")
        self.assertIn(str(n + 1), msg)
        self.assertFalse(os.path.exists(os.path.join(fx.config_dir, "machine.conf.d", "tiny2.conf.json")))
        name, _ = call_error(mgr.CreateMachine, json.dumps(other), dbus.UInt64(0))
        self.assertEqual(name, "org.machina.Error.LimitsExceeded")
        # Replacing an existing guest needs no room.
        mgr.DefineMachine(json.dumps(dict(MINIMAL, attrs={"cpu": {"count": 1}})), dbus.UInt64(1))
        self.assertEqual(len(mgr.ListMachines()), n + 1)


class MachinadIdle(unittest.TestCase):
    def test_idle_exit(self):
        fx = Fixture(config_src=DATA, idle_timeout=1)
        self.addCleanup(fx.close)
        proc = fx.start_machinad()
        wait_for(lambda: proc.poll() is not None, 30, "machinad to exit when idle")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("Idle", fx.daemon_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
