#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compare dbus/org.machina.{Manager,Machine}.xml with what a live machinad introspects (the
vtables are the truth; the files are what clients install). --update rewrites the files."""

import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbus  # noqa: E402
from busfixture import Fixture  # noqa: E402

SRCDIR = os.environ.get("MACHINA_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
          ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n')


def interface_xml(xml, name):
    root = ET.fromstring(xml)
    for iface in root.findall("interface"):
        if iface.get("name") == name:
            node = ET.Element("node")
            node.append(iface)
            ET.indent(node, space="  ")
            return HEADER + ET.tostring(node, encoding="unicode") + "\n"
    raise AssertionError(f"{name} not in introspection data")


def main():
    update = "--update" in sys.argv
    fx = Fixture(config_src=os.path.join(SRCDIR, "data"))
    failed = False
    try:
        fx.start_machinad()
        machine_path = fx.manager().GetMachine("demo")
        for iface, path in (("org.machina.Manager", "/org/machina"), ("org.machina.Machine", machine_path)):
            live = str(dbus.Interface(fx.bus.get_object("org.machina", path),
                                      "org.freedesktop.DBus.Introspectable").Introspect())
            text = interface_xml(live, iface)
            f = os.path.join(SRCDIR, "dbus", iface + ".xml")
            if update:
                with open(f, "w") as fh:
                    fh.write(text)
                continue
            with open(f) as fh:
                if fh.read() != text:
                    print(f"{f} differs from live introspection:\n{text}", file=sys.stderr)
                    failed = True
    finally:
        fx.close()
    print("FAIL" if failed else "PASS")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
