#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinactl against machinad on the real-parts test bed (tests/daemon/bedfixture.py): the real
binary, its output and exit codes, as a user would run it.

Usage: test-machinactl-bed.py CASE   (one meson test per case)"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import dbus  # noqa: E402
from bedfixture import BUILDDIR, Failure, MachinadBed, check, guest_definition  # noqa: E402

MACHINACTL = os.environ.get("MACHINACTL") or os.path.join(BUILDDIR, "cli", "machinactl")
NOBODY = 65534


class Ctl:
    def __init__(self, bed):
        self.bed = bed
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bed.bed.address, SYSTEMD_COLORS="0")
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    def run(self, *args, rc=0, uid=None, stdin=None, timeout=180):
        cmd = [MACHINACTL, *args]
        if uid is not None:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout,
                           input=stdin)
        print(f"$ machinactl {' '.join(args)}{f'  (uid {uid})' if uid is not None else ''}  → {p.returncode}")
        for line in (p.stdout + p.stderr).splitlines():
            print(f"  | {line}")
        if rc is not None and p.returncode != rc:
            raise Failure(f"machinactl {' '.join(args)}: exit {p.returncode}, expected {rc}\n"
                          f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def prop(self, name, prop):
        return self.run("show", name, "-p", prop, "--value").stdout.strip()

    def wait_prop(self, name, prop, value, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            v = self.prop(name, prop)
            if v == value:
                return
            if time.monotonic() > deadline:
                raise Failure(f"{name} {prop}={v!r}, waited {timeout}s for {value!r}")
            time.sleep(0.2)     # polling with a deadline: the guest changes state on its own


def table_rows(out):
    return [line.split() for line in out.splitlines() if line.strip()]


def case_list(b):
    """Nothing running: list is empty, --all shows the defined guests; --json parses; show and
    status of an unknown guest exit 4."""
    c = Ctl(b)
    p = c.run("list")
    check("No machines running" in p.stdout, f"empty list: {p.stdout!r}")
    p = c.run()                             # list is the default verb
    check("No machines running" in p.stdout, "default verb is list")
    p = c.run("list", "--all", "--no-legend")
    rows = table_rows(p.stdout)
    check([r[0] for r in rows] == ["alpha", "beta"], f"--all --no-legend rows: {rows}")
    check(all(r[1] == "stopped" for r in rows), f"states: {rows}")
    p = c.run("list", "--all")
    check(p.stdout.splitlines()[0].split()[:3] == ["MACHINE", "STATE", "REASON"], f"header: {p.stdout!r}")
    check(p.stdout.rstrip().endswith("2 machines listed."), f"footer: {p.stdout!r}")
    data = json.loads(c.run("list", "--all", "--json=short").stdout)
    check([m["Name"] for m in data] == ["alpha", "beta"], f"json list: {data}")
    check(data[0]["State"] == "stopped" and data[0]["MainPID"] == 0 and data[0]["CPUs"] == 1
          and data[0]["MemoryMiB"] == 128 and data[0]["Persistent"] is True, f"json fields: {data[0]}")
    check(json.loads(c.run("list", "--json=pretty").stdout) == [], "json of an empty list")
    data = json.loads(c.run("status", "alpha", "--json=short").stdout)
    check(data[0]["Name"] == "alpha" and data[0]["Unit"] == "machina-alpha.service", f"status json: {data}")
    data = json.loads(c.run("show", "alpha", "-p", "State,CPUs", "--json=short").stdout)
    check(data == {"State": "stopped", "CPUs": 1}, f"show json: {data}")
    p = c.run("show", "alpha", "-p", "Name", "-p", "MemoryMiB")
    check(p.stdout == "Name=alpha\nMemoryMiB=128\n", f"show -p: {p.stdout!r}")
    p = c.run("status", "alpha")
    check("State: stopped" in p.stdout and "Unit: machina-alpha.service" in p.stdout, "status text")
    p = c.run("status", "nosuch", rc=4)
    check(p.stderr.strip() == "machinactl: No machine 'nosuch'.", f"unknown: {p.stderr!r}")
    c.run("show", "nosuch", rc=4)
    c.run("start", "nosuch", rc=4)
    c.run("status", "alpha", "nosuch", rc=4)
    c.run("show", "alpha", "-p", "Bogus", rc=1)
    # bash completion offers the names from `list --no-legend` (running ones for stop).
    comp = os.path.join(HERE, "..", "..", "cli", "machinactl.bash-completion")
    script = ('. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _machinactl; echo "${COMPREPLY[*]}"')
    env = dict(c.env, PATH=os.path.dirname(MACHINACTL) + ":" + os.environ["PATH"])
    for words, want in ((["start", ""], "alpha beta"), (["status", "b"], "beta"), (["stop", ""], "")):
        got = subprocess.run(["bash", "-c", script, "_", comp, "machinactl", *words], env=env,
                             capture_output=True, text=True, timeout=30).stdout.strip()
        check(got == want, f"completion of {words}: {got!r}, expected {want!r}")
    # Reading needs no authorization.
    p = c.run("list", "--all", "--no-legend", uid=NOBODY)
    check(len(table_rows(p.stdout)) == 2, "nobody can list")


def case_lifecycle(b):
    """start two at once → running with a PID; pause/resume; shutdown one, kill the other."""
    c = Ctl(b)
    c.run("start", "alpha", "beta")
    p = c.run("list", "--no-legend")
    rows = table_rows(p.stdout)
    check([(r[0], r[1]) for r in rows] == [("alpha", "running"), ("beta", "running")], f"list: {rows}")
    pid = c.prop("alpha", "MainPID")
    check(int(pid) > 0 and os.path.exists(f"/proc/{pid}"), f"MainPID {pid}")
    p = c.run("status", "alpha")
    check(f"PID: {pid}" in p.stdout and "State: running (user)" in p.stdout, f"status: {p.stdout}")
    p = c.run("list")
    check(p.stdout.rstrip().endswith("2 machines listed."), "footer")
    p = c.run("start", "alpha", rc=1)
    check("Failed to start alpha:" in p.stderr, f"double start: {p.stderr!r}")

    c.run("pause", "alpha")
    check(c.prop("alpha", "State") == "paused", "paused")
    c.run("resume", "alpha")
    check(c.prop("alpha", "State") == "running", "resumed")

    b.wait_guest_ready("alpha")
    c.run("shutdown", "--timeout=60", "alpha")
    check(c.prop("alpha", "State") == "stopped", "stopped after shutdown")
    check(c.prop("alpha", "StateReason") == "guest-shutdown", "reason guest-shutdown")
    p = c.run("status", "alpha")
    check("PID:" not in p.stdout and "State: stopped (guest-shutdown)" in p.stdout, f"status: {p.stdout}")

    c.run("kill", "-s", "KILL", "--kill-whom=main", "beta")
    c.wait_prop("beta", "State", "stopped")
    check(c.prop("beta", "StateReason") == "killed", "reason killed")
    p = c.run("list")
    check("No machines running" in p.stdout, f"nothing running: {p.stdout!r}")


def case_define(b):
    """define/undefine round trip, replace, a broken file, reload, enable/disable."""
    c = Ctl(b)
    good = os.path.join(b.dir, "gamma.json")
    with open(good, "w") as f:
        json.dump(guest_definition(b.guest_dir, "gamma"), f)
    p = c.run("define", good)
    check(p.stdout.strip() == f"Defined machine gamma from {good}.", f"define: {p.stdout!r}")
    rows = table_rows(c.run("list", "--all", "--no-legend").stdout)
    check("gamma" in [r[0] for r in rows], f"gamma listed: {rows}")
    p = c.run("define", good, rc=1)
    check(f"Failed to define {good}:" in p.stderr and "--force" in p.stderr, f"exists: {p.stderr!r}")
    c.run("define", "--force", good)
    with open(good) as f:
        c.run("define", "--force", "-", stdin=f.read())

    bad = os.path.join(b.dir, "bad.json")
    d = guest_definition(b.guest_dir, "delta")
    d["attrs"]["cpu"]["count"] = "many"
    with open(bad, "w") as f:
        json.dump(d, f)
    p = c.run("define", bad, rc=1)
    check(p.stderr.startswith(f"machinactl: {bad}: $.attrs.cpu.count: "), f"bad file: {p.stderr!r}")
    check(len(p.stderr.strip().splitlines()) == 1, "one line")
    p = c.run("define", os.path.join(b.dir, "missing.json"), rc=1)
    check("missing.json" in p.stderr, f"missing file: {p.stderr!r}")
    c.run("status", "delta", rc=4)

    c.run("enable", "gamma")
    check(c.prop("gamma", "Autostart") == "yes", "enabled")
    c.run("disable", "gamma")
    check(c.prop("gamma", "Autostart") == "no", "disabled")

    p = c.run("undefine", "gamma")
    check(p.stdout.strip() == "Undefined machine gamma.", f"undefine: {p.stdout!r}")
    c.run("status", "gamma", rc=4)
    c.run("undefine", "gamma", rc=4)
    check(not os.path.exists(os.path.join(b.config_dir, "machine.conf.d", "gamma.conf.json")), "file gone")
    c.run("reload")
    rows = table_rows(c.run("list", "--all", "--no-legend").stdout)
    check([r[0] for r in rows] == ["alpha", "beta"], f"after reload: {rows}")


def case_polkit(b):
    """An unprivileged caller with --no-ask-password: refused, the polkit action named, exit 1;
    nothing changed."""
    c = Ctl(b)
    for args, action in ((["start", "alpha"], "org.machina.machine.control"),
                         (["kill", "alpha"], "org.machina.machine.control"),
                         (["undefine", "alpha"], "org.machina.machine.define"),
                         (["reload"], "org.machina.machine.define")):
        p = c.run("--no-ask-password", *args, rc=1, uid=NOBODY)
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and action in lines[0], f"{args}: {p.stderr!r}")
        check(args[0] == "reload" or "alpha" in lines[0], f"names the machine: {lines}")
    check(c.prop("alpha", "State") == "stopped", "still stopped")
    rows = table_rows(c.run("list", "--all", "--no-legend").stdout)
    check([r[0] for r in rows] == ["alpha", "beta"], "still defined")


def case_console(b):
    """console on a terminal (a pty): the guest echoes what is typed, ^]^]^] leaves with 0;
    a stranger without rights is refused naming the console action."""
    import pty
    import select
    c = Ctl(b)
    c.run("start", "alpha")
    pid, master = pty.fork()
    if pid == 0:
        os.execve(MACHINACTL, [MACHINACTL, "console", "alpha"], c.env)
    out = b""
    try:
        deadline = time.monotonic() + 120
        next_ping = 0
        while b"echo: ping" not in out:
            if time.monotonic() > deadline:
                raise Failure(f"no echo through machinactl console: {out[-800:]!r}")
            if time.monotonic() >= next_ping:
                os.write(master, b"ping\r")    # lost while the guest boots: repeat
                next_ping = time.monotonic() + 0.5
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    raise Failure(f"console ended early: {out[-800:]!r}")
        check(b"Connected to the console of alpha" in out, f"banner: {out[:300]!r}")
        os.write(master, b"\x1d\x1d\x1d")
        deadline = time.monotonic() + 10
        while True:
            wpid, status = os.waitpid(pid, os.WNOHANG)
            if wpid:
                break
            if time.monotonic() > deadline:
                raise Failure("machinactl console did not leave on ^]^]^]")
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    os.read(master, 4096)
                except OSError:
                    pass
        pid = 0
        check(os.waitstatus_to_exitcode(status) == 0, f"console exit status {status}")
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(master)
    check(c.prop("alpha", "State") == "running", "the guest runs on after the console is left")
    p = c.run("console", "alpha", "--no-ask-password", uid=NOBODY, rc=1)
    check("org.machina.machine.console" in p.stderr or "nteractive" in p.stderr, f"refusal: {p.stderr!r}")
    c.run("kill", "-s", "KILL", "alpha")
    c.wait_prop("alpha", "State", "stopped")


CASES = {
    "console": case_console,
    "list": case_list,
    "lifecycle": case_lifecycle,
    "define": case_define,
    "polkit": case_polkit,
}


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    fn = CASES[sys.argv[1]]
    b = None
    failed = True
    try:
        b = MachinadBed([dict(name="alpha"), dict(name="beta")])
        fn(b)
        b.check_daemon_exit()
        failed = False
    except (Failure, dbus.DBusException, subprocess.SubprocessError, OSError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if b:
            b.close(failed=failed)
    print("FAIL" if failed else "PASS", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
