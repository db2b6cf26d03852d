/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Machine definition JSON → MachineDef. Also parses the "tag" entries of the host file, which
 * are partial definitions. Syntax, types, bounds, names, UUIDs and enums are checked here;
 * references to the host file and identifiers at resolve time (config-resolve.c). */

#include <ctype.h>
#include <pwd.h>

#include "config-internal.h"

/* Parse errors are collected rather than returned at once so one run shows every problem; only
 * ENOMEM stops the walk. */
#define CHECK(r)                                        \
        do {                                            \
                int _r_ = (r);                          \
                if (_r_ == -ENOMEM)                     \
                        return _r_;                     \
        } while (0)

#define SUBPATH(var, parent, key)                       \
        _cleanup_free_ char *var = path_key((parent), (key)); \
        if (!var)                                       \
                return -ENOMEM

static int parse_port_object(JsonCtx *c, JsonNode *node, const char *path, int min_port,
                             int *ret_port, char **ret_pattern) {
        static const char * const keys[] = { "port", "port-pattern" };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (f[0] && f[1])
                return ctx_error(c, path, "give either 'port' or 'port-pattern', not both");
        if (f[0]) {
                SUBPATH(p, path, "port");
                r = json_ctx_port(c, f[0], p, ret_port);
                if (r < 0)
                        return r;
                if (*ret_port < min_port) {
                        *ret_port = -1;
                        return ctx_error(c, p, "port must be at least %d", min_port);
                }
        } else if (f[1]) {
                SUBPATH(p, path, "port-pattern");
                return json_ctx_string(c, f[1], p, ret_pattern);
        } else
                return ctx_error(c, path, "needs 'port' or 'port-pattern'");
        return 0;
}

int attrs_parse_cpu(JsonCtx *c, JsonNode *node, const char *path, Attrs *a) {
        static const char * const keys[] = { "count", "model" };
        JsonNode *f[ELEMENTSOF(keys)];
        int64_t v;
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (f[0]) {
                SUBPATH(p, path, "count");
                r = json_ctx_int(c, f[0], p, 1, DEF_CPUS_MAX, &v);
                CHECK(r);
                if (r >= 0)
                        a->cpus = (unsigned) v;
        }
        if (f[1]) {
                SUBPATH(p, path, "model");
                r = json_ctx_string(c, f[1], p, &a->cpu_model);
                CHECK(r);
                if (r >= 0 && (isempty(a->cpu_model) || strpbrk(a->cpu_model, " \t")))
                        CHECK(ctx_error(c, p, "invalid CPU model '%s'", a->cpu_model));
        }
        return 0;
}

static int parse_ram(JsonCtx *c, JsonNode *node, const char *path, Attrs *a) {
        static const char * const keys[] = { "size" };
        JsonNode *f[ELEMENTSOF(keys)];
        uint64_t bytes;
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (!f[0])
                return ctx_error(c, path, "missing 'size'");

        SUBPATH(p, path, "size");
        r = json_ctx_size(c, f[0], p, 1ULL << 20, &bytes);
        if (r < 0)
                return r;
        if (bytes == 0 || bytes % (1ULL << 20) != 0)
                return ctx_error(c, p, "memory size must be a positive whole number of MiB");
        if (bytes / (1ULL << 20) > DEF_MEMORY_MIB_MAX)
                return ctx_error(c, p, "memory size exceeds the limit of %u MiB", DEF_MEMORY_MIB_MAX);
        a->memory_mib = bytes >> 20;
        return 0;
}

static int parse_firmware(JsonCtx *c, JsonNode *node, const char *path, Attrs *a) {
        static const char * const keys[] = { "type", "code", "vars" };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (f[0]) {
                SUBPATH(p, path, "type");
                CHECK(JSON_CTX_ENUM(c, f[0], p, "firmware type", firmware, _FIRMWARE_MAX, &a->firmware));
        }
        if (f[1]) {
                SUBPATH(p, path, "code");
                CHECK(json_ctx_file_path(c, f[1], p, &a->firmware_code));
        }
        if (f[2]) {
                SUBPATH(p, path, "vars");
                CHECK(json_ctx_file_path(c, f[2], p, &a->firmware_vars));
        }
        if ((f[1] || f[2]) && a->firmware != FIRMWARE_OVMF)
                CHECK(ctx_error(c, path, "'code' and 'vars' need \"type\": \"ovmf\""));
        return 0;
}

static int parse_kernel(JsonCtx *c, JsonNode *node, const char *path, Attrs *a) {
        static const char * const keys[] = { "path", "initrd", "cmdline" };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (!f[0])
                return ctx_error(c, path, "missing 'path'");
        {
                SUBPATH(p, path, "path");
                CHECK(json_ctx_file_path(c, f[0], p, &a->kernel));
        }
        if (f[1]) {
                SUBPATH(p, path, "initrd");
                CHECK(json_ctx_file_path(c, f[1], p, &a->initrd));
        }
        if (f[2]) {
                SUBPATH(p, path, "cmdline");
                CHECK(json_ctx_string(c, f[2], p, &a->cmdline));
        }
        return 0;
}

enum {
        A_CPU, A_RAM, A_MACHINE, A_ACCEL, A_FIRMWARE, A_KERNEL, A_CONSOLE, A_VNC, A_SPICE,
        A_HYPERV, A_GUEST_AGENT, A_PVPANIC, _A_MAX,
};
static const char * const attrs_keys[_A_MAX] = {
        [A_CPU] = "cpu", [A_RAM] = "ram", [A_MACHINE] = "machine", [A_ACCEL] = "accel",
        [A_FIRMWARE] = "firmware", [A_KERNEL] = "kernel", [A_CONSOLE] = "console",
        [A_VNC] = "vnc", [A_SPICE] = "spice", [A_HYPERV] = "hyperv",
        [A_GUEST_AGENT] = "guest-agent", [A_PVPANIC] = "pvpanic",
};

static int parse_attrs(JsonCtx *c, JsonNode *node, const char *path, Attrs *a) {
        JsonNode *f[_A_MAX];
        int r;

        r = json_ctx_keys(c, node, path, attrs_keys, _A_MAX, f);
        if (r < 0)
                return r;

        for (size_t i = 0; i < _A_MAX; i++) {
                if (!f[i])
                        continue;
                SUBPATH(p, path, attrs_keys[i]);

                switch (i) {
                case A_CPU:
                        r = attrs_parse_cpu(c, f[i], p, a);
                        break;
                case A_RAM:
                        r = parse_ram(c, f[i], p, a);
                        break;
                case A_MACHINE:
                        r = json_ctx_string(c, f[i], p, &a->machine_type);
                        if (r >= 0 && !streq(a->machine_type, "q35") && strncmp(a->machine_type, "pc-q35-", 7) != 0)
                                r = ctx_error(c, p, "unsupported machine type '%s', only q35 is supported",
                                              a->machine_type);
                        break;
                case A_ACCEL:
                        r = JSON_CTX_ENUM(c, f[i], p, "accelerator", accel, _ACCEL_MAX, &a->accel);
                        break;
                case A_FIRMWARE:
                        r = parse_firmware(c, f[i], p, a);
                        break;
                case A_KERNEL:
                        r = parse_kernel(c, f[i], p, a);
                        break;
                case A_CONSOLE:
                        r = JSON_CTX_ENUM(c, f[i], p, "console", console_kind, _CONSOLE_KIND_MAX, &a->console);
                        break;
                case A_VNC:
                        r = parse_port_object(c, f[i], p, 5900, &a->vnc_port, &a->vnc_port_pattern);
                        break;
                case A_SPICE:
                        r = parse_port_object(c, f[i], p, 1, &a->spice_port, &a->spice_port_pattern);
                        break;
                case A_HYPERV:
                        r = json_ctx_bool(c, f[i], p, &a->hyperv);
                        break;
                case A_GUEST_AGENT:
                        r = json_ctx_bool(c, f[i], p, &a->guest_agent);
                        break;
                case A_PVPANIC:
                        r = json_ctx_bool(c, f[i], p, &a->pvpanic);
                        break;
                }
                CHECK(r);
        }
        return 0;
}

static int parse_volume_format(JsonCtx *c, JsonNode *node, const char *path, VolumeFormat *ret) {
        /* "file" is the machina storage type for raw image files. */
        if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING &&
            strcasecmp(json_node_get_string(node), "file") == 0) {
                *ret = VOLUME_FORMAT_RAW;
                return 0;
        }
        return JSON_CTX_ENUM(c, node, path, "volume format", volume_format, _VOLUME_FORMAT_MAX, ret);
}

static int parse_provision(JsonCtx *c, JsonNode *node, const char *path, Provision *pr) {
        static const char * const keys[] = { "size", "format", "thin", "backing" };
        JsonNode *f[ELEMENTSOF(keys)];
        int thin = 0, r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        pr->set = true;
        if (!f[0])
                CHECK(ctx_error(c, path, "missing 'size'"));
        else {
                SUBPATH(p, path, "size");
                r = json_ctx_size(c, f[0], p, 1, &pr->size);
                CHECK(r);
                if (r >= 0 && pr->size == 0)
                        CHECK(ctx_error(c, p, "size must be positive"));
        }
        if (f[1]) {
                SUBPATH(p, path, "format");
                r = parse_volume_format(c, f[1], p, &pr->format);
                CHECK(r);
                if (r >= 0 && !IN_SET(pr->format, VOLUME_FORMAT_RAW, VOLUME_FORMAT_QCOW2))
                        CHECK(ctx_error(c, p, "only raw and qcow2 images can be provisioned"));
        }
        if (f[2]) {
                SUBPATH(p, path, "thin");
                CHECK(json_ctx_bool(c, f[2], p, &thin));
                pr->thin = thin > 0;
        }
        if (f[3]) {
                SUBPATH(p, path, "backing");
                CHECK(json_ctx_file_path(c, f[3], p, &pr->backing));
        }
        return 0;
}

enum {
        V_NAME, V_STORAGE, V_PATH, V_FORMAT, V_TYPE, V_BUS, V_READONLY, V_BOOT_INDEX, V_WWN,
        V_SERIAL, V_PROVISION, _V_MAX,
};
static const char * const volume_keys[_V_MAX] = {
        [V_NAME] = "name", [V_STORAGE] = "storage", [V_PATH] = "path", [V_FORMAT] = "format",
        [V_TYPE] = "type", [V_BUS] = "bus", [V_READONLY] = "readonly", [V_BOOT_INDEX] = "boot-index",
        [V_WWN] = "wwn", [V_SERIAL] = "serial", [V_PROVISION] = "provision",
};

static int parse_volume(JsonCtx *c, JsonNode *node, const char *path, Volume *v) {
        JsonNode *f[_V_MAX];
        int64_t bi;
        int r;

        r = json_ctx_keys(c, node, path, volume_keys, _V_MAX, f);
        if (r < 0)
                return r;

        if (!f[V_NAME])
                CHECK(ctx_error(c, path, "volume needs a 'name'"));
        if (!!f[V_STORAGE] == !!f[V_PATH])
                CHECK(ctx_error(c, path, "volume needs exactly one of 'storage' and 'path'"));
        if (f[V_FORMAT] && f[V_TYPE])
                CHECK(ctx_error(c, path, "'format' and 'type' are the same setting, give one"));

        for (size_t i = 0; i < _V_MAX; i++) {
                if (!f[i])
                        continue;
                SUBPATH(p, path, volume_keys[i]);

                switch (i) {
                case V_NAME:
                        r = json_ctx_name(c, f[i], p, "volume", &v->name);
                        break;
                case V_STORAGE:
                        r = json_ctx_name(c, f[i], p, "storage", &v->storage);
                        break;
                case V_PATH:
                        r = json_ctx_file_path(c, f[i], p, &v->path);
                        break;
                case V_FORMAT:
                case V_TYPE:
                        r = parse_volume_format(c, f[i], p, &v->format);
                        break;
                case V_BUS:
                        r = JSON_CTX_ENUM(c, f[i], p, "disk bus", disk_bus, _DISK_BUS_MAX, &v->bus);
                        break;
                case V_READONLY:
                        r = json_ctx_bool(c, f[i], p, &v->readonly);
                        break;
                case V_BOOT_INDEX:
                        r = json_ctx_int(c, f[i], p, 0, 1023, &bi);
                        if (r >= 0)
                                v->boot_index = (int) bi;
                        break;
                case V_WWN:
                        r = json_ctx_string(c, f[i], p, &v->wwn);
                        break;
                case V_SERIAL:
                        r = json_ctx_string(c, f[i], p, &v->serial);
                        break;
                case V_PROVISION:
                        r = parse_provision(c, f[i], p, &v->provision);
                        break;
                }
                CHECK(r);
        }
        return 0;
}

static int parse_connection(JsonCtx *c, JsonNode *node, const char *path, Connection *cn) {
        static const char * const keys[] = { "name", "network", "mac", "model" };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (!f[0])
                CHECK(ctx_error(c, path, "connection needs a 'name'"));
        else {
                SUBPATH(p, path, "name");
                CHECK(json_ctx_name(c, f[0], p, "connection", &cn->name));
        }
        if (f[1]) {
                SUBPATH(p, path, "network");
                CHECK(json_ctx_name(c, f[1], p, "network", &cn->network));
        }
        if (f[2]) {
                SUBPATH(p, path, "mac");
                CHECK(json_ctx_string(c, f[2], p, &cn->mac));
        }
        if (f[3]) {
                SUBPATH(p, path, "model");
                r = json_ctx_string(c, f[3], p, &cn->model);
                CHECK(r);
                if (r >= 0 && !machine_name_is_valid(cn->model))
                        CHECK(ctx_error(c, p, "invalid NIC model '%s'", cn->model));
        }
        return 0;
}

static int parse_device(JsonCtx *c, JsonNode *node, const char *path, Device *d) {
        static const char * const keys[] = { "name", "class", "id" };
        JsonNode *f[ELEMENTSOF(keys)];
        uuid_t u;
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (!f[0])
                CHECK(ctx_error(c, path, "device needs a 'name'"));
        else {
                SUBPATH(p, path, "name");
                CHECK(json_ctx_name(c, f[0], p, "device", &d->name));
        }
        if (!f[1])
                CHECK(ctx_error(c, path, "device needs a 'class'"));
        else {
                SUBPATH(p, path, "class");
                CHECK(json_ctx_name(c, f[1], p, "device class", &d->class));
        }
        if (f[2]) {
                SUBPATH(p, path, "id");
                r = json_ctx_uuid(c, f[2], p, u);
                CHECK(r);
                if (r >= 0) {
                        d->id = malloc(UUID_STR_LEN);
                        if (!d->id)
                                return -ENOMEM;
                        uuid_unparse_lower(u, d->id);
                }
        }
        return 0;
}

#define VOLUME_INIT ((Volume) { .readonly = -1, .boot_index = -1 })

/* Parses a list of named objects into a freshly allocated array, rejecting duplicate names. */
#define PARSE_LIST(c, node, path, key, max, type, init, parse, field, n_field)            \
        ({                                                                                      \
                JsonArray *_a;                                                                  \
                int _r;                                                                         \
                _cleanup_free_ char *_p = path_key((path), (key));                              \
                if (!_p)                                                                        \
                        return -ENOMEM;                                                         \
                _r = json_ctx_array((c), (node), _p, (max), &_a);                               \
                if (_r >= 0) {                                                                  \
                        size_t _n = json_array_get_length(_a);                                  \
                        (field) = calloc(_n ?: 1, sizeof(type));                                \
                        if (!(field))                                                           \
                                return -ENOMEM;                                                 \
                        for (size_t _i = 0; _i < _n; _i++) {                                    \
                                _cleanup_free_ char *_ip = path_index(_p, _i);                  \
                                type *_e = (field) + (n_field);                                 \
                                if (!_ip)                                                       \
                                        return -ENOMEM;                                         \
                                *_e = init;                                              \
                                (n_field)++;                                                    \
                                CHECK(parse((c), json_array_get_element(_a, _i), _ip, _e));     \
                                for (size_t _j = 0; _e->name && _j + 1 < (n_field); _j++)       \
                                        if (streq_ptr((field)[_j].name, _e->name))              \
                                                CHECK(ctx_error((c), _ip, "duplicate name '%s' (also at index %zu)", \
                                                                _e->name, _j));                 \
                        }                                                                       \
                }                                                                               \
                _r;                                                                             \
        })

static int parse_tags(JsonCtx *c, JsonNode *node, const char *path, MachineDef *m) {
        JsonArray *a;
        int r;

        r = json_ctx_array(c, node, path, DEF_TAGS_MAX, &a);
        if (r < 0)
                return r;
        m->tags = calloc(1, sizeof(char *));
        if (!m->tags)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_get_length(a); i++) {
                _cleanup_free_ char *p = path_index(path, i), *s = NULL;

                if (!p)
                        return -ENOMEM;
                r = json_ctx_name(c, json_array_get_element(a, i), p, "tag", &s);
                CHECK(r);
                if (r < 0)
                        continue;
                if (strv_contains(m->tags, s)) {
                        CHECK(ctx_error(c, p, "tag '%s' listed twice", s));
                        continue;
                }
                r = strv_push(&m->tags, TAKE_PTR(s));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool var_name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > DEF_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!isascii(*s) || !(isalnum(*s) || *s == '_' || *s == '-'))
                        return false;
        return true;
}

static int parse_vars(JsonCtx *c, JsonNode *node, const char *path, MachineDef *m) {
        g_autoptr(GList) members = NULL;
        JsonObject *o;
        int r;

        r = json_ctx_object(c, node, path);
        if (r < 0)
                return r;
        o = json_node_get_object(node);
        if (json_object_get_size(o) > DEF_VARS_MAX)
                return ctx_error(c, path, "%u variables, the limit is %u", json_object_get_size(o), DEF_VARS_MAX);
        m->vars = calloc(json_object_get_size(o) ?: 1, sizeof(Var));
        if (!m->vars)
                return -ENOMEM;

        members = json_object_get_members(o);
        for (GList *l = members; l; l = l->next) {
                _cleanup_free_ char *p = path_key(path, l->data), *value = NULL, *name = NULL;

                if (!p)
                        return -ENOMEM;
                if (!var_name_is_valid(l->data)) {
                        CHECK(ctx_error(c, p, "invalid variable name: use 1..%u characters of [A-Za-z0-9_-]",
                                        DEF_NAME_MAX));
                        continue;
                }
                r = json_ctx_string(c, json_object_get_member(o, l->data), p, &value);
                CHECK(r);
                if (r < 0)
                        continue;
                name = strdup(l->data);
                if (!name)
                        return -ENOMEM;
                m->vars[m->n_vars++] = (Var) { .name = TAKE_PTR(name), .value = TAKE_PTR(value) };
        }
        return 0;
}

static int parse_owner(JsonCtx *c, JsonNode *node, const char *path, MachineDef *m) {
        _cleanup_free_ char *s = NULL, *buf = NULL;
        struct passwd pw, *result = NULL;
        int64_t v;
        int r;

        if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64) {
                r = json_ctx_int(c, node, path, 0, (int64_t) UINT32_MAX - 1, &v);
                if (r < 0)
                        return r;
                m->owner = (uid_t) v;
                m->owner_set = true;
                return 0;
        }
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return ctx_error(c, path, "expected a user name or a numeric uid");
        r = json_ctx_string(c, node, path, &s);
        if (r < 0)
                return r;

        buf = malloc(16384);
        if (!buf)
                return -ENOMEM;
        r = getpwnam_r(s, &pw, buf, 16384, &result);
        if (r != 0 || !result)
                return ctx_error(c, path, "unknown user '%s'", s);
        m->owner = pw.pw_uid;
        m->owner_set = true;
        return 0;
}

enum {
        M_NAME, M_ID, M_DESCRIPTION, M_TAGS, M_VARS, M_ATTRS, M_VOLUMES, M_CONNECTIONS, M_DEVICES,
        M_AUTOSTART, M_BOOT_DELAY, M_STOP_TIMEOUT, M_OWNER, _M_MAX,
};
static const char * const machine_keys[_M_MAX] = {
        [M_NAME] = "name", [M_ID] = "id", [M_DESCRIPTION] = "description", [M_TAGS] = "tags",
        [M_VARS] = "vars", [M_ATTRS] = "attrs", [M_VOLUMES] = "volumes",
        [M_CONNECTIONS] = "connections", [M_DEVICES] = "devices", [M_AUTOSTART] = "autostart",
        [M_BOOT_DELAY] = "boot-delay", [M_STOP_TIMEOUT] = "stop-timeout", [M_OWNER] = "owner",
};

int machine_def_parse_node(JsonCtx *c, JsonNode *root, const char *path, bool tag, MachineDef *m) {
        JsonNode *f[_M_MAX];
        int64_t v;
        int r;

        r = json_ctx_keys(c, root, path, machine_keys, _M_MAX, f);
        if (r < 0)
                return r;

        if (!f[M_NAME])
                CHECK(ctx_error(c, path, "missing 'name'"));

        for (size_t i = 0; i < _M_MAX; i++) {
                if (!f[i])
                        continue;
                SUBPATH(p, path, machine_keys[i]);

                if (tag && IN_SET(i, M_ID, M_TAGS, M_AUTOSTART, M_BOOT_DELAY, M_STOP_TIMEOUT, M_OWNER)) {
                        CHECK(ctx_error(c, p, "'%s' is not allowed in a tag", machine_keys[i]));
                        continue;
                }

                switch (i) {
                case M_NAME:
                        r = json_ctx_name(c, f[i], p, tag ? "tag" : "machine", &m->name);
                        break;
                case M_ID:
                        r = json_ctx_uuid(c, f[i], p, m->id);
                        m->id_set = r >= 0;
                        break;
                case M_DESCRIPTION:
                        r = json_ctx_string(c, f[i], p, &m->description);
                        break;
                case M_TAGS:
                        r = parse_tags(c, f[i], p, m);
                        break;
                case M_VARS:
                        r = parse_vars(c, f[i], p, m);
                        break;
                case M_ATTRS:
                        r = parse_attrs(c, f[i], p, &m->attrs);
                        break;
                case M_VOLUMES:
                        r = PARSE_LIST(c, f[i], path, "volumes", DEF_VOLUMES_MAX, Volume, VOLUME_INIT,
                                       parse_volume, m->volumes, m->n_volumes);
                        break;
                case M_CONNECTIONS:
                        r = PARSE_LIST(c, f[i], path, "connections", DEF_CONNECTIONS_MAX, Connection, (Connection) {},
                                       parse_connection, m->connections, m->n_connections);
                        break;
                case M_DEVICES:
                        r = PARSE_LIST(c, f[i], path, "devices", DEF_DEVICES_MAX, Device, (Device) {},
                                       parse_device, m->devices, m->n_devices);
                        break;
                case M_AUTOSTART:
                        r = JSON_CTX_ENUM(c, f[i], p, "autostart mode", autostart, _AUTOSTART_MAX, &m->autostart);
                        break;
                case M_BOOT_DELAY:
                        r = json_ctx_int(c, f[i], p, 0, 86400, &v);
                        if (r >= 0)
                                m->boot_delay_usec = (uint64_t) v * 1000000ULL;
                        break;
                case M_STOP_TIMEOUT:
                        r = json_ctx_int(c, f[i], p, 0, 86400, &v);
                        if (r >= 0)
                                m->stop_timeout_usec = (uint64_t) v * 1000000ULL;
                        break;
                case M_OWNER:
                        r = parse_owner(c, f[i], p, m);
                        break;
                }
                CHECK(r);
        }
        return 0;
}

int machine_def_parse(const char *data, size_t size, const char *origin,
                      MachineDef **ret, Diagnostics *diag) {
        _cleanup_(machine_def_freep) MachineDef *m = NULL;
        g_autoptr(JsonParser) parser = NULL;
        JsonCtx c = { .file = origin ?: "<input>", .diag = diag };
        JsonNode *root;
        int r;

        if (!data || !ret)
                return -EINVAL;

        r = json_ctx_load(&c, data, size, &parser, &root);
        if (r < 0)
                return r;

        m = machine_def_new();
        if (!m)
                return -ENOMEM;
        m->source = strdup(c.file);
        if (!m->source)
                return -ENOMEM;

        r = machine_def_parse_node(&c, root, "$", false, m);
        if (r < 0 && r != -EINVAL)
                return r;
        if (c.oom)
                return -ENOMEM;
        if (c.n_errors > 0)
                return -EINVAL;

        *ret = TAKE_PTR(m);
        return 0;
}
