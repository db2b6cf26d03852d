# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinad on the real-parts test bed: the bed (tests/testbed) with machinad bus-activated from
the build tree in system mode, a config dir with the test guest's definitions, and helpers to
follow a machine's properties through PropertiesChanged and to reach its serial console."""

import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.realpath(os.path.join(HERE, "..", ".."))
BUILDDIR = os.environ.get("MACHINA_BUILDDIR") or os.path.join(SRCDIR, "build")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "testbed"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))

import dbus  # noqa: E402
import e2e  # noqa: E402
import testbed  # noqa: E402
from e2e import Failure, check, pump_until  # noqa: E402,F401

QEMU_USER = "machina-qemu"
MACHINED = "/lib/systemd/systemd-machined"
MACHINED_POLICY = "/usr/share/dbus-1/system.d/org.freedesktop.machine1.conf"
BED_PARENT = "/var/lib/machina-tests"
MACHINE_IFACE = "org.machina.Machine"


def ensure_qemu_user():
    """machinad runs guests as the QEMU user of units/machina.sysusers; create it like a package
    install would (systemd-sysusers with our file)."""
    try:
        pwd.getpwnam(QEMU_USER)
    except KeyError:
        subprocess.run(["systemd-sysusers", os.path.join(SRCDIR, "units", "machina.sysusers")],
                       check=True, timeout=60)


def unit_credentials():
    """setpriv arguments that give machinad the credentials units/machinad.service (as built)
    gives it: root, but only the capabilities of its CapabilityBoundingSet= (none), its Group=
    (the QEMU group), SupplementaryGroups= and NoNewPrivileges=. Every bed test then proves the
    daemon does its job with exactly those (all but the system call filter, which
    tests/integration/test-daemon-unit.py adds)."""
    caps, group, groups, nnp = None, "root", [], False
    with open(os.path.join(BUILDDIR, "units", "machinad.service")) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == "CapabilityBoundingSet":
                caps = value.split()
            elif key == "Group":
                group = value
            elif key == "SupplementaryGroups":
                groups += value.split()
            elif key == "NoNewPrivileges":
                nnp = value == "yes"
    gids = [str(grp.getgrnam(g).gr_gid) for g in [group] + groups]
    args = ["setpriv", "--regid=" + gids[0], "--groups=" + ",".join(gids)]
    if caps is not None:
        keep = ",".join(["-all"] + ["+" + c.lower().removeprefix("cap_") for c in caps])
        args += ["--inh-caps=-all", "--bounding-set=" + keep]
    if nnp:
        args.append("--no-new-privs")
    return args


def guest_definition(guest_dir, name, variant="acpi", owner=None, autostart=None, boot_delay=None,
                     connections=None):
    # no_timer_check: under TCG on busy shared CPUs the kernel's IO-APIC timer check can fail
    # and panic ("IO-APIC + timer doesn't work"), seen on the bed; the check proves nothing here.
    cmdline = "console=ttyS0 quiet no_timer_check" + (" machina.powerbtn=ignore" if variant == "ignore" else "")
    d = {"name": name,
         "attrs": {"cpu": {"count": 1}, "ram": {"size": "128M"}, "accel": "tcg",
                   "kernel": {"path": os.path.join(guest_dir, "vmlinux"),
                              "initrd": os.path.join(guest_dir, "initramfs.gz"),
                              "cmdline": cmdline}},
         "stop-timeout": 20}
    if owner is not None:
        d["owner"] = owner
    if autostart is not None:
        d["autostart"] = autostart
    if boot_delay is not None:
        d["boot-delay"] = boot_delay
    if connections is not None:
        d["connections"] = connections
    return d


class MachinadBed:
    def __init__(self, definitions=(), idle_timeout=0, env=None, machined=False, netns=False, host=None):
        ensure_qemu_user()
        # Guests run with PrivateTmp= and ProtectHome=: keep everything they must reach out of
        # /tmp and /home (/root). Not under /run either: on the bed /run is a plain directory
        # of the root file system and systemd --user then fails ReadWritePaths= below it
        # together with ProtectProc=/ProtectKernelTunables= (226/NAMESPACE, seen here).
        # World-traversable, since QEMU runs as the QEMU user.
        os.makedirs(BED_PARENT, mode=0o755, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="bed-", dir=BED_PARENT)
        os.chmod(self.dir, 0o755)
        self.guest_dir = os.path.join(self.dir, "guest")
        os.makedirs(self.guest_dir)
        src = e2e.build_guest()
        for f in ("vmlinux", "initramfs.gz"):
            shutil.copyfile(os.path.join(src, f), os.path.join(self.guest_dir, f))
            os.chmod(os.path.join(self.guest_dir, f), 0o644)
        self.config_dir = os.path.join(self.dir, "config")
        self.runtime_dir = os.path.join(self.dir, "run")
        os.makedirs(os.path.join(self.config_dir, "machine.conf.d"))
        with open(os.path.join(self.config_dir, "machina.conf.json"), "w") as f:
            json.dump({"accel": "tcg", **(host or {})}, f)
        for d in definitions:
            self.write_definition(guest_definition(self.guest_dir, **d))
        # Copies in the bed's directory: a unit's PrivateTmp=/ProtectHome= hide a build tree
        # under /tmp or /root from the guests' ExecStop=/ExecStartPre= helpers and from machinad
        # run as its unit (test-daemon-unit.py), and CI may clone anywhere.
        self.bin_dir = os.path.join(self.dir, "bin")
        os.makedirs(self.bin_dir)
        for f in ("machinad", "machina-qmp-stop", "machina-tap"):
            shutil.copy2(os.path.join(BUILDDIR, "service", f), self.bin_dir)
        self.machinad = os.path.join(self.bin_dir, "machinad")
        self.qmp_stop_path = os.path.join(self.bin_dir, "machina-qmp-stop")
        act = os.path.join(self.dir, "org.machina.service")
        with open(act, "w") as f:
            f.write("[D-BUS Service]\nName=org.machina\n"
                    f"Exec=/usr/bin/env MACHINA_ACCEL=tcg "
                    + "".join(f"{k}={v} " for k, v in (env or {}).items()) +
                    f"MACHINA_QMP_STOP_PATH={self.qmp_stop_path} "
                    + " ".join(unit_credentials()) +
                    f" {self.machinad} --config-dir={self.config_dir} "
                    f"--runtime-dir={self.runtime_dir} --idle-timeout={idle_timeout}\n"
                    "User=root\n")
        policy = [os.path.join(SRCDIR, "dbus", "org.machina.conf")]
        if machined:
            policy.append(MACHINED_POLICY)
        # netns: guests' units run in a network namespace of the bed's (testbed.TestBed).
        self.bed = testbed.TestBed(activation_files=[act], bus_policy_files=policy, netns=netns)
        self.bed.up()
        self.conn = dbus.bus.BusConnection(self.bed.address)
        self.signals = []
        self.conn.add_signal_receiver(self._on_signal, path_keyword="path", member_keyword="member",
                                      interface_keyword="interface", sender_keyword="sender")
        self.consoles = []

    def start_machined(self):
        """The real systemd-machined on the bed's bus (needs MachinadBed(machined=True)). It finds
        a machine's unit from the leader's cgroup path relative to the cgroup root; it runs in a
        cgroup namespace rooted at the bed's manager cgroup, so guests' paths read like on a
        host (/machine.slice/machina-NAME.service); its /run/systemd is a private tmpfs."""
        script = ('set -e; mount -t tmpfs -o mode=0755 tmpfs /run/systemd; '
                  'exec env -i PATH=/usr/bin:/bin DBUS_SYSTEM_BUS_ADDRESS="$1" "$0"')
        self.bed._spawn("machined", ["unshare", "--mount", "--propagation", "private", "--cgroup",
                                     "sh", "-c", script, MACHINED, self.bed.address],
                        "manager", "machined.log")
        pump_until(lambda: self.conn.name_has_owner("org.freedesktop.machine1"), 30,
                   "systemd-machined on the bed's bus")
        return self.conn.get_object("org.freedesktop.machine1", "/org/freedesktop/machine1")

    def write_definition(self, d):
        with open(os.path.join(self.config_dir, "machine.conf.d", d["name"] + ".conf.json"), "w") as f:
            json.dump(d, f)

    def _on_signal(self, *args, path=None, member=None, interface=None, sender=None):
        self.signals.append((str(interface), str(member), str(path), args))

    # bus helpers
    def manager(self):
        return dbus.Interface(self.conn.get_object("org.machina", "/org/machina"), "org.machina.Manager")

    def machine(self, name):
        path = self.manager().GetMachine(name)
        return path, dbus.Interface(self.conn.get_object("org.machina", path), MACHINE_IFACE)

    def props(self, path):
        return dbus.Interface(self.conn.get_object("org.machina", path),
                              "org.freedesktop.DBus.Properties").GetAll(MACHINE_IFACE)

    def changes(self, path):
        """Every PropertiesChanged dict of org.machina.Machine at path, in order."""
        return [a[1] for i, m, p, a in self.signals
                if m == "PropertiesChanged" and p == path and str(a[0]) == MACHINE_IFACE]

    def wait_state(self, path, state, reason=None, timeout=60):
        def seen():
            for c in self.changes(path):
                if c.get("State") == state and (reason is None or c.get("StateReason") == reason):
                    return c
            return None
        return pump_until(seen, timeout, f"State={state} reason={reason} on {path}")

    def call_async(self, method, *args, timeout=120):
        """Call method, pumping the main loop; returns ("ok", value) or ("error", name, message)."""
        box = []
        method(*args, reply_handler=lambda *r: box.append(("ok",) + r),
               error_handler=lambda e: box.append(("error", e.get_dbus_name(), e.get_dbus_message())),
               timeout=timeout)
        pump_until(lambda: box, timeout + 5, f"reply to {method._method_name}")
        return box[0]

    def sd_mgr(self):
        return dbus.Interface(self.conn.get_object(e2e.SD, e2e.SD_PATH), e2e.SD_MGR)

    def daemon_pid(self):
        dbus_obj = dbus.Interface(self.conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                  "org.freedesktop.DBus")
        return int(dbus_obj.GetConnectionUnixProcessID("org.machina"))

    def unit_exists(self, unit):
        try:
            self.sd_mgr().GetUnit(unit)
            return True
        except dbus.DBusException as ex:
            if ex.get_dbus_name() == "org.freedesktop.systemd1.NoSuchUnit":
                return False
            raise

    def qmp_stop(self, name):
        """A QMP connection on the guest's second monitor (the one the ExecStop helper uses;
        machinad holds the first)."""
        return e2e.QMP(os.path.join(self.runtime_dir, name, "qmp-stop.sock"))

    def open_console(self, name):
        """OpenConsole() of the machine: a connected socket to its serial console."""
        _, m = self.machine(name)
        fd = m.OpenConsole().take()
        s = socket.socket(fileno=fd)
        self.consoles.append(s)
        return s

    def wait_guest_ready(self, name, timeout=120, console=None):
        """The guest answers on its serial console (through OpenConsole): send a line until the
        guest's shell echoes it back (input before the guest reads it may be lost, so repeat).
        Returns (socket, everything read)."""
        s = console or self.open_console(name)
        s.settimeout(0.5)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"echo: ping" not in buf:
            if time.monotonic() > deadline:
                raise Failure(f"guest {name} did not answer on its console in {timeout}s: {buf[-500:]!r}")
            s.sendall(b"ping\r")
            try:
                while True:
                    data = s.recv(4096)
                    if not data:
                        raise Failure(f"console of {name} closed: {buf[-500:]!r}")
                    buf += data
                    if b"echo: ping" in buf:
                        break
            except socket.timeout:
                pass
        return s, buf

    def check_daemon_exit(self, timeout=30):
        """Stop machinad with SIGTERM (guests stay with systemd) and fail on sanitizer reports in
        its output (the bus log: machinad is bus-activated), leak checks included."""
        if self.conn.name_has_owner("org.machina"):
            pid = self.daemon_pid()
            os.kill(pid, signal.SIGTERM)
            pump_until(lambda: not self.conn.name_has_owner("org.machina"), timeout, "machinad to exit")
            # The leak check runs after the name is released: wait for the process to end.
            pump_until(lambda: testbed.proc_starttime(pid) is None, timeout, "machinad process to end")
        with open(os.path.join(self.bed.logs_dir, "bus.log"), errors="replace") as f:
            text = f.read()
        # systemd-machined is not on the bed: its absence must not be an error.
        if "with systemd-machined" in text:
            i = text.index("with systemd-machined")
            raise Failure(f"machined registration complained: {text[max(0, i - 200):i + 300]}")
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                i = text.index(marker)
                raise Failure(f"sanitizer report from machinad: {text[max(0, i - 200):i + 3000]}")

    def close(self, failed=False):
        for s in self.consoles:
            s.close()
        if failed:
            try:
                self.bed.dump_logs()
            except Exception as ex:  # noqa: BLE001 - best effort diagnostics
                print(f"dump_logs failed: {ex}", file=sys.stderr)
        self.bed.down()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_bed_test(make_bed, fn):
    """The main() of a bed test: root only (else SKIP, exit 77), make_bed() brings up a
    MachinadBed, fn(bed) runs the case, machinad must then exit cleanly (no sanitizer report);
    the bed always goes down, with its logs dumped on failure. Exits 0 on PASS, 1 on FAIL."""
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    b = None
    failed = True
    try:
        b = make_bed()
        fn(b)
        b.check_daemon_exit()
        failed = False
    except (Failure, dbus.DBusException, subprocess.SubprocessError, OSError, KeyError, ValueError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if b:
            b.close(failed=failed)
    print("FAIL" if failed else "PASS", flush=True)
    sys.exit(1 if failed else 0)
