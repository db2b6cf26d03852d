#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A bus client that runs as another user (started under setpriv by the security tests): reads one
JSON call per line on stdin, {"path", "iface", "method", "sig", "args"}, makes it on the bus at
argv[1] without the ALLOW_INTERACTIVE_AUTHORIZATION flag, and writes one JSON line per call:
["ok", value] or ["error", error name, message]. File descriptors returned are closed at once."""

import json
import os
import sys

import dbus


def plain(v):
    if isinstance(v, dbus.types.UnixFd):
        os.close(v.take())
        return "<fd>"
    if isinstance(v, (list, tuple, dbus.Array, dbus.Struct)):
        return [plain(x) for x in v]
    if isinstance(v, (dict, dbus.Dictionary)):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (dbus.String, dbus.ObjectPath, str)):
        return str(v)
    if isinstance(v, (dbus.Boolean, bool)):
        return bool(v)
    if isinstance(v, (int, dbus.Byte, dbus.Int16, dbus.UInt16, dbus.Int32, dbus.UInt32,
                      dbus.Int64, dbus.UInt64)):
        return int(v)
    return repr(v)


def main():
    conn = dbus.bus.BusConnection(sys.argv[1])
    print(json.dumps(["ready", os.getuid()]), flush=True)
    for line in sys.stdin:
        c = json.loads(line)
        try:
            obj = conn.get_object("org.machina", c["path"], introspect=False)
            value = obj.get_dbus_method(c["method"], c["iface"])(*c["args"], signature=c["sig"],
                                                                 timeout=120)
            out = ["ok", plain(value)]
        except dbus.DBusException as e:
            out = ["error", e.get_dbus_name(), e.get_dbus_message()]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
