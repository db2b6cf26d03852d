#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad serves GetManagedObjects on /org/machina itself (service/manager-bus.c), not through
sd-bus's generic walk. Its reply must be exactly what a client assembles object by object: the
guests ListMachines names, each with the standard interfaces and the org.machina.Machine
properties that Properties.GetAll returns on that object, with the same D-Bus types. Runs on a
private bus with machinad --user (no systemd needed)."""

import json
import os
import sys
import unittest

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from busfixture import Fixture, call_error  # noqa: E402

SRCDIR = os.environ.get("MACHINA_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(SRCDIR, "data")
MACHINE = "org.machina.Machine"
STANDARD = ("org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
            "org.freedesktop.DBus.Properties")


def typed(value):
    """A D-Bus value with its type, recursively, so equal means equal signature too."""
    if isinstance(value, dict):
        return (type(value).__name__, getattr(value, "signature", None),
                sorted((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, getattr(value, "signature", None), [typed(v) for v in value])
    return (type(value).__name__, value)


class GetManagedObjects(unittest.TestCase):
    def setUp(self):
        self.fx = Fixture(config_src=DATA)
        self.addCleanup(self.fx.close)
        # Names whose object path labels need escaping, and a spread of property values.
        for i, name in enumerate(["plain", "with-dash", "under_score", "x9.dot"]):
            d = {"name": name, "id": "6e0b5c2a-7d1e-4f3a-9b8c-%012x" % (i + 1),
                 "description": f"guest {name} \u00e9",
                 "attrs": {"cpu": {"count": i + 1}, "ram": {"size": f"{64 * (i + 1)}M"}}}
            path = os.path.join(self.fx.config_dir, "machine.conf.d", name + ".conf.json")
            with open(path, "w") as f:
                json.dump(d, f)
        self.fx.start_machinad()
        self.mgr = self.fx.manager()
        obj = self.fx.bus.get_object("org.machina", "/org/machina")
        self.om = dbus.Interface(obj, "org.freedesktop.DBus.ObjectManager")

    def expected(self):
        out = {}
        for name, _, _, path in self.mgr.ListMachines():
            ifaces = {i: dbus.Dictionary({}, signature="sv") for i in STANDARD}
            ifaces[MACHINE] = self.fx.machine_props(path)
            out[str(path)] = ifaces
        return out

    def check_equal(self):
        got = self.om.GetManagedObjects(signature="")
        want = self.expected()
        self.assertEqual(sorted(got), sorted(want))
        self.assertGreaterEqual(len(got), 8)
        for path in want:
            self.assertEqual(sorted(got[path]), sorted(want[path]), path)
            for iface in want[path]:
                self.assertEqual(typed(got[path][iface]), typed(want[path][iface]), f"{path} {iface}")
        return got

    def test_equals_getall_per_object(self):
        got = self.check_equal()
        names = sorted(str(v[MACHINE]["Name"]) for v in got.values())
        self.assertIn("with-dash", names)
        self.assertIn("x9.dot", names)
        props = next(v[MACHINE] for v in got.values() if v[MACHINE]["Name"] == "with-dash")
        self.assertEqual(props["Description"], "guest with-dash \u00e9")
        self.assertEqual(props["CPUs"], 2)

    def test_after_define_replace_and_undefine(self):
        d = {"name": "late-one", "description": "added", "attrs": {"cpu": {"count": 3}}}
        path = self.mgr.DefineMachine(json.dumps(d), dbus.UInt64(0))
        self.assertEqual(self.check_equal()[str(path)][MACHINE]["CPUs"], 3)
        self.mgr.DefineMachine(json.dumps(dict(d, attrs={"cpu": {"count": 4}})), dbus.UInt64(1))
        self.assertEqual(self.check_equal()[str(path)][MACHINE]["CPUs"], 4)
        self.mgr.UndefineMachine("late-one", dbus.UInt64(0))
        self.assertNotIn(str(path), self.check_equal())

    def test_other_calls_on_the_manager_still_work(self):
        # The node callback passes everything but GetManagedObjects on to sd-bus.
        obj = self.fx.bus.get_object("org.machina", "/org/machina")
        xml = dbus.Interface(obj, "org.freedesktop.DBus.Introspectable").Introspect()
        self.assertIn("org.freedesktop.DBus.ObjectManager", xml)
        self.assertIn("org.machina.Manager", xml)
        props = dbus.Interface(obj, "org.freedesktop.DBus.Properties")
        self.assertEqual(props.Get("org.machina.Manager", "Mode"), "user")
        self.assertEqual(props.GetAll("org.machina.Manager")["Mode"], "user")
        name, _ = call_error(obj.get_dbus_method("GetManagedObjects", "org.freedesktop.DBus.ObjectManager"),
                             "unexpected", signature="s")
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        # The object lookup by escaped label: existing guests found, others unknown.
        path = self.mgr.GetMachine("with-dash")
        self.assertEqual(self.fx.machine_props(path)["Name"], "with-dash")
        for bogus in ("/org/machina/machine/nosuch", "/org/machina/machine/with_2ddash_zz",
                      "/org/machina/machine/with_2"):
            props = dbus.Interface(self.fx.bus.get_object("org.machina", bogus, introspect=False),
                                   "org.freedesktop.DBus.Properties")
            name, _ = call_error(props.GetAll, MACHINE)
            self.assertEqual(name, "org.freedesktop.DBus.Error.UnknownObject", bogus)


if __name__ == "__main__":
    unittest.main(verbosity=2)
