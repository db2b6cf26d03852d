# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real OpenSSH server on 127.0.0.1 for machinactl -H: generated host and user keys, everything
in one temporary directory, nothing changed on the host.

sd_bus_open_system_remote (systemd 252) connects with the address
`unixexec:path=ssh,argv1=-xT,[argv2=-p,argv3=PORT,]…,HOST,systemd-stdio-bridge`: ssh is looked
up in $PATH (252 has no $SYSTEMD_SSH), so the client side gets a wrapper named `ssh` that adds
`-F <our ssh_config>` (key, port, known host).

sshd runs in its own mount namespace with a tmpfs over /run: there it gets its privilege
separation directory /run/sshd (which a host without the sshd service may lack), and
/run/dbus/system_bus_socket is a symlink to the bed's bus socket. So the "remote host" has the
bed's bus as its system bus, which is where systemd-stdio-bridge (252) connects: it ignores
$DBUS_SYSTEM_BUS_ADDRESS and takes only --bus-path=, which sd-bus does not pass."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import testbed
from e2e import Failure  # noqa: F401 - the bed tests' failure type (tests/integration)

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    def __init__(self, bus_address, parent=None):
        if not bus_address.startswith("unix:path="):
            raise Failure(f"not a unix socket address: {bus_address}")
        self.bus_socket = bus_address[len("unix:path="):].split(",")[0]
        self.dir = tempfile.mkdtemp(prefix="sshd-", dir=parent)
        os.chmod(self.dir, 0o700)
        self.port = free_port()
        self.proc = None
        self.starttime = None
        d = self.dir
        for key in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", os.path.join(d, key)],
                           check=True, timeout=30)
        shutil.copyfile(os.path.join(d, "user_key.pub"), os.path.join(d, "authorized_keys"))
        with open(os.path.join(d, "host_key.pub")) as f:
            host_pub = f.read().split()
        with open(os.path.join(d, "known_hosts"), "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(f"ListenAddress 127.0.0.1:{self.port}\n"
                    f"HostKey {d}/host_key\n"
                    f"AuthorizedKeysFile {d}/authorized_keys\n"
                    "PermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "UsePAM no\n"
                    "StrictModes no\n"
                    "PidFile none\n"
                    "LogLevel VERBOSE\n")
        with open(os.path.join(d, "ssh_config"), "w") as f:
            f.write("Host 127.0.0.1\n"
                    f"  Port {self.port}\n"
                    f"  IdentityFile {d}/user_key\n"
                    "  IdentitiesOnly yes\n"
                    f"  UserKnownHostsFile {d}/known_hosts\n"
                    "  GlobalKnownHostsFile /dev/null\n"
                    "  StrictHostKeyChecking yes\n"
                    "  BatchMode yes\n"
                    "  ConnectTimeout 30\n"
                    "  LogLevel ERROR\n")
        self.bindir = os.path.join(d, "bin")
        os.makedirs(self.bindir)
        wrapper = os.path.join(self.bindir, "ssh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {SSH} -F {d}/ssh_config "$@"\n')
        os.chmod(wrapper, 0o755)
        self.log = os.path.join(d, "sshd.log")

    def start(self, timeout=30):
        # -D: no fork; -e: log to stderr. The tmpfs over /run only exists in this namespace.
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd /run/dbus && '
               'ln -s "$0" /run/dbus/system_bus_socket && exec "$@"', self.bus_socket,
               SSHD, "-D", "-e", "-f", os.path.join(self.dir, "sshd_config")]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.starttime = testbed.proc_starttime(self.proc.pid)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"sshd exited with {self.proc.returncode}: {self.read_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Failure(f"sshd did not listen on port {self.port} in {timeout}s: {self.read_log()}")
            time.sleep(0.05)    # polling a port with a deadline

    def env(self, base):
        """The environment for a client: our ssh first in $PATH."""
        return dict(base, PATH=self.bindir + ":" + base.get("PATH", "/usr/bin:/bin"))

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # exec'd: the PID is sshd itself; its session children die with their connections.
            testbed.kill_recorded(self.proc.pid, self.starttime, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                testbed.kill_recorded(self.proc.pid, self.starttime)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
