#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Start latency: machinad's Start (call → reply, i.e. unit active and QMP answering) against the
floor measured in the same run on the same bed: a bare StartTransientUnit of the very same unit
properties → job done → QMP query-status answered, done by this script itself.

Runs on the real-parts test bed (root). Prints medians and the ratio; exits 0 unless something
failed. Not a pass/fail test of speed: timed assertions flake on shared machines.

Usage: bench-start.py [ROUNDS]   (default 10)"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "daemon"))

import dbus  # noqa: E402
from bedfixture import MachinadBed, check, pump_until  # noqa: E402
import e2e  # noqa: E402


def machinad_start(b, m, path):
    t0 = time.monotonic()
    r = b.call_async(m.Start)
    t = time.monotonic() - t0
    check(r[0] == "ok", f"Start: {r}")
    return t


def unit_properties(b, unit):
    """The unit's properties as systemd holds them, turned back into StartTransientUnit's a(sv)
    for the ones machinad sets (read from the live unit, so the floor runs the same thing)."""
    sd = b.conn.get_object(e2e.SD, b.sd_mgr().GetUnit(unit))
    props = dbus.Interface(sd, "org.freedesktop.DBus.Properties")
    exec_start = props.Get("org.freedesktop.systemd1.Service", "ExecStart")
    argv = [str(a) for a in exec_start[0][1]]
    return argv


def bare_start(b, argv, name, qmp_path):
    sd = b.sd_mgr()
    props = dbus.Array([
        ("Type", dbus.String("exec", variant_level=1)),
        ("CollectMode", dbus.String("inactive-or-failed", variant_level=1)),
        ("ExecStart", dbus.Array([dbus.Struct((argv[0], dbus.Array(argv, signature="s"), False),
                                              signature="sasb")], signature="(sasb)", variant_level=1)),
    ], signature="(sv)")
    t0 = time.monotonic()
    job = str(sd.StartTransientUnit(name, "fail", props, dbus.Array([], signature="(sa(sv))")))
    pump_until(lambda: any(s[1] == "JobRemoved" and str(s[3][1]) == job for s in b.signals), 30, "job")
    q = e2e.QMP(qmp_path, timeout=30)
    q.execute("query-status")
    t = time.monotonic() - t0
    q.execute("quit")
    q.close()
    pump_until(lambda: not b.unit_exists(name), 30, f"{name} gone")
    return t


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    b = MachinadBed([dict(name="bench")])
    failed = True
    try:
        b.sd_mgr().Subscribe()
        path, m = b.machine("bench")
        # One warm-up start to learn the argv, then stop.
        machinad_start(b, m, path)
        argv = unit_properties(b, "machina-bench.service")
        check(b.call_async(m.Stop)[0] == "ok", "Stop")
        ours, floor = [], []
        for i in range(rounds):
            ours.append(machinad_start(b, m, path))
            check(b.call_async(m.Stop)[0] == "ok", "Stop")
            # The bare unit uses machinad's argv: its sockets live in the guest's runtime dir,
            # which machinad removed at Stop; recreate it for the bare run.
            rt = os.path.join(b.runtime_dir, "bench")
            os.makedirs(rt, exist_ok=True)
            floor.append(bare_start(b, argv, f"bench-floor-{i}.service", os.path.join(rt, "qmp.sock")))
            os.rmdir(rt) if not os.listdir(rt) else None
        mo, mf = statistics.median(ours), statistics.median(floor)
        print(f"machinad Start → reply: median {mo * 1000:.1f} ms (min {min(ours) * 1000:.1f}, "
              f"max {max(ours) * 1000:.1f}, n={rounds})")
        print(f"bare StartTransientUnit → QMP ready: median {mf * 1000:.1f} ms (min {min(floor) * 1000:.1f}, "
              f"max {max(floor) * 1000:.1f}, n={rounds})")
        print(f"ratio: {mo / mf:.2f}x the floor")
        failed = False
    finally:
        b.close(failed=failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
