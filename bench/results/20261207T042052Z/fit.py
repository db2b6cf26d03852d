#!/usr/bin/python3
"""Growth of the scale figures between bench/run result dirs: value at each N and the exponent
b of value ∝ N^b between consecutive points and over the whole range (log-log least squares)."""
import json, math, sys

runs = []
for d in sys.argv[1:]:
    r = json.load(open(d + "/results.json"))
    f = r["figures"]
    n = max(int(k.rsplit(".", 1)[1]) for k in f if k.startswith("machina.list.cli.") and k.rsplit(".", 1)[1].isdigit())
    runs.append((n, f, d))
runs.sort()

def med(f, k):
    return f[k]["median"] if k in f else None

rows = [
    ("RSS, N defined (MiB)", lambda f, n: med(f, "machina.rss.defined")),
    ("RSS, N running (MiB)", lambda f, n: med(f, "scale.rss.running")),
    ("RSS per defined guest (KiB)", None),
    ("GetManagedObjects, N defined (ms)", lambda f, n: med(f, f"machina.gmo.bus.{n}")),
    ("  machinad CPU per GMO (ms)", lambda f, n: med(f, f"machina.gmo.cpu.daemon.{n}")),
    ("  dbus-daemon CPU per GMO (ms)", lambda f, n: med(f, f"machina.gmo.cpu.bus.{n}")),
    ("  client walk (ms)", lambda f, n: med(f, f"machina.gmo.walk.{n}")),
    ("GetManagedObjects, N running (ms)", lambda f, n: med(f, "scale.gmo.running")),
    ("ListMachines, N defined (ms)", lambda f, n: med(f, f"machina.list.bus.{n}")),
    ("machinactl list, N defined (ms)", lambda f, n: med(f, f"machina.list.cli.{n}")),
    ("  floor process (ms)", lambda f, n: med(f, f"floor.gmo_process.{n}")),
    ("machinactl list, N running (ms)", lambda f, n: med(f, "scale.list.cli.running")),
    ("activation, N defined (ms)", lambda f, n: med(f, "machina.activation")),
    ("start: wall for N (s)", lambda f, n: n / med(f, "scale.start.throughput")),
    ("start throughput (/s)", lambda f, n: med(f, "scale.start.throughput")),
    ("stop: wall for N (s)", lambda f, n: n / med(f, "scale.stop.throughput")),
    ("stop throughput (/s)", lambda f, n: med(f, "scale.stop.throughput")),
    ("storm: stop → PropertiesChanged, median (ms)", lambda f, n: med(f, "scale.pc.latency")),
    ("storm: stop → PropertiesChanged, max (ms)", lambda f, n: f["scale.pc.latency"]["max"]),
    ("storm: first stop → last PropertiesChanged (ms)", lambda f, n: med(f, "scale.pc.total")),
]
ns = [n for n, _, _ in runs]
print("| figure | " + " | ".join(f"N={n}" for n in ns) + " | " +
      " | ".join(f"b {ns[i]}→{ns[i+1]}" for i in range(len(ns) - 1)) + " | b (fit) |")
print("|---" * (2 * len(ns) + 1) + "|")
for name, get in rows:
    if get is None:
        # per guest: slope between consecutive points
        v = [None] + [(med(runs[i+1][1], "machina.rss.defined") - med(runs[i][1], "machina.rss.defined")) * 1024 /
                      (runs[i+1][0] - runs[i][0]) for i in range(len(runs) - 1)]
        print(f"| {name} (slope) | " + " | ".join("" if x is None else f"{x:.2f}" for x in v) + " |" * (len(ns)) + " |")
        continue
    v = [get(f, n) for n, f, _ in runs]
    ex = []
    for i in range(len(v) - 1):
        ex.append(math.log(v[i + 1] / v[i]) / math.log(ns[i + 1] / ns[i]) if v[i] and v[i + 1] else None)
    xs = [math.log(n) for n in ns]
    ys = [math.log(x) for x in v]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    fmt = lambda x: "" if x is None else (f"{x:.3g}" if x < 100 else f"{x:.0f}")
    print(f"| {name} | " + " | ".join(fmt(x) for x in v) + " | " + " | ".join("" if e is None else f"{e:.2f}" for e in ex)
          + f" | {b:.2f} |")
