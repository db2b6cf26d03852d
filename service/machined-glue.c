/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <systemd/sd-bus.h>

#include "bus-util.h"
#include "log.h"
#include "machined-glue.h"
#include "manager.h"
#include "systemd-glue.h"

#define MACHINED_SERVICE "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_INTERFACE "org.freedesktop.machine1.Manager"

static bool machined_absent(const sd_bus_error *e) {
        return sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                      SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_METHOD);
}

static int on_register_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Machine *machine = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        machine->machined_slot = sd_bus_slot_unref(machine->machined_slot);
        if (!e) {
                log_debug("Machine %s registered with systemd-machined.", machine->name);
                return 0;
        }
        machine->machined_registered = false;
        if (machined_absent(e))
                log_debug("systemd-machined is not on the bus; %s is not registered there.", machine->name);
        else
                log_warning("Failed to register %s with systemd-machined: %s", machine->name, e->message);
        return 0;
}

void machine_machined_register(Machine *machine) {
        _cleanup_bus_message_ sd_bus_message *call = NULL;
        sd_bus *bus = machine->manager->bus;
        int r;

        if (machine->machined_registered || machine->main_pid == 0 ||
            !IN_SET(machine->state, MACHINE_RUNNING, MACHINE_PAUSED) || !bus)
                return;

        r = sd_bus_message_new_method_call(bus, &call, MACHINED_SERVICE, MACHINED_PATH,
                                           MACHINED_INTERFACE, "RegisterMachine");
        if (r >= 0)
                /* Absent machined is fine: do not have the bus start it for us. */
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_message_append(call, "s", machine->name);
        if (r >= 0)
                r = sd_bus_message_append_array(call, 'y', machine->resolved->id, sizeof(uuid_t));
        if (r >= 0)
                r = sd_bus_message_append(call, "ssus", "machina", "vm", machine->main_pid, "");
        if (r >= 0) {
                machine->machined_slot = sd_bus_slot_unref(machine->machined_slot);
                r = bus_call_bounded(machine->manager, call, on_register_reply, machine,
                                     &machine->machined_slot);
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to ask systemd-machined to register %s: %m", machine->name);
                return;
        }
        machine->machined_registered = true;
}

void machine_machined_unregister(Machine *machine) {
        sd_bus *bus = machine->manager->bus;
        _cleanup_bus_message_ sd_bus_message *call = NULL;
        int r;

        machine->machined_slot = sd_bus_slot_unref(machine->machined_slot);
        if (!machine->machined_registered || !bus)
                return;
        machine->machined_registered = false;
        /* Fire and forget: machined drops the machine with its leader anyway. */
        r = sd_bus_message_new_method_call(bus, &call, MACHINED_SERVICE, MACHINED_PATH,
                                           MACHINED_INTERFACE, "UnregisterMachine");
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_message_append(call, "s", machine->name);
        if (r >= 0)
                r = sd_bus_send(bus, call, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to unregister %s from systemd-machined: %m", machine->name);
}
