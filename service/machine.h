/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The model of one guest as machinad knows it: its definition and its live state. No sd-bus types
 * in this API; machine-bus.c is its face on the bus. */

#include <stdint.h>

#include "machine-def.h"

typedef struct Manager Manager;
typedef struct QmpClient QmpClient;
typedef struct Console Console;
typedef struct sd_bus_message sd_bus_message;
typedef struct sd_bus_slot sd_bus_slot;
typedef struct sd_event_source sd_event_source;

/* The lifecycle operation in flight on a guest; a second one gets Busy. */
typedef enum MachineOperation {
        MACHINE_OP_NONE,
        MACHINE_OP_START,
        MACHINE_OP_STOP,
        MACHINE_OP_SHUTDOWN,
        MACHINE_OP_REBOOT,
        MACHINE_OP_PAUSE,
        MACHINE_OP_RESUME,
        MACHINE_OP_KILL,
        _MACHINE_OP_MAX,
        _MACHINE_OP_INVALID = -EINVAL,
} MachineOperation;

typedef enum MachineState {
        MACHINE_STOPPED,
        MACHINE_STARTING,
        MACHINE_RUNNING,
        MACHINE_PAUSED,
        MACHINE_STOPPING,
        MACHINE_CRASHED,
        _MACHINE_STATE_MAX,
        _MACHINE_STATE_INVALID = -EINVAL,
} MachineState;

typedef enum MachineStateReason {
        MACHINE_REASON_NONE,
        MACHINE_REASON_USER,
        MACHINE_REASON_GUEST_SHUTDOWN,
        MACHINE_REASON_GUEST_RESET,
        MACHINE_REASON_TIMEOUT_FORCED,
        MACHINE_REASON_CRASHED,
        MACHINE_REASON_KILLED,
        MACHINE_REASON_HOST,
        MACHINE_REASON_ADOPTED,
        _MACHINE_REASON_MAX,
        _MACHINE_REASON_INVALID = -EINVAL,
} MachineStateReason;

DECLARE_STRING_TABLE_LOOKUP(machine_state, MachineState);
DECLARE_STRING_TABLE_LOOKUP(machine_state_reason, MachineStateReason);
DECLARE_STRING_TABLE_LOOKUP(machine_operation, MachineOperation);

typedef struct Machine {
        Manager *manager;
        char *name;
        char *path;                     /* /org/machina/machine/<label> */
        char *unit;                     /* machina-<name>.service */

        MachineDef *def;                /* as defined (what GetConfig merges from) */
        MachineDef *resolved;           /* tags merged, identifiers derived */
        bool persistent;                /* false for CreateMachine guests */
        bool pending_changes;           /* definition replaced while running */

        MachineState state;
        MachineStateReason reason;
        uint64_t state_timestamp;       /* CLOCK_REALTIME µs */
        uint64_t generation;            /* bumped on every property change */
        uint32_t main_pid;

        /* Lifecycle (machine-lifecycle.c). */
        char *runtime_dir;              /* <runtime-dir>/<name> while the guest exists */
        MachineOperation op;            /* in flight, or NONE */
        sd_bus_message *op_message;     /* the call to answer when op completes */
        bool op_returns_path;           /* op_message wants our object path (CreateMachine) */
        sd_bus_slot *op_slot;           /* our pending call to systemd */
        char *job;                      /* systemd job we wait for */
        bool unit_started;              /* the start job finished "done": unit signals count */
        sd_event_source *op_timer;      /* shutdown deadline, QMP connect retries */
        sd_event_source *repeat_timer;  /* ACPI powerdown repeated every 5 s */
        uint64_t op_deadline;           /* CLOCK_MONOTONIC µs */
        uint64_t shutdown_flags;
        QmpClient *qmp;
        MachineStateReason exit_reason; /* what the next stop means, known before it happens */
        char *unit_result;              /* systemd's Result= of the unit, last seen */
        Console *console;               /* OpenConsole relay (console.c), or NULL */
        sd_event_source *autostart_timer; /* boot-delay before an autostart (autostart.c) */
        bool restarting;                /* Restart= brings QEMU back (autostart=always) */
        sd_bus_slot *state_slot;        /* asking systemd whether the unit really stopped */
        sd_bus_slot *machined_slot;     /* RegisterMachine in flight (machined-glue.c) */
        bool machined_registered;
} Machine;

/* Takes ownership of def and resolved (also on failure). */
int machine_new(Manager *m, MachineDef *def, MachineDef *resolved, bool persistent, Machine **ret);
Machine *machine_free(Machine *machine);
static inline void machine_freep(Machine **m) {
        machine_free(*m);
}

/* Replace the definition (DefineMachine with REPLACE, Reload). A running guest keeps running on
 * its old config; PendingChanges says so. Takes ownership of def and resolved. */
void machine_replace_definition(Machine *machine, MachineDef *def, MachineDef *resolved);

bool machine_is_active(const Machine *machine);

/* Record a transition: state, reason, timestamp, generation; emits PropertiesChanged. */
void machine_set_state(Machine *machine, MachineState state, MachineStateReason reason);

/* Display URI (spice://, vnc://) or "" and console kind ("socket" or ""). */
const char *machine_console_kind(const Machine *machine);
char *machine_display_uri(const Machine *machine);
