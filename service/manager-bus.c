/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-util.h"
#include "config.h"
#include "log.h"
#include "machine-bus.h"
#include "manager-bus.h"

#define MANAGER_PATH "/org/machina"
#define MANAGER_INTERFACE "org.machina.Manager"

/* Who may change definitions. Until the polkit module lands, only root (system mode) or our own
 * uid (user mode) may: "polkit absent → deny", never allow. */
static int check_define_access(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        uid_t uid;
        int r;

        r = bus_message_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        if (uid == 0 || (m->user_mode && uid == getuid()))
                return 0;
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "Access denied to org.machina.machine.define for uid %u.",
                                 (unsigned) uid);
}

static int reply_machine_lookup(sd_bus_message *message, Machine *machine, const char *what,
                                sd_bus_error *error) {
        if (!machine)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE,
                                         "No machine %s.", what);
        return sd_bus_reply_method_return(message, "o", machine->path);
}

static int method_get_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        return reply_machine_lookup(message, manager_get_machine(userdata, name), name, error);
}

static int method_get_machine_by_uuid(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *uuid;
        int r;

        r = sd_bus_message_read(message, "s", &uuid);
        if (r < 0)
                return r;
        return reply_machine_lookup(message, manager_get_machine_by_uuid(userdata, uuid), uuid, error);
}

static int method_list_machines(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        Manager *m = userdata;
        GHashTableIter it;
        gpointer value;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;
                char uuid[UUID_STR_LEN];

                uuid_unparse_lower(machine->resolved->id, uuid);
                r = sd_bus_message_append(reply, "(ssso)", machine->name, uuid,
                                          machine_state_to_string(machine->state), machine->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int reply_invalid_config(Diagnostics *diag, sd_bus_error *error) {
        _cleanup_free_ char *first = diagnostics_first_error(diag);

        return sd_bus_error_setf(error, BUS_ERROR_INVALID_CONFIG, "%s",
                                 first ?: "Invalid definition.");
}

static int method_define_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        Manager *m = userdata;
        Machine *machine;
        const char *json;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(message, "st", &json, &flags);
        if (r < 0)
                return r;
        if (flags & ~MACHINA_DEFINE_REPLACE)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown flags 0x%" PRIx64 ".", flags & ~MACHINA_DEFINE_REPLACE);
        r = check_define_access(m, message, error);
        if (r != 0)
                return r;

        r = manager_define_machine(m, json, flags, &diag, &machine);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS,
                                         "A machine with this name is already defined; pass flag REPLACE (1) to replace it.");
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "A transient machine with this name is running.");
        if (r == -EINVAL)
                return reply_invalid_config(&diag, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", machine->path);
}

static int method_undefine_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(message, "st", &name, &flags);
        if (r < 0)
                return r;
        if (flags != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown flags 0x%" PRIx64 ".", flags);
        if (!manager_get_machine(m, name))
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "No machine %s.", name);
        r = check_define_access(m, message, error);
        if (r != 0)
                return r;

        r = manager_undefine_machine(m, name);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "Machine %s is running; stop it first.", name);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = check_define_access(m, message, error);
        if (r != 0)
                return r;
        r = manager_reload(m);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_redirect(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        /* StartMachine(s) & co. forward to the object's method: one code path (next step). */
        return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                 "%s is not implemented yet by this machinad.",
                                 sd_bus_message_get_member(message));
}

static int property_get_mode(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", m->user_mode ? "user" : "system");
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Mode", "s", property_get_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_NAMES("ListMachines", "", , "a(ssso)", SD_BUS_PARAM(machines),
                                 method_list_machines, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetMachine", "s", SD_BUS_PARAM(name), "o", SD_BUS_PARAM(machine),
                                 method_get_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetMachineByUUID", "s", SD_BUS_PARAM(uuid), "o", SD_BUS_PARAM(machine),
                                 method_get_machine_by_uuid, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("DefineMachine", "st", SD_BUS_PARAM(json) SD_BUS_PARAM(flags),
                                 "o", SD_BUS_PARAM(machine),
                                 method_define_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("UndefineMachine", "st", SD_BUS_PARAM(name) SD_BUS_PARAM(flags),
                                 "", , method_undefine_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("CreateMachine", "st", SD_BUS_PARAM(json) SD_BUS_PARAM(flags),
                                 "o", SD_BUS_PARAM(machine),
                                 method_redirect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StartMachine", "s", SD_BUS_PARAM(name), "", ,
                                 method_redirect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StopMachine", "s", SD_BUS_PARAM(name), "", ,
                                 method_redirect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ShutdownMachine", "st", SD_BUS_PARAM(name) SD_BUS_PARAM(timeout_usec),
                                 "", , method_redirect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("KillMachine", "ssi",
                                 SD_BUS_PARAM(name) SD_BUS_PARAM(whom) SD_BUS_PARAM(signal),
                                 "", , method_redirect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("MachineNew", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
        SD_BUS_SIGNAL_WITH_NAMES("MachineRemoved", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
        SD_BUS_VTABLE_END
};

int manager_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, MANAGER_PATH, MANAGER_INTERFACE,
                                     manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add manager object: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, "/org/machina/machine", "org.machina.Machine",
                                       machine_vtable, machine_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add machine objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, "/org/machina/machine", machine_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add machine enumerator: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add object manager: %m");
        return 0;
}
