# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for end-to-end tests on the test bed: an event pump with deadlines, a serial console
listener, a tiny QMP client, systemd transient units over the bed's bus, the test guest."""

import json
import os
import secrets
import socket
import subprocess
import sys
import time

SRCDIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "testbed"))

import dbus  # noqa: E402
import dbus.mainloop.glib  # noqa: E402
from gi.repository import GLib  # noqa: E402

import testbed  # noqa: E402

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

SKIP = 77
MARKER = "MACHINA-GUEST-READY"


class Failure(Exception):
        pass


def check(cond, msg):
        if not cond:
                raise Failure(msg)


def pump(timeout):
        """Dispatch GLib events for at most `timeout` seconds (returns early after one batch)."""
        ctx = GLib.MainContext.default()
        fired = []
        sid = GLib.timeout_add(max(1, int(timeout * 1000)), lambda: fired.append(1) and False)
        ctx.iteration(True)
        while ctx.pending():
                ctx.iteration(False)
        if not fired:
                GLib.source_remove(sid)


def pump_until(pred, timeout, what):
        """Run the event loop until pred() is true; fail with a clear message at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
                r = pred()
                if r:
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                        raise Failure(f"timed out after {timeout:.1f}s waiting for {what}")
                pump(min(left, 0.1))


def pump_for(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
                pump(min(deadline - time.monotonic(), 0.1))


def build_guest():
        out = os.environ.get("MACHINA_GUEST_DIR") or os.path.join(SRCDIR, "build", "tests", "guest")
        t0 = time.monotonic()
        subprocess.run([os.path.join(SRCDIR, "tests", "guest", "build-guest"), out], check=True, timeout=600)
        print(f"guest ready in {out} ({time.monotonic() - t0:.1f}s)", flush=True)
        return out


class Console:
        """Listening unix socket for QEMU's serial chardev (QEMU connects as client, so nothing
        the guest prints is lost). Lines go to a log file in the bed's logs (dumped on failure)."""

        def __init__(self, path, logpath):
                self.path = path
                self.lines = []
                self.conn = None
                self.partial = b""
                self.log = open(logpath, "ab", buffering=0)
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
                self.sock.bind(path)
                self.sock.listen(1)
                self.sock.setblocking(False)
                self.watches = [GLib.io_add_watch(self.sock.fileno(), GLib.IO_IN, self._accept)]

        def _accept(self, fd, cond):
                self.conn, _ = self.sock.accept()
                self.conn.setblocking(False)
                self.watches.append(GLib.io_add_watch(self.conn.fileno(), GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR,
                                                      self._read))
                return False

        def _read(self, fd, cond):
                try:
                        data = self.conn.recv(65536)
                except BlockingIOError:
                        return True
                except OSError:
                        data = b""
                if not data:
                        return False
                self.log.write(data)
                self.partial += data
                *done, self.partial = self.partial.split(b"\n")
                self.lines += [d.decode(errors="replace").rstrip("\r") for d in done]
                return True

        def has(self, text):
                return any(text in line for line in self.lines)

        def send(self, text):
                self.conn.setblocking(True)
                self.conn.sendall(text.encode() + b"\r")
                self.conn.setblocking(False)

        def close(self):
                ctx = GLib.MainContext.default()
                for w in self.watches:
                        if ctx.find_source_by_id(w):
                                GLib.source_remove(w)
                for s in (self.conn, self.sock):
                        if s:
                                s.close()
                self.log.close()


class QMP:
        """Blocking QMP client; every read has a deadline. Events are collected in .events."""

        def __init__(self, path, timeout=10.0):
                deadline = time.monotonic() + timeout
                while True:
                        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
                        try:
                                self.sock.connect(path)
                                break
                        except (FileNotFoundError, ConnectionRefusedError):
                                self.sock.close()
                                if time.monotonic() >= deadline:
                                        raise Failure(f"QMP socket {path} not connectable after {timeout}s")
                                time.sleep(0.01)
                self.buf = b""
                self.events = []
                self.eof = False
                greeting = self._recv(timeout)
                check(greeting and "QMP" in greeting, f"bad QMP greeting {greeting}")
                self.execute("qmp_capabilities")

        def _recv(self, timeout):
                deadline = time.monotonic() + timeout
                while b"\n" not in self.buf:
                        left = deadline - time.monotonic()
                        if left <= 0 or self.eof:
                                return None
                        self.sock.settimeout(left)
                        try:
                                data = self.sock.recv(65536)
                        except socket.timeout:
                                return None
                        except OSError:
                                data = b""
                        if not data:
                                self.eof = True
                                return None
                        self.buf += data
                line, self.buf = self.buf.split(b"\n", 1)
                return json.loads(line)

        def execute(self, cmd, timeout=10.0, **args):
                msg = {"execute": cmd}
                if args:
                        msg["arguments"] = args
                self.sock.sendall(json.dumps(msg).encode() + b"\n")
                deadline = time.monotonic() + timeout
                while True:
                        m = self._recv(max(0.0, deadline - time.monotonic()))
                        if m is None:
                                raise Failure(f"no QMP reply to {cmd} within {timeout}s (eof={self.eof})")
                        if "event" in m:
                                self.events.append(m)
                                continue
                        if "error" in m:
                                raise Failure(f"QMP {cmd} failed: {m['error']}")
                        return m.get("return")

        def event(self, name):
                return next((e for e in self.events if e["event"] == name), None)

        def wait_event(self, name, timeout):
                deadline = time.monotonic() + timeout
                while not self.event(name):
                        m = self._recv(max(0.0, deadline - time.monotonic()))
                        if m is None:
                                raise Failure(f"no QMP {name} event within {timeout}s (eof={self.eof}, "
                                              f"events={[e['event'] for e in self.events]})")
                        if "event" in m:
                                self.events.append(m)
                return self.event(name)

        def close(self):
                self.sock.close()


SD = "org.freedesktop.systemd1"
SD_PATH = "/org/freedesktop/systemd1"
SD_MGR = "org.freedesktop.systemd1.Manager"


class Systemd:
        """The bed's systemd manager over dbus-python; records every signal it sends."""

        def __init__(self, conn):
                self.conn = conn
                self.signals = []
                conn.add_signal_receiver(self._on_signal, bus_name=SD, path_keyword="path",
                                         member_keyword="member", interface_keyword="interface")
                self.mgr = dbus.Interface(conn.get_object(SD, SD_PATH), SD_MGR)
                self.mgr.Subscribe()

        def _on_signal(self, *args, path=None, member=None, interface=None):
                self.signals.append((interface, member, str(path), args))

        def start_transient(self, name, argv, extra=()):
                props = dbus.Array([
                        ("Description", dbus.String(f"machina test {name}", variant_level=1)),
                        ("Type", dbus.String("exec", variant_level=1)),
                        ("CollectMode", dbus.String("inactive-or-failed", variant_level=1)),
                        ("ExecStart", dbus.Array([dbus.Struct((argv[0], dbus.Array(argv, signature="s"), False),
                                                              signature="sasb")],
                                                 signature="(sasb)", variant_level=1)),
                ] + list(extra), signature="(sv)")
                job = self.mgr.StartTransientUnit(name, "fail", props, dbus.Array([], signature="(sa(sv))"))
                return str(job)

        def job_result(self, job):
                for iface, member, path, args in self.signals:
                        if member == "JobRemoved" and str(args[1]) == job:
                                return str(args[3])
                return None

        def unit_removed(self, name):
                return any(m == "UnitRemoved" and str(a[0]) == name for _, m, _, a in self.signals)

        def unit_props(self, upath):
                """Property values seen in PropertiesChanged for the unit, last value wins."""
                seen = {}
                for iface, member, path, args in self.signals:
                        if member == "PropertiesChanged" and path == upath:
                                for k, v in args[1].items():
                                        seen[str(k)] = v
                return seen

        def get_unit_path(self, name):
                return str(self.mgr.GetUnit(name))

        def unit_property(self, upath, iface, prop):
                obj = self.conn.get_object(SD, upath)
                return obj.Get(iface, prop, dbus_interface="org.freedesktop.DBus.Properties")


def qemu_argv(guest, console_sock, qmp_sock, append_extra=""):
        return ["/usr/bin/qemu-system-x86_64", "-accel", "tcg", "-machine", "q35", "-m", "128",
                "-nographic", "-nodefaults", "-no-user-config",
                "-kernel", os.path.join(guest, "vmlinux"), "-initrd", os.path.join(guest, "initramfs.gz"),
                "-append", f"console=ttyS0 quiet {append_extra}".strip(),
                "-chardev", f"socket,id=con0,path={console_sock},server=off", "-serial", "chardev:con0",
                "-qmp", f"unix:{qmp_sock},server=on,wait=off"]


class Guest:
        """One test guest run as a transient unit of the bed's systemd."""

        def __init__(self, bed, sd, guest_dir, append_extra="", prefix="machina-e2e"):
                self.bed, self.sd = bed, sd
                self.name = f"{prefix}-{secrets.token_hex(4)}.service"
                self.dir = os.path.join(bed.dir, "guests", self.name)
                os.makedirs(self.dir)
                self.console = Console(os.path.join(self.dir, "console.sock"),
                                       os.path.join(bed.logs_dir, f"guest-{self.name}.console.log"))
                self.qmp_path = os.path.join(self.dir, "qmp.sock")
                self.argv = qemu_argv(guest_dir, self.console.path, self.qmp_path, append_extra)
                self.qmp = None
                self.upath = None

        def start(self, timeout=120.0):
                self.t_start = time.monotonic()
                self.job = self.sd.start_transient(self.name, self.argv)
                pump_until(lambda: self.sd.job_result(self.job), 30, f"start job of {self.name}")
                check(self.sd.job_result(self.job) == "done", f"start job result {self.sd.job_result(self.job)}")
                self.upath = self.sd.get_unit_path(self.name)
                pump_until(lambda: self.console.has(MARKER), timeout, f"{MARKER} on the console of {self.name}")
                self.t_ready = time.monotonic()
                self.qmp = QMP(self.qmp_path)
                return self.t_ready - self.t_start

        def close(self):
                if self.qmp:
                        self.qmp.close()
                self.console.close()


def run(main):
        """Run a test main(): exit 77 only when impossible (not root), 1 on any failure."""
        if os.geteuid() != 0:
                print("SKIP: integration tests need root", flush=True)
                sys.exit(SKIP)
        testbed.terminate_on_signals()
        try:
                main()
        except (Failure, testbed.TestBedError, dbus.DBusException, subprocess.SubprocessError) as e:
                print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                sys.exit(1)
        print("PASS", flush=True)
        sys.exit(0)
