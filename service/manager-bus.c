/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "autostart.h"
#include "bus-util.h"
#include "config.h"
#include "log.h"
#include "machine-bus.h"
#include "machine-lifecycle.h"
#include "manager-bus.h"
#include "polkit.h"

#define MANAGER_PATH "/org/machina"
#define MANAGER_INTERFACE "org.machina.Manager"

/* 1: go on; 0: parked for polkit; < 0: refused. */
static int verify_define(Manager *m, sd_bus_message *message, const char *machine,
                         sd_bus_error *error) {
        return manager_verify_polkit_async(m, message, POLKIT_ACTION_DEFINE, machine, (uid_t) -1, error);
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
                char uuid[UUID_STR_LEN] = "";

                if (machine->resolved->id_set)
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

/* -EPERM from the reference check: the first offending reference (file, JSON path, why). */
static int reply_references_denied(Diagnostics *diag, sd_bus_error *error) {
        _cleanup_free_ char *first = diagnostics_first_error(diag);

        if (diag->n_errors > 1)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: %s (and %zu more)", strna(first),
                                         diag->n_errors - 1);
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied: %s",
                                 strna(first));
}

static int method_define_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        Manager *m = userdata;
        Machine *machine;
        const char *json;
        uint64_t flags;
        uid_t uid;
        int r;

        r = sd_bus_message_read(message, "st", &json, &flags);
        if (r < 0)
                return r;
        if (flags & ~MACHINA_DEFINE_REPLACE)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown flags 0x%" PRIx64 ".", flags & ~MACHINA_DEFINE_REPLACE);
        r = verify_define(m, message, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */

        r = bus_message_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        r = manager_define_machine(m, json, flags, uid, &diag, &machine);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many machines: the limit is %u.", m->machines_max);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS,
                                         "A machine with this name is already defined; pass flag REPLACE (1) to replace it.");
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "A transient machine with this name is running.");
        if (r == -EINVAL)
                return reply_invalid_config(&diag, error);
        if (r == -EPERM)
                return reply_references_denied(&diag, error);
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
        r = verify_define(m, message, name, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */

        r = manager_undefine_machine(m, name);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "Machine %s is running; stop it first.", name);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static char *join(char **l, const char *sep) {
        size_t n = 1;
        char *s, *p;

        for (char **i = l; i && *i; i++)
                n += strlen(*i) + strlen(sep);
        s = p = malloc(n);
        if (!s)
                return NULL;
        *p = 0;
        for (char **i = l; i && *i; i++)
                p = stpcpy(stpcpy(p, i == l ? "" : sep), *i);
        return s;
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **report = NULL;
        Manager *m = userdata;
        int r;

        r = verify_define(m, message, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        r = manager_reload(m, &report);
        if (r < 0)
                return r;
        manager_autostart(m, false);
        if (r > 0) {
                _cleanup_free_ char *text = join(report, "; ");

                /* The good files were applied; say which were not. */
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_CONFIG,
                                         "Reloaded, but skipped %d broken definition(s) (previous versions kept): %s",
                                         r, strna(text));
        }
        return sd_bus_reply_method_return(message, NULL);
}

/* StartMachine(s) & co.: read the name (the first argument), find the object, then run the
 * object's own method body with the remaining arguments. */
static int read_machine(sd_bus_message *message, Manager *m, Machine **ret, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        *ret = manager_get_machine(m, name);
        if (!*ret)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "No machine %s.", name);
        return 0;
}

static int method_start_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine;
        int r;

        r = read_machine(message, userdata, &machine, error);
        if (r < 0)
                return r;
        return machine_bus_start(message, machine, error);
}

static int method_stop_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine;
        int r;

        r = read_machine(message, userdata, &machine, error);
        if (r < 0)
                return r;
        return machine_bus_stop(message, machine, error);
}

static int method_shutdown_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        uint64_t timeout_usec;
        Machine *machine;
        int r;

        r = read_machine(message, userdata, &machine, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "t", &timeout_usec);
        if (r < 0)
                return r;
        return machine_bus_shutdown(message, machine, timeout_usec, 0, error);
}

static int method_kill_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine;
        const char *whom;
        int32_t signo;
        int r;

        r = read_machine(message, userdata, &machine, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "si", &whom, &signo);
        if (r < 0)
                return r;
        return machine_bus_kill(message, machine, whom, signo, error);
}

static int method_create_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        Manager *m = userdata;
        Machine *machine;
        const char *json;
        uint64_t flags;
        uid_t uid;
        int r;

        r = sd_bus_message_read(message, "st", &json, &flags);
        if (r < 0)
                return r;
        if (flags != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown flags 0x%" PRIx64 ".", flags);
        r = verify_define(m, message, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */

        r = bus_message_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        r = manager_create_machine(m, json, uid, &diag, &machine);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many machines: the limit is %u.", m->machines_max);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS,
                                         "A machine with this name already exists.");
        if (r == -EINVAL)
                return reply_invalid_config(&diag, error);
        if (r == -EPERM)
                return reply_references_denied(&diag, error);
        if (r < 0)
                return r;

        /* The same Start as everyone's; its reply (the object path) comes when QMP answers.
         * A guest that never started goes away again. */
        r = machine_start(machine, message, error);
        if (r < 0) {
                manager_schedule_gc(m);
                return r;
        }
        machine->op_returns_path = true;
        return 1;
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
                                 method_create_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StartMachine", "s", SD_BUS_PARAM(name), "", ,
                                 method_start_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StopMachine", "s", SD_BUS_PARAM(name), "", ,
                                 method_stop_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ShutdownMachine", "st", SD_BUS_PARAM(name) SD_BUS_PARAM(timeout_usec),
                                 "", , method_shutdown_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("KillMachine", "ssi",
                                 SD_BUS_PARAM(name) SD_BUS_PARAM(whom) SD_BUS_PARAM(signal),
                                 "", , method_kill_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("MachineNew", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
        SD_BUS_SIGNAL_WITH_NAMES("MachineRemoved", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
        SD_BUS_VTABLE_END
};

/* GetManagedObjects on /org/machina, in place of sd-bus's generic one, which walks every vtable
 * of every path prefix and looks each object up again for each of its ~20 properties. Same reply:
 * each guest's object with the standard interfaces sd-bus lists for it and the Machine
 * properties from the vtable's getters. Registered as a node callback, which sd-bus runs before
 * its built-in handling (a vtable on org.freedesktop.DBus.ObjectManager is refused). */
static int object_manager_call(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        Manager *m = userdata;
        GHashTableIter it;
        gpointer value;
        int r;

        if (!sd_bus_message_is_method_call(message, "org.freedesktop.DBus.ObjectManager",
                                           "GetManagedObjects"))
                return 0;       /* everything else: sd-bus as usual */
        if (!isempty(sd_bus_message_get_signature(message, true)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Expected no parameters");

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;

                r = sd_bus_message_open_container(reply, 'e', "oa{sa{sv}}");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "o", machine->path);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'a', "{sa{sv}}");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "{sa{sv}}{sa{sv}}{sa{sv}}",
                                          "org.freedesktop.DBus.Peer", 0,
                                          "org.freedesktop.DBus.Introspectable", 0,
                                          "org.freedesktop.DBus.Properties", 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(reply, 's', "org.machina.Machine");
                if (r < 0)
                        return r;
                r = machine_bus_append_properties(reply, machine, error);
                if (r < 0)
                        return r;
                for (unsigned i = 0; i < 3; i++) {      /* the interface, the array, the object */
                        r = sd_bus_message_close_container(reply);
                        if (r < 0)
                                return r;
                }
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

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
        r = sd_bus_add_object(m->bus, NULL, MANAGER_PATH, object_manager_call, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add GetManagedObjects: %m");
        m->published = true;
        return 0;
}
