#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad bounds its own calls to systemd (service/systemd-glue.c: at most 64 in flight, the
rest queued in FIFO order). The bed's dbus-daemon allows a connection 128 pending replies
(max_replies_per_connection, its default and the system bus's), so without the bound 200 Start()
at once would make machinad send 200 StartTransientUnit and dbus-daemon would refuse the ones
past 128 (LimitsExceeded: the Start fails). Here 200 Start() come at once from four client
connections (50 each, within each client's own 128) to stand-in guests (bench/qmp-standin: a
process that serves QMP like QEMU, selected by the host file's "emulator"), and every one must
succeed with its guest running; then 200 Stop() at once, and every unit must be gone.

Fault injection: systemd answers StartTransientUnit in about a millisecond, faster than the calls
pile up, so the bed's systemd manager is frozen (SIGSTOP) while the 200 Start() arrive and
thawed (SIGCONT) once every guest says it is starting or a Start() has failed. Without the bound
the calls past 128 fail at once (LimitsExceeded from dbus-daemon), while systemd is frozen."""

import os
import shutil
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import dbus  # noqa: E402
from bedfixture import BUILDDIR, MACHINE_IFACE, MachinadBed, check, pump_until, run_bed_test  # noqa: E402

N = 200
CLIENTS = 4
STANDIN = os.path.join(BUILDDIR, "bench", "qmp-standin")


def make_bed():
    b = MachinadBed([])
    # Guest units have PrivateTmp= and ProtectHome=: run a copy from the bed's own directory.
    copy = os.path.join(b.dir, "qmp-standin")
    shutil.copyfile(STANDIN, copy)
    os.chmod(copy, 0o755)
    with open(os.path.join(b.config_dir, "machina.conf.json"), "w") as f:
        f.write(f'{{"accel": "tcg", "emulator": "{copy}"}}')
    for i in range(N):
        b.write_definition({"name": f"s{i}", "attrs": {"cpu": {"count": 1}, "ram": {"size": "64M"}},
                            "stop-timeout": 10})
    return b


def all_at_once(b, conns, paths, method, frozen=None):
    """method() of every path at once, spread over the client connections; every reply. With
    frozen (a PID), that process is stopped until frozen_done(replies) is true."""
    replies = {}
    for i, path in enumerate(paths):
        m = dbus.Interface(conns[i % len(conns)].get_object("org.machina", path), MACHINE_IFACE)
        getattr(m, method)(reply_handler=lambda *r, p=path: replies.__setitem__(p, "ok"),
                           error_handler=lambda e, p=path: replies.__setitem__(
                               p, f"{e.get_dbus_name()}: {e.get_dbus_message()}"),
                           timeout=600)
    if frozen:
        try:
            pump_until(lambda: frozen[1](replies), 300, f"every {method}() sent on or answered")
        finally:
            os.kill(frozen[0], signal.SIGCONT)
    pump_until(lambda: len(replies) == len(paths), 620, f"{len(paths)} replies to {method}()")
    failed = {p: r for p, r in replies.items() if r != "ok"}
    check(not failed, f"{len(failed)} of {len(paths)} {method}() failed, e.g. {list(failed.items())[:3]}")


def test(b):
    mgr = b.manager()
    listed = mgr.ListMachines()
    check(len(listed) == N, f"{len(listed)} guests defined, expected {N}")
    paths = [str(mgr.GetMachine(f"s{i}")) for i in range(N)]
    conns = [b.conn] + [dbus.bus.BusConnection(b.bed.address) for _ in range(CLIENTS - 1)]

    starting = set()

    def on_changed(iface, changed, invalidated, path=None):
        if str(iface) == MACHINE_IFACE and str(changed.get("State", "")) == "starting":
            starting.add(str(path))
    b.conn.add_signal_receiver(on_changed, signal_name="PropertiesChanged",
                               dbus_interface="org.freedesktop.DBus.Properties", path_keyword="path")
    systemd = int(b.conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus").GetConnectionUnixProcessID(
        "org.freedesktop.systemd1", dbus_interface="org.freedesktop.DBus"))
    os.kill(systemd, signal.SIGSTOP)
    all_at_once(b, conns, paths, "Start", frozen=(systemd, lambda replies: replies or len(starting) == N))
    states = {str(m[0]): str(m[2]) for m in mgr.ListMachines()}
    not_running = {n: s for n, s in states.items() if s != "running"}
    check(not not_running, f"not running after Start(): {list(not_running.items())[:5]}")
    units = b.sd_mgr().ListUnitsByPatterns(["active"], ["machina-s*.service"])
    check(len(units) == N, f"{len(units)} guest units active, expected {N}")

    all_at_once(b, conns, paths, "Stop")
    states = {str(m[0]): str(m[2]) for m in mgr.ListMachines()}
    check(all(s == "stopped" for s in states.values()), f"not stopped: {[n for n, s in states.items() if s != 'stopped'][:5]}")
    units = b.sd_mgr().ListUnitsByPatterns(["active", "activating", "deactivating"], ["machina-*"])
    check(len(units) == 0, f"units left: {[str(u[0]) for u in units][:5]}")
    for c in conns[1:]:
        c.close()


if __name__ == "__main__":
    run_bed_test(make_bed, test)
