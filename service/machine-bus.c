/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "bus-util.h"
#include "config.h"
#include "log.h"
#include "machine-bus.h"
#include "manager.h"

#define MACHINE_INTERFACE "org.machina.Machine"
#define MACHINE_PATH_PREFIX "/org/machina/machine"

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Machine *machine = userdata;
        char s[UUID_STR_LEN];

        uuid_unparse_lower(machine->resolved->id, s);
        return sd_bus_message_append(reply, "s", s);
}

static int property_get_description(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "s", strempty(machine->resolved->description));
}

static int property_get_tags(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append_strv(reply, machine->resolved->tags);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "s", machine_state_to_string(machine->state));
}

static int property_get_reason(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "s", machine_state_reason_to_string(machine->reason));
}

static int property_get_cpus(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "u", (uint32_t) machine->resolved->attrs.cpus);
}

static int property_get_memory(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "t", machine->resolved->attrs.memory_mib);
}

static int property_get_autostart(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "s", autostart_to_string(machine->resolved->autostart));
}

static int property_get_owner(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "u", (uint32_t) (machine->resolved->owner_set ? machine->resolved->owner : 0));
}

static int property_get_display(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        _cleanup_free_ char *uri = machine_display_uri(userdata);

        if (!uri)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", uri);
}

static int property_get_console(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", machine_console_kind(userdata));
}

static int method_get_config(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *json = NULL;
        Machine *machine = userdata;
        int r;

        r = machine_def_to_json(machine->resolved, true, &json);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "s", json);
}

static int method_not_yet(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        /* Lifecycle through systemd is the next step (issue: machinad lifecycle). Say so plainly
         * instead of pretending. */
        return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                 "%s is not implemented yet by this machinad.",
                                 sd_bus_message_get_member(message));
}

const sd_bus_vtable machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Machine, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UUID", "s", property_get_uuid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Description", "s", property_get_description, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Tags", "as", property_get_tags, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StateReason", "s", property_get_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StateChangeTimestamp", "t", NULL, offsetof(Machine, state_timestamp), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Generation", "t", NULL, offsetof(Machine, generation), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Unit", "s", NULL, offsetof(Machine, unit), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MainPID", "u", NULL, offsetof(Machine, main_pid), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CPUs", "u", property_get_cpus, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemoryMiB", "t", property_get_memory, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Autostart", "s", property_get_autostart, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Persistent", "b", NULL, offsetof(Machine, persistent), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "u", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PendingChanges", "b", NULL, offsetof(Machine, pending_changes), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Display", "s", property_get_display, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Console", "s", property_get_console, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("GetConfig", "", "s", method_get_config, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Start", "", "", method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Stop", "", "", method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Shutdown", "tt", SD_BUS_PARAM(timeout_usec) SD_BUS_PARAM(flags),
                                 "", , method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reboot", "", "", method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Pause", "", "", method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Resume", "", "", method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Kill", "si", SD_BUS_PARAM(whom) SD_BUS_PARAM(signal),
                                 "", , method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("OpenConsole", "", , "h", SD_BUS_PARAM(fd),
                                 method_not_yet, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("Event", "ss", SD_BUS_PARAM(event) SD_BUS_PARAM(json), 0),
        SD_BUS_VTABLE_END
};

int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error) {
        Machine *machine;

        machine = manager_get_machine_by_path(userdata, path);
        if (!machine)
                return 0;
        *found = machine;
        return 1;
}

int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;
        GHashTableIter it;
        gpointer value;
        int r;

        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                r = strv_extend(&l, ((Machine *) value)->path);
                if (r < 0)
                        return r;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

void machine_bus_emit_changed(Machine *machine, const char *first, ...) {
        static const char * const mutable[] = {
                "UUID", "Description", "Tags", "State", "StateReason", "StateChangeTimestamp",
                "MainPID", "CPUs", "MemoryMiB", "Autostart", "Persistent", "Owner",
                "PendingChanges", "Display", "Console", "Generation", NULL,
        };
        const char *names[ELEMENTSOF(mutable) + 1];
        size_t n = 0;
        va_list ap;
        int r;

        if (!machine->manager->bus)
                return;
        if (!first)
                memcpy(names, mutable, sizeof(mutable));
        else {
                /* The properties a state transition touches, plus Generation. */
                names[n++] = first;
                va_start(ap, first);
                for (const char *p; n < ELEMENTSOF(names) - 2 && (p = va_arg(ap, const char *)); )
                        names[n++] = p;
                va_end(ap);
                if (streq(first, "State")) {
                        names[n++] = "StateReason";
                        names[n++] = "StateChangeTimestamp";
                        names[n++] = "MainPID";
                }
                names[n++] = "Generation";
                names[n] = NULL;
        }
        r = sd_bus_emit_properties_changed_strv(machine->manager->bus, machine->path,
                                                 MACHINE_INTERFACE, (char **) names);
        if (r < 0)
                log_warning_errno(r, "Failed to emit PropertiesChanged for %s: %m", machine->name);
}

void machine_bus_emit_added(Machine *machine) {
        sd_bus *bus = machine->manager->bus;
        int r;

        if (!bus)
                return;
        r = sd_bus_emit_object_added(bus, machine->path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit InterfacesAdded for %s: %m", machine->name);
        r = sd_bus_emit_signal(bus, "/org/machina", "org.machina.Manager", "MachineNew", "so",
                               machine->name, machine->path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit MachineNew for %s: %m", machine->name);
}

void machine_bus_emit_removed(Machine *machine) {
        sd_bus *bus = machine->manager->bus;
        int r;

        if (!bus)
                return;
        r = sd_bus_emit_object_removed(bus, machine->path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit InterfacesRemoved for %s: %m", machine->name);
        r = sd_bus_emit_signal(bus, "/org/machina", "org.machina.Manager", "MachineRemoved", "so",
                               machine->name, machine->path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit MachineRemoved for %s: %m", machine->name);
}
