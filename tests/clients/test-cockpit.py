#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cockpit page in a real browser, the way a person uses it: Debian's cockpit-ws with a local
cockpit-bridge session on loopback against the bed's bus, headless Chromium driven over the
DevTools protocol. Open the page, see the guest listed as stopped, click Start, see it running
without a reload, open its details (GetConfig), click Shut down, see it stopped. Screenshots go
to meson-logs/ as artefacts."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clientfixture import ARTEFACT_DIR, Child, Failure, MachinadBed, check, install_tree  # noqa: E402
import dbus  # noqa: E402

COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
CHROMIUM = "/usr/bin/chromium"
GUEST = "alpha"        # owned by USER: controlled without polkit
OTHER = "beta"         # owned by root: USER is denied by polkit
USER = 65534

try:
    import websocket  # python3-websocket
except ImportError:
    websocket = None


def log(msg):
    print(f"test-cockpit: {msg}", file=sys.stderr, flush=True)


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        r = pred()
        if r:
            return r
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class CockpitWs:
    """cockpit-ws on a loopback socket we bind (socket activation: no free-port race), run as an
    unprivileged user, so its bridge gets no rights beyond what machinad grants that user."""

    def __init__(self, tmp, bus_address, share):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        home = os.path.join(tmp, "home")
        runtime = os.path.join(tmp, "xdg-runtime")
        for d in (home, runtime, os.path.join(tmp, "config"), os.path.join(tmp, "data-home")):
            os.makedirs(d, mode=0o700)
            os.chown(d, USER, USER)
        check(os.path.exists(os.path.join(share, "cockpit", "machina", "manifest.json")),
              "the page is installed to <datadir>/cockpit/machina")
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOME": home,
            "XDG_RUNTIME_DIR": runtime,
            # No /etc/cockpit, no ~/.local/share/cockpit of the host: only our installed page
            # and the system's cockpit packages (base1 from cockpit-bridge).
            "XDG_CONFIG_DIRS": os.path.join(tmp, "config"),
            "XDG_CONFIG_HOME": os.path.join(tmp, "config"),
            "XDG_DATA_HOME": os.path.join(tmp, "data-home"),
            "XDG_DATA_DIRS": share + ":/usr/share",
            "DBUS_SYSTEM_BUS_ADDRESS": bus_address,
            # The bridge wants a session bus too: give it the bed's, so none gets autolaunched.
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
        }
        # LISTEN_PID must be the PID of cockpit-ws itself: let the shell set it, then exec.
        fd = self.sock.fileno()
        move = "" if fd == 3 else f"exec 3<&{fd} {fd}<&-; "
        script = move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
        argv = ["/bin/sh", "-c", script, "setpriv", f"--reuid={USER}", f"--regid={USER}",
                "--clear-groups", COCKPIT_WS, "--no-tls", "--local-session=cockpit-bridge",
                "--address=127.0.0.1", f"--port={self.port}"]
        self.child = Child("cockpit-ws", argv, env, os.path.join(tmp, "cockpit-ws.log"),
                           pass_fds=(fd,))

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.sock.close()
        self.child.stop()


class Chromium:
    def __init__(self, tmp):
        self.profile = os.path.join(tmp, "chromium-profile")
        os.makedirs(self.profile)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOME": os.path.join(tmp, "home"),
            "XDG_CONFIG_HOME": os.path.join(tmp, "chromium-config"),
            "XDG_CACHE_HOME": os.path.join(tmp, "chromium-cache"),
            "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg-runtime"),
            # Keep the browser off every bus (it probes for a few desktop services).
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
            "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(tmp, "no-such-bus"),
        }
        argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--user-data-dir=" + self.profile, "--remote-debugging-port=0",
                "--window-size=1100,760", "about:blank"]
        self.child = Child("chromium", argv, env, os.path.join(tmp, "chromium.log"))
        port_file = os.path.join(self.profile, "DevToolsActivePort")

        def port():
            if not self.child.alive():
                raise Failure(f"chromium exited: {self.child.log_text()[-3000:]}")
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                return int(lines[0]) if len(lines) >= 2 and lines[1] else None
            except (OSError, ValueError):
                return None
        self.port = wait_for(port, 60, "chromium's DevToolsActivePort")

    def page_ws_url(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        check(pages, f"no page target in {targets}")
        return pages[0]["webSocketDebuggerUrl"]

    def stop(self):
        self.child.stop()


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's WebSocket."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, timeout=30, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise Failure(f"DevTools {method}: no answer in {timeout}s") from None
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise Failure(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise Failure(f"evaluate {expression!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def page_errors(self):
        """Uncaught exceptions, console errors and CSP refusals seen so far."""
        errors = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                errors.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                text = p["entry"].get("text", "")
                # The browser's own noise (favicon) is not the page's fault.
                if "favicon" not in text and "favicon" not in p["entry"].get("url", ""):
                    errors.append(text)
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
        return errors

    def wait_js(self, expression, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            errors = self.page_errors()
            if errors:
                raise Failure(f"page errors while waiting for {what}: {errors}")
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {timeout:.0f}s waiting for {what}; page: "
                              f"{self.evaluate('document.body ? document.body.innerText : null')!r}")
            time.sleep(0.1)

    def click(self, selector):
        """A real mouse click (press and release) at the centre of the element."""
        box = self.evaluate(
            "(() => { const e = document.querySelector(%s); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2, disabled: !!e.disabled}; })()"
            % json.dumps(selector))
        check(box is not None, f"no element {selector}")
        check(not box["disabled"], f"{selector} is disabled")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"],
                      button="left" if kind != "mouseMoved" else "none", clickCount=1)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        log(f"screenshot {path}")

    def close(self):
        self.ws.close()


def row_state(name):
    return ("(() => { const r = document.querySelector('tr[data-name=%s]');"
            " return r ? r.dataset.state : null; })()" % json.dumps(name))


def button(name, action):
    return f'tr[data-name="{name}"] button[data-action="{action}"]'


def drive(bed, tmp, root):
    ws = chromium = tools = None
    try:
        ws = CockpitWs(tmp, bed.bed.address, os.path.join(root, "share"))
        chromium = Chromium(tmp)
        tools = DevTools(chromium.page_ws_url())
        for domain in ("Page", "Runtime", "Log"):
            tools.call(domain + ".enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1100, height=760,
                   deviceScaleFactor=1, mobile=False)

        path = str(bed.manager().GetMachine(GUEST))
        t0 = time.monotonic()
        tools.call("Page.navigate", url=ws.url("/cockpit/@localhost/machina/index.html"))
        tools.wait_js(row_state(GUEST) + " === 'stopped' && " + row_state(OTHER) + " === 'stopped'",
                      60, f"{GUEST} and {OTHER} listed as stopped")
        log(f"page shows {GUEST} stopped after {time.monotonic() - t0:.2f}s")
        helpers = ws.child.note_descendants()
        check(helpers, "cockpit-ws started a bridge for the page")
        log(f"cockpit-ws {ws.child.pid} runs {len(helpers)} helper(s): {helpers}")
        # Marks this document: a reload would lose it.
        tools.evaluate("window.machinaTestMark = 'no-reload'; true")
        check(tools.evaluate("document.querySelector('tr[data-name=\"%s\"] .reason') !== null" % GUEST),
              "reason column rendered")

        # Not allowed: the error shows in place, in the guest's row, naming the polkit action.
        tools.click(button(OTHER, "Start"))
        error = tools.wait_js("(() => { const e = document.querySelector('tr[data-error-for=\"%s\"]');"
                              " return e ? e.textContent : null; })()" % OTHER, 30, f"Start of {OTHER} refused")
        log(f"error shown: {error}")
        check(error.startswith(f"Start of {OTHER} failed: not authorized") and
              "org.machina.machine.control" in error, f"error names the action: {error!r}")
        check(str(bed.props(str(bed.manager().GetMachine(OTHER)))["State"]) == "stopped",
              f"{OTHER} was not started")

        t0 = time.monotonic()
        tools.click(button(GUEST, "Start"))
        tools.wait_js(row_state(GUEST) + " === 'running'", 60, f"{GUEST} shown running")
        log(f"page shows {GUEST} running {time.monotonic() - t0:.2f}s after the click")
        check(str(bed.props(path)["State"]) == "running", "the daemon agrees: running")

        tools.click(f'tr[data-name="{GUEST}"] button.link')
        tools.wait_js("document.getElementById('detail-config').textContent.includes('\"name\": \"%s\"')"
                      % GUEST, 30, "GetConfig in the detail view")
        cpus = tools.evaluate("[...document.querySelectorAll('#detail-props dt')]"
                              ".find(e => e.textContent === 'CPUs').nextElementSibling.textContent")
        check(cpus == str(bed.props(path)["CPUs"]), f"CPUs in the detail view: {cpus!r}")
        tools.wait_js("document.querySelector('button[data-action=\"Shutdown\"]:not([disabled])') !== null",
                      10, "Shut down enabled")
        tools.screenshot(os.path.join(ARTEFACT_DIR, "cockpit-running.png"))
        # As a person would, let the guest boot before asking it to shut down (an ACPI request
        # before its acpid runs is lost; machinad repeats it, but a loaded CI host is slow).
        t0 = time.monotonic()
        bed.wait_guest_ready(GUEST, timeout=120)
        log(f"guest answered on its console after {time.monotonic() - t0:.2f}s more")

        t0 = time.monotonic()
        tools.click(button(GUEST, "Shutdown"))
        tools.wait_js(row_state(GUEST) + " === 'stopped'", 90, f"{GUEST} shown stopped")
        log(f"page shows {GUEST} stopped {time.monotonic() - t0:.2f}s after Shut down")
        reason = tools.evaluate("document.querySelector('tr[data-name=\"%s\"] .reason').textContent" % GUEST)
        check(reason == "guest-shutdown", f"reason shown: {reason!r}")
        check(tools.evaluate("window.machinaTestMark") == "no-reload", "the page was not reloaded")
        check(tools.evaluate(row_state(OTHER)) == "stopped", f"{OTHER} untouched: still stopped")
        check(not tools.evaluate("document.querySelector('tr[data-error-for=\"%s\"]')" % GUEST),
              f"no error shown for {GUEST}")
        tools.screenshot(os.path.join(ARTEFACT_DIR, "cockpit-stopped.png"))
        errors = tools.page_errors()
        check(not errors, f"page errors: {errors}")
    except Failure:
        if ws:
            log("cockpit-ws log:\n" + ws.child.log_text()[-4000:])
        if chromium:
            log("chromium log (tail):\n" + chromium.child.log_text()[-2000:])
        raise
    finally:
        if tools:
            tools.close()
        if chromium:
            chromium.stop()
        if ws:
            ws.stop()


def leftovers(tmp):
    """Any process whose command line still names our temp dir (we started all of those)."""
    left = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if tmp.encode() in f.read():
                        left.append(int(name))
            except OSError:
                pass
    return left


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root", flush=True)
        sys.exit(77)
    missing = [p for p in (COCKPIT_WS, CHROMIUM, "/usr/bin/cockpit-bridge") if not os.path.exists(p)]
    if websocket is None:
        missing.append("python3-websocket")
    if missing:
        print(f"FAIL: missing {missing}: run tools/install-deps", file=sys.stderr, flush=True)
        sys.exit(1)
    os.makedirs(ARTEFACT_DIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="machina-cockpit-")
    os.chmod(tmp, 0o755)    # cockpit-ws runs as USER and serves the page installed in here
    b = None
    failed = True
    try:
        root = install_tree(tmp)
        # A second guest that stays stopped: rows are independent.
        b = MachinadBed([dict(name=GUEST, owner=USER), dict(name=OTHER)])
        drive(b, tmp, root)
        left = leftovers(tmp)
        check(not left, f"processes left running: {left}")
        b.check_daemon_exit()
        failed = False
    except (Failure, dbus.DBusException, subprocess.SubprocessError, OSError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if b:
            b.close(failed=failed)
        shutil.rmtree(tmp, ignore_errors=True)
    print("FAIL" if failed else "PASS", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
