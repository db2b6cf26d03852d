#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad under its own unit: the [Service] settings of the built units/machinad.service
(no capabilities, ProtectSystem=strict, PrivateDevices=, the system call filter, …) applied by
the bed's real systemd manager to a transient service running machinad, which must then still
do its job: start a guest, talk QMP to it (Pause, Resume), relay its console, define a guest,
shut it down. Also: the daemon's process really has those credentials, and /dev/kvm is visible
to it for the accelerator choice.

Only what cannot apply on the bed is replaced: ExecStart= (the build tree's machinad with the
bed's config and runtime dirs), ReadWritePaths= (the bed's dirs instead of /etc/machina and
/var/lib/machina) and RuntimeDirectory=/ConfigurationDirectory= (the bed gives both)."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))

import dbus  # noqa: E402
import bedfixture  # noqa: E402
from bedfixture import BUILDDIR, MachinadBed, check, guest_definition, pump_until, run_bed_test  # noqa: E402

UNIT = "machinad-under-test.service"
# Settings that name production paths or the way the unit is started; replaced or dropped.
REPLACED = {"ExecStart", "ExecReload", "ReadWritePaths", "RuntimeDirectory", "RuntimeDirectoryPreserve",
            "ConfigurationDirectory"}


def service_settings():
    """(key, value) of the [Service] section of the built machinad.service, in order."""
    out, section = [], None
    with open(os.path.join(BUILDDIR, "units", "machinad.service")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            key, _, value = line.partition("=")
            if section == "[Service]" and key not in REPLACED:
                out.append((key, value))
    return out


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def daemon_log(b):
    return os.path.join(b.dir, "machinad.log")


def check_daemon_log(b):
    with open(daemon_log(b), errors="replace") as f:
        text = f.read()
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "Operation not permitted", "Permission denied"):
        check(marker not in text, f"machinad's log has '{marker}': {text[-3000:]}")


def start_daemon(b):
    # No RuntimeDirectory= here: machinad creates its runtime dir itself, under the unit's
    # UMask=0077, and must still make it 0755 (the QEMU user traverses it); checked below.
    check(not os.path.exists(b.runtime_dir), f"{b.runtime_dir} does not exist yet")
    settings = service_settings()
    check(("CapabilityBoundingSet", "") in settings, f"machinad.service keeps capabilities: {settings}")
    props = [f"{k}={v}" for k, v in settings]
    props += [f"ReadWritePaths={b.dir}",
              # PrivateTmp= hides the bed's /tmp; its bus socket is the one thing machinad needs there.
              f"BindPaths={os.path.join(b.bed.dir, 'bus')}",
              f"Environment=DBUS_SYSTEM_BUS_ADDRESS={b.bed.address} MACHINA_ACCEL=tcg "
              f"MACHINA_QMP_STOP_PATH={b.qmp_stop_path}",
              # LeakSanitizer stops the world with ptrace, which @system-service refuses (ASan build).
              "Environment=ASAN_OPTIONS=detect_leaks=0",
              # The bed has no journal: keep machinad's log (and sanitizer reports) in a file.
              f"StandardError=append:{daemon_log(b)}"]
    cmd = ["systemd-run", "--user", "--quiet", f"--unit={UNIT}"]
    for p in props:
        cmd += ["-p", p]
    cmd += [b.machinad, f"--config-dir={b.config_dir}", f"--runtime-dir={b.runtime_dir}", "--idle-timeout=0"]
    env = dict(os.environ, XDG_RUNTIME_DIR=b.bed.xdg_runtime_dir, DBUS_SESSION_BUS_ADDRESS=b.bed.address)
    # Type=dbus: systemd-run returns once the unit is up, i.e. machinad owns org.machina.
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"systemd-run of machinad failed: {r.stderr}")
    check(b.conn.name_has_owner("org.machina"), "machinad owns org.machina")
    unit = b.sd_mgr().GetUnit(UNIT)
    pid = int(b.conn.get_object(bedfixture.e2e.SD, unit).Get(
        "org.freedesktop.systemd1.Service", "MainPID", dbus_interface="org.freedesktop.DBus.Properties"))
    check(pid == b.daemon_pid(), f"org.machina is owned by the unit's process {pid}")
    return pid


def check_unit(b):
    """machinad under the unit's settings: its credentials, then its job."""
    pid = start_daemon(b)

    # The credentials of the unit, not of root.
    st = proc_status(pid)
    check(st["Uid"].split()[0] == "0", f"machinad runs as root: {st['Uid']}")
    check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0 and int(st["CapBnd"], 16) == 0,
          f"no capabilities: eff {st['CapEff']} prm {st['CapPrm']} bnd {st['CapBnd']}")
    check(st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", f"no_new_privs {st['NoNewPrivs']}, seccomp {st['Seccomp']}")
    qemu_gid = str(bedfixture.grp.getgrnam(bedfixture.QEMU_USER).gr_gid)
    check(all(g == qemu_gid for g in st["Gid"].split()), f"machinad's group is the QEMU group {qemu_gid}: {st['Gid']}")
    if os.path.exists("/dev/kvm"):
        # stat() under the unit's mount namespace: the accelerator choice needs the node.
        r = subprocess.run(["nsenter", f"--target={pid}", "--mount", "stat", "-c", "%F", "/dev/kvm"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and "character" in r.stdout, f"/dev/kvm visible to machinad: {r.stderr}")

    # Its job: a guest started, reached over QMP and its console, shut down.
    path, m = b.machine("alpha")
    r = b.call_async(m.Start)
    check(r[0] == "ok", f"Start: {r}")
    b.wait_state(path, "running", timeout=60)
    b.wait_guest_ready("alpha")
    mode = os.stat(b.runtime_dir).st_mode & 0o777
    check(mode == 0o755, f"runtime dir {b.runtime_dir} made by machinad: mode {mode:o}")
    rd = os.path.join(b.runtime_dir, "alpha")
    s = os.stat(rd)
    check(s.st_uid == 0 and str(s.st_gid) == qemu_gid and (s.st_mode & 0o777) == 0o770,
          f"runtime dir {rd}: uid {s.st_uid} gid {s.st_gid} mode {s.st_mode & 0o777:o}")
    for verb, state in (("Pause", "paused"), ("Resume", "running")):
        r = b.call_async(getattr(m, verb))
        check(r[0] == "ok", f"{verb}: {r}")
        pump_until(lambda: str(b.props(path)["State"]) == state, 30, f"State={state}")
    r = b.call_async(m.Shutdown, dbus.UInt64(60_000_000), dbus.UInt64(0))
    check(r[0] == "ok", f"Shutdown: {r}")
    pump_until(lambda: str(b.props(path)["State"]) == "stopped", 60, "State=stopped")
    check(not os.path.exists(rd), "runtime dir removed")

    # Writing a definition under ProtectSystem=strict, into the (bed's) config dir.
    d = guest_definition(b.guest_dir, "beta")
    r = b.call_async(b.manager().DefineMachine, json.dumps(d), dbus.UInt64(0))
    check(r[0] == "ok", f"DefineMachine: {r}")
    check(os.path.exists(os.path.join(b.config_dir, "machine.conf.d", "beta.conf.json")), "beta written")

    b.check_daemon_exit()
    check_daemon_log(b)


def main():
    run_bed_test(lambda: MachinadBed([dict(name="alpha")]), check_unit)


if __name__ == "__main__":
    main()
