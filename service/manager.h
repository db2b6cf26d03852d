/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's model: all guests, the host file, where things live. manager-bus.c is its face. */

#include <glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "diagnostics.h"
#include "machine.h"

#define MANAGER_IDLE_TIMEOUT_DEFAULT_USEC (30ULL * 1000000ULL)

/* Limits on what callers control (LimitsExceeded; docs/machinad.md lists them all). Each guest
 * runs at most one lifecycle operation (Busy), a definition is at most DEF_FILE_SIZE_MAX bytes,
 * QMP lines and queues are bounded in qmp.h, console buffers in console.h. Calls parked for
 * polkit are bounded in total and per guest. The environment variables MACHINA_MACHINES_MAX,
 * MACHINA_POLKIT_QUERIES_MAX and MACHINA_POLKIT_QUERIES_PER_MACHINE_MAX lower these (tests). */
#define MANAGER_MACHINES_MAX 16384U
/* 48: with the 64 calls to systemd (systemd-glue.c) below dbus-daemon's 128 pending replies. */
#define MANAGER_POLKIT_QUERIES_MAX 48U
#define MANAGER_POLKIT_QUERIES_PER_MACHINE_MAX 16U

/* DefineMachine / CreateMachine flags. */
#define MACHINA_DEFINE_REPLACE (UINT64_C(1) << 0)

struct Manager {
        sd_event *event;
        sd_bus *bus;
        bool user_mode;
        char *config_dir;
        char *runtime_dir;
        uint64_t idle_timeout_usec;

        HostConfig *host;
        GHashTable *machines;           /* name → Machine*, owned */
        unsigned next_index;            /* machine-index for guests defined after load */
        bool published;                 /* objects registered: changes are signalled */
        GHashTable *polkit_registry;    /* parked calls waiting for polkit (polkit.c) */
        sd_event_source *gc_event;      /* removes stopped transient guests, outside callbacks */
        unsigned machines_max;
        unsigned polkit_queries_max;
        unsigned polkit_queries_per_machine_max;
        struct SystemdCalls *systemd_calls; /* our calls to systemd, bounded (systemd-glue.c) */

};

int manager_new(bool user_mode, const char *config_dir, const char *runtime_dir, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}

/* Load every definition from the config dir; broken files are logged and skipped. */
int manager_load(Manager *m);
/* Creates the runtime dir (mode 0755 despite the umask) if missing. */
int manager_make_runtime_dir(Manager *m);

Machine *manager_get_machine(Manager *m, const char *name);
Machine *manager_get_machine_by_uuid(Manager *m, const char *uuid);
Machine *manager_get_machine_by_unit(Manager *m, const char *unit);

/* Take over guests whose units are running (after a daemon restart or crash). */
int manager_adopt_running(Manager *m);

/* Validate, resolve and write a definition; diag says what is wrong on -EINVAL. Returns -EEXIST
 * when the name exists and REPLACE is not set, -EPERM (reasons in diag) when caller may not
 * reference what the definition names (lib/references.h; not for the daemon's own uid). */
int manager_define_machine(Manager *m, const char *json, uint64_t flags, uid_t caller,
                           Diagnostics *diag, Machine **ret);
/* Room for one more guest? */
bool manager_may_add_machine(Manager *m);

/* CreateMachine: validate and resolve like DefineMachine, publish a transient guest (never
 * written to disk). The caller starts it; it is removed once it stops (manager_schedule_gc()).
 * -EEXIST when the name exists, -EPERM as manager_define_machine(). */
int manager_create_machine(Manager *m, const char *json, uid_t caller, Diagnostics *diag,
                           Machine **ret);
/* Remove stopped transient guests soon, from the event loop (never under a caller's feet). */
void manager_schedule_gc(Manager *m);
/* -ENXIO unknown, -EBUSY while running. Deletes the definition file, never disk images. */
int manager_undefine_machine(Manager *m, const char *name);
/* Re-read all files: new ones appear, removed ones (not running) disappear, changed ones are
 * replaced. A broken file (or one that no longer resolves) is skipped and the guest it defined
 * keeps its previous good version. Returns the number of errors; ret_report (optional) gets
 * them formatted "file: path: reason". */
int manager_reload(Manager *m, char ***ret_report);

/* Whether machinad may exit when idle: no guest running, nothing pending. */
bool manager_is_idle(Manager *m);
