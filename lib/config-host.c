/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The host file (machina.conf.json) → HostConfig: storage pools, networks, tags, processor
 * defaults, mediated devices and the emulator/accelerator/user settings. */

#include <strings.h>

#include "config-internal.h"

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

static int parse_storage(JsonCtx *c, JsonNode *node, const char *path, Storage *s) {
        static const char * const keys[] = { "name", "type", "pattern" };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (!f[0])
                CHECK(ctx_error(c, path, "storage needs a 'name'"));
        else {
                SUBPATH(p, path, "name");
                CHECK(json_ctx_name(c, f[0], p, "storage", &s->name));
        }
        if (f[1]) {
                SUBPATH(p, path, "type");
                if (JSON_NODE_HOLDS_VALUE(f[1]) && json_node_get_value_type(f[1]) == G_TYPE_STRING &&
                    strcasecmp(json_node_get_string(f[1]), "file") == 0)
                        s->format = VOLUME_FORMAT_RAW;
                else
                        CHECK(JSON_CTX_ENUM(c, f[1], p, "storage type", volume_format, _VOLUME_FORMAT_MAX, &s->format));
        }
        if (!f[2])
                CHECK(ctx_error(c, path, "storage needs a 'pattern'"));
        else {
                SUBPATH(p, path, "pattern");
                CHECK(json_ctx_file_path(c, f[2], p, &s->pattern));
        }
        return 0;
}

static int parse_network(JsonCtx *c, JsonNode *node, const char *path, Network *n) {
        static const char * const keys[] = { "name", "type", "bridge" };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        if (!f[0])
                CHECK(ctx_error(c, path, "network needs a 'name'"));
        else {
                SUBPATH(p, path, "name");
                CHECK(json_ctx_name(c, f[0], p, "network", &n->name));
        }
        if (!f[1])
                CHECK(ctx_error(c, path, "network needs a 'type' (user or bridge)"));
        else {
                SUBPATH(p, path, "type");
                CHECK(JSON_CTX_ENUM(c, f[1], p, "network type", network_kind, _NETWORK_KIND_MAX, &n->kind));
        }
        if (f[2]) {
                SUBPATH(p, path, "bridge");
                CHECK(json_ctx_string(c, f[2], p, &n->bridge));
                if (n->bridge && (isempty(n->bridge) || strpbrk(n->bridge, " /\t")))
                        CHECK(ctx_error(c, p, "invalid bridge name '%s'", n->bridge));
        }
        if (n->kind == NETWORK_KIND_BRIDGE && !f[2])
                CHECK(ctx_error(c, path, "a bridge network needs a 'bridge'"));
        if (n->kind == NETWORK_KIND_USER && f[2])
                CHECK(ctx_error(c, path, "'bridge' is only valid for bridge networks"));
        return 0;
}

static int parse_mdev(JsonCtx *c, JsonNode *node, const char *path, MediatedDevice *d) {
        static const char * const keys[] = { "class", "parent", "type" };
        char **fields[] = { &d->class, &d->parent, &d->type };
        JsonNode *f[ELEMENTSOF(keys)];
        int r;

        r = json_ctx_keys(c, node, path, keys, ELEMENTSOF(keys), f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (!f[i]) {
                        CHECK(ctx_error(c, path, "mediated device needs a '%s'", keys[i]));
                        continue;
                }
                SUBPATH(p, path, keys[i]);
                if (i != 1) {
                        CHECK(json_ctx_name(c, f[i], p, i == 0 ? "device class" : "mdev type", fields[i]));
                        continue;
                }
                /* The parent is a PCI address like "0000:00:02.0", used in a sysfs path. */
                r = json_ctx_string(c, f[i], p, fields[i]);
                CHECK(r);
                if (r >= 0 && (isempty(d->parent) || d->parent[strspn(d->parent, "0123456789abcdefABCDEF:.")]))
                        CHECK(ctx_error(c, p, "invalid PCI address '%s'", d->parent));
        }
        return 0;
}

static int parse_tag(JsonCtx *c, JsonNode *node, const char *path, MachineDef **t) {
        *t = machine_def_new();
        if (!*t)
                return -ENOMEM;
        (*t)->source = strdup(c->file);
        if (!(*t)->source)
                return -ENOMEM;
        return machine_def_parse_node(c, node, path, true, *t);
}

static int parse_processor(JsonCtx *c, JsonNode *node, const char *path, Attrs *a) {
        return attrs_parse_cpu(c, node, path, a);
}

/* A list of entries of one kind; names (or classes) must be unique. */
#define PARSE_HOST_LIST(c, node, path, max, type, parse, field, n_field, name_of)              \
        ({                                                                                      \
                JsonArray *_a;                                                                  \
                int _r = json_ctx_array((c), (node), (path), (max), &_a);                       \
                if (_r >= 0) {                                                                  \
                        size_t _n = json_array_get_length(_a);                                  \
                        (field) = calloc(_n ?: 1, sizeof(type));                                \
                        if (!(field))                                                           \
                                return -ENOMEM;                                                 \
                        for (size_t _i = 0; _i < _n; _i++) {                                    \
                                _cleanup_free_ char *_ip = path_index((path), _i);              \
                                if (!_ip)                                                       \
                                        return -ENOMEM;                                         \
                                (n_field)++;                                                    \
                                CHECK(parse((c), json_array_get_element(_a, _i), _ip, (field) + _i)); \
                                for (size_t _j = 0; name_of((field)[_i]) && _j < _i; _j++)      \
                                        if (streq_ptr(name_of((field)[_j]), name_of((field)[_i]))) \
                                                CHECK(ctx_error((c), _ip, "duplicate name '%s' (also at index %zu)", \
                                                                name_of((field)[_i]), _j));     \
                        }                                                                       \
                }                                                                               \
                _r;                                                                             \
        })
#define NAME_OF(x) ((x).name)
#define CLASS_OF(x) ((x).class)
#define TAG_NAME_OF(x) ((x) ? (x)->name : NULL)

enum {
        H_STORAGE, H_NETWORK, H_TAG, H_PROCESSOR, H_MDEV, H_EMULATOR, H_ACCEL, H_USER, H_GROUP, _H_MAX,
};
static const char * const host_keys[_H_MAX] = {
        [H_STORAGE] = "storage", [H_NETWORK] = "network", [H_TAG] = "tag",
        [H_PROCESSOR] = "processor", [H_MDEV] = "mediated-device", [H_EMULATOR] = "emulator",
        [H_ACCEL] = "accel", [H_USER] = "user", [H_GROUP] = "group",
};

static int host_add_default_network(HostConfig *h) {
        Network *n;

        if (host_config_get_network(h, "default"))
                return 0;
        n = realloc(h->networks, sizeof(Network) * (h->n_networks + 1));
        if (!n)
                return -ENOMEM;
        h->networks = n;
        n[h->n_networks] = (Network) { .kind = NETWORK_KIND_USER, .name = strdup("default") };
        if (!n[h->n_networks].name)
                return -ENOMEM;
        h->n_networks++;
        return 0;
}

static int host_parse_node(JsonCtx *c, JsonNode *root, HostConfig *h) {
        JsonNode *f[_H_MAX];
        int r;

        r = json_ctx_keys(c, root, "$", host_keys, _H_MAX, f);
        if (r < 0)
                return r;

        for (size_t i = 0; i < _H_MAX; i++) {
                if (!f[i])
                        continue;
                _cleanup_free_ char *p = path_key("$", host_keys[i]);
                if (!p)
                        return -ENOMEM;

                switch (i) {
                case H_STORAGE:
                        r = PARSE_HOST_LIST(c, f[i], p, DEF_VOLUMES_MAX, Storage, parse_storage,
                                            h->storage, h->n_storage, NAME_OF);
                        break;
                case H_NETWORK:
                        r = PARSE_HOST_LIST(c, f[i], p, DEF_CONNECTIONS_MAX, Network, parse_network,
                                            h->networks, h->n_networks, NAME_OF);
                        break;
                case H_TAG:
                        r = PARSE_HOST_LIST(c, f[i], p, DEF_TAGS_MAX, MachineDef *, parse_tag,
                                            h->tags, h->n_tags, TAG_NAME_OF);
                        break;
                case H_PROCESSOR:
                        r = parse_processor(c, f[i], p, &h->processor);
                        break;
                case H_MDEV:
                        r = PARSE_HOST_LIST(c, f[i], p, DEF_DEVICES_MAX, MediatedDevice, parse_mdev,
                                            h->mdevs, h->n_mdevs, CLASS_OF);
                        break;
                case H_EMULATOR:
                        r = json_ctx_string(c, f[i], p, &h->emulator);
                        if (r >= 0 && isempty(h->emulator))
                                r = ctx_error(c, p, "emulator must not be empty");
                        break;
                case H_ACCEL:
                        r = JSON_CTX_ENUM(c, f[i], p, "accelerator", accel, _ACCEL_MAX, &h->accel);
                        break;
                case H_USER:
                        r = json_ctx_name(c, f[i], p, "user", &h->qemu_user);
                        break;
                case H_GROUP:
                        r = json_ctx_name(c, f[i], p, "group", &h->qemu_group);
                        break;
                }
                CHECK(r);
        }
        return 0;
}

static int host_config_new_default(const char *origin, HostConfig **ret) {
        _cleanup_(host_config_freep) HostConfig *h = host_config_new();

        if (!h)
                return -ENOMEM;
        h->source = strdup(origin);
        if (!h->source || host_add_default_network(h) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(h);
        return 0;
}

int host_config_parse(const char *data, size_t size, const char *origin,
                      HostConfig **ret, Diagnostics *diag) {
        _cleanup_(host_config_freep) HostConfig *h = NULL;
        g_autoptr(JsonParser) parser = NULL;
        JsonCtx c = { .file = origin ?: "<input>", .diag = diag };
        JsonNode *root;
        int r;

        if (!data || !ret)
                return -EINVAL;

        r = json_ctx_load(&c, data, size, &parser, &root);
        if (r < 0)
                return r;

        h = host_config_new();
        if (!h)
                return -ENOMEM;
        h->source = strdup(c.file);
        if (!h->source)
                return -ENOMEM;
        r = host_parse_node(&c, root, h);
        if (r < 0 && r != -EINVAL)
                return r;
        if (c.oom)
                return -ENOMEM;
        if (c.n_errors > 0)
                return -EINVAL;
        r = host_add_default_network(h);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(h);
        return 0;
}

int host_config_load(const char *confdir, HostConfig **ret, Diagnostics *diag) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        int r;

        if (!confdir || !ret)
                return -EINVAL;
        if (asprintf(&path, "%s/%s", confdir, HOST_CONFIG_FILE) < 0)
                return -ENOMEM;

        r = config_read_file(path, &data, &size, diag);
        if (r == -ENOENT)
                return host_config_new_default(path, ret);
        if (r < 0)
                return r;
        return host_config_parse(data, size, path, ret, diag);
}
