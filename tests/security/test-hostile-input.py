#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile definitions posted to DefineMachine on the real-parts bed, by a caller that is not
root but holds org.machina.machine.define through a polkit rule (and the size/name cases by
root too): bad names, oversized and deeply nested JSON, storage patterns led out of their pool
with "..", and disk paths naming /etc/shadow directly, through ".." and through a symlink. Each
is refused with a clear error; nothing is written, nothing changes, /etc/shadow is untouched.

The reference cases (/etc/shadow, foreign owner) depend on lib/references.c being called by
machinad (docs/security.md). While machinad does not link definition_check_references they are
reported as XFAIL and undone; once it does, an accepted one is a hard failure."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbus  # noqa: E402
import json  # noqa: E402
from secfixture import (AUTH_ERRORS, DEFINER_USER, Caller, Failure, MachinadBed, check, diff,  # noqa: E402
                        ensure_user, install_rules, pump_until, snapshot)

MGR = "org.machina.Manager"
SHADOW = "/etc/shadow"


def references_wired(b):
    """machinad calls the definer reference check iff it links it (static library: an unused
    object is not linked in)."""
    r = subprocess.run(["nm", b.machinad], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"nm {b.machinad}: {r.stderr}")
    return " definition_check_references" in r.stdout


def shadow_state():
    st = os.stat(SHADOW)
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Hostile:
    def __init__(self, b, definer):
        self.b = b
        self.definer = definer
        self.pool = os.path.join(b.dir, "pool")
        self.results = []
        self.xfail = []

    def define(self, caller, d, what, expect_names=("org.machina.Error.InvalidConfig",), needle=None,
               reference=False):
        body = d if isinstance(d, str) else json.dumps(d)
        before = snapshot(self.b, extra_dirs=(self.pool,))
        shadow = shadow_state()
        r = caller.call("/org/machina", MGR, "DefineMachine", "st", body, 0)
        after = snapshot(self.b, extra_dirs=(self.pool,))
        check(shadow_state() == shadow, f"{what}: /etc/shadow changed")
        if reference and r[0] == "ok" and not self.wired:
            # Known gap until machinad calls definition_check_references: undo, report, go on.
            self.xfail.append(what)
            name = d["name"]
            ok = self.root.call("/org/machina", MGR, "UndefineMachine", "st", name, 0)
            check(ok[0] == "ok", f"undo {what}: {ok}")
            return
        check(r[0] == "error", f"{what}: accepted: {r}")
        check(r[1] in expect_names, f"{what}: error {r[1]} not one of {expect_names}: {r[2][:300]}")
        check(r[1] not in AUTH_ERRORS or reference, f"{what}: refused by polkit, not by validation: {r}")
        if needle:
            check(needle in r[2], f"{what}: message does not say {needle!r}: {r[2][:300]}")
        changed = diff(before, after)
        check(not changed, f"{what}: refused but changed: {changed}")
        self.results.append((what, r[1], r[2][:160]))

    def run(self, root):
        self.root = root
        self.wired = references_wired(self.b)
        pool = self.pool
        # Names (as root and as the definer: validation is the same for everyone).
        names = {"slash": "a/b", "dotdot": "..", "dotdot-slash": "../x", "leading-dash": "-rf",
                 "leading-dot": ".hidden", "control-byte": "a\x01b", "newline": "a\nb", "del": "a\x7fb",
                 "escaped-nul": "a\x00b", "100kB": "n" * 100_000, "empty": ""}
        for caller in (root, self.definer):
            for what, name in names.items():
                self.define(caller, {"name": name}, f"uid {caller.uid} name {what}",
                            needle="NUL" if "\x00" in name else "name")
            self.define(caller, {"name": "big", "description": "x" * (10 * 1024 * 1024)},
                        f"uid {caller.uid} 10 MB JSON",
                        expect_names=("org.machina.Error.InvalidConfig", "org.machina.Error.LimitsExceeded"))
            deep = '{"name": "deep", "vars": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}"
            self.define(caller, deep, f"uid {caller.uid} depth-10k JSON")
            self.define(caller, '{"name": "broken", ', f"uid {caller.uid} truncated JSON")

        # A pool pattern led out of the pool through ".." in a definition's variable.
        self.define(self.definer, {"name": "esc", "vars": {"dir": "../../../../../../etc"},
                                   "volumes": [{"name": "shadow", "storage": "byvar"}]},
                    "pattern escaping its pool via ..",
                    expect_names=("org.machina.Error.InvalidConfig",) + AUTH_ERRORS, reference=True)
        # Disk paths at /etc/shadow: directly, through "..", through a symlink in the pool.
        os.symlink(SHADOW, os.path.join(pool, "link.img"))
        for what, path in [("disk path /etc/shadow", SHADOW),
                           ("disk path via ..", os.path.join(pool, "..", "..", "..", "..", "..", "etc", "shadow")),
                           ("disk path via a symlink in the pool", os.path.join(pool, "link.img"))]:
            self.define(self.definer, {"name": "steal", "volumes": [{"name": "d", "path": path}]}, what,
                        expect_names=("org.machina.Error.InvalidConfig",) + AUTH_ERRORS,
                        needle="storage pool", reference=True)
        self.define(self.definer, {"name": "gift", "owner": 0}, "owner other than the definer",
                    expect_names=("org.machina.Error.InvalidConfig",) + AUTH_ERRORS, needle="owner",
                    reference=True)

        # The definer's right is real: a definition inside the pool is accepted and removed.
        r = self.definer.call("/org/machina", MGR, "DefineMachine", "st",
                              json.dumps({"name": "fine", "owner": self.definer.uid,
                                          "volumes": [{"name": "d", "storage": "images"}]}), 0)
        check(r[0] == "ok", f"definer's definition inside the pool: {r}")
        r = self.definer.call("/org/machina", MGR, "UndefineMachine", "st", "fine", 0)
        check(r[0] == "ok", f"definer undefines: {r}")


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
                {"name": "byvar", "type": "raw", "pattern": pool + "/${dir}/${volume}"}]}, f)
        install_rules(b, "50-definer.rules",
                      'polkit.addRule(function(action, subject) {\n'
                      '  if (action.id == "org.machina.machine.define" && subject.user == "%s")\n'
                      '    return polkit.Result.YES;\n});\n' % DEFINER_USER)
        root, definer = Caller(b, 0), Caller(b, definer_uid)
        callers = [root, definer]
        pump_until(lambda: definer.call("/org/machina", MGR, "Reload")[0] == "ok", 30,
                   "polkitd to grant define to the definer")
        h = Hostile(b, definer)
        h.run(root)
        for what, name, msg in h.results:
            print(f"refused: {what}: {name}: {msg!r}", flush=True)
        for what in h.xfail:
            print(f"XFAIL (machinad does not call definition_check_references yet): {what}", flush=True)
        b.check_daemon_exit()
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
