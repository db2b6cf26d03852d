/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <time.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-label.h"
#include "console.h"
#include "machined-glue.h"
#include "machine-bus.h"
#include "machine-lifecycle.h"
#include "machine.h"
#include "manager.h"
#include "unit-properties.h"

static const char * const machine_state_table[_MACHINE_STATE_MAX] = {
        [MACHINE_STOPPED]  = "stopped",
        [MACHINE_STARTING] = "starting",
        [MACHINE_RUNNING]  = "running",
        [MACHINE_PAUSED]   = "paused",
        [MACHINE_STOPPING] = "stopping",
        [MACHINE_CRASHED]  = "crashed",
};
DEFINE_STRING_TABLE_LOOKUP(machine_state, MachineState);

static const char * const machine_state_reason_table[_MACHINE_REASON_MAX] = {
        [MACHINE_REASON_NONE]           = "",
        [MACHINE_REASON_USER]           = "user",
        [MACHINE_REASON_GUEST_SHUTDOWN] = "guest-shutdown",
        [MACHINE_REASON_GUEST_RESET]    = "guest-reset",
        [MACHINE_REASON_TIMEOUT_FORCED] = "timeout-forced",
        [MACHINE_REASON_CRASHED]        = "crashed",
        [MACHINE_REASON_KILLED]         = "killed",
        [MACHINE_REASON_HOST]           = "host",
        [MACHINE_REASON_ADOPTED]        = "adopted",
};
DEFINE_STRING_TABLE_LOOKUP(machine_state_reason, MachineStateReason);

static const char * const machine_operation_table[_MACHINE_OP_MAX] = {
        [MACHINE_OP_NONE]     = "none",
        [MACHINE_OP_START]    = "Start",
        [MACHINE_OP_STOP]     = "Stop",
        [MACHINE_OP_SHUTDOWN] = "Shutdown",
        [MACHINE_OP_REBOOT]   = "Reboot",
        [MACHINE_OP_PAUSE]    = "Pause",
        [MACHINE_OP_RESUME]   = "Resume",
        [MACHINE_OP_KILL]     = "Kill",
};
DEFINE_STRING_TABLE_LOOKUP(machine_operation, MachineOperation);

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

int machine_new(Manager *m, MachineDef *def, MachineDef *resolved, bool persistent, Machine **ret) {
        _cleanup_(machine_def_freep) MachineDef *d = def, *res = resolved;
        _cleanup_(machine_freep) Machine *machine = NULL;
        _cleanup_free_ char *label = NULL;

        machine = calloc(1, sizeof(Machine));
        if (!machine)
                return -ENOMEM;
        machine->manager = m;
        machine->name = strdup(d->name);
        label = bus_label_escape(d->name);
        if (!machine->name || !label)
                return -ENOMEM;
        if (asprintf(&machine->path, "/org/machina/machine/%s", label) < 0) {
                machine->path = NULL;
                return -ENOMEM;
        }
        machine->unit = unit_name_for_machine(d->name);
        if (!machine->unit)
                return -ENOMEM;
        machine->def = TAKE_PTR(d);
        machine->resolved = TAKE_PTR(res);
        machine->persistent = persistent;
        machine->state = MACHINE_STOPPED;
        machine->state_timestamp = now_realtime_usec();

        *ret = TAKE_PTR(machine);
        return 0;
}

Machine *machine_free(Machine *machine) {
        if (!machine)
                return NULL;
        machine_close_console(machine);
        sd_event_source_disable_unref(machine->autostart_timer);
        /* Guests outlive the daemon: keep their machined registration, just stop listening. */
        sd_bus_slot_unref(machine->machined_slot);
        machine_lifecycle_done(machine);
        free(machine->name);
        free(machine->path);
        free(machine->unit);
        machine_def_free(machine->def);
        machine_def_free(machine->resolved);
        free(machine);
        return NULL;
}

bool machine_is_active(const Machine *machine) {
        return !IN_SET(machine->state, MACHINE_STOPPED, MACHINE_CRASHED);
}

void machine_replace_definition(Machine *machine, MachineDef *def, MachineDef *resolved) {
        machine_def_free(machine->def);
        machine_def_free(machine->resolved);
        machine->def = def;
        machine->resolved = resolved;
        machine->pending_changes = machine_is_active(machine);
        machine->generation++;
        machine_bus_emit_changed(machine, NULL);
}

void machine_set_state(Machine *machine, MachineState state, MachineStateReason reason) {
        if (machine->state == state && machine->reason == reason)
                return;
        machine->state = state;
        machine->reason = reason;
        machine->state_timestamp = now_realtime_usec();
        if (!machine_is_active(machine)) {
                machine->main_pid = 0;
                machine_close_console(machine);
                if (!machine->persistent)
                        manager_schedule_gc(machine->manager);
        }
        machine->generation++;
        machine_bus_emit_changed(machine, "State");

        if (state == MACHINE_RUNNING)
                machine_machined_register(machine);
        else if (state == MACHINE_STARTING || !machine_is_active(machine))
                machine_machined_unregister(machine);
}

const char *machine_console_kind(const Machine *machine) {
        return machine->resolved->attrs.console == CONSOLE_NONE ? "" : "socket";
}

char *machine_display_uri(const Machine *machine) {
        const Attrs *a = &machine->resolved->attrs;
        char *s;

        if (a->spice_port > 0) {
                if (asprintf(&s, "spice://127.0.0.1:%d", a->spice_port) < 0)
                        return NULL;
        } else if (a->vnc_port > 0) {
                if (asprintf(&s, "vnc://127.0.0.1:%d", a->vnc_port) < 0)
                        return NULL;
        } else
                s = strdup("");
        return s;
}
