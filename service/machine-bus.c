/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-label.h"
#include "bus-util.h"
#include "config.h"
#include "console.h"
#include "log.h"
#include "machine-bus.h"
#include "machine-lifecycle.h"
#include "polkit.h"
#include "manager.h"

#define MACHINE_INTERFACE "org.machina.Machine"
#define MACHINE_PATH_PREFIX "/org/machina/machine"

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Machine *machine = userdata;
        char s[UUID_STR_LEN] = "";

        /* No "id" in the definition: no UUID (derived identifiers use the all-zero one). */
        if (machine->resolved->id_set)
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

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "b", (int) machine->persistent);
}

static int property_get_pending_changes(sd_bus *bus, const char *path, const char *interface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "b", (int) machine->pending_changes);
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

static int reply_definition(sd_bus_message *message, const MachineDef *def) {
        _cleanup_free_ char *json = NULL;
        int r;

        r = machine_def_to_json(def, true, &json);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "s", json);
}

static int method_get_config(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return reply_definition(message, ((Machine *) userdata)->resolved);
}

/* The definition as defined (file or DefineMachine), not resolved: what an editor or a change
 * of one key must start from, so tags, patterns and derived identifiers stay as written. */
static int method_get_definition(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return reply_definition(message, ((Machine *) userdata)->def);
}

static uid_t machine_owner(const Machine *machine) {
        return machine->resolved->owner_set ? machine->resolved->owner : (uid_t) -1;
}

/* 1: go on; 0: parked for polkit (the handler returns 1 = handled, the call comes back);
 * < 0: refused. */
static int verify(sd_bus_message *message, Machine *machine, const char *action,
                  sd_bus_error *error) {
        return manager_verify_polkit_async(machine->manager, message, action, machine->name,
                                           machine_owner(machine), error);
}

/* Runs an operation that answers later (or failed right away). */
static int finish(int r) {
        return r < 0 ? r : 1;
}

int machine_bus_start(sd_bus_message *message, Machine *machine, sd_bus_error *error) {
        int r = verify(message, machine, POLKIT_ACTION_CONTROL, error);

        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        return finish(machine_start(machine, message, error));
}

int machine_bus_stop(sd_bus_message *message, Machine *machine, sd_bus_error *error) {
        int r = verify(message, machine, POLKIT_ACTION_CONTROL, error);

        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        return finish(machine_stop(machine, message, error));
}

int machine_bus_shutdown(sd_bus_message *message, Machine *machine, uint64_t timeout_usec,
                         uint64_t flags, sd_bus_error *error) {
        int r = verify(message, machine, POLKIT_ACTION_CONTROL, error);

        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        return finish(machine_shutdown(machine, timeout_usec, flags, message, error));
}

int machine_bus_kill(sd_bus_message *message, Machine *machine, const char *whom, int signo,
                     sd_bus_error *error) {
        int r = verify(message, machine, POLKIT_ACTION_CONTROL, error);

        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        return finish(machine_kill(machine, whom, signo, message, error));
}

static int method_start(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return machine_bus_start(message, userdata, error);
}

static int method_stop(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return machine_bus_stop(message, userdata, error);
}

static int method_shutdown(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        uint64_t timeout_usec, flags;
        int r;

        r = sd_bus_message_read(message, "tt", &timeout_usec, &flags);
        if (r < 0)
                return r;
        return machine_bus_shutdown(message, userdata, timeout_usec, flags, error);
}

static int method_kill(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *whom;
        int32_t signo;
        int r;

        r = sd_bus_message_read(message, "si", &whom, &signo);
        if (r < 0)
                return r;
        return machine_bus_kill(message, userdata, whom, signo, error);
}

static int method_qmp_operation(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(message);
        Machine *machine = userdata;
        int r;

        r = verify(message, machine, POLKIT_ACTION_CONTROL, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        if (streq(member, "Reboot"))
                r = machine_reboot(machine, message, error);
        else if (streq(member, "Pause"))
                r = machine_pause(machine, message, error);
        else
                r = machine_resume(machine, message, error);
        return finish(r);
}

static int method_open_console(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = -EBADF;
        Machine *machine = userdata;
        int r;

        r = verify(message, machine, POLKIT_ACTION_CONSOLE, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: parked for polkit, we will be called again */
        r = machine_open_console(machine, &fd);
        if (r == -ENOTCONN)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_RUNNING,
                                         "Machine %s is not running.", machine->name);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Machine %s has no serial console.", machine->name);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "The console of %s is held by a client outside machinad.",
                                         machine->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to open the console of %s: %s",
                                               machine->name, strerror(-r));
        /* The reply carries a duplicate; ours closes here. */
        return sd_bus_reply_method_return(message, "h", fd);
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
        SD_BUS_PROPERTY("Persistent", "b", property_get_persistent, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "u", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PendingChanges", "b", property_get_pending_changes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Display", "s", property_get_display, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Console", "s", property_get_console, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("GetConfig", "", "s", method_get_config, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetDefinition", "", "s", method_get_definition, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Start", "", "", method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Stop", "", "", method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Shutdown", "tt", SD_BUS_PARAM(timeout_usec) SD_BUS_PARAM(flags),
                                 "", , method_shutdown, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reboot", "", "", method_qmp_operation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Pause", "", "", method_qmp_operation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Resume", "", "", method_qmp_operation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Kill", "si", SD_BUS_PARAM(whom) SD_BUS_PARAM(signal),
                                 "", , method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("OpenConsole", "", , "h", SD_BUS_PARAM(fd),
                                 method_open_console, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("Event", "ss", SD_BUS_PARAM(event) SD_BUS_PARAM(json), 0),
        SD_BUS_VTABLE_END
};

int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Machine *machine;
        size_t n = strlen(MACHINE_PATH_PREFIX "/");

        /* A hash lookup by the unescaped label: sd-bus calls this for every object and every
         * interface, so a scan of all guests here made GetManagedObjects quadratic. */
        if (strncmp(path, MACHINE_PATH_PREFIX "/", n) != 0)
                return 0;
        name = bus_label_unescape(path + n);
        if (!name)
                return errno == ENOMEM ? -ENOMEM : 0;
        machine = manager_get_machine(userdata, name);
        if (!machine || !streq(machine->path, path))
                return 0;
        *found = machine;
        return 1;
}

/* sd-bus's own handling of a property without a getter (the field at the offset). */
static int append_field(sd_bus_message *reply, const sd_bus_vtable *v, void *userdata) {
        void *p = (uint8_t *) userdata + v->x.property.offset;

        if (streq(v->x.property.signature, "as"))
                return sd_bus_message_append_strv(reply, *(char ***) p);
        switch (v->x.property.signature[0]) {
        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_SIGNATURE:
                return sd_bus_message_append_basic(reply, v->x.property.signature[0],
                                                   strempty(*(char **) p));
        case SD_BUS_TYPE_OBJECT_PATH:
                return sd_bus_message_append_basic(reply, v->x.property.signature[0], *(char **) p);
        default:
                return sd_bus_message_append_basic(reply, v->x.property.signature[0], p);
        }
}

int machine_bus_append_properties(sd_bus_message *reply, Machine *machine, sd_bus_error *error) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        /* The vtable itself, so this can never disagree with Properties.GetAll. */
        for (const sd_bus_vtable *v = machine_vtable + 1; v->type != _SD_BUS_VTABLE_END; v++) {
                if (!IN_SET(v->type, _SD_BUS_VTABLE_PROPERTY, _SD_BUS_VTABLE_WRITABLE_PROPERTY) ||
                    (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT)))
                        continue;
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(reply, 's', v->x.property.member);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'v', v->x.property.signature);
                if (r < 0)
                        return r;
                if (v->x.property.get)
                        r = v->x.property.get(machine->manager->bus, machine->path, MACHINE_INTERFACE,
                                              v->x.property.member, reply, machine, error);
                else
                        r = append_field(reply, v, machine);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
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

void machine_bus_emit_changed(Machine *machine, const char *property) {
        static const char * const mutable[] = {
                "UUID", "Description", "Tags", "State", "StateReason", "StateChangeTimestamp",
                "MainPID", "CPUs", "MemoryMiB", "Autostart", "Persistent", "Owner",
                "PendingChanges", "Display", "Console", "Generation", NULL,
        };
        const char *names[ELEMENTSOF(mutable) + 1];
        size_t n = 0;
        int r;

        if (!machine->manager->published)
                return;
        if (!property)
                memcpy(names, mutable, sizeof(mutable));
        else {
                /* The property, those a state transition touches with it, and Generation. */
                names[n++] = property;
                if (streq(property, "State")) {
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

int machine_bus_emit_event(Machine *machine, const char *event, const char *json) {
        if (!machine->manager->published)
                return 0;
        return sd_bus_emit_signal(machine->manager->bus, machine->path, MACHINE_INTERFACE, "Event",
                                  "ss", event, json);
}

void machine_bus_emit_added(Machine *machine) {
        sd_bus *bus = machine->manager->bus;
        int r;

        if (!machine->manager->published)
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

        if (!machine->manager->published)
                return;
        r = sd_bus_emit_object_removed(bus, machine->path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit InterfacesRemoved for %s: %m", machine->name);
        r = sd_bus_emit_signal(bus, "/org/machina", "org.machina.Manager", "MachineRemoved", "so",
                               machine->name, machine->path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit MachineRemoved for %s: %m", machine->name);
}
