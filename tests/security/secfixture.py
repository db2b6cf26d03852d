# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared parts of the security tests: test users, a bus client running as another uid
(caller.py under setpriv), and a snapshot of everything a refused call must leave alone."""

import grp
import hashlib
import json
import os
import pwd
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))

from bedfixture import Failure, MachinadBed, check, guest_definition, pump_until  # noqa: E402,F401

OWNER_USER = "machina-test-owner"
MEMBER_USER = "machina-test-member"
DEFINER_USER = "machina-test-definer"
MACHINA_GROUP = "machina"
NOBODY = 65534
AUTH_ERRORS = ("org.freedesktop.DBus.Error.AccessDenied",
               "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")


def ensure_user(name, groups=()):
    """System users for the tests, created once and left in place (useradd --system)."""
    try:
        grp.getgrnam(MACHINA_GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", MACHINA_GROUP], check=True, timeout=30)
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        if groups:
            cmd += ["--groups", ",".join(groups)]
        subprocess.run(cmd + [name], check=True, timeout=30)
        pw = pwd.getpwnam(name)
    for g in groups:
        check(name in grp.getgrnam(g).gr_mem, f"{name} is not in group {g}")
    return pw.pw_uid


class Caller:
    """caller.py as uid, talking to the bed's bus; call() returns ["ok", v] or ["error", n, m]."""

    def __init__(self, bed, uid):
        self.uid = uid
        if uid == 0:
            ids = []
        elif uid == NOBODY:
            ids = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        else:
            pw = pwd.getpwuid(uid)
            ids = ["setpriv", f"--reuid={uid}", f"--regid={pw.pw_gid}", "--init-groups"]
        self.proc = subprocess.Popen(ids + ["/usr/bin/python3", os.path.join(HERE, "caller.py"),
                                            bed.bed.address],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = json.loads(self.proc.stdout.readline() or "null")
        check(hello == ["ready", uid], f"caller as uid {uid} did not start: {hello}")

    def call(self, path, iface, method, sig="", *args):
        self.proc.stdin.write(json.dumps({"path": path, "iface": iface, "method": method,
                                          "sig": sig, "args": list(args)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        check(line, f"caller uid {self.uid} died during {method}")
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)


def file_state(top):
    out = {}
    for root, dirs, files in os.walk(top):
        for d in dirs:
            out[os.path.join(root, d)] = "dir"
        for f in files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            with open(p, "rb") as fh:
                out[p] = (st.st_size, st.st_mtime_ns, st.st_mode,
                          hashlib.sha256(fh.read()).hexdigest())
    return out


def snapshot(b, extra_dirs=()):
    """Everything a refused call must not change: the machine list, every property of every
    machine (Generation included), the files in the config dir (and extra_dirs), the units."""
    machines = sorted((str(n), str(u), str(s), str(p)) for n, u, s, p in b.manager().ListMachines())
    props = {p: json.loads(json.dumps(b.props(p))) for _, _, _, p in machines}
    files = {}
    for d in (b.config_dir,) + tuple(extra_dirs):
        files.update(file_state(d))
    units = sorted((str(u[0]), str(u[3]), str(u[4]))
                   for u in b.sd_mgr().ListUnitsByPatterns(dbus_array(), dbus_array("machina-*")))
    return {"machines": machines, "props": props, "files": files, "units": units}


def dbus_array(*items):
    import dbus
    return dbus.Array(items, signature="s")


def diff(before, after):
    out = []
    for k in before:
        if before[k] != after[k]:
            if isinstance(before[k], dict):
                keys = set(before[k]) | set(after[k])
                out += [f"{k}[{x}]: {before[k].get(x)} -> {after[k].get(x)}"
                        for x in sorted(keys, key=str) if before[k].get(x) != after[k].get(x)]
            else:
                out.append(f"{k}: {before[k]} -> {after[k]}")
    return out


def install_rules(b, name, text):
    path = os.path.join(b.bed.rules_dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
