/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machina cockpit page: the guests of machinad with live state, lifecycle buttons and a detail
 * view. Everything comes from the bus: one GetManagedObjects, then PropertiesChanged and
 * InterfacesAdded/Removed (no polling). Generation orders updates, so a stale one is dropped. */
"use strict";

(function () {
    const BUS_NAME = "org.machina";
    const ROOT = "/org/machina";
    const MACHINE = "org.machina.Machine";
    const PROPS = "org.freedesktop.DBus.Properties";
    const OBJMGR = "org.freedesktop.DBus.ObjectManager";
    const CONTROL_ACTION = "org.machina.machine.control";
    const SHUTDOWN_TIMEOUT_USEC = 60 * 1000 * 1000;
    const CALL_TIMEOUT_MS = 120 * 1000;

    /* path → { props: {…}, busy: "Start"|null, error: string|null } */
    const guests = new Map();
    let client = null;
    let knownOwner;
    let selected = null;       /* path of the guest shown in the detail view */
    let detailSeq = 0;         /* drops GetConfig replies for a guest no longer selected */

    /* cockpit's dbus-json3 hands variants over as {t: signature, v: value}. */
    function unwrap(value) {
        if (value !== null && typeof value === "object" && "t" in value && "v" in value)
            return value.v;
        return value;
    }

    function unwrapAll(dict) {
        const out = {};
        for (const key of Object.keys(dict || {}))
            out[key] = unwrap(dict[key]);
        return out;
    }

    function entry(path) {
        let g = guests.get(path);
        if (!g) {
            g = { props: {}, busy: null, error: null };
            guests.set(path, g);
        }
        return g;
    }

    /* A full set of properties (GetManagedObjects, InterfacesAdded). Updates that arrived
     * before it with a newer Generation win over it. */
    function setAll(path, props) {
        const g = entry(path);
        const gen = g.props.Generation;
        if (gen !== undefined && props.Generation !== undefined && gen > props.Generation)
            g.props = Object.assign({}, props, g.props);
        else
            g.props = Object.assign({}, g.props, props);
    }

    function applyChanged(path, changed) {
        const g = entry(path);
        const gen = g.props.Generation;
        if (gen !== undefined && changed.Generation !== undefined && changed.Generation <= gen)
            return false;      /* stale or duplicate */
        Object.assign(g.props, changed);
        return true;
    }

    /* --- rendering --- */

    function el(tag, attrs, ...children) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attrs || {})) {
            if (key === "class")
                node.className = value;
            else if (key.startsWith("data-") || key.startsWith("aria-"))
                node.setAttribute(key, value);
            else
                node[key] = value;
        }
        for (const child of children)
            node.append(child);
        return node;
    }

    function formatMemory(mib) {
        if (mib === undefined)
            return "";
        return mib >= 1024 && mib % 1024 === 0 ? (mib / 1024) + " GiB" : mib + " MiB";
    }

    /* Which buttons a state allows; the daemon decides in the end, this only avoids
     * offering what would fail anyway. */
    const ACTIONS = [
        { method: "Start", label: "Start", when: ["stopped", "crashed"] },
        { method: "Shutdown", label: "Shut down", when: ["running"],
          args: [SHUTDOWN_TIMEOUT_USEC, 0], signature: "tt" },
        { method: "Stop", label: "Stop", when: ["running", "paused", "starting", "stopping"] },
        { method: "Reboot", label: "Reboot", when: ["running"] },
        { method: "Pause", label: "Pause", when: ["running"] },
        { method: "Resume", label: "Resume", when: ["paused"] },
    ];

    function renderRow(path, g) {
        const p = g.props;
        const state = p.State || "unknown";
        const nameButton = el("button", { class: "link", type: "button", textContent: p.Name,
                                          title: "Show details of " + p.Name });
        nameButton.addEventListener("click", () => select(path));
        const actions = el("td", { class: "actions" });
        for (const a of ACTIONS) {
            const b = el("button", { type: "button", textContent: a.label,
                                     disabled: g.busy !== null || !a.when.includes(state),
                                     "data-action": a.method });
            b.addEventListener("click", () => invoke(path, a));
            actions.append(b);
        }
        const row = el("tr", { "data-name": p.Name, "data-state": state,
                               "data-generation": String(p.Generation) },
                       el("th", { scope: "row" }, nameButton),
                       el("td", { class: "state state-" + state, textContent: g.busy ? state + " …" : state }),
                       el("td", { class: "reason", textContent: p.StateReason || "" }),
                       el("td", { textContent: p.CPUs !== undefined ? String(p.CPUs) : "" }),
                       el("td", { textContent: formatMemory(p.MemoryMiB) }),
                       actions);
        if (path === selected)
            row.classList.add("selected");
        if (!g.error)
            return [row];
        const errorRow = el("tr", { class: "error-row", "data-error-for": p.Name },
                            el("td", { colSpan: 6, class: "error", role: "alert", textContent: g.error }));
        return [row, errorRow];
    }

    function render() {
        const tbody = document.querySelector("#guests tbody");
        const rows = [];
        const paths = [...guests.keys()].filter(path => guests.get(path).props.Name !== undefined);
        paths.sort((a, b) => guests.get(a).props.Name.localeCompare(guests.get(b).props.Name));
        for (const path of paths)
            rows.push(...renderRow(path, guests.get(path)));
        tbody.replaceChildren(...rows);
        document.getElementById("empty").hidden = paths.length > 0 || client === null;
        renderDetailProps();
    }

    function setStatus(text, isError) {
        const s = document.getElementById("status");
        s.textContent = text;
        s.classList.toggle("error", Boolean(isError));
    }

    /* --- errors --- */

    function describeError(method, name, ex) {
        const what = method + " of " + name + " failed: ";
        const dbusName = ex.name || "";
        const message = ex.message || String(ex);
        if (dbusName === "org.freedesktop.DBus.Error.AccessDenied" ||
            dbusName === "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") {
            /* Name the polkit action, so the administrator knows what to grant. */
            const action = message.includes(CONTROL_ACTION) ? "" : " (polkit action " + CONTROL_ACTION + ")";
            return what + "not authorized: " + message + action;
        }
        const short = dbusName.startsWith("org.machina.Error.") ? dbusName.slice(18) + ": " : "";
        return what + short + message;
    }

    /* --- actions --- */

    function invoke(path, action) {
        const g = guests.get(path);
        if (!g || g.busy)
            return;
        const name = g.props.Name;
        g.busy = action.method;
        g.error = null;
        render();
        const options = { timeout: CALL_TIMEOUT_MS };
        if (action.signature)
            options.type = action.signature;
        client.call(path, MACHINE, action.method, action.args || [], options)
            .then(() => {
                g.busy = null;
            })
            .catch(ex => {
                g.busy = null;
                g.error = describeError(action.method, name, ex);
                console.warn(g.error);
            })
            .finally(render);
    }

    /* --- detail view --- */

    function renderDetailProps() {
        const section = document.getElementById("detail");
        const g = selected && guests.get(selected);
        if (!g) {
            section.hidden = true;
            return;
        }
        const p = g.props;
        const items = [
            ["UUID", p.UUID], ["Description", p.Description], ["State", p.State],
            ["Reason", p.StateReason], ["CPUs", p.CPUs], ["Memory", formatMemory(p.MemoryMiB)],
            ["Display", p.Display || "none"], ["Console", p.Console || "none"],
            ["Tags", (p.Tags || []).join(", ") || "none"], ["Autostart", p.Autostart],
            ["Unit", p.Unit], ["Main PID", p.MainPID ? p.MainPID : "–"],
            ["Owner", p.Owner === undefined ? "" : (p.Owner === 0 ? "root" : "uid " + p.Owner)],
            ["Pending changes", p.PendingChanges ? "yes (applied at next start)" : "no"],
        ];
        const dl = document.getElementById("detail-props");
        dl.replaceChildren(...items.flatMap(([k, v]) => [el("dt", { textContent: k }),
                                                           el("dd", { textContent: v === undefined ? "" : String(v) })]));
        document.getElementById("detail-title").textContent = p.Name;
        section.hidden = false;
    }

    function select(path) {
        selected = path;
        const seq = ++detailSeq;
        const config = document.getElementById("detail-config");
        const err = document.getElementById("detail-error");
        config.textContent = "Loading…";
        err.hidden = true;
        render();
        client.call(path, MACHINE, "GetConfig", [], { timeout: CALL_TIMEOUT_MS })
            .then(([json]) => {
                if (seq !== detailSeq)
                    return;
                try {
                    config.textContent = JSON.stringify(JSON.parse(json), null, 2);
                } catch (e) {
                    config.textContent = json;
                }
            })
            .catch(ex => {
                if (seq !== detailSeq)
                    return;
                config.textContent = "";
                err.textContent = "GetConfig failed: " + (ex.message || String(ex));
                err.hidden = false;
            });
    }

    /* --- bus --- */

    function load() {
        client.call(ROOT, OBJMGR, "GetManagedObjects", [], { timeout: CALL_TIMEOUT_MS })
            .then(([objects]) => {
                for (const path of Object.keys(objects)) {
                    const ifaces = objects[path];
                    if (ifaces[MACHINE])
                        setAll(path, unwrapAll(ifaces[MACHINE]));
                }
                /* Objects that did not come back are gone. */
                for (const path of [...guests.keys()])
                    if (!objects[path] || !objects[path][MACHINE])
                        guests.delete(path);
                setStatus(guests.size + (guests.size === 1 ? " guest" : " guests") + " on the system bus");
                render();
            })
            .catch(ex => {
                setStatus("Cannot list guests from " + BUS_NAME + ": " + (ex.message || String(ex)), true);
            });
    }

    function onOwner(event, owner) {
        if (owner && knownOwner !== undefined && owner !== knownOwner) {
            /* machinad was (re)started: its Generation counters start again, so start over. */
            guests.clear();
            load();
        } else if (!owner && knownOwner) {
            setStatus("machinad is idle; it starts again on the next action");
        }
        knownOwner = owner;
    }

    function init() {
        client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        client.addEventListener("owner", onOwner);
        client.addEventListener("close", (event, options) => {
            setStatus("Lost the connection to the system bus" +
                      (options && options.problem ? ": " + options.problem : ""), true);
        });
        client.subscribe({ interface: PROPS, member: "PropertiesChanged", path_namespace: ROOT },
                         (path, iface, signal, args) => {
                             if (args[0] !== MACHINE)
                                 return;
                             if (applyChanged(path, unwrapAll(args[1])))
                                 render();
                         });
        client.subscribe({ interface: OBJMGR, path: ROOT }, (path, iface, signal, args) => {
            if (signal === "InterfacesAdded" && args[1][MACHINE]) {
                setAll(args[0], unwrapAll(args[1][MACHINE]));
            } else if (signal === "InterfacesRemoved" && args[1].includes(MACHINE)) {
                guests.delete(args[0]);
                if (selected === args[0])
                    selected = null;
            } else {
                return;
            }
            render();
        });
        load();
        cockpit.transport.wait(() => document.body.classList.add("ready"));
    }

    document.addEventListener("DOMContentLoaded", init);
}());
