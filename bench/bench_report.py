# SPDX-License-Identifier: LGPL-2.1-or-later
"""Statistics, the results table, machine facts and the plot for bench/run."""

import json
import os
import platform
import shutil
import subprocess


def quantile(xs, q):
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(xs):
    return {"n": len(xs), "median": quantile(xs, 0.5), "p25": quantile(xs, 0.25),
            "p75": quantile(xs, 0.75), "min": min(xs), "max": max(xs)}


class Results:
    """Every figure by key: samples, unit, a description and the exact command that produced it."""

    def __init__(self):
        self.figures = {}
        self.commands = []
        self.notes = []

    def add(self, key, samples, unit, what, command=None):
        samples = [float(x) for x in samples]
        self.figures[key] = {"what": what, "unit": unit, "samples": samples, **summary(samples)}
        if command:
            self.command(f"{key}: {command}")
        return self.figures[key]

    def command(self, text):
        if text not in self.commands:
            self.commands.append(text)

    def median(self, key):
        f = self.figures.get(key)
        return f["median"] if f else None


def fmt(v, unit):
    if v is None:
        return "–"
    if unit == "MiB":
        return f"{v:.1f}"
    if unit == "/s":
        return f"{v:.0f}"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


# (label, figure, floor or libvirt figure to divide by, target as text, target test)
COMPARISONS = [
    ("start (machinactl) / bare StartTransientUnit", "machina.start.cli", "floor.stu_qmp", "≤ 1.15×",
     lambda r: r <= 1.15),
    ("start (in-process Start) / bare StartTransientUnit", "machina.start.bus", "floor.stu_qmp", "≤ 1.15×",
     lambda r: r <= 1.15),
    ("start (in-process Start) / StartTransientUnit with the same sandboxing", "machina.start.bus",
     "floor.stu_qmp_sandboxed", "", None),
    ("start (machinactl) / virsh start", "machina.start.cli", "libvirt.start", "≤ 0.33×", lambda r: r <= 1 / 3),
    ("hard stop / StopUnit", "machina.hardstop.bus", "floor.stopunit", "≤ 1.2×", lambda r: r <= 1.2),
    ("hard stop (busctl process) / virsh destroy", "machina.hardstop.cli", "libvirt.destroy", "", None),
    ("shutdown (booting guest) / virsh shutdown", "machina.shutdown.bus", "libvirt.shutdown", "", None),
    ("N at once / bare floor", "machina.batch.start", "floor.batch.start", "≤ 1.1×", lambda r: r <= 1.1),
    ("N at once / floor with the same sandboxing", "machina.batch.start", "floor.batch.start_sandboxed", "", None),
    ("list (machinactl, max N) / busctl spawn", "machina.list.cli.max", "floor.busctl", "", None),
    ("list (machinactl, max N) / a C process making the same GetManagedObjects call",
     "machina.list.cli.max", "floor.gmo_process.max", "", None),
    ("list (machinactl, max N) / virsh list --all", "machina.list.cli.max", "libvirt.list.max", "", None),
    ("define (machinactl/busctl) / virsh define", "machina.define.cli", "libvirt.define", "", None),
    ("cold activation (1 defined) / busctl process", "machina.activation.few", "floor.busctl", "", None),
    ("machinad RSS / libvirtd RSS (max N defined)", "machina.rss.defined", "libvirt.rss.defined", "", None),
]

# (figure, absolute target, test)
TARGETS = [
    ("machina.list.cli.1000", "≤ 10 ms", lambda v: v <= 10),
    ("machina.list.bus.1000", "≤ 10 ms", lambda v: v <= 10),
    ("machina.gmo.bus.1000", "≤ 5 ms", lambda v: v <= 5),
    ("machina.define.bus", "≤ 8 ms", lambda v: v <= 8),
    ("machina.rss.running", "≤ 8 MiB", lambda v: v <= 8),
    ("machina.rss.defined", "≤ 8 MiB", lambda v: v <= 8),
    ("machina.activation", "≤ 20 ms", lambda v: v <= 20),
]


def markdown(res, facts):
    out = ["# machina benchmark", "", f"Mode: {facts['mode']}. Load average at start "
           f"{facts['loadavg_start']}, at end {facts['loadavg_end']} ({facts['cpus']} CPUs, shared).", "",
           "| figure | unit | median | p25 | p75 | min | max | n |", "|---|---|---|---|---|---|---|---|"]
    for key, f in res.figures.items():
        u = f["unit"]
        out.append(f"| {f['what']} (`{key}`) | {u} | {fmt(f['median'], u)} | {fmt(f['p25'], u)} | "
                   f"{fmt(f['p75'], u)} | {fmt(f['min'], u)} | {fmt(f['max'], u)} | {f['n']} |")
    out += ["", "## Ratios (medians, same run)", "", "| ratio | value | target | met |", "|---|---|---|---|"]
    for label, a, b, target, ok in COMPARISONS:
        va, vb = res.median(a), res.median(b)
        if va is None or vb is None or vb == 0:
            continue
        r = va / vb
        met = "" if ok is None else ("yes" if ok(r) else "**no**")
        out.append(f"| {label} | {r:.2f}× | {target} | {met} |")
    out += ["", "## Absolute targets", "", "| figure | median | target | met |", "|---|---|---|---|"]
    for key, target, ok in TARGETS:
        v = res.median(key)
        if v is None:
            continue
        out.append(f"| `{key}` | {fmt(v, res.figures[key]['unit'])} {res.figures[key]['unit']} | {target} | "
                   f"{'yes' if ok(v) else '**no**'} |")
    growth = growth_lines(res)
    if growth:
        out += ["", "## Growth with N (medians; t(N) − t(0))", "",
                "| series | N₁ → N₂ | per added guest | exponent (1 = linear) |", "|---|---|---|---|"] + growth
    if res.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in res.notes]
    out += ["", "## Machine", "", "```"] + [f"{k}: {v}" for k, v in facts.items()] + ["```", "",
            "## Commands", "", "```"] + res.commands + ["```", ""]
    return "\n".join(out)


def growth_lines(res):
    """How each list-like figure grows: the cost per added guest between the two largest N, and
    log(Δt₂/Δt₁)/log(N₂/N₁) over t(N) − t(0) (≈1 linear, ≈2 quadratic)."""
    import math
    lines = []
    for prefix in ("machina.list.cli.", "floor.gmo_process.", "machina.list.bus.", "machina.gmo.bus.",
                   "machina.gmo.cpu.daemon.", "libvirt.list."):
        pts = sorted((int(k[len(prefix):]), f["median"]) for k, f in res.figures.items()
                     if k.startswith(prefix) and k[len(prefix):].isdigit())
        if len(pts) < 3 or pts[0][0] != 0:
            continue
        (_, t0), (n1, t1), (n2, t2) = pts[0], pts[-2], pts[-1]
        per = (t2 - t1) / (n2 - n1) * 1000.0
        d1, d2 = t1 - t0, t2 - t0
        exp = f"{math.log(d2 / d1) / math.log(n2 / n1):.2f}" if d1 > 0 and d2 > 0 else "n/a (within noise)"
        lines.append(f"| {prefix.rstrip('.')} | {n1} → {n2} | {per:.1f} µs | {exp} |")
    return lines


def first_line(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "n/a"


def machine_facts(mode):
    cpu = "n/a"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = f.readline().split(":", 1)[1].strip()
    return {"mode": mode, "cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "qemu": first_line(["qemu-system-x86_64", "--version"]),
            "systemd": first_line(["systemd", "--version"]),
            "libvirt": first_line(["libvirtd", "--version"]) if shutil.which("libvirtd") else "not installed",
            "loadavg_start": loadavg()}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def write(outdir, res, facts):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"machine": facts, "figures": res.figures, "commands": res.commands, "notes": res.notes},
                  f, indent=1)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(markdown(res, facts))
    with open(os.path.join(outdir, "commands.txt"), "w") as f:
        f.write("\n".join(res.commands) + "\n")
    with open(os.path.join(outdir, "machine.txt"), "w") as f:
        f.write("".join(f"{k}: {v}\n" for k, v in facts.items()))


def plot(outdir, res):
    """Two panels with gnuplot: start latency samples per method, and list time against N."""
    if not shutil.which("gnuplot"):
        return None
    starts = [k for k in ("floor.qemu_exec", "floor.stu_qmp", "floor.stu_qmp_sandboxed", "machina.start.bus", "machina.start.cli",
                          "libvirt.start") if k in res.figures]
    with open(os.path.join(outdir, "start.dat"), "w") as f:
        for i, k in enumerate(starts):
            for v in res.figures[k]["samples"]:
                f.write(f"{i} {v}\n")
            f.write("\n\n")
    series = {}
    for k, fig in res.figures.items():
        for prefix in ("machina.list.cli.", "floor.gmo_process.", "machina.list.bus.", "machina.gmo.bus.",
                       "libvirt.list."):
            if k.startswith(prefix) and k[len(prefix):].isdigit():
                series.setdefault(prefix.rstrip("."), []).append((int(k[len(prefix):]), fig["median"]))
    names = sorted(series)
    with open(os.path.join(outdir, "list.dat"), "w") as f:
        for n in names:
            for x, y in sorted(series[n]):
                f.write(f"{x} {y}\n")
            f.write("\n\n")
    xt = ", ".join(f'"{k}" {i}' for i, k in enumerate(starts))
    plots = ", ".join(f"'list.dat' index {i} with linespoints title '{n}'" for i, n in enumerate(names))
    script = f"""set terminal png size 1200,500 noenhanced
set output 'bench.png'
set multiplot layout 1,2
set title 'start latency (every sample)'
set ylabel 'ms'
set xtics ({xt}) rotate by -20
set xrange [-0.5:{len(starts) - 0.5}]
plot for [i=0:{max(len(starts) - 1, 0)}] 'start.dat' index i using 1:2 with points pt 7 notitle
set title 'list time vs defined guests (median)'
set xlabel 'guests'
set autoscale x
set xtics auto norotate
{"plot " + plots if plots else ""}
unset multiplot
"""
    with open(os.path.join(outdir, "bench.gnuplot"), "w") as f:
        f.write(script)
    p = subprocess.run(["gnuplot", "bench.gnuplot"], cwd=outdir, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        res.notes.append(f"gnuplot failed: {p.stderr.strip()[:300]}")
        return None
    return os.path.join(outdir, "bench.png")
