#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the real parts: test bed + test guest as a transient systemd unit.

test-bed-guest.py powerdown   guest boots, ACPI power-off over QMP, unit goes away with success
test-bed-guest.py ignore      guest ignoring ACPI keeps running; StopUnit stops it
test-bed-guest.py updown      two beds in a row; nothing left behind after each
test-bed-guest.py crash       harness SIGKILLed (after and during bring-up); next bed recovers"""

import os
import secrets
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import (Failure, Guest, Systemd, build_guest, check, pump_for, pump_until, run,  # noqa: E402
                 testbed, SRCDIR)


def assert_props_clean_exit(sd, guest):
        props = sd.unit_props(guest.upath)
        state = str(props.get("ActiveState", ""))
        result = str(props.get("Result", "(never signalled)"))
        print(f"  last signalled ActiveState={state!r} Result={props.get('Result')!r}", flush=True)
        check(state == "inactive", f"unit ended in ActiveState={state}, expected inactive")
        check(result == "success", f"unit Result={result}, expected success")


def test_powerdown():
        gdir = build_guest()
        with testbed.TestBed() as bed:
                sd = Systemd(bed.bus())
                g = Guest(bed, sd, gdir)
                try:
                        boot = g.start()
                        print(f"  guest boot to marker: {boot:.2f}s (TCG)", flush=True)
                        st = g.qmp.execute("query-status")
                        check(st["status"] == "running", f"query-status {st}")
                        check(sd.unit_property(g.upath, "org.freedesktop.systemd1.Unit", "ActiveState") == "active",
                              "unit not active while the guest runs")
                        word = "hello-" + secrets.token_hex(3)
                        g.console.send(word)
                        pump_until(lambda: g.console.has("echo: " + word), 30, "the console echo")
                        t0 = time.monotonic()
                        g.qmp.execute("system_powerdown")
                        ev = g.qmp.wait_event("SHUTDOWN", 30)
                        print(f"  SHUTDOWN event: {ev['data']}", flush=True)
                        check(ev["data"].get("guest") is True, f"SHUTDOWN not caused by the guest: {ev}")
                        check(ev["data"].get("reason") == "guest-shutdown", f"unexpected reason: {ev}")
                        pump_until(lambda: sd.unit_removed(g.name), 30, f"UnitRemoved of {g.name}")
                        print(f"  powerdown to unit gone: {(time.monotonic() - t0) * 1000:.0f} ms", flush=True)
                        assert_props_clean_exit(sd, g)
                        check(g.console.has("powering off"), "guest did not report the power button")
                finally:
                        g.close()


def test_ignore():
        gdir = build_guest()
        with testbed.TestBed() as bed:
                sd = Systemd(bed.bus())
                g = Guest(bed, sd, gdir, append_extra="machina.powerbtn=ignore")
                try:
                        boot = g.start()
                        print(f"  guest (ACPI ignored) boot to marker: {boot:.2f}s", flush=True)
                        check(g.console.has("mode=ignore"), "guest did not select the ignore variant")
                        g.qmp.execute("system_powerdown")
                        g.qmp.wait_event("POWERDOWN", 10)
                        # An assertion of absence: the guest must still be running after a bounded wait.
                        pump_for(3.0)
                        check(g.qmp.event("SHUTDOWN") is None, f"guest shut down: {g.qmp.events}")
                        check(not sd.unit_removed(g.name), "unit went away although ACPI is ignored")
                        st = g.qmp.execute("query-status")
                        check(st["status"] == "running", f"query-status {st}")
                        t0 = time.monotonic()
                        job = str(sd.mgr.StopUnit(g.name, "replace"))
                        pump_until(lambda: sd.job_result(job), 30, "the stop job")
                        check(sd.job_result(job) == "done", f"stop job result {sd.job_result(job)}")
                        pump_until(lambda: sd.unit_removed(g.name), 30, f"UnitRemoved of {g.name}")
                        print(f"  StopUnit to unit gone: {(time.monotonic() - t0) * 1000:.0f} ms", flush=True)
                        ev = g.qmp.wait_event("SHUTDOWN", 10)
                        check(ev["data"].get("guest") is False, f"SHUTDOWN should be host-caused: {ev}")
                        assert_props_clean_exit(sd, g)
                finally:
                        g.close()


def bed_leftovers(state, pids):
        """Everything a torn-down bed might have left behind."""
        bad = []
        for p, s, n in pids:
                if testbed.proc_alive(p, s):
                        bad.append(f"process {p} ({n}) still alive")
        for root in testbed.cgroup_roots():
                cg = os.path.join(root, testbed.CGROUP_PREFIX + state["id"])
                if os.path.exists(cg):
                        bad.append(f"cgroup {cg} still exists")
        if os.path.exists(state["dir"]):
                bad.append(f"bed dir {state['dir']} still exists")
        if os.path.exists(os.path.join(testbed.REGISTRY, state["id"] + ".json")):
                bad.append(f"registry entry {state['id']} still exists")
        return bad


def test_updown():
        for i in range(2):
                bed = testbed.TestBed()
                bed.up()
                try:
                        sd = Systemd(bed.bus())
                        # A unit's process must not survive the bed either.
                        name = f"machina-e2e-sleep-{secrets.token_hex(4)}.service"
                        job = sd.start_transient(name, ["/bin/sleep", "infinity"])
                        pump_until(lambda: sd.job_result(job), 30, "the sleep unit's start job")
                        upath = sd.get_unit_path(name)
                        pid = int(sd.unit_property(upath, "org.freedesktop.systemd1.Service", "MainPID"))
                        check(pid > 0, "sleep unit has no MainPID")
                        pids = testbed.read_pids(bed.dir) + [(pid, testbed.proc_starttime(pid), "unit")]
                        state = bed.state()
                except BaseException:
                        bed.dump_logs()
                        bed.down()
                        raise
                bed.down()
                bad = bed_leftovers(state, pids)
                check(not bad, f"round {i}: leftovers: {bad}")
                print(f"  round {i}: up {bed.up_time * 1000:.0f} ms, down {bed.down_time * 1000:.0f} ms, clean",
                      flush=True)


CHILD = """
import os, sys, time
sys.path.insert(0, {tbdir!r})
import testbed
bed = testbed.TestBed({bed_dir!r}, quiet=True)
bed.up()
print("UP", flush=True)
time.sleep(3600)
"""


def crash_once(during_bringup):
        bed_dir = os.path.join(testbed.DEFAULT_PARENT, testbed.CGROUP_PREFIX + "crash-" + secrets.token_hex(4))
        code = CHILD.format(tbdir=os.path.join(SRCDIR, "tests", "testbed"), bed_dir=bed_dir)
        child = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True)
        try:
                if during_bringup:
                        # Kill as soon as the bed's first process is recorded: mid bring-up.
                        testbed.wait_for(lambda: testbed.read_pids(bed_dir), 30, "the child's first process")
                else:
                        line = child.stdout.readline()
                        check(line.strip() == "UP", f"child harness said {line!r}")
        finally:
                child.kill()
                child.wait(timeout=10)
                child.stdout.close()
        pids = testbed.read_pids(bed_dir)
        entry = testbed.load(bed_dir)
        check(entry is not None, "the crashed bed is not registered")
        if not during_bringup:
                check(all(testbed.proc_alive(p, s) for p, s, _ in pids), "bed processes died with the harness")
        # The next bed must clean the stale one up and work.
        with testbed.TestBed() as bed:
                check(bed.bus().get_name_owner("org.freedesktop.systemd1"), "new bed has no systemd")
        bad = bed_leftovers(entry, pids)
        check(not bad, f"stale bed not recovered: {bad}")
        print(f"  crash {'during' if during_bringup else 'after'} bring-up: recovered, clean", flush=True)


def test_crash():
        crash_once(during_bringup=False)
        crash_once(during_bringup=True)


TESTS = {"powerdown": test_powerdown, "ignore": test_ignore, "updown": test_updown, "crash": test_crash}

if __name__ == "__main__":
        if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
                print(__doc__, file=sys.stderr)
                sys.exit(2)
        run(TESTS[sys.argv[1]])
