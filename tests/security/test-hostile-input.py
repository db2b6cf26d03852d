#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile definitions posted to DefineMachine (and CreateMachine) on the real-parts bed, by a
caller that is not root but holds org.machina.machine.define through a polkit rule (and the
size/name/pattern cases by root too): bad names, oversized and deeply nested JSON, storage
patterns led out of their pool with "..", disk paths naming /etc/shadow directly, through ".."
and through a symlink, a kernel and a backing image outside the pools, a foreign owner, and a
REPLACE of a good definition with a bad one. Each is refused with a clear error that names the
offending reference (file, JSON path, reason); nothing is written, nothing changes, /etc/shadow
is untouched. What a definer may reference: docs/security.md."""

import os
import pwd
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbus  # noqa: E402
import json  # noqa: E402
from secfixture import (DEFINER_USER, Caller, Failure, MachinadBed, check, diff,  # noqa: E402
                        ensure_user, install_rules, pump_until, snapshot)
from busfixture import Fixture, wait_for  # noqa: E402

MGR = "org.machina.Manager"
SHADOW = "/etc/shadow"
INVALID = "org.machina.Error.InvalidConfig"
DENIED = "org.freedesktop.DBus.Error.AccessDenied"
POLKIT_DENIAL = "not authorized for"    # polkit.c's message: the reference check must not be it


def shadow_state():
    st = os.stat(SHADOW)
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Hostile:
    def __init__(self, b, root, definer):
        self.b = b
        self.root = root
        self.definer = definer
        self.pool = os.path.join(b.dir, "pool")
        self.results = []

    def refused(self, caller, d, what, expect=INVALID, needles=(), method="DefineMachine", flags=0):
        """d is refused with error expect whose message holds every needle; nothing changes."""
        body = d if isinstance(d, str) else json.dumps(d)
        before = snapshot(self.b, extra_dirs=(self.pool,))
        shadow = shadow_state()
        r = caller.call("/org/machina", MGR, method, "st", body, flags)
        after = snapshot(self.b, extra_dirs=(self.pool,))
        check(shadow_state() == shadow, f"{what}: /etc/shadow changed")
        check(r[0] == "error", f"{what}: accepted: {r}")
        check(r[1] in ((expect,) if isinstance(expect, str) else expect),
              f"{what}: error {r[1]}, expected {expect}: {r[2][:300]}")
        check(POLKIT_DENIAL not in r[2], f"{what}: refused by polkit, not by the check: {r}")
        for n in needles:
            check(n in r[2], f"{what}: message does not say {n!r}: {r[2][:400]}")
        changed = diff(before, after)
        check(not changed, f"{what}: refused but changed: {changed}")
        self.results.append((what, r[1], r[2][:200]))
        return r[2]

    def accepted(self, caller, d, what):
        r = caller.call("/org/machina", MGR, "DefineMachine", "st", json.dumps(d), 0)
        check(r[0] == "ok", f"{what}: {r}")
        self.results.append((what, "accepted", r[1]))

    def undefine(self, caller, name):
        r = caller.call("/org/machina", MGR, "UndefineMachine", "st", name, 0)
        check(r[0] == "ok", f"undefine {name}: {r}")

    def names_and_sizes(self):
        # The same validation for everyone.
        names = {"slash": "a/b", "dotdot": "..", "dotdot-slash": "../x", "leading-dash": "-rf",
                 "leading-dot": ".hidden", "control-byte": "a\x01b", "newline": "a\nb", "del": "a\x7fb",
                 "escaped-nul": "a\x00b", "100kB": "n" * 100_000, "empty": ""}
        for caller in (self.root, self.definer):
            for what, name in names.items():
                self.refused(caller, {"name": name}, f"uid {caller.uid} name {what}",
                             needles=("NUL" if "\x00" in name else "name",))
            self.refused(caller, {"name": "big", "description": "x" * (10 * 1024 * 1024)},
                         f"uid {caller.uid} 10 MB JSON", expect=(INVALID, "org.machina.Error.LimitsExceeded"))
            deep = '{"name": "deep", "vars": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}"
            self.refused(caller, deep, f"uid {caller.uid} depth-10k JSON")
            self.refused(caller, '{"name": "broken", ', f"uid {caller.uid} truncated JSON")

    def patterns(self):
        # A pool pattern led out of its pool through ".." in a variable: refused at resolve time
        # for every caller, root included, and reported at the volume of the definition.
        for caller in (self.root, self.definer):
            for what, d in [
                    ("a variable", {"name": "esc", "vars": {"dir": "../../../../../../etc"},
                                    "volumes": [{"name": "shadow", "storage": "byvar"}]}),
                    ("the description through a variable",
                     {"name": "esc", "description": "../..", "vars": {"dir": "${machine-description}"},
                      "volumes": [{"name": "shadow", "storage": "byvar"}]})]:
                self.refused(caller, d, f"uid {caller.uid}: pattern escaping its pool via .. in {what}",
                             needles=("$.volumes[0].storage", "leaves the pool directory", self.pool))
                self.refused(caller, d, f"uid {caller.uid}: CreateMachine, pattern escaping via .. in {what}",
                             method="CreateMachine", needles=("$.volumes[0].storage", "leaves the pool directory"))

    def references(self):
        pool, definer = self.pool, self.definer
        outside = "a caller other than root may only name files inside the storage pools"
        os.symlink(SHADOW, os.path.join(pool, "link.img"))
        cases = [
            ("disk path /etc/shadow", {"volumes": [{"name": "d", "path": SHADOW}]},
             ("$.volumes[0].path", "'/etc/shadow' is outside the storage pools", outside)),
            ("disk path via ..", {"volumes": [{"name": "d", "path": os.path.join(pool, "..", "..", "..", "..", "..",
                                                                                  "etc", "shadow")}]},
             ("$.volumes[0].path", "not a clean absolute path")),
            ("disk path via a symlink in the pool", {"volumes": [{"name": "d", "path": os.path.join(pool, "link.img")}]},
             ("$.volumes[0].path", "leads outside the storage pools through a symlink")),
            ("pool volume through a symlinked machine directory",
             {"name": "viadir", "volumes": [{"name": "d", "storage": "bydir"}]},
             ("$.volumes[0].path", "through a symlink")),
            ("kernel outside the pools", {"attrs": {"kernel": {"path": SHADOW}}},
             ("$.attrs.kernel.path", "kernel '/etc/shadow' is outside the storage pools")),
            ("initrd outside the pools", {"attrs": {"kernel": {"path": os.path.join(pool, "vmlinux"),
                                                               "initrd": "/boot/initrd.img"}}},
             ("$.attrs.kernel.initrd", "initrd '/boot/initrd.img'")),
            ("backing image outside the pools",
             {"volumes": [{"name": "d", "storage": "images", "format": "qcow2",
                           "provision": {"size": "1G", "backing": SHADOW}}]},
             ("$.volumes[0].provision.backing", "backing image '/etc/shadow'")),
            ("owner other than the definer", {"owner": 0},
             ("$.owner", "owner 0", f"may only name itself (uid {definer.uid})")),
        ]
        os.symlink("/etc", os.path.join(pool, "viadir"))
        for what, extra, needles in cases:
            d = {"name": "steal", **extra}
            self.refused(definer, d, what, expect=DENIED, needles=("<bus>",) + needles)
            self.refused(definer, d, "CreateMachine: " + what, expect=DENIED, needles=needles,
                         method="CreateMachine")

        # Several at once: the first is named, the rest counted.
        msg = self.refused(definer, {"name": "steal", "owner": 0, "volumes": [{"name": "d", "path": SHADOW}]},
                           "owner and disk at once", expect=DENIED, needles=("$.owner", "(and 1 more)"))
        check("$.volumes" not in msg, f"only the first reference is named: {msg}")

        # REPLACE of a good definition with a bad one keeps the good one (file and object).
        good = {"name": "fine", "owner": definer.uid, "volumes": [{"name": "d", "storage": "images"}]}
        self.accepted(definer, good, "definer's definition inside the pool")
        self.refused(definer, {"name": "fine", "volumes": [{"name": "d", "path": SHADOW}]},
                     "REPLACE with a disk at /etc/shadow", expect=DENIED, flags=1,
                     needles=("$.volumes[0].path", "outside the storage pools"))
        cfg = json.loads(str(self.b.machine("fine")[1].GetConfig()))
        check(cfg["volumes"][0]["path"] == os.path.join(pool, "fine-d.img"),
              f"the good definition stays after a refused REPLACE: {cfg['volumes']}")
        self.undefine(definer, "fine")

        # Root may reference anything (and is the one who writes the host file anyway).
        self.accepted(self.root, {"name": "rootdisk", "owner": 1000, "volumes": [{"name": "d", "path": SHADOW}],
                                  "attrs": {"kernel": {"path": "/boot/vmlinuz"}}},
                      "root: disk /etc/shadow, kernel outside the pools, owner 1000")
        self.undefine(self.root, "rootdisk")

    def run(self):
        self.names_and_sizes()
        self.patterns()
        self.references()


def user_mode(definer_uid):
    """machinad --user run by the definer serves only the definer and can open nothing the
    definer could not: the reference rules do not apply there (docs/security.md). It accepts a
    disk at /etc/shadow from its own user (QEMU would run as that user and fail to open it);
    root, another uid, is refused by the user daemon's own rule."""
    fx = Fixture()
    callers = []
    try:
        pw = pwd.getpwuid(definer_uid)
        for d in (fx.config_dir, os.path.join(fx.config_dir, "machine.conf.d"), fx.runtime_dir):
            os.chown(d, definer_uid, pw.pw_gid)
        log = open(fx.daemon_log_path, "a")
        fx.files.append(log)
        env = {"PATH": "/usr/bin:/bin", "HOME": fx.dir, "DBUS_SESSION_BUS_ADDRESS": fx.address}
        fx.machinad = subprocess.Popen(
            ["setpriv", f"--reuid={definer_uid}", f"--regid={pw.pw_gid}", "--init-groups",
             os.environ["MACHINAD"], "--user", "--config-dir", fx.config_dir,
             "--runtime-dir", fx.runtime_dir, "--idle-timeout=0"], env=env, stdout=log, stderr=log)
        fx.procs.append(fx.machinad)
        wait_for(lambda: fx.bus.name_has_owner("org.machina") or fx.machinad.poll() is not None,
                 30, "machinad --user to own org.machina")
        check(fx.machinad.poll() is None, "machinad --user exited:\n" + fx.daemon_log())
        shim = types.SimpleNamespace(bed=types.SimpleNamespace(address=fx.address))
        user, root = Caller(shim, definer_uid), Caller(shim, 0)
        callers = [user, root]
        d = json.dumps({"name": "own", "volumes": [{"name": "d", "path": SHADOW}], "owner": 0})
        r = root.call("/org/machina", MGR, "DefineMachine", "st", d, 0)
        check(r[0] == "error" and r[1] == DENIED, f"user daemon: root's DefineMachine: {r}")
        r = user.call("/org/machina", MGR, "DefineMachine", "st", d, 0)
        check(r[0] == "ok", f"user daemon: its own user's disk at /etc/shadow: {r}")
        path = os.path.join(fx.config_dir, "machine.conf.d", "own.conf.json")
        check(os.stat(path).st_uid == definer_uid, f"{path} is not written by the user daemon")
        print(f"user mode: own user's disk /etc/shadow accepted ({r[1]}); root refused", flush=True)
    finally:
        for c in callers:
            c.close()
        fx.close()


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    definer_uid = ensure_user(DEFINER_USER)
    b = None
    callers = []
    failed = True
    t0 = time.monotonic()
    try:
        b = MachinadBed([])
        pool = os.path.join(b.dir, "pool")
        os.makedirs(pool, mode=0o755)
        # Before the first call activates machinad: the host file with two pools.
        with open(os.path.join(b.config_dir, "machina.conf.json"), "w") as f:
            json.dump({"accel": "tcg", "storage": [
                {"name": "images", "type": "raw", "pattern": pool + "/${machine-name}-${volume}.img"},
                {"name": "byvar", "type": "raw", "pattern": pool + "/${dir}/${volume}"},
                {"name": "bydir", "type": "raw", "pattern": pool + "/${machine-name}/shadow"}]}, f)
        install_rules(b, "50-definer.rules",
                      'polkit.addRule(function(action, subject) {\n'
                      '  if (action.id == "org.machina.machine.define" && subject.user == "%s")\n'
                      '    return polkit.Result.YES;\n});\n' % DEFINER_USER)
        root, definer = Caller(b, 0), Caller(b, definer_uid)
        callers = [root, definer]
        pump_until(lambda: definer.call("/org/machina", MGR, "Reload")[0] == "ok", 30,
                   "polkitd to grant define to the definer")
        h = Hostile(b, root, definer)
        h.run()
        for what, name, msg in h.results:
            print(f"{what}: {name}: {msg!r}", flush=True)
        b.check_daemon_exit()
        user_mode(definer_uid)
        failed = False
    except (Failure, dbus.DBusException, OSError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        for c in callers:
            c.close()
        if b:
            b.close(failed=failed)
    print(f"{'FAIL' if failed else 'PASS'} in {time.monotonic() - t0:.1f} s", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
