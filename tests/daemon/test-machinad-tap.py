#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bridged networking on the real-parts test bed. The bed's systemd manager runs in a network
namespace of its own (testbed.TestBed(netns=True)), so every guest unit does too: the test
bridge, the taps and QEMU live there, and the host's network is never touched. The guest unit's
"ExecStartPre=+machina-tap add" creates the tap for the unprivileged QEMU, "ExecStopPost=-+…
del" removes it, whoever stops the unit.

Usage: test-machinad-tap.py CASE   (one meson test per case)"""

import json
import os
import pwd
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bedfixture  # noqa: E402
from bedfixture import Failure, MachinadBed, check, pump_until, run_bed_test  # noqa: E402

BRIDGE = "mbr0"
BRIDGE_MTU = 1400           # not the default, so the tap's MTU shows it was copied
NAME = "alpha"
TAP = "mt-alpha-0"          # qemu_tap_name("alpha", 0)
UNIT = f"machina-{NAME}.service"
HOST = {"network": [{"name": "testlan", "type": "bridge", "bridge": BRIDGE}]}
DEFS = [dict(name=NAME, connections=[{"name": "eth0", "network": "testlan"}])]


def ip(b, *args, check_rc=True):
    """ip(8) in the bed's network namespace."""
    r = b.bed.netns_run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check_rc and r.returncode != 0:
        raise Failure(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def link(b, name):
    """The link's details (ip -j -d link show) in the bed's namespace, None if it does not exist."""
    r = ip(b, "-j", "-d", "link", "show", "dev", name, check_rc=False)
    if r.returncode != 0:
        check("does not exist" in r.stderr, f"ip link show {name}: {r.stderr.strip()}")
        return None
    return json.loads(r.stdout)[0]


def taps(b):
    return sorted(li["ifname"] for li in json.loads(ip(b, "-j", "link", "show").stdout)
                  if li["ifname"].startswith(("mt-", "mh-")))


def add_bridge(b):
    ip(b, "link", "add", BRIDGE, "type", "bridge")
    ip(b, "link", "set", BRIDGE, "mtu", str(BRIDGE_MTU), "up")


def wait_no_tap(b, what, timeout=30):
    pump_until(lambda: link(b, TAP) is None, timeout, f"tap {TAP} removed {what}")


def check_tap(b, qemu_pid):
    """The tap as QEMU uses it: a persistent tap owned by the QEMU user, on the bridge with its
    MTU, up, with carrier (QEMU holds it open)."""
    li = pump_until(lambda: (lambda x: x if x and "LOWER_UP" in x["flags"] else None)(link(b, TAP)),
                    30, f"tap {TAP} with carrier")
    info = li["linkinfo"]
    check(info["info_kind"] == "tun" and info["info_data"]["type"] == "tap", f"{TAP} is a tap: {info}")
    check(info["info_data"]["persist"] is True, f"{TAP} is persistent: {info['info_data']}")
    owner = str(info["info_data"].get("user"))
    uid = pwd.getpwnam(bedfixture.QEMU_USER).pw_uid
    check(owner in (bedfixture.QEMU_USER, str(uid)), f"{TAP} owned by {bedfixture.QEMU_USER}, not {owner!r}")
    check(li.get("master") == BRIDGE, f"{TAP} enslaved to {BRIDGE}: master {li.get('master')!r}")
    check(li["mtu"] == BRIDGE_MTU, f"{TAP} has the bridge's MTU {BRIDGE_MTU}: {li['mtu']}")
    check("UP" in li["flags"], f"{TAP} is up: {li['flags']}")

    user = subprocess.run(["ps", "-o", "user=", "-p", str(qemu_pid)], capture_output=True, text=True,
                          check=True).stdout.strip()
    check(user == bedfixture.QEMU_USER, f"ps shows QEMU {qemu_pid} running as {user!r}")
    bed_ns = os.readlink(f"/proc/{b.bed.children['systemd'].pid}/ns/net")
    check(os.readlink(f"/proc/{qemu_pid}/ns/net") == bed_ns, "QEMU runs in the bed's network namespace")
    check(bed_ns != os.readlink("/proc/self/ns/net"), "the bed's network namespace is not the host's")
    host = subprocess.run(["ip", "link", "show", "dev", TAP], capture_output=True, text=True)
    check(host.returncode != 0, f"no {TAP} in the host's namespace")


def check_argv(m, qemu_pid):
    with open(f"/proc/{qemu_pid}/cmdline", "rb") as f:
        argv = f.read().decode().split("\0")
    mac = json.loads(str(m.GetConfig()))["connections"][0]["mac"]
    netdevs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-netdev"]
    devices = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-device"]
    check(netdevs == [f"tap,id=net-0,ifname={TAP},script=no,downscript=no"], f"tap netdev: {netdevs}")
    check(any(d.startswith("virtio-net-pci,netdev=net-0,") and f"mac={mac}" in d for d in devices),
          f"NIC with the derived MAC {mac}: {devices}")


def start_running(b):
    path, m = b.machine(NAME)
    r = b.call_async(m.Start)
    check(r[0] == "ok", f"Start: {r}")
    pid = int(b.wait_state(path, "running", timeout=60)["MainPID"])
    return path, m, pid


def case_tap(b):
    """Start: the tap exists for QEMU (owner, bridge, MTU, up, carrier), QEMU runs as the QEMU
    user in the bed's namespace and the guest boots; Stop removes the tap."""
    add_bridge(b)
    check(taps(b) == [], f"no taps before the start: {taps(b)}")
    path, m, pid = start_running(b)
    check_tap(b, pid)
    check_argv(m, pid)
    b.wait_guest_ready(NAME)
    check(b.call_async(m.Stop)[0] == "ok", "Stop")
    b.wait_state(path, "stopped", "user", timeout=60)
    wait_no_tap(b, "after Stop")
    check(link(b, BRIDGE) is not None, "the bridge stays")
    check(taps(b) == [], f"no taps left: {taps(b)}")


def case_tap_crash(b):
    """machinad SIGKILLed while the guest runs; the unit stopped through systemd alone still
    removes the tap (ExecStopPost), and a new machinad sees the guest stopped."""
    add_bridge(b)
    path, m, pid = start_running(b)
    check_tap(b, pid)
    daemon = b.daemon_pid()
    os.kill(daemon, signal.SIGKILL)
    pump_until(lambda: not b.conn.name_has_owner("org.machina"), 10, "org.machina released")
    check(link(b, TAP) is not None, "the tap outlives machinad")
    b.sd_mgr().StopUnit(UNIT, "replace")
    pump_until(lambda: not b.unit_exists(UNIT), 60, f"{UNIT} stopped by systemd")
    wait_no_tap(b, "by the unit's ExecStopPost without machinad")
    check(bedfixture.testbed.proc_starttime(pid) is None, "QEMU is gone")
    path, m = b.machine(NAME)               # re-activates machinad
    check(b.props(path)["State"] == "stopped", f"state after the restart: {b.props(path)['State']}")


HOLD_TAP = r"""
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
# TUNSETIFF, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR: a non-persistent tap that lives while we do.
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))
print("held", flush=True)
sys.stdin.read()
"""


def start_fails(b, what):
    path, m = b.machine(NAME)
    r = b.call_async(m.Start)
    check(r[0] == "error" and r[1].startswith("org.machina.Error."), f"Start {what} must fail: {r}")
    pump_until(lambda: not b.unit_exists(UNIT), 30, f"{UNIT} collected after the failed start")
    state = str(b.props(path)["State"])
    check(state in ("stopped", "crashed"), f"state after a failed start {what}: {state}")
    return r


def case_tap_fail(b):
    """A failed start leaves nothing behind: no bridge → no tap, no unit. A tap name another
    process holds is neither taken over nor deleted. A left-over tap nobody holds is reused."""
    r = start_fails(b, "without the bridge")
    check(taps(b) == [], f"no tap after the failed start: {taps(b)}")

    add_bridge(b)
    pid = b.bed.children["systemd"].pid
    p = subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", "/usr/bin/python3", "-c", HOLD_TAP, TAP],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        check(p.stdout.readline().strip() == "held", "a process holds the tap")
        r = start_fails(b, "with the tap held by another process")
        check(link(b, TAP) is not None, "the held tap was not deleted by the failed start's cleanup")
        check(link(b, TAP)["linkinfo"]["info_data"]["persist"] is False, "the held tap was not taken over")
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    pump_until(lambda: link(b, TAP) is None, 10, "the holder's tap to go with it")

    # A persistent tap owned by root, nobody holding it: what a crash of the manager leaves.
    ip(b, "tuntap", "add", "dev", TAP, "mode", "tap")
    path, m, qemu = start_running(b)
    check_tap(b, qemu)
    check(b.call_async(m.Stop)[0] == "ok", "Stop")
    b.wait_state(path, "stopped", "user", timeout=60)
    wait_no_tap(b, "after Stop")


CASES = {
    "tap": case_tap,
    "tap-crash": case_tap_crash,
    "tap-fail": case_tap_fail,
}


def main():
    run_bed_test(lambda: MachinadBed(DEFS, netns=True, host=HOST), CASES[sys.argv[1]])


if __name__ == "__main__":
    main()
