/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* MachineDef → JSON in the definition format, keys in a fixed order, unset fields omitted, so
 * that parse(to_json(x)) gives x back. Resolved-only fields (network kind, bridge, mediated
 * device parent/type) are not part of the format and are not written; a volume with both a
 * storage pool and a resolved path is written with its path. */

#include <inttypes.h>

#include "config-internal.h"

static void add_string(JsonBuilder *b, const char *key, const char *value) {
        if (!value)
                return;
        json_builder_set_member_name(b, key);
        json_builder_add_string_value(b, value);
}

static void add_tristate(JsonBuilder *b, const char *key, int value) {
        if (value < 0)
                return;
        json_builder_set_member_name(b, key);
        json_builder_add_boolean_value(b, value > 0);
}

static void add_int(JsonBuilder *b, const char *key, int64_t value) {
        json_builder_set_member_name(b, key);
        json_builder_add_int_value(b, value);
}

/* Bytes as the largest binary suffix that divides them exactly ("20G"), else a plain number. */
static int add_size(JsonBuilder *b, const char *key, uint64_t bytes) {
        static const char suffixes[] = "KMGT";
        char buf[32];
        int best = -1;

        for (int i = 0; i < 4; i++)
                if (bytes > 0 && bytes % (1ULL << (10 * (i + 1))) == 0)
                        best = i;
        json_builder_set_member_name(b, key);
        if (best < 0) {
                if (bytes > INT64_MAX)
                        return -ERANGE;
                json_builder_add_int_value(b, (int64_t) bytes);
                return 0;
        }
        (void) snprintf(buf, sizeof(buf), "%" PRIu64 "%c", bytes >> (10 * (best + 1)), suffixes[best]);
        json_builder_add_string_value(b, buf);
        return 0;
}

static void add_port(JsonBuilder *b, const char *key, int port, const char *pattern) {
        if (port < 0 && !pattern)
                return;
        json_builder_set_member_name(b, key);
        json_builder_begin_object(b);
        if (port >= 0)
                add_int(b, "port", port);
        else
                add_string(b, "port-pattern", pattern);
        json_builder_end_object(b);
}

static void add_attrs(JsonBuilder *b, const Attrs *a) {
        json_builder_set_member_name(b, "attrs");
        json_builder_begin_object(b);

        if (a->cpus > 0 || a->cpu_model) {
                json_builder_set_member_name(b, "cpu");
                json_builder_begin_object(b);
                if (a->cpus > 0)
                        add_int(b, "count", a->cpus);
                add_string(b, "model", a->cpu_model);
                json_builder_end_object(b);
        }
        if (a->memory_mib > 0) {
                json_builder_set_member_name(b, "ram");
                json_builder_begin_object(b);
                (void) add_size(b, "size", a->memory_mib << 20);
                json_builder_end_object(b);
        }
        add_string(b, "machine", a->machine_type);
        if (a->accel != ACCEL_AUTO)
                add_string(b, "accel", accel_to_string(a->accel));
        if (a->firmware != FIRMWARE_UNSET || a->firmware_code || a->firmware_vars) {
                json_builder_set_member_name(b, "firmware");
                json_builder_begin_object(b);
                add_string(b, "type", firmware_to_string(a->firmware));
                add_string(b, "code", a->firmware_code);
                add_string(b, "vars", a->firmware_vars);
                json_builder_end_object(b);
        }
        if (a->kernel) {
                json_builder_set_member_name(b, "kernel");
                json_builder_begin_object(b);
                add_string(b, "path", a->kernel);
                add_string(b, "initrd", a->initrd);
                add_string(b, "cmdline", a->cmdline);
                json_builder_end_object(b);
        }
        add_string(b, "console", console_kind_to_string(a->console));
        add_port(b, "vnc", a->vnc_port, a->vnc_port_pattern);
        add_port(b, "spice", a->spice_port, a->spice_port_pattern);
        add_tristate(b, "hyperv", a->hyperv);
        add_tristate(b, "guest-agent", a->guest_agent);
        add_tristate(b, "pvpanic", a->pvpanic);

        json_builder_end_object(b);
}

static int add_volume(JsonBuilder *b, const Volume *v) {
        int r;

        json_builder_begin_object(b);
        add_string(b, "name", v->name);
        if (v->path)
                add_string(b, "path", v->path);
        else
                add_string(b, "storage", v->storage);
        add_string(b, "format", volume_format_to_string(v->format));
        add_string(b, "bus", disk_bus_to_string(v->bus));
        add_tristate(b, "readonly", v->readonly);
        if (v->boot_index >= 0)
                add_int(b, "boot-index", v->boot_index);
        add_string(b, "wwn", v->wwn);
        add_string(b, "serial", v->serial);
        if (v->provision.set) {
                json_builder_set_member_name(b, "provision");
                json_builder_begin_object(b);
                r = add_size(b, "size", v->provision.size);
                if (r < 0)
                        return r;
                add_string(b, "format", volume_format_to_string(v->provision.format));
                json_builder_set_member_name(b, "thin");
                json_builder_add_boolean_value(b, v->provision.thin);
                add_string(b, "backing", v->provision.backing);
                json_builder_end_object(b);
        }
        json_builder_end_object(b);
        return 0;
}

int machine_def_to_json(const MachineDef *m, bool pretty, char **ret) {
        g_autoptr(JsonBuilder) b = json_builder_new_immutable();
        g_autoptr(JsonGenerator) g = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        char *s;
        int r;

        if (!m || !ret)
                return -EINVAL;

        json_builder_begin_object(b);
        add_string(b, "name", m->name);
        if (m->id_set) {
                char u[UUID_STR_LEN];

                uuid_unparse_lower(m->id, u);
                add_string(b, "id", u);
        }
        add_string(b, "description", m->description);
        if (m->tags) {
                json_builder_set_member_name(b, "tags");
                json_builder_begin_array(b);
                for (char **t = m->tags; *t; t++)
                        json_builder_add_string_value(b, *t);
                json_builder_end_array(b);
        }
        if (m->n_vars > 0) {
                json_builder_set_member_name(b, "vars");
                json_builder_begin_object(b);
                for (size_t i = 0; i < m->n_vars; i++)
                        add_string(b, m->vars[i].name, m->vars[i].value);
                json_builder_end_object(b);
        }
        add_attrs(b, &m->attrs);

        if (m->n_volumes > 0) {
                json_builder_set_member_name(b, "volumes");
                json_builder_begin_array(b);
                for (size_t i = 0; i < m->n_volumes; i++) {
                        r = add_volume(b, m->volumes + i);
                        if (r < 0)
                                return r;
                }
                json_builder_end_array(b);
        }
        if (m->n_connections > 0) {
                json_builder_set_member_name(b, "connections");
                json_builder_begin_array(b);
                for (size_t i = 0; i < m->n_connections; i++) {
                        const Connection *c = m->connections + i;

                        json_builder_begin_object(b);
                        add_string(b, "name", c->name);
                        add_string(b, "network", c->network);
                        add_string(b, "mac", c->mac);
                        add_string(b, "model", c->model);
                        json_builder_end_object(b);
                }
                json_builder_end_array(b);
        }
        if (m->n_devices > 0) {
                json_builder_set_member_name(b, "devices");
                json_builder_begin_array(b);
                for (size_t i = 0; i < m->n_devices; i++) {
                        json_builder_begin_object(b);
                        add_string(b, "name", m->devices[i].name);
                        add_string(b, "class", m->devices[i].class);
                        add_string(b, "id", m->devices[i].id);
                        json_builder_end_object(b);
                }
                json_builder_end_array(b);
        }

        if (m->autostart != AUTOSTART_NO)
                add_string(b, "autostart", autostart_to_string(m->autostart));
        if (m->boot_delay_usec > 0)
                add_int(b, "boot-delay", (int64_t) (m->boot_delay_usec / 1000000ULL));
        if (m->stop_timeout_usec > 0)
                add_int(b, "stop-timeout", (int64_t) (m->stop_timeout_usec / 1000000ULL));
        if (m->owner_set)
                add_int(b, "owner", m->owner);
        json_builder_end_object(b);

        root = json_builder_get_root(b);
        if (!root)
                return -ENOMEM;
        json_generator_set_root(g, root);
        json_generator_set_pretty(g, pretty);
        json_generator_set_indent(g, 2);
        s = json_generator_to_data(g, NULL);
        if (!s)
                return -ENOMEM;
        /* GLib memory is malloc() memory since GLib 2.46; callers free() it. */
        *ret = s;
        return 0;
}
