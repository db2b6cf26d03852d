/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>

#include "ctl-bus.h"
#include "machine-info.h"
#include "output.h"

typedef enum PropertyType {
        PROPERTY_STRING,
        PROPERTY_STRV,
        PROPERTY_U32,
        PROPERTY_U64,
        PROPERTY_BOOL,
        PROPERTY_TIMESTAMP,     /* t, µs CLOCK_REALTIME */
} PropertyType;

typedef struct MachineProperty {
        const char *name;
        const char *signature;
        PropertyType type;
        size_t offset;
} MachineProperty;

#define P(n, s, t, f) { n, s, t, offsetof(MachineInfo, f) }
/* In the order of DESIGN.md §2: show prints them in this order. */
static const MachineProperty machine_properties[] = {
        P("Name",                 "s",  PROPERTY_STRING,    name),
        P("UUID",                 "s",  PROPERTY_STRING,    uuid),
        P("Description",          "s",  PROPERTY_STRING,    description),
        P("Tags",                 "as", PROPERTY_STRV,      tags),
        P("State",                "s",  PROPERTY_STRING,    state),
        P("StateReason",          "s",  PROPERTY_STRING,    state_reason),
        P("StateChangeTimestamp", "t",  PROPERTY_TIMESTAMP, state_change_timestamp),
        P("Generation",           "t",  PROPERTY_U64,       generation),
        P("Unit",                 "s",  PROPERTY_STRING,    unit),
        P("MainPID",              "u",  PROPERTY_U32,       main_pid),
        P("CPUs",                 "u",  PROPERTY_U32,       cpus),
        P("MemoryMiB",            "t",  PROPERTY_U64,       memory_mib),
        P("Autostart",            "s",  PROPERTY_STRING,    autostart),
        P("Persistent",           "b",  PROPERTY_BOOL,      persistent),
        P("Owner",                "u",  PROPERTY_U32,       owner),
        P("PendingChanges",       "b",  PROPERTY_BOOL,      pending_changes),
        P("Display",              "s",  PROPERTY_STRING,    display),
        P("Console",              "s",  PROPERTY_STRING,    console),
};
#undef P

#define FIELD(m, p, type) ((type *) ((uint8_t *) (m) + (p)->offset))

void machine_info_done(MachineInfo *m) {
        for (size_t i = 0; i < ELEMENTSOF(machine_properties); i++) {
                const MachineProperty *p = machine_properties + i;

                if (p->type == PROPERTY_STRING)
                        *FIELD(m, p, char *) = mfree(*FIELD(m, p, char *));
                else if (p->type == PROPERTY_STRV)
                        *FIELD(m, p, char **) = strv_free(*FIELD(m, p, char **));
        }
        m->path = mfree(m->path);
}

void machine_infos_free(MachineInfo *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                machine_info_done(m + i);
        free(m);
}

static const MachineProperty *property_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(machine_properties); i++)
                if (streq(machine_properties[i].name, name))
                        return machine_properties + i;
        return NULL;
}

bool machine_property_exists(const char *name) {
        return property_find(name);
}

static int read_value(sd_bus_message *message, const MachineProperty *p, MachineInfo *m) {
        const char *s;
        int b, r;

        switch (p->type) {
        case PROPERTY_STRING:
                r = sd_bus_message_read_basic(message, 's', &s);
                if (r < 0)
                        return r;
                return free_and_strdup(FIELD(m, p, char *), s);
        case PROPERTY_STRV: {
                char **l = NULL;

                r = sd_bus_message_read_strv(message, &l);
                if (r < 0)
                        return r;
                strv_free(*FIELD(m, p, char **));
                *FIELD(m, p, char **) = l;
                return 0;
        }
        case PROPERTY_U32:
                return sd_bus_message_read_basic(message, 'u', FIELD(m, p, uint32_t));
        case PROPERTY_U64:
        case PROPERTY_TIMESTAMP:
                return sd_bus_message_read_basic(message, 't', FIELD(m, p, uint64_t));
        case PROPERTY_BOOL:
                r = sd_bus_message_read_basic(message, 'b', &b);
                if (r < 0)
                        return r;
                *FIELD(m, p, bool) = b;
                return 0;
        }
        return -EINVAL;
}

int machine_info_read(sd_bus_message *message, MachineInfo *m) {
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
                const MachineProperty *p;
                const char *name;

                r = sd_bus_message_read_basic(message, 's', &name);
                if (r < 0)
                        return r;
                p = property_find(name);
                /* A newer daemon may add properties, or change a type: skip what we don't know.
                 * Entering checks the type (-ENXIO, nothing consumed): no separate peek, which
                 * would parse each variant's signature twice (15% of "list" with 1000 guests). */
                r = p ? sd_bus_message_enter_container(message, 'v', p->signature) : -ENXIO;
                if (r >= 0) {
                        r = read_value(message, p, m);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(message);
                } else if (r == -ENXIO)
                        r = sd_bus_message_skip(message, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

int machine_info_get(sd_bus *bus, const char *path, MachineInfo *m, sd_bus_error *error) {
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, MACHINA_SERVICE, path, "org.freedesktop.DBus.Properties", "GetAll",
                               error, &reply, "s", MACHINA_MACHINE_IFACE);
        if (r < 0)
                return r;
        r = machine_info_read(reply, m);
        if (r < 0)
                return r;
        return free_and_strdup(&m->path, path);
}

static void print_value(const MachineInfo *m, const MachineProperty *p) {
        char buf[64];

        switch (p->type) {
        case PROPERTY_STRING:
                fputs(strempty(*FIELD(m, p, char *)), stdout);
                break;
        case PROPERTY_STRV: {
                char **l = *FIELD(m, p, char **);

                for (size_t i = 0; l && l[i]; i++)
                        printf("%s%s", i > 0 ? " " : "", l[i]);
                break;
        }
        case PROPERTY_U32:
                printf("%" PRIu32, *FIELD(m, p, uint32_t));
                break;
        case PROPERTY_U64:
                printf("%" PRIu64, *FIELD(m, p, uint64_t));
                break;
        case PROPERTY_TIMESTAMP:
                fputs(format_timestamp(buf, sizeof buf, *FIELD(m, p, uint64_t)), stdout);
                break;
        case PROPERTY_BOOL:
                fputs(*FIELD(m, p, bool) ? "yes" : "no", stdout);
                break;
        }
}

void machine_info_show(const MachineInfo *m, char * const *filter, bool value_only) {
        for (size_t i = 0; i < ELEMENTSOF(machine_properties); i++) {
                const MachineProperty *p = machine_properties + i;

                if (filter && !strv_contains(filter, p->name))
                        continue;
                if (!value_only)
                        printf("%s=", p->name);
                print_value(m, p);
                putchar('\n');
        }
}

JsonNode *machine_info_to_json(const MachineInfo *m, char * const *filter) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        for (size_t i = 0; i < ELEMENTSOF(machine_properties); i++) {
                const MachineProperty *p = machine_properties + i;

                if (filter && !strv_contains(filter, p->name))
                        continue;
                json_builder_set_member_name(b, p->name);
                switch (p->type) {
                case PROPERTY_STRING:
                        json_builder_add_string_value(b, strempty(*FIELD(m, p, char *)));
                        break;
                case PROPERTY_STRV: {
                        char **l = *FIELD(m, p, char **);

                        json_builder_begin_array(b);
                        for (size_t j = 0; l && l[j]; j++)
                                json_builder_add_string_value(b, l[j]);
                        json_builder_end_array(b);
                        break;
                }
                case PROPERTY_U32:
                        json_builder_add_int_value(b, *FIELD(m, p, uint32_t));
                        break;
                case PROPERTY_U64:
                case PROPERTY_TIMESTAMP:
                        /* JSON numbers are doubles for many readers; µs timestamps fit in 2^53. */
                        json_builder_add_int_value(b, (gint64) *FIELD(m, p, uint64_t));
                        break;
                case PROPERTY_BOOL:
                        json_builder_add_boolean_value(b, *FIELD(m, p, bool));
                        break;
                }
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

bool machine_info_is_active(const MachineInfo *m) {
        return m->state && !streq(m->state, "stopped") && !streq(m->state, "crashed");
}
