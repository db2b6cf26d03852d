# SPDX-License-Identifier: LGPL-2.1-or-later
"""The machina test bed: the real parts on a machine whose PID 1 need not be systemd.

A private system-like dbus-daemon, a real `systemd --user` manager (run as root in its own
cgroup and mount namespace) and the real polkitd (in a private mount namespace with the bed's
actions and rules) — all on the bed's bus only, never the host's.

    with TestBed() as bed:
        conn = bed.bus()          # dbus-python connection to the bed's bus
        ...

Every process started is recorded with its start time in $TB/pids; every bed is registered
in REGISTRY with its owner (PID + start time). `up` first tears down beds whose owner died.
"""

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

REGISTRY = "/run/machina-testbed"
CGROUP_PREFIX = "machina-testbed-"
DEFAULT_PARENT = "/tmp"
SRCDIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SYSTEMD = "/usr/lib/systemd/systemd"
POLKITD = "/usr/lib/polkit-1/polkitd"
PARTS = ("bus", "systemd", "polkit")


class TestBedError(Exception):
        pass


def log(msg):
        print(f"testbed: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and cgroups

def proc_starttime(pid):
        """Field 22 of /proc/PID/stat, or None if the process is gone (zombies count as gone)."""
        try:
                with open(f"/proc/{pid}/stat") as f:
                        data = f.read()
        except (FileNotFoundError, ProcessLookupError):
                return None
        # comm may contain spaces and parentheses: split after the last ')'.
        fields = data[data.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):
                return None
        return int(fields[19])


def proc_alive(pid, starttime):
        return pid > 0 and starttime is not None and proc_starttime(pid) == int(starttime)


def kill_recorded(pid, starttime, sig=signal.SIGKILL):
        """Signal PID only if it is still the process we started (same start time)."""
        if not proc_alive(pid, starttime):
                return False
        try:
                os.kill(pid, sig)
        except ProcessLookupError:
                return False
        return True


def cgroup_roots():
        """Hierarchies a bed lives in: cgroup2 (pure or hybrid) and v1's named systemd one."""
        roots = []
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                roots.append("/sys/fs/cgroup")
        else:
                if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
                        roots.append("/sys/fs/cgroup/unified")
                if os.path.exists("/sys/fs/cgroup/systemd/cgroup.procs"):
                        roots.append("/sys/fs/cgroup/systemd")
        if not roots:
                raise TestBedError("no usable cgroup hierarchy under /sys/fs/cgroup")
        return roots


def cgroup_pids(path):
        pids = []
        for dirpath, _, files in os.walk(path):
                if "cgroup.procs" in files:
                        with contextlib.suppress(OSError):
                                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                                        pids += [int(x) for x in f.read().split()]
        return pids


def cgroup_kill_all(path):
        """SIGKILL everything in the cgroup subtree (cgroup.kill where the kernel has it)."""
        if not os.path.isdir(path):
                return
        kill_file = os.path.join(path, "cgroup.kill")
        if os.path.exists(kill_file):
                with contextlib.suppress(OSError):
                        with open(kill_file, "w") as f:
                                f.write("1")
        for pid in cgroup_pids(path):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)


def cgroup_remove(path):
        """Remove a cgroup subtree depth-first. True when gone."""
        if not os.path.isdir(path):
                return True
        for dirpath, _, _ in sorted(os.walk(path, topdown=False), key=lambda w: -w[0].count("/")):
                with contextlib.suppress(FileNotFoundError, OSError):
                        os.rmdir(dirpath)
        return not os.path.isdir(path)


def wait_for(pred, timeout, what, interval=0.01, check=None):
        """Poll pred() until true or the deadline passes; check() may raise to fail early."""
        deadline = time.monotonic() + timeout
        while True:
                r = pred()
                if r:
                        return r
                if check:
                        check()
                if time.monotonic() >= deadline:
                        raise TestBedError(f"timed out after {timeout:.1f}s waiting for {what}")
                time.sleep(interval)


# ---------------------------------------------------------------- registry and teardown

@contextlib.contextmanager
def registry_lock():
        os.makedirs(REGISTRY, mode=0o755, exist_ok=True)
        fd = os.open(os.path.join(REGISTRY, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
        finally:
                os.close(fd)


def registry_entries():
        entries = []
        with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(REGISTRY):
                        if not name.endswith(".json"):
                                continue
                        try:
                                with open(os.path.join(REGISTRY, name)) as f:
                                        entries.append(json.load(f))
                        except (OSError, ValueError):
                                # A half-written entry (harness killed mid-write) is stale.
                                entries.append({"id": name[:-5], "dir": None, "owner": [0, None]})
        return entries


def read_pids(tb):
        out = []
        with contextlib.suppress(OSError):
                with open(os.path.join(tb, "pids")) as f:
                        for line in f:
                                p = line.split()
                                if len(p) >= 2:
                                        out.append((int(p[0]), int(p[1]), " ".join(p[2:])))
        return out


def destroy(state, graceful=True, timeout=15.0):
        """Tear down a bed from its registry entry. Safe to call on partial and stale beds."""
        t0 = time.monotonic()
        tb = state.get("dir")
        bed_id = state["id"]
        pids = read_pids(tb) if tb else []
        manager = [(p, s) for p, s, n in pids if n == "systemd"]

        if graceful and tb and manager and proc_alive(*manager[0]):
                env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": os.path.join(tb, "xdg")}
                try:
                        subprocess.run(["systemctl", "--user", "exit"], env=env, timeout=timeout,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        wait_for(lambda: not proc_alive(*manager[0]), timeout, "the manager to exit")
                except (subprocess.TimeoutExpired, TestBedError) as e:
                        log(f"bed {bed_id}: graceful manager exit failed ({e}), killing")

        cgroups = [os.path.join(r, CGROUP_PREFIX + bed_id) for r in cgroup_roots()]
        deadline = time.monotonic() + timeout
        while True:
                for p, s, _ in pids:
                        kill_recorded(p, s)
                for cg in cgroups:
                        cgroup_kill_all(cg)
                        cgroup_remove(cg)
                left = [cg for cg in cgroups if os.path.isdir(cg)]
                alive = [p for p, s, _ in pids if proc_alive(p, s)]
                if not left and not alive:
                        break
                if time.monotonic() >= deadline:
                        raise TestBedError(f"bed {bed_id}: could not remove {left} / kill {alive}")
                time.sleep(0.01)

        if tb and os.path.isdir(tb):
                # Nothing is mounted on the host (all mounts live in private namespaces that died
                # with their processes), so a plain recursive removal is safe.
                shutil.rmtree(tb, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(REGISTRY, bed_id + ".json"))
        return time.monotonic() - t0


def cleanup_stale():
        """Destroy beds whose owner is dead, and cgroups/dirs no registered bed accounts for.
        Call with the registry lock held. Beds with a live owner are never touched."""
        entries = registry_entries()
        known, known_dirs = set(), set()
        for e in entries:
                owner = e.get("owner") or [0, None]
                if proc_alive(owner[0], owner[1]):
                        known.add(e["id"])
                        known_dirs.add(e.get("dir"))
                        continue
                log(f"cleaning up stale bed {e['id']} (owner {owner[0]} is gone)")
                try:
                        destroy(e, graceful=False, timeout=10.0)
                except TestBedError as ex:
                        log(f"stale bed {e['id']}: {ex}")
        for root in cgroup_roots():
                with contextlib.suppress(FileNotFoundError):
                        for name in os.listdir(root):
                                if name.startswith(CGROUP_PREFIX) and name[len(CGROUP_PREFIX):] not in known:
                                        log(f"removing orphan cgroup {root}/{name}")
                                        cg = os.path.join(root, name)
                                        wait_for(lambda cg=cg: (cgroup_kill_all(cg), cgroup_remove(cg))[1],
                                                 10.0, f"removal of {cg}")
        for name in os.listdir(DEFAULT_PARENT):
                path = os.path.join(DEFAULT_PARENT, name)
                if name.startswith(CGROUP_PREFIX) and path not in known_dirs:
                        if os.path.exists(os.path.join(path, ".machina-testbed")):
                                log(f"removing stale bed dir {path}")
                                shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- the bed

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={tb}/bus/system_bus_socket</listen>
  <servicedir>{tb}/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <includedir>{tb}/system.d</includedir>
</busconfig>
"""

UNITS = {
        "dbus.socket": "[Unit]\nDescription=test bed stub (makes the manager join the bus)\n\n"
                       "[Socket]\nListenStream=%t/stub.sock\n",
        "dbus.service": "[Unit]\nDescription=test bed stub (makes the manager join the bus)\n"
                        "Requires=dbus.socket\nAfter=dbus.socket\n\n"
                        "[Service]\nExecStart=/bin/sleep infinity\n",
}


class TestBed:
        """A bed; usable as a context manager (teardown always, logs dumped on failure)."""

        def __init__(self, directory=None, parts=PARTS, activation_files=(), bus_policy_files=None,
                     polkit_actions=None, owner=None, timeout=30.0, quiet=False, netns=False):
                self.id = secrets.token_hex(4)
                self.dir = os.path.abspath(directory) if directory else \
                        os.path.join(DEFAULT_PARENT, CGROUP_PREFIX + self.id)
                self.parts = tuple(parts)
                self.activation_files = list(activation_files)
                self.bus_policy_files = list(bus_policy_files) if bus_policy_files is not None else \
                        [os.path.join(SRCDIR, "dbus", "org.machina.conf")]
                self.polkit_actions = list(polkit_actions) if polkit_actions is not None else \
                        [os.path.join(SRCDIR, "polkit", "org.machina.policy"),
                         "/usr/share/polkit-1/actions/org.freedesktop.systemd1.policy"]
                self.owner = owner if owner is not None else os.getpid()
                self.timeout = timeout
                self.quiet = quiet
                # netns: the manager (and so every unit) runs in a network namespace of its own,
                # so tests may create bridges and taps without touching the host's network.
                self.netns = netns
                self.children = {}
                self.up_time = self.down_time = None
                self._conn = None

        # paths
        @property
        def address(self):
                return f"unix:path={self.dir}/bus/system_bus_socket"

        @property
        def xdg_runtime_dir(self):
                return os.path.join(self.dir, "xdg")

        @property
        def rules_dir(self):
                return os.path.join(self.dir, "polkit", "rules.d")

        @property
        def services_dir(self):
                return os.path.join(self.dir, "services")

        @property
        def logs_dir(self):
                return os.path.join(self.dir, "logs")

        def env(self):
                return {"DBUS_SYSTEM_BUS_ADDRESS": self.address, "TESTBED_DIR": self.dir,
                        "TESTBED_XDG_RUNTIME_DIR": self.xdg_runtime_dir,
                        "TESTBED_POLKIT_RULES_DIR": self.rules_dir}

        def state(self):
                return {"id": self.id, "dir": self.dir, "parts": list(self.parts),
                        "owner": [self.owner, proc_starttime(self.owner)]}

        # bring-up
        def up(self):
                if os.geteuid() != 0:
                        raise TestBedError("the test bed needs root")
                t0 = time.monotonic()
                with registry_lock():
                        cleanup_stale()
                        self._prepare_dir()
                        self._write(os.path.join(REGISTRY, self.id + ".json"), json.dumps(self.state()))
                        self.cgroups = {}
                        for root in cgroup_roots():
                                top = os.path.join(root, CGROUP_PREFIX + self.id)
                                os.mkdir(top)
                                for sub in ("bus", "manager", "polkit", "aux"):
                                        os.mkdir(os.path.join(top, sub))
                try:
                        self._start_bus()
                        if "systemd" in self.parts:
                                self._start_manager()
                        if "polkit" in self.parts:
                                self._start_polkit()
                        self._wait_names()
                except BaseException:
                        self.dump_logs()
                        self.down()
                        raise
                self.up_time = time.monotonic() - t0
                if not self.quiet:
                        log(f"bed {self.id} up in {self.up_time * 1000:.0f} ms at {self.dir}")
                return self

        def _write(self, path, text, mode=0o644):
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                        f.write(text)
                os.chmod(tmp, mode)
                os.rename(tmp, path)

        def _prepare_dir(self):
                if os.path.exists(self.dir):
                        if os.listdir(self.dir) and not os.path.exists(os.path.join(self.dir, ".machina-testbed")):
                                raise TestBedError(f"{self.dir} exists, is not empty and is not a test bed")
                        shutil.rmtree(self.dir)
                os.makedirs(self.dir)
                # The marker first: a harness killed from here on leaves a dir `up` may remove.
                self._write(os.path.join(self.dir, ".machina-testbed"), self.id + "\n")
                # polkitd runs as user polkitd and must traverse the bed's directories.
                os.chmod(self.dir, 0o755)
                for d in ("bus", "services", "system.d", "units/default.target.wants", "logs",
                          "home", "config", "data", "polkit/actions", "polkit/rules.d", "polkit/etc-rules.d"):
                        os.makedirs(os.path.join(self.dir, d), mode=0o755, exist_ok=True)
                os.makedirs(self.xdg_runtime_dir, mode=0o700)
                self._write(os.path.join(self.dir, "pids"), "")
                self._write(os.path.join(self.dir, "bus.conf"), BUS_CONF.format(tb=self.dir))
                for name in ("org.freedesktop.systemd1.conf", "org.freedesktop.PolicyKit1.conf"):
                        self._write(os.path.join(self.dir, "system.d", name),
                                    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                                    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                                    f'<busconfig><include>/usr/share/dbus-1/system.d/{name}</include></busconfig>\n')
                for f in self.bus_policy_files:
                        shutil.copyfile(f, os.path.join(self.dir, "system.d", os.path.basename(f)))
                for f in self.activation_files:
                        shutil.copyfile(f, os.path.join(self.services_dir, os.path.basename(f)))
                for f in self.polkit_actions:
                        dst = os.path.join(self.dir, "polkit", "actions", os.path.basename(f))
                        shutil.copyfile(f, dst)
                        os.chmod(dst, 0o644)
                for name, text in UNITS.items():
                        self._write(os.path.join(self.dir, "units", name), text)
                os.symlink("../dbus.service", os.path.join(self.dir, "units/default.target.wants/dbus.service"))
                os.mkfifo(os.path.join(self.dir, "kmsg"), 0o600)

        def _spawn(self, name, argv, cgroup, log_name, env=None, stdin=subprocess.DEVNULL):
                procs = [os.path.join(r, CGROUP_PREFIX + self.id, cgroup, "cgroup.procs") for r in cgroup_roots()]

                def enter_cgroup():
                        for p in procs:
                                with open(p, "w") as f:
                                        f.write(str(os.getpid()))

                with open(os.path.join(self.logs_dir, log_name), "ab") as logf:
                        p = subprocess.Popen(argv, stdin=stdin, stdout=logf, stderr=logf, env=env or {"PATH": "/usr/bin:/bin"},
                                             preexec_fn=enter_cgroup, start_new_session=True, close_fds=True)
                st = proc_starttime(p.pid)
                with open(os.path.join(self.dir, "pids"), "a") as f:
                        f.write(f"{p.pid} {st} {name}\n")
                self.children[name] = p
                return p

        def _check_alive(self, *names):
                def check():
                        for n in names:
                                p = self.children.get(n)
                                if p and p.poll() is not None:
                                        raise TestBedError(f"{n} exited with status {p.returncode} during bring-up")
                return check

        def _start_bus(self):
                self._spawn("dbus-daemon", ["dbus-daemon", f"--config-file={self.dir}/bus.conf", "--nofork",
                                            "--nopidfile", "--nosyslog"], "bus", "bus.log")
                sock = os.path.join(self.dir, "bus", "system_bus_socket")

                def connectable():
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        try:
                                s.connect(sock)
                                return True
                        except OSError:
                                return False
                        finally:
                                s.close()
                wait_for(connectable, self.timeout, "the bus socket", check=self._check_alive("dbus-daemon"))

        def _start_manager(self):
                # The reader holds the FIFO open read-write, so it never sees EOF when the manager
                # (or a forked child) closes and reopens /dev/kmsg, and a reopen never blocks.
                self._spawn("kmsg-reader", ["sh", "-c", 'exec cat <>"$0"', os.path.join(self.dir, "kmsg")],
                            "aux", "systemd.log")
                tb = self.dir
                env = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       f"HOME={tb}/home", f"XDG_RUNTIME_DIR={tb}/xdg", f"XDG_CONFIG_HOME={tb}/config",
                       f"XDG_DATA_HOME={tb}/data", f"SYSTEMD_UNIT_PATH={tb}/units:/usr/lib/systemd/user",
                       "SYSTEMD_GENERATOR_PATH=", "SYSTEMD_ENVIRONMENT_GENERATOR_PATH=",
                       f"DBUS_SESSION_BUS_ADDRESS={self.address}", f"DBUS_SYSTEM_BUS_ADDRESS={self.address}",
                       SYSTEMD, "--user", "--log-target=kmsg",
                       f"--log-level={os.environ.get('MACHINA_TESTBED_LOG_LEVEL', 'info')}"]
                # /run/systemd/inaccessible/* is what PID 1 creates at boot: the sources that
                # ProtectKernelLogs=, InaccessiblePaths= & co. mount over hidden paths.
                script = ('set -e; mount -t tmpfs -o mode=0755 tmpfs /run/systemd; mkdir /run/systemd/system; '
                          'i=/run/systemd/inaccessible; mkdir -m 0755 $i; mkdir -m 0000 $i/dir; '
                          'install -m 0000 /dev/null $i/reg; mkfifo -m 0000 $i/fifo; '
                          'mknod -m 0000 $i/chr c 0 0; mknod -m 0000 $i/blk b 0 0; '
                          '/usr/bin/python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" $i/sock; '
                          'chmod 0000 $i/sock; '
                          'mount --bind "$0" /dev/kmsg; ')
                unshare = ["unshare", "--mount", "--propagation", "private"]
                if self.netns:
                        # A fresh namespace has only lo, down. /dev/net/tun is 0666 on a host with
                        # udev (its default rule) but 0600 here: give the namespace such a node,
                        # so an unprivileged QEMU opens its tap as it would there.
                        unshare.append("--net")
                        script += ('ip link set lo up; mknod -m 0666 /run/systemd/net-tun c 10 200; '
                                   'mount --bind /run/systemd/net-tun /dev/net/tun; ')
                script += 'exec "$@"'
                self._spawn("systemd", unshare + ["sh", "-c", script, os.path.join(tb, "kmsg")] + env,
                            "manager", "systemd-stderr.log")

        def _start_polkit(self):
                pk = os.path.join(self.dir, "polkit")
                script = ('set -e; mount --bind "$1/actions" /usr/share/polkit-1/actions; '
                          'mount --bind "$1/rules.d" /usr/share/polkit-1/rules.d; '
                          'mount --bind "$1/etc-rules.d" /etc/polkit-1/rules.d; '
                          'exec env -i PATH=/usr/bin:/bin DBUS_SYSTEM_BUS_ADDRESS="$2" "$0"')
                self._spawn("polkitd", ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                                        POLKITD, pk, self.address], "polkit", "polkitd.log")

        def _wait_names(self):
                import dbus
                names = []
                if "systemd" in self.parts:
                        names.append(("org.freedesktop.systemd1", ("systemd", "kmsg-reader")))
                if "polkit" in self.parts:
                        names.append(("org.freedesktop.PolicyKit1", ("polkitd",)))
                conn = self.bus()
                bus = conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")

                def owned(name):
                        try:
                                return bool(bus.NameHasOwner(name, dbus_interface="org.freedesktop.DBus"))
                        except dbus.DBusException:
                                return False
                for name, procs in names:
                        wait_for(lambda: owned(name), self.timeout, f"{name} on the bed's bus",
                                 check=self._check_alive("dbus-daemon", *procs))

        def netns_run(self, argv, **kwargs):
                """Run argv in the manager's network namespace (a bed made with netns=True);
                subprocess.run's keyword arguments apply."""
                if not self.netns:
                        raise TestBedError("this bed has no network namespace of its own")
                pid = self.children["systemd"].pid
                return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net"] + list(argv), **kwargs)

        def bus(self):
                """A (cached) dbus-python connection to the bed's bus."""
                import dbus
                if self._conn is None:
                        self._conn = dbus.bus.BusConnection(self.address)
                return self._conn

        # teardown
        def down(self):
                if self._conn is not None:
                        with contextlib.suppress(Exception):
                                self._conn.close()
                        self._conn = None
                try:
                        self.down_time = destroy(self.state(), timeout=self.timeout)
                finally:
                        # Reap what we started ourselves (processes of another harness are
                        # reaped by PID 1; a zombie counts as gone).
                        for p in self.children.values():
                                with contextlib.suppress(Exception):
                                        p.wait(timeout=5)
                if not self.quiet:
                        log(f"bed {self.id} down in {self.down_time * 1000:.0f} ms")

        def dump_logs(self, extra=(), tail=200):
                """Print the tail of every log of the bed (bus, systemd, polkitd, guest consoles)."""
                files = []
                with contextlib.suppress(OSError):
                        files = sorted(os.path.join(self.logs_dir, f) for f in os.listdir(self.logs_dir))
                for path in list(files) + list(extra):
                        try:
                                with open(path, errors="replace") as f:
                                        lines = f.readlines()
                        except OSError:
                                continue
                        print(f"----- {path} (last {min(tail, len(lines))} of {len(lines)} lines) -----",
                              file=sys.stderr)
                        sys.stderr.write("".join(lines[-tail:]))
                print("----- end of test bed logs -----", file=sys.stderr, flush=True)

        def __enter__(self):
                return self.up()

        def __exit__(self, exc_type, exc, tb):
                if exc_type is not None:
                        self.dump_logs()
                self.down()
                return False


def load(directory):
        """The registry entry of the bed at DIRECTORY (for `testbed down/env`)."""
        directory = os.path.abspath(directory)
        for e in registry_entries():
                if e.get("dir") == directory:
                        return e
        return None


def terminate_on_signals():
        """Turn SIGTERM/SIGHUP into SystemExit so context managers tear beds down (meson sends
        SIGTERM on timeout)."""
        def handler(signum, frame):
                raise SystemExit(128 + signum)
        for s in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(s, handler)
