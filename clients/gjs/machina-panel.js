#!/usr/bin/env gjs
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// machina-panel.js: the core of a GNOME Shell extension for machina, as a plain gjs script. It
// builds proxies from the installed introspection XML (Gio.DBusProxy.makeProxyWrapper), lists the
// guests and prints every state change as it is signalled (PropertiesChanged, no polling).
//
// Usage: gjs machina-panel.js [--user] [--once] [--interfaces-dir=DIR]
//   --user             talk to machinad --user on the session bus (default: the system bus)
//   --once             print the list and exit
//   --interfaces-dir   where org.machina.*.xml are (default $MACHINA_INTERFACES_DIR, else
//                      /usr/share/dbus-1/interfaces)
//
// Output, one event a line (stable, so scripts and tests can follow it):
//   list NAME STATE REASON      a guest, in the initial listing (sorted by name)
//   ready N                     the initial listing is complete: N guests
//   state NAME STATE REASON     a guest changed state
//   added NAME STATE / removed NAME
//   error TEXT

imports.gi.versions.Gio = '2.0';
imports.gi.versions.GLib = '2.0';
const {Gio, GLib} = imports.gi;
const System = imports.system;

const BUS_NAME = 'org.machina';
const MANAGER_PATH = '/org/machina';

function parseArgs(argv) {
    const opts = {user: false, once: false, interfacesDir: null};
    for (const arg of argv) {
        if (arg === '--user')
            opts.user = true;
        else if (arg === '--once')
            opts.once = true;
        else if (arg.startsWith('--interfaces-dir='))
            opts.interfacesDir = arg.slice('--interfaces-dir='.length);
        else
            throw new Error(`unknown argument ${arg}`);
    }
    opts.interfacesDir = opts.interfacesDir || GLib.getenv('MACHINA_INTERFACES_DIR') ||
        '/usr/share/dbus-1/interfaces';
    return opts;
}

function loadInterface(dir, name) {
    const [, bytes] = GLib.file_get_contents(GLib.build_filenamev([dir, `${name}.xml`]));
    return new TextDecoder().decode(bytes);
}

class Panel {
    constructor(opts) {
        this._opts = opts;
        this._bus = opts.user ? Gio.DBus.session : Gio.DBus.system;
        this._ManagerProxy = Gio.DBusProxy.makeProxyWrapper(
            loadInterface(opts.interfacesDir, 'org.machina.Manager'));
        this._MachineProxy = Gio.DBusProxy.makeProxyWrapper(
            loadInterface(opts.interfacesDir, 'org.machina.Machine'));
        this._machines = new Map();   // object path → { proxy, generation, state }
        this._listed = false;
        this.loop = new GLib.MainLoop(null, false);
    }

    start() {
        this._manager = new this._ManagerProxy(this._bus, BUS_NAME, MANAGER_PATH, (proxy, error) => {
            if (error) {
                this._fail(`cannot reach ${BUS_NAME}: ${error.message}`);
                return;
            }
            // Before the initial listing is printed, a new guest simply joins it.
            this._manager.connectSignal('MachineNew', (p, sender, [, path]) => this._add(path, this._listed));
            this._manager.connectSignal('MachineRemoved', (p, sender, [name, path]) => this._remove(path, name));
            // machinad is bus-activated and may exit when idle: list again when it comes back.
            this._manager.connect('notify::g-name-owner', () => {
                if (this._manager.g_name_owner && this._listed)
                    this._list();
            });
            this._list();
        });
    }

    _list() {
        this._manager.ListMachinesRemote((result, error) => {
            if (error) {
                this._fail(`ListMachines: ${error.message}`);
                return;
            }
            const [machines] = result;
            const paths = new Set(machines.map(m => m[3]));
            for (const [path, m] of this._machines) {
                if (!paths.has(path))
                    this._remove(path, m.proxy.Name);
            }
            const pending = machines.filter(m => !this._machines.has(m[3]));
            if (pending.length === 0) {
                this._initialDone();
                return;
            }
            let left = pending.length;
            for (const [, , , path] of pending) {
                this._add(path, this._listed, () => {
                    if (--left === 0)
                        this._initialDone();
                });
            }
        });
    }

    _initialDone() {
        if (this._listed)
            return;
        this._listed = true;
        const sorted = [...this._machines.values()].filter(m => m.state !== null).sort((a, b) => a.proxy.Name.localeCompare(b.proxy.Name));
        for (const m of sorted)
            this._print(`list ${m.proxy.Name} ${m.proxy.State} ${m.proxy.StateReason || '-'}`);
        this._print(`ready ${sorted.length}`);
        if (this._opts.once)
            this.loop.quit();
    }

    _add(path, announce, done) {
        if (this._machines.has(path)) {
            if (done)
                done();
            return;
        }
        const entry = {proxy: null, generation: 0, state: null};
        this._machines.set(path, entry);
        entry.proxy = new this._MachineProxy(this._bus, BUS_NAME, path, (proxy, error) => {
            if (error) {
                this._print(`error ${path}: ${error.message}`);
                this._machines.delete(path);
            } else {
                entry.generation = proxy.Generation;
                entry.state = proxy.State;
                proxy.connect('g-properties-changed', (p, changed) => this._changed(entry, changed.deepUnpack()));
                // A new machinad counts Generation from the start again (GDBusProxy then reloads
                // every property and signals them as changed).
                proxy.connect('notify::g-name-owner', () => {
                    entry.generation = 0;
                });
                if (announce)
                    this._print(`added ${proxy.Name} ${proxy.State}`);
            }
            if (done)
                done();
        });
    }

    _remove(path, name) {
        const m = this._machines.get(path);
        if (!m)
            return;
        this._machines.delete(path);
        this._print(`removed ${name}`);
    }

    _changed(entry, changed) {
        // Generation increases with every change: one not newer than what we have is stale.
        const generation = changed.Generation ? changed.Generation.deepUnpack() : null;
        if (generation !== null && generation <= entry.generation)
            return;
        if (generation !== null)
            entry.generation = generation;
        if (!changed.State)
            return;
        const state = changed.State.deepUnpack();
        if (state === entry.state)
            return;
        entry.state = state;
        const reason = changed.StateReason ? changed.StateReason.deepUnpack() : entry.proxy.StateReason;
        if (this._listed)
            this._print(`state ${entry.proxy.Name} ${state} ${reason || '-'}`);
    }

    _print(line) {
        print(line);
    }

    _fail(message) {
        this._print(`error ${message}`);
        this.exitCode = 1;
        this.loop.quit();
    }
}

function main(argv) {
    let opts;
    try {
        opts = parseArgs(argv);
    } catch (e) {
        printerr(`machina-panel: ${e.message}`);
        return 2;
    }
    const panel = new Panel(opts);
    panel.exitCode = 0;
    for (const signum of [2, 15]) {   // SIGINT, SIGTERM: leave the loop, exit cleanly
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, () => {
            panel.loop.quit();
            return GLib.SOURCE_REMOVE;
        });
    }
    panel.start();
    panel.loop.run();
    return panel.exitCode;
}

System.exit(main(ARGV));
