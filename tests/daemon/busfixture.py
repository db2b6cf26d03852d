# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private dbus-daemon and a `machinad --user` on it, for tests that need no systemd.

Everything started here is recorded by PID and stopped in close(); nothing is found by name.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import dbus

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Fixture:
    def __init__(self, config_src=None, idle_timeout=0):
        self.dir = tempfile.mkdtemp(prefix="machina-test-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "bus.sock")
        self.address = "unix:path=" + self.sock
        self.config_dir = os.path.join(self.dir, "config")
        self.runtime_dir = os.path.join(self.dir, "runtime")
        os.makedirs(self.runtime_dir)
        if config_src:
            shutil.copytree(config_src, self.config_dir)
        else:
            os.makedirs(os.path.join(self.config_dir, "machine.conf.d"))
        with open(os.path.join(self.dir, "bus.conf"), "w") as f:
            f.write(BUS_CONFIG.format(sock=self.sock))
        self.procs = []
        self.files = []
        self.bus_log = open(os.path.join(self.dir, "bus.log"), "w")
        self.daemon_log_path = os.path.join(self.dir, "machinad.log")
        busd = subprocess.Popen(["dbus-daemon", "--config-file", os.path.join(self.dir, "bus.conf"),
                                 "--nofork", "--nopidfile"], stderr=self.bus_log, stdout=self.bus_log)
        self.procs.append(busd)
        # The socket file appears at bind(), before listen(): wait until a connection succeeds.
        self.bus = wait_for(self._try_connect, 10, "dbus-daemon to accept connections")
        self.machinad = None
        self.idle_timeout = idle_timeout

    def _try_connect(self):
        if not os.path.exists(self.sock):
            return None
        try:
            return dbus.bus.BusConnection(self.address)
        except dbus.DBusException as ex:
            if ex.get_dbus_name() == "org.freedesktop.DBus.Error.NoServer":
                return None
            raise

    def start_machinad(self, *extra, env_extra=None):
        env = dict(os.environ, **(env_extra or {}))
        env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        env.pop("DBUS_STARTER_ADDRESS", None)
        log = open(self.daemon_log_path, "a")
        self.files.append(log)
        self.machinad = subprocess.Popen(
            [os.environ["MACHINAD"], "--user", "--config-dir", self.config_dir,
             "--runtime-dir", self.runtime_dir, f"--idle-timeout={self.idle_timeout}", *extra],
            env=env, stdout=log, stderr=log)
        self.procs.append(self.machinad)
        wait_for(lambda: self.bus.name_has_owner("org.machina") or self.machinad.poll() is not None,
                 20, "machinad to own org.machina")
        if self.machinad.poll() is not None:
            raise AssertionError("machinad exited early:\n" + self.daemon_log())
        return self.machinad

    def daemon_log(self):
        try:
            with open(self.daemon_log_path) as f:
                return f.read()
        except OSError:
            return ""

    def manager(self):
        return dbus.Interface(self.bus.get_object("org.machina", "/org/machina"), "org.machina.Manager")

    def machine_props(self, path):
        obj = self.bus.get_object("org.machina", path)
        return dbus.Interface(obj, "org.freedesktop.DBus.Properties").GetAll("org.machina.Machine")

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        self.bus_log.close()
        for f in self.files:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def dbus_error_name(exc):
    return exc.get_dbus_name() if isinstance(exc, dbus.exceptions.DBusException) else None


def call_error(fn, *args, **kwargs):
    """Call fn and return the D-Bus error (name, message) it raised; fail if it succeeded."""
    try:
        fn(*args, **kwargs)
    except dbus.exceptions.DBusException as e:
        return e.get_dbus_name(), e.get_dbus_message()
    raise AssertionError(f"{fn} succeeded, an error was expected")


def to_py(v):
    return json.loads(json.dumps(v))
