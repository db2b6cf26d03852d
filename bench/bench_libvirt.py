# SPDX-License-Identifier: LGPL-2.1-or-later
"""The libvirt side of bench/run (full mode): a session libvirtd of its own (an unprivileged
user, XDG dirs in a temp dir), the same guests as libvirt XML, timed through virsh processes —
as machinactl is timed."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import e2e
import testbed
from bench_report import Results  # noqa: F401 - type of res
from bedfixture import BED_PARENT, check

PACKAGES = ["libvirt-daemon", "libvirt-daemon-driver-qemu", "libvirt-clients"]
UID = 65534  # nobody: session mode, as a user who runs guests for themselves

MINIMAL = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""

BOOTING = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{dir}/vmlinux</kernel><initrd>{dir}/initramfs.gz</initrd><cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='{log}'/><target port='0'/></serial>
  </devices>
</domain>
"""


def ensure_packages():
    missing = [p for p in PACKAGES if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                                     text=True).stdout != "install ok installed"]
    if missing:
        # libvirt-daemon-system is left out on purpose: its maintainer scripts start a system
        # libvirtd, and this benchmark leaves nothing running.
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=900)


class Libvirt:
    def __init__(self):
        os.makedirs(BED_PARENT, mode=0o755, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="libvirt-", dir=BED_PARENT)
        os.chmod(self.dir, 0o755)
        for d in ("home", "config", "cache", "run", "xml"):
            os.makedirs(os.path.join(self.dir, d), mode=0o700)
        for root, dirs, files in os.walk(self.dir):
            for x in dirs + files:
                os.chown(os.path.join(root, x), UID, UID)
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": f"{self.dir}/home",
                    "XDG_CONFIG_HOME": f"{self.dir}/config", "XDG_CACHE_HOME": f"{self.dir}/cache",
                    "XDG_RUNTIME_DIR": f"{self.dir}/run"}
        self.sock = f"{self.dir}/run/libvirt/libvirt-sock"
        self.uri = f"qemu:///session?socket={self.sock}"
        self.as_user = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]
        self.log = open(os.path.join(self.dir, "libvirtd.log"), "w")
        self.proc = subprocess.Popen(self.as_user + ["env", "-i", *[f"{k}={v}" for k, v in self.env.items()],
                                                     "libvirtd"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.start = testbed.proc_starttime(self.proc.pid)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.sock):
            check(self.proc.poll() is None, f"libvirtd exited: {self.tail()}")
            check(time.monotonic() < deadline, "libvirtd socket did not appear")
            time.sleep(0.01)
        self.virsh("version")

    def tail(self):
        self.log.flush()
        with open(os.path.join(self.dir, "libvirtd.log"), errors="replace") as f:
            return f.read()[-2000:]

    def cmd(self, *args):
        return self.as_user + ["env", "-i", *[f"{k}={v}" for k, v in self.env.items()],
                               "virsh", "-q", "-c", self.uri, *args]

    def virsh(self, *args, stdin=None):
        t0 = time.monotonic()
        p = subprocess.run(self.cmd(*args), input=stdin, capture_output=True, text=True, timeout=600)
        t = time.monotonic() - t0
        check(p.returncode == 0, f"virsh {' '.join(args)[:200]}: {p.stderr.strip()[:500]} {self.tail()[-500:]}")
        return t, p.stdout

    def xml(self, name, text):
        path = os.path.join(self.dir, "xml", f"{name}.xml")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, UID, UID)
        return path

    def define_many(self, names):
        script = "".join(f"define {self.xml(n, MINIMAL.format(name=n))}\n" for n in names)
        if script:
            self.virsh(stdin=script)

    def pid_rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def close(self):
        try:
            _, out = self.virsh("list", "--name")
            for n in out.split():
                subprocess.run(self.cmd("destroy", n), capture_output=True, timeout=60)
            _, out = self.virsh("list", "--all", "--name")
            script = "".join(f"undefine {n}\n" for n in out.split())
            if script:
                self.virsh(stdin=script)
        finally:
            if testbed.proc_alive(self.proc.pid, self.start):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                testbed.kill_recorded(self.proc.pid, self.start)
                self.proc.wait(10)
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def ms(t):
    return t * 1000.0


def run(res, args, progress=print):
    ensure_packages()
    res.command("libvirt: session libvirtd as uid 65534 with its own XDG_{CONFIG,CACHE,RUNTIME}_DIR; "
                "virsh -q -c 'qemu:///session?socket=$XDG_RUNTIME_DIR/libvirt/libvirt-sock' …")
    lv = Libvirt()
    try:
        # Warm-up: libvirt probes QEMU's capabilities on first use.
        lv.virsh("define", lv.xml("warm", MINIMAL.format(name="warm")))
        lv.virsh("start", "warm")
        lv.virsh("destroy", "warm")
        lv.virsh("undefine", "warm")
        res.command("libvirt guest XML: " + " ".join(MINIMAL.format(name="NAME").split()))

        start, destroy, define = [], [], []
        for i in range(args.reps):
            f = lv.xml(f"lvdef-{i}", MINIMAL.format(name=f"lvdef-{i}"))
            define.append(ms(lv.virsh("define", f)[0]))
            start.append(ms(lv.virsh("start", f"lvdef-{i}")[0]))
            destroy.append(ms(lv.virsh("destroy", f"lvdef-{i}")[0]))
        res.add("libvirt.define", define, "ms", "virsh define FILE → exit", "virsh define FILE")
        res.add("libvirt.start", start, "ms", "virsh start → exit (guest running)", "virsh start NAME")
        res.add("libvirt.destroy", destroy, "ms", "virsh destroy → exit", "virsh destroy NAME")
        lv.virsh(stdin="".join(f"undefine lvdef-{i}\n" for i in range(args.reps)))

        progress("libvirt: booting guest")
        # The booting test guest, shut down through ACPI.
        gdir = os.path.join(lv.dir, "guest")
        os.makedirs(gdir)
        src = e2e.build_guest()
        for f in ("vmlinux", "initramfs.gz"):
            shutil.copyfile(os.path.join(src, f), os.path.join(gdir, f))
        log = os.path.join(gdir, "console.log")
        for root, dirs, files in os.walk(gdir):
            for x in [root] + [os.path.join(root, y) for y in files]:
                os.chown(x, UID, UID)
        lv.virsh("define", lv.xml("lvboot", BOOTING.format(name="lvboot", dir=gdir, log=log)))
        shut = []
        for _ in range(args.boots):
            if os.path.exists(log):
                os.unlink(log)
            lv.virsh("start", "lvboot")
            deadline = time.monotonic() + 180
            while True:
                with open(log, "a+", errors="replace") as f:
                    f.seek(0)
                    if "MACHINA-GUEST-READY" in f.read():
                        break
                check(time.monotonic() < deadline, "libvirt guest did not boot")
                time.sleep(0.05)
            ev = subprocess.Popen(lv.cmd("event", "--domain", "lvboot", "--event", "lifecycle", "--timeout", "120"),
                                  stdout=subprocess.PIPE, text=True)
            time.sleep(0.3)  # let virsh event register before the press (not part of the figure)
            t0 = time.monotonic()
            lv.virsh("shutdown", "lvboot")
            for line in ev.stdout:
                if "Stopped" in line:
                    break
            shut.append(ms(time.monotonic() - t0))
            ev.wait(30)
            # libvirt reports Stopped before its own cleanup ends: wait for "shut off" (untimed).
            deadline = time.monotonic() + 60
            while lv.virsh("domstate", "lvboot")[1].strip() != "shut off":
                check(time.monotonic() < deadline, "lvboot did not reach shut off")
                time.sleep(0.05)
        res.add("libvirt.shutdown", shut, "ms", "virsh shutdown → lifecycle Stopped event (booted test guest)",
                "virsh shutdown NAME; virsh event --domain NAME --event lifecycle")
        lv.virsh("undefine", "lvboot")

        progress("libvirt: list")
        defined = 0
        for n in args.list_ns:
            lv.define_many([f"lv{i}" for i in range(defined, n)])
            defined = n
            res.add(f"libvirt.list.{n}", [ms(lv.virsh("list", "--all")[0]) for _ in range(args.reps)], "ms",
                    f"virsh list --all, {n} defined", "virsh list --all")
        res.figures["libvirt.list.max"] = res.figures[f"libvirt.list.{args.list_ns[-1]}"]
        res.add("libvirt.rss.defined", [lv.pid_rss()], "MiB", f"libvirtd RSS, {args.list_ns[-1]} defined")
    finally:
        lv.close()
