#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinactl against machinad on the real-parts test bed (tests/daemon/bedfixture.py): the real
binary, its output and exit codes, as a user would run it.

Usage: test-machinactl-bed.py CASE   (one meson test per case)"""

import json
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
from bedfixture import BUILDDIR, Failure, MachinadBed, check, guest_definition, run_bed_test  # noqa: E402

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


def calls_to_machinad(b, action):
    """The members of the method calls to org.machina while action() runs, seen by a bus monitor
    (dbus-monitor --profile on the bed's bus). Marker calls before and after, waited for in the
    monitor's output, bound the window without sleeping."""
    mon = subprocess.Popen(["dbus-monitor", "--address", b.bed.address, "--profile"],
                           stdout=subprocess.PIPE, text=True)
    bus = b.conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
    lines = []

    def wait_marker(member, *args):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            getattr(bus, member)(*args, dbus_interface="org.freedesktop.DBus")
            ready, _, _ = select.select([mon.stdout], [], [], 0.2)
            while ready:
                lines.append(mon.stdout.readline())
                f = lines[-1].split()
                if len(f) >= 8 and f[0] == "mc" and f[7] == member:
                    return len(lines)
                ready, _, _ = select.select([mon.stdout], [], [], 0)
        raise Failure(f"bus monitor never showed the {member} marker")

    # Distinct members: a late copy of the first marker cannot end the window early.
    try:
        start = wait_marker("NameHasOwner", "org.machina")
        action()
        end = wait_marker("GetId")
    finally:
        mon.terminate()
        mon.wait(10)
    # --profile: type timestamp serial sender destination path interface member
    fields = [ln.split() for ln in lines[start:end]]
    return [f[7] for f in fields if len(f) >= 8 and f[0] == "mc" and f[4] == "org.machina"]


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
    # list is one GetManagedObjects call, however many guests (issue: never one call per guest).
    calls = calls_to_machinad(b, lambda: c.run("list", "--all", "--no-legend"))
    check(calls == ["GetManagedObjects"], f"machinactl list made these calls to org.machina: {calls}")
    # bash completion offers the names from `list --no-legend` (running ones for stop).
    comp = os.path.join(HERE, "..", "..", "cli", "machinactl.bash-completion")
    script = ('. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _machinactl; echo "${COMPREPLY[*]}"')
    env = dict(c.env, PATH=os.path.dirname(MACHINACTL) + ":" + os.environ["PATH"])
    for words, want in ((["start", ""], "alpha beta"), (["status", "b"], "beta"), (["stop", ""], ""),
                        (["edit", "a"], "alpha"), (["monitor", ""], "alpha beta")):
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

    # enable/disable change "autostart" and nothing else of the definition as written: not the
    # resolved one (vars, patterns and tags stay, no derived identifiers are written down).
    d = guest_definition(b.guest_dir, "gamma")
    d["description"] = "${machine-name} of ${site}"
    d["vars"] = {"site": "lab"}
    d["connections"] = [{"name": "n0", "network": "default"}]
    with open(good, "w") as f:
        json.dump(d, f)
    c.run("define", "--force", good)
    _, m = b.machine("gamma")
    check("mac" in json.loads(str(m.GetConfig()))["connections"][0], "GetConfig is resolved (MAC derived)")
    conf = os.path.join(b.config_dir, "machine.conf.d", "gamma.conf.json")
    c.run("enable", "gamma")
    check(c.prop("gamma", "Autostart") == "yes", "enabled")
    with open(conf) as f:
        written = json.load(f)
    check(written == dict(d, autostart="yes"), f"enable changed only autostart: {written}")
    c.run("disable", "gamma")
    check(c.prop("gamma", "Autostart") == "no", "disabled")
    with open(conf) as f:
        written = json.load(f)
    check(written == d, f"disable changed only autostart: {written}")
    c.run("enable", "nosuch", rc=4)
    c.run("enable", "--now", "gamma")
    check(c.prop("gamma", "Autostart") == "yes" and c.prop("gamma", "State") == "running", "enable --now")
    c.run("disable", "--now", "gamma")
    check(c.prop("gamma", "Autostart") == "no" and c.prop("gamma", "State") == "stopped", "disable --now")

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


def wait_gone(c, name, timeout=90):
    deadline = time.monotonic() + timeout
    while c.run("status", name, rc=None).returncode != 4:
        if time.monotonic() > deadline:
            raise Failure(f"{name} still listed after {timeout}s")
        time.sleep(0.2)     # polling with a deadline: the guest goes away on its own


def case_create(b):
    """create runs a transient guest from a file or stdin, writes no file, and the guest is gone
    once it stops; a name in use, a broken file and edit of a transient guest are refused."""
    c = Ctl(b)
    conf_d = os.path.join(b.config_dir, "machine.conf.d")
    before = sorted(os.listdir(conf_d))
    f = os.path.join(b.dir, "tau.json")
    with open(f, "w") as fp:
        json.dump(guest_definition(b.guest_dir, "tau"), fp)
    p = c.run("create", f)
    check(p.stdout.startswith(f"Created machine tau from {f}"), f"create: {p.stdout!r}")
    rows = table_rows(c.run("list", "--no-legend").stdout)
    check([(r[0], r[1]) for r in rows] == [("tau", "running")], f"tau runs: {rows}")
    check(c.prop("tau", "Persistent") == "no", "transient")
    check(sorted(os.listdir(conf_d)) == before, f"no file written: {os.listdir(conf_d)}")
    p = c.run("create", f, rc=1)
    check("tau" not in p.stdout and "already defined" in p.stderr, f"name in use: {p.stderr!r}")
    p = c.run("edit", "tau", rc=1)
    check("transient" in p.stderr, f"edit of a transient guest: {p.stderr!r}")
    c.run("stop", "tau")
    wait_gone(c, "tau")
    check(sorted(os.listdir(conf_d)) == before, "still no file")

    with open(f) as fp:
        p = c.run("create", "-", stdin=fp.read().replace('"tau"', '"upsilon"'))
    check("Created machine upsilon from -" in p.stdout, f"create from stdin: {p.stdout!r}")
    c.run("kill", "-s", "KILL", "upsilon")
    wait_gone(c, "upsilon")

    d = guest_definition(b.guest_dir, "phi")
    d["attrs"]["ram"]["size"] = "lots"
    with open(f, "w") as fp:
        json.dump(d, fp)
    p = c.run("create", f, rc=1)
    check(p.stderr.startswith(f"machinactl: {f}: $.attrs.ram.size: "), f"bad file: {p.stderr!r}")
    c.run("status", "phi", rc=4)
    check(sorted(os.listdir(conf_d)) == before, "nothing written")


EDITOR_SCRIPT = r"""#!/bin/sh
# A scripted "editor": $EDIT_MODE says what to do to the file (argument 1).
set -e
echo "$1" >> "$EDIT_LOG"
case "$EDIT_MODE" in
keep) ;;
cpus) /usr/bin/python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["attrs"]["cpu"]["count"]=int(sys.argv[2]); json.dump(d, open(p, "w"))' "$1" "${EDIT_CPUS:-2}" ;;
invalid) sed -i 's/"count" *: *[0-9]*/"count": "many"/' "$1" ;;
syntax) printf '{"name": "alpha",' > "$1" ;;
rename) sed -i 's/"alpha"/"omega"/' "$1" ;;
network) /usr/bin/python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["connections"]=[{"name":"n0","network":"nosuchnet"}]; json.dump(d, open(p, "w"))' "$1" ;;
fail) exit 3 ;;
esac
"""


def case_edit(b):
    """edit runs $SYSTEMD_EDITOR/$EDITOR on a temporary copy of the definition as defined; a
    change is applied, no change is reported, an invalid edit is refused naming the kept file,
    and nothing changes."""
    c = Ctl(b)
    editor = os.path.join(b.dir, "editor.sh")
    with open(editor, "w") as f:
        f.write(EDITOR_SCRIPT)
    os.chmod(editor, 0o755)
    tmpdir = os.path.join(b.dir, "edit-tmp")
    os.makedirs(tmpdir)
    log = os.path.join(b.dir, "editor.log")
    conf = os.path.join(b.config_dir, "machine.conf.d", "alpha.conf.json")

    def edit(mode, *args, rc=0, env_editor="EDITOR"):
        open(log, "w").close()
        env = dict(c.env, EDIT_MODE=mode, EDIT_LOG=log, TMPDIR=tmpdir)
        for k in ("SYSTEMD_EDITOR", "EDITOR", "VISUAL"):
            env.pop(k, None)
        if env_editor:
            env[env_editor] = editor
        else:
            # No variable set: "editor" from $PATH, as systemctl edit falls back to.
            bindir = os.path.join(b.dir, "bin")
            os.makedirs(bindir, exist_ok=True)
            if not os.path.exists(os.path.join(bindir, "editor")):
                os.symlink(editor, os.path.join(bindir, "editor"))
            env["PATH"] = bindir + ":" + env["PATH"]
        if env_editor == "SYSTEMD_EDITOR":
            env["EDITOR"] = "/bin/false"    # $SYSTEMD_EDITOR wins over $EDITOR
        saved, c.env = c.env, env
        try:
            p = c.run("edit", "alpha", *args, rc=rc)
        finally:
            c.env = saved
        with open(log) as f:
            edited = f.read().split()
        check(len(edited) == 1 and edited[0].startswith(tmpdir + "/machinactl-edit-alpha-")
              and edited[0].endswith(".conf.json"), f"edited a temp copy: {edited}")
        return p, edited[0]

    with open(conf) as f:
        original = f.read()
    p, tmp = edit("keep", env_editor=None)
    check(p.stdout.strip() == "No changes to alpha.", f"unchanged: {p.stdout!r}")
    check(not os.path.exists(tmp), "temp file removed")
    with open(conf) as f:
        check(f.read() == original, "file untouched when nothing changed")

    p, tmp = edit("cpus", env_editor="SYSTEMD_EDITOR")
    check(p.stdout.strip() == "Updated machine alpha.", f"updated: {p.stdout!r}")
    check(c.prop("alpha", "CPUs") == "2", "change applied")
    with open(conf) as f:
        check(json.load(f)["attrs"]["cpu"]["count"] == 2, "file changed")
    check(os.listdir(tmpdir) == [], f"temp file removed: {os.listdir(tmpdir)}")
    with open(conf) as f:
        applied = f.read()

    for mode, want in (("invalid", "$.attrs.cpu.count: "), ("syntax", ": "), ("rename", "$.name: "),
                       ("network", "nosuchnet")):
        p, tmp = edit(mode, rc=1, env_editor="VISUAL")
        lines = p.stderr.strip().splitlines()
        check(lines[0].startswith(f"machinactl: {tmp}: ") and want in lines[0], f"{mode}: {lines}")
        check(lines[-1] == f"machinactl: Nothing was changed; the edited definition is kept in {tmp}.",
              f"{mode}: {lines}")
        check(os.path.exists(tmp), f"{mode}: the edited file is kept")
        os.unlink(tmp)
        check(c.prop("alpha", "CPUs") == "2", f"{mode}: nothing changed")
        with open(conf) as f:
            check(f.read() == applied, f"{mode}: file unchanged")
    p, tmp = edit("fail", rc=1)
    check("editor failed" in p.stderr, f"editor failure: {p.stderr!r}")
    check(not os.path.exists(tmp), "temp file removed after an editor failure")

    # A running guest keeps its config until the next start.
    c.run("start", "alpha")
    c.env["EDIT_CPUS"] = "1"
    p, tmp = edit("cpus", env_editor="SYSTEMD_EDITOR")
    del c.env["EDIT_CPUS"]
    check(p.stdout.strip() == "Updated machine alpha (it is running: the changes apply at its next start).",
          f"pending: {p.stdout!r}")
    check(c.prop("alpha", "PendingChanges") == "yes", "PendingChanges")
    c.run("kill", "-s", "KILL", "alpha")
    c.wait_prop("alpha", "State", "stopped")
    c.run("edit", "nosuch", rc=4)


class Monitor:
    """machinactl monitor in the background; lines collected as they come."""

    def __init__(self, c, *args):
        import threading
        self.lines = []
        self.p = subprocess.Popen([MACHINACTL, "monitor", *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=c.env)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.wait(lambda l: l.startswith("Monitoring "), "the greeting")

    def _read(self):
        for line in self.p.stdout:
            print(f"  monitor| {line.rstrip()}", flush=True)
            self.lines.append(line.rstrip("\n"))

    def wait(self, pred, what, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if pred(line):
                    return line
            if self.p.poll() is not None and not self.t.is_alive():
                raise Failure(f"monitor exited ({self.p.returncode}) before {what}: {self.p.stderr.read()}")
            if time.monotonic() > deadline:
                raise Failure(f"monitor: no line for {what} in {timeout}s: {self.lines}")
            time.sleep(0.05)

    def stop(self, sig):
        self.p.send_signal(sig)
        rc = self.p.wait(timeout=30)
        self.t.join(timeout=10)
        return rc


def case_monitor(b):
    """monitor prints each state change, QMP event, new and removed machine with a timestamp,
    of all or the named machines, until SIGINT/SIGTERM (exit 0)."""
    import re
    import signal
    c = Ctl(b)
    ts = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"
    every = Monitor(c)
    only_beta = Monitor(c, "beta")
    try:
        c.run("start", "alpha")
        line = every.wait(lambda l: re.fullmatch(ts + " alpha state running \\(user\\) pid [1-9][0-9]*", l),
                          "alpha running")
        every.wait(lambda l: re.fullmatch(ts + " alpha state starting \\(user\\)", l), "alpha starting")
        check(every.lines.index(line) > 0, "the greeting comes first")
        b.wait_guest_ready("alpha")
        c.run("shutdown", "--timeout=60", "alpha")
        every.wait(lambda l: re.fullmatch(ts + " alpha event POWERDOWN .*", l), "the POWERDOWN event")
        every.wait(lambda l: re.fullmatch(ts + " alpha event SHUTDOWN \\{.*\"guest\": *true.*", l), "SHUTDOWN event")
        every.wait(lambda l: re.fullmatch(ts + " alpha state stopped \\(guest-shutdown\\)", l), "alpha stopped")

        g = os.path.join(b.dir, "gamma.json")
        with open(g, "w") as f:
            json.dump(guest_definition(b.guest_dir, "gamma"), f)
        c.run("define", g)
        every.wait(lambda l: re.fullmatch(ts + " gamma new", l), "gamma new")
        c.run("enable", "gamma")
        every.wait(lambda l: re.fullmatch(ts + " gamma changed .*Autostart=yes.*", l), "gamma Autostart change")
        c.run("undefine", "gamma")
        every.wait(lambda l: re.fullmatch(ts + " gamma removed", l), "gamma removed")

        c.run("start", "beta")
        only_beta.wait(lambda l: re.search(" beta state running \\(user\\) pid ", l), "beta running")
        c.run("kill", "-s", "KILL", "beta")
        only_beta.wait(lambda l: l.endswith(" beta state stopped (killed)"), "beta stopped")
        check(not [l for l in only_beta.lines if " alpha " in l or " gamma " in l],
              f"only beta: {only_beta.lines}")
        check(only_beta.lines[0] == "Monitoring beta; press ^C to stop.", "named greeting")
    finally:
        rc_term = every.stop(signal.SIGTERM)
        rc_int = only_beta.stop(signal.SIGINT)
    check(rc_term == 0 and rc_int == 0, f"exit on SIGTERM {rc_term}, SIGINT {rc_int}")


def case_remote(b):
    """-H root@127.0.0.1 through a real sshd on a local port (tests/cli/sshd.py): list shows
    the bed's guests, start and stop work; an unreachable host is one clear error line."""
    import sshd
    server = sshd.Sshd(b.bed.address, parent=b.dir)
    try:
        server.start()
        c = Ctl(b)
        c.env = server.env(c.env)
        # The remote side must not use our bus address: only sshd's SetEnv gives it the bed's.
        c.env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent"
        p = c.run("-H", "root@127.0.0.1", "list", "--all", "--no-legend")
        rows = table_rows(p.stdout)
        check([(r[0], r[1]) for r in rows] == [("alpha", "stopped"), ("beta", "stopped")], f"remote list: {rows}")
        c.run("-H", "root@127.0.0.1", "start", "alpha")
        check(b.props(b.machine("alpha")[0])["State"] == "running", "started through ssh")
        p = c.run("-H", f"root@127.0.0.1:{server.port}", "status", "alpha")
        check("State: running" in p.stdout, f"remote status with a port: {p.stdout!r}")
        c.run("-H", "root@127.0.0.1", "stop", "alpha")
        check(b.props(b.machine("alpha")[0])["State"] == "stopped", "stopped through ssh")
        c.run("-H", "root@127.0.0.1", "status", "nosuch", rc=4)
        closed = sshd.free_port()
        p = c.run("-H", f"root@127.0.0.1:{closed}", "list", rc=1)
        lines = p.stderr.strip().splitlines()
        check(lines and lines[-1] == "machinactl: Failed to list machines: no connection to the system bus of "
              f"root@127.0.0.1:{closed} over ssh: Transport endpoint is not connected", f"unreachable: {p.stderr!r}")
    except Exception:
        print(f"sshd log:\n{server.read_log()}", file=sys.stderr)
        raise
    finally:
        server.stop()


CASES = {
    "create": case_create,
    "edit": case_edit,
    "monitor": case_monitor,
    "remote": case_remote,
    "console": case_console,
    "list": case_list,
    "lifecycle": case_lifecycle,
    "define": case_define,
    "polkit": case_polkit,
}


def main():
    run_bed_test(lambda: MachinadBed([dict(name="alpha"), dict(name="beta")]), CASES[sys.argv[1]])


if __name__ == "__main__":
    main()
