/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Resolving a definition against the host file (DESIGN §4): tag merge, defaults, pattern
 * expansion, storage/network/mediated-device references and stable identifiers.
 *
 * Every merged item remembers where it came from (the machine file or a host file tag), so that a
 * problem found here is reported at the file and JSON path where the user wrote it. */

#include <ctype.h>
#include <inttypes.h>

#include <stdarg.h>

#include "config-internal.h"
#include "identifiers.h"
#include "pattern.h"
#include "references.h"

/* Where a merged item was written: tag < 0 is the machine file, else host->tags[tag]. */
typedef struct Origin {
        int tag;
        size_t index;
} Origin;

typedef enum AttrField {
        F_KERNEL, F_INITRD, F_CMDLINE, F_FW_CODE, F_FW_VARS, F_VNC, F_SPICE, _F_MAX,
} AttrField;

typedef struct Resolver {
        const MachineDef *def;
        const HostConfig *host;
        MachineDef *m;
        JsonCtx machine_ctx, host_ctx;

        Origin *var_origin, *volume_origin, *connection_origin, *device_origin;
        int attr_origin[_F_MAX];

        char **expanded;        /* per var, once expanded */
        char **var_error;       /* per var, why it failed */
        size_t n_expanded;      /* entries of expanded, var_error and state */
        uint8_t *state;         /* per var: VAR_* */
        unsigned depth;
        const char *volume;     /* the "volume" built-in while expanding a storage pattern */
        char *nested_error;     /* why a variable referenced by a pattern failed */
        char id_str[UUID_STR_LEN];
        char index_str[16];
} Resolver;

enum { VAR_PENDING, VAR_BUSY, VAR_DONE, VAR_FAILED, VAR_FAILED_REPORTED };

static void resolver_done(Resolver *r) {
        for (size_t i = 0; r->expanded && i < r->n_expanded; i++)
                free(r->expanded[i]);
        free(r->expanded);
        for (size_t i = 0; r->var_error && i < r->n_expanded; i++)
                free(r->var_error[i]);
        free(r->var_error);
        free(r->state);
        free(r->var_origin);
        free(r->volume_origin);
        free(r->connection_origin);
        free(r->device_origin);
        free(r->nested_error);
        machine_def_free(r->m);
}

/* Report at the item's own file: path is "<prefix><sub>" where prefix is "$" or "$.tag[N]". */
_printf_(4, 5)
static int res_error(Resolver *r, int tag, const char *sub, const char *format, ...) {
        _cleanup_free_ char *path = NULL, *msg = NULL;
        JsonCtx *c = tag < 0 ? &r->machine_ctx : &r->host_ctx;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (tag < 0)
                k = asprintf(&path, "$%s", sub);
        else
                k = asprintf(&path, "$.tag[%d]%s", tag, sub);
        if (k < 0)
                return -ENOMEM;
        return ctx_error(c, path, "%s", msg);
}

static const char *lookup(const char *name, void *userdata);

static int expand_var(Resolver *r, size_t i) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int k;

        if (r->state[i] == VAR_DONE)
                return 0;
        if (IN_SET(r->state[i], VAR_FAILED, VAR_FAILED_REPORTED))
                return -EINVAL;
        if (r->state[i] == VAR_BUSY || r->depth >= PATTERN_DEPTH_MAX) {
                if (!r->nested_error && asprintf(&r->nested_error, "variable '%s' refers to itself (cycle)",
                                                 r->m->vars[i].name) < 0)
                        return -ENOMEM;
                return -ELOOP;
        }

        r->state[i] = VAR_BUSY;
        r->depth++;
        k = pattern_expand(r->m->vars[i].value, lookup, r, &out, &err);
        r->depth--;
        if (k < 0) {
                r->state[i] = VAR_FAILED;
                if (!r->nested_error &&
                    asprintf(&r->nested_error, "in variable '%s': %s", r->m->vars[i].name, strna(err)) < 0)
                        return -ENOMEM;
                r->var_error[i] = strdup(r->nested_error);
                return r->var_error[i] ? k : -ENOMEM;
        }
        r->state[i] = VAR_DONE;
        r->expanded[i] = TAKE_PTR(out);
        return 0;
}

static const char *lookup(const char *name, void *userdata) {
        Resolver *r = userdata;

        if (streq(name, "machine-name"))
                return r->m->name;
        if (streq(name, "machine-id"))
                return r->id_str;
        if (streq(name, "machine-description"))
                return strempty(r->m->description);
        if (streq(name, "machine-index"))
                return r->index_str;
        if (streq(name, "volume") && r->volume)
                return r->volume;

        for (size_t i = 0; i < r->m->n_vars; i++)
                if (streq(r->m->vars[i].name, name))
                        return expand_var(r, i) < 0 ? NULL : r->expanded[i];
        return NULL;
}

/* Expand pattern; on failure report it at (tag, sub) in the machine or host file. */
static int expand(Resolver *r, const char *pattern, int tag, const char *sub, JsonCtx *c_override,
                  char **ret) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int k;

        free(r->nested_error);
        r->nested_error = NULL;
        k = pattern_expand(pattern, lookup, r, &out, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                const char *why = r->nested_error ?: strna(err);

                if (c_override)
                        return ctx_error(c_override, sub, "pattern '%s': %s", pattern, why);
                return res_error(r, tag, sub, "pattern '%s': %s", pattern, why);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int expand_in_place(Resolver *r, char **field, int tag, const char *sub, bool absolute) {
        _cleanup_free_ char *out = NULL;
        int k;

        if (!*field)
                return 0;
        k = expand(r, *field, tag, sub, NULL, &out);
        if (k < 0)
                return k;
        if (absolute && out[0] != '/')
                return res_error(r, tag, sub, "path '%s' (from '%s') is not absolute", out, *field);
        free(*field);
        *field = TAKE_PTR(out);
        return 0;
}

static int expand_port(Resolver *r, char **pattern, int *port, int tag, const char *sub, int min) {
        _cleanup_free_ char *out = NULL;
        char *end;
        long v;
        int k;

        if (!*pattern)
                return 0;
        k = expand(r, *pattern, tag, sub, NULL, &out);
        if (k < 0)
                return k;
        errno = 0;
        v = strtol(out, &end, 10);
        if (!isdigit((unsigned char) out[0]) || *end || errno != 0 || v < min || v > 65535)
                return res_error(r, tag, sub, "pattern '%s' gives '%s', not a port number %d..65535",
                                 *pattern, out, min);
        *port = (int) v;
        free(*pattern);
        *pattern = NULL;
        return 0;
}

/* Room for max entries, but only the first n are set: merging tags sets each entry as it appends
 * the item, and nothing reads past the list's length. Not calloc(): zeroing 4 KiB of var origins
 * on every resolve showed in the profile. */
static int origins_new(Origin **ret, size_t n, size_t max) {
        *ret = malloc(sizeof(Origin) * (max ?: 1));
        if (!*ret)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                (*ret)[i] = (Origin) { .tag = -1, .index = i };
        return 0;
}

/* "First non-zero value wins per field" (DESIGN §4). */
static int merge_attrs(Resolver *r, const Attrs *t, int tag) {
        Attrs *a = &r->m->attrs;

#define MERGE_STR(field, f)                                                     \
        if (!a->field && t->field) {                                            \
                a->field = strdup(t->field);                                    \
                if (!a->field)                                                  \
                        return -ENOMEM;                                         \
                if ((int) (f) >= 0)                                             \
                        r->attr_origin[f] = tag;                                \
        }
#define MERGE_VAL(field, unset)                                                 \
        if (a->field == (unset))                                                \
                a->field = t->field;

        MERGE_VAL(cpus, 0U);
        MERGE_STR(cpu_model, -1);
        MERGE_VAL(memory_mib, 0U);
        MERGE_STR(machine_type, -1);
        MERGE_VAL(accel, ACCEL_AUTO);
        MERGE_VAL(firmware, FIRMWARE_UNSET);
        MERGE_STR(firmware_code, F_FW_CODE);
        MERGE_STR(firmware_vars, F_FW_VARS);
        MERGE_STR(kernel, F_KERNEL);
        MERGE_STR(initrd, F_INITRD);
        MERGE_STR(cmdline, F_CMDLINE);
        MERGE_VAL(console, CONSOLE_UNSET);
        /* A port and its pattern are one setting: the first source that has either wins. */
        if (a->vnc_port < 0 && !a->vnc_port_pattern) {
                a->vnc_port = t->vnc_port;
                MERGE_STR(vnc_port_pattern, F_VNC);
        }
        if (a->spice_port < 0 && !a->spice_port_pattern) {
                a->spice_port = t->spice_port;
                MERGE_STR(spice_port_pattern, F_SPICE);
        }
        MERGE_VAL(hyperv, -1);
        MERGE_VAL(guest_agent, -1);
        MERGE_VAL(pvpanic, -1);
#undef MERGE_STR
#undef MERGE_VAL
        return 0;
}

/* Append the tag's elements whose names are not there yet; first definition wins. */
#define MERGE_LIST(r, t, tag, field, n_field, type, copy, origin, max, what)                    \
        ({                                                                                      \
                int _k = 0;                                                                     \
                for (size_t _i = 0; _i < (t)->n_field && _k >= 0; _i++) {                       \
                        bool _have = false;                                                     \
                        type *_n;                                                               \
                        for (size_t _j = 0; _j < (r)->m->n_field && !_have; _j++)               \
                                _have = streq_ptr((r)->m->field[_j].name, (t)->field[_i].name); \
                        if (_have)                                                              \
                                continue;                                                       \
                        if ((r)->m->n_field >= (max)) {                                         \
                                _k = res_error((r), (tag), "", "too many " what " after merging tags, the limit is %u", \
                                               (unsigned) (max));                               \
                                break;                                                          \
                        }                                                                       \
                        _n = realloc((r)->m->field, sizeof(type) * ((r)->m->n_field + 1));      \
                        if (!_n)                                                                \
                                return -ENOMEM;                                                 \
                        (r)->m->field = _n;                                                     \
                        if (copy((t)->field + _i, _n + (r)->m->n_field) < 0)                    \
                                return -ENOMEM;                                                 \
                        (origin)[(r)->m->n_field++] = (Origin) { .tag = (tag), .index = _i };   \
                }                                                                               \
                _k;                                                                             \
        })

static int merge_vars(Resolver *r, const MachineDef *t, int tag) {
        for (size_t i = 0; i < t->n_vars; i++) {
                Var *n;

                if (machine_def_get_var(r->m, t->vars[i].name))
                        continue;
                if (r->m->n_vars >= DEF_VARS_MAX)
                        return res_error(r, tag, ".vars", "too many variables after merging tags, the limit is %u",
                                         DEF_VARS_MAX);
                n = realloc(r->m->vars, sizeof(Var) * (r->m->n_vars + 1));
                if (!n)
                        return -ENOMEM;
                r->m->vars = n;
                n[r->m->n_vars] = (Var) { .name = strdup(t->vars[i].name), .value = strdup(t->vars[i].value) };
                r->var_origin[r->m->n_vars] = (Origin) { .tag = tag, .index = i };
                r->m->n_vars++;
                if (!n[r->m->n_vars - 1].name || !n[r->m->n_vars - 1].value)
                        return -ENOMEM;
        }
        return 0;
}

static int merge_tags(Resolver *r) {
        int k;

        for (size_t i = 0; r->def->tags && r->def->tags[i]; i++) {
                const MachineDef *t = NULL;
                int tag = -1;

                for (size_t j = 0; r->host && j < r->host->n_tags; j++)
                        if (streq(r->host->tags[j]->name, r->def->tags[i])) {
                                t = r->host->tags[j];
                                tag = (int) j;
                        }
                if (!t) {
                        char sub[32];

                        (void) snprintf(sub, sizeof(sub), ".tags[%zu]", i);
                        k = res_error(r, -1, sub, "unknown tag '%s': the host file defines no such tag",
                                      r->def->tags[i]);
                        if (k == -ENOMEM)
                                return k;
                        continue;
                }
                if (merge_vars(r, t, tag) == -ENOMEM || merge_attrs(r, &t->attrs, tag) < 0)
                        return -ENOMEM;
                if (MERGE_LIST(r, t, tag, volumes, n_volumes, Volume, volume_copy,
                               r->volume_origin, DEF_VOLUMES_MAX, "volumes") == -ENOMEM ||
                    MERGE_LIST(r, t, tag, connections, n_connections, Connection, connection_copy,
                               r->connection_origin, DEF_CONNECTIONS_MAX, "connections") == -ENOMEM ||
                    MERGE_LIST(r, t, tag, devices, n_devices, Device, device_copy,
                               r->device_origin, DEF_DEVICES_MAX, "devices") == -ENOMEM)
                        return -ENOMEM;
        }
        return 0;
}

/* ".volumes[3]" in the machine file, or ".volumes[0]" of host tag N (res_error adds the tag). */
static int sub_path(char *buf, size_t n, const char *list, Origin o, const char *key) {
        /* Built by hand: this runs for every volume and connection field resolved, and snprintf()
         * was a visible share of resolve. */
        char digits[24], *d = digits + sizeof(digits);
        size_t l = strlen(list), k = key ? strlen(key) : 0, nd;
        size_t i = o.index;
        char *p = buf;

        do
                *--d = (char) ('0' + i % 10);
        while ((i /= 10) > 0);
        nd = (size_t) (digits + sizeof(digits) - d);

        if (1 + l + 1 + nd + 1 + (key ? 1 + k : 0) >= n)
                return -ENOMEM;
        *p++ = '.';
        p = mempcpy(p, list, l);
        *p++ = '[';
        p = mempcpy(p, d, nd);
        *p++ = ']';
        if (key) {
                *p++ = '.';
                p = mempcpy(p, key, k);
        }
        *p = 0;
        return 0;
}

static int resolve_vars(Resolver *r) {
        int k;

        r->expanded = calloc(r->m->n_vars ?: 1, sizeof(char *));
        r->var_error = calloc(r->m->n_vars ?: 1, sizeof(char *));
        r->state = calloc(r->m->n_vars ?: 1, 1);
        if (!r->expanded || !r->var_error || !r->state)
                return -ENOMEM;
        r->n_expanded = r->m->n_vars;

        for (size_t i = 0; i < r->m->n_vars; i++) {
                _cleanup_free_ char *p = NULL;

                free(r->nested_error);
                r->nested_error = NULL;
                k = expand_var(r, i);
                if (k == -ENOMEM)
                        return k;
                if (k >= 0 || r->state[i] != VAR_FAILED)
                        continue;
                p = path_key(".vars", r->m->vars[i].name);
                if (!p)
                        return -ENOMEM;
                k = res_error(r, r->var_origin[i].tag, p, "%s",
                              strna(r->var_error[i]));
                r->state[i] = VAR_FAILED_REPORTED;
                if (k == -ENOMEM)
                        return k;
        }
        /* Patterns elsewhere see the expanded values; so does the resolved definition. */
        for (size_t i = 0; i < r->m->n_vars; i++)
                if (r->state[i] == VAR_DONE) {
                        free(r->m->vars[i].value);
                        r->m->vars[i].value = strdup(r->expanded[i]);
                        if (!r->m->vars[i].value)
                                return -ENOMEM;
                }
        return 0;
}

static int resolve_attrs(Resolver *r) {
        Attrs *a = &r->m->attrs;
        int *o = r->attr_origin;

        if (a->cpus == 0 && r->host)
                a->cpus = r->host->processor.cpus;
        if (!a->cpu_model && r->host && r->host->processor.cpu_model) {
                a->cpu_model = strdup(r->host->processor.cpu_model);
                if (!a->cpu_model)
                        return -ENOMEM;
        }
        if (a->cpus == 0)
                a->cpus = 1;
        if (a->memory_mib == 0)
                a->memory_mib = 512;
        if (!a->machine_type) {
                a->machine_type = strdup("q35");
                if (!a->machine_type)
                        return -ENOMEM;
        }
        if (a->firmware == FIRMWARE_UNSET)
                a->firmware = FIRMWARE_SEABIOS;
        if (a->console == CONSOLE_UNSET)
                a->console = CONSOLE_SERIAL;

        if (expand_in_place(r, &a->kernel, o[F_KERNEL], ".attrs.kernel.path", true) == -ENOMEM ||
            expand_in_place(r, &a->initrd, o[F_INITRD], ".attrs.kernel.initrd", true) == -ENOMEM ||
            expand_in_place(r, &a->cmdline, o[F_CMDLINE], ".attrs.kernel.cmdline", false) == -ENOMEM ||
            expand_in_place(r, &a->firmware_code, o[F_FW_CODE], ".attrs.firmware.code", true) == -ENOMEM ||
            expand_in_place(r, &a->firmware_vars, o[F_FW_VARS], ".attrs.firmware.vars", true) == -ENOMEM ||
            expand_port(r, &a->vnc_port_pattern, &a->vnc_port, o[F_VNC], ".attrs.vnc.port-pattern", 5900) == -ENOMEM ||
            expand_port(r, &a->spice_port_pattern, &a->spice_port, o[F_SPICE], ".attrs.spice.port-pattern", 1) == -ENOMEM)
                return -ENOMEM;
        return 0;
}

static int resolve_volume(Resolver *r, size_t i) {
        Volume *v = r->m->volumes + i;
        Origin o = r->volume_origin[i];
        char sub[96];
        int k;

        if (v->storage) {
                const Storage *s = NULL;
                size_t si = 0;
                _cleanup_free_ char *spath = NULL, *pool_dir = NULL;

                for (; r->host && si < r->host->n_storage && !s; si++)
                        if (streq(r->host->storage[si].name, v->storage))
                                s = r->host->storage + si;
                if (sub_path(sub, sizeof(sub), "volumes", o, "storage") < 0)
                        return -ENOMEM;
                if (!s)
                        return res_error(r, o.tag, sub, "unknown storage '%s': the host file defines no such pool",
                                         v->storage);
                if (asprintf(&spath, "$.storage[%zu].pattern", si - 1) < 0)
                        return -ENOMEM;

                free(v->path);
                v->path = NULL;
                r->volume = v->name;
                k = expand(r, s->pattern, -1, spath, &r->host_ctx, &v->path);
                r->volume = NULL;
                if (k < 0)
                        return k;
                if (v->path[0] != '/')
                        return ctx_error(&r->host_ctx, spath, "pattern '%s' gives '%s', not an absolute path",
                                         s->pattern, v->path);
                /* For every caller, root too: a variable must not lead a volume out of its pool.
                 * Reported at the volume: the definition chose the values, not the host file. */
                k = storage_pool_contains(s, v->path, &pool_dir);
                if (k < 0)
                        return k;
                if (k == 0)
                        return res_error(r, o.tag, sub,
                                         "storage '%s' gives '%s' (pattern '%s'), which leaves the pool directory '%s': a value in it has a '.' or '..' component",
                                         v->storage, v->path, s->pattern, pool_dir);
                if (v->format == VOLUME_FORMAT_UNSET)
                        v->format = s->format;
        } else {
                if (sub_path(sub, sizeof(sub), "volumes", o, "path") < 0)
                        return -ENOMEM;
                k = expand_in_place(r, &v->path, o.tag, sub, true);
                if (k < 0)
                        return k;
        }
        if (v->provision.backing) {
                if (sub_path(sub, sizeof(sub), "volumes", o, "provision.backing") < 0)
                        return -ENOMEM;
                k = expand_in_place(r, &v->provision.backing, o.tag, sub, true);
                if (k < 0)
                        return k;
        }
        if (v->format == VOLUME_FORMAT_ISO && v->readonly < 0)
                v->readonly = 1;

        if (v->wwn) {
                if (sub_path(sub, sizeof(sub), "volumes", o, "wwn") < 0)
                        return -ENOMEM;
                if (!wwn_is_valid(v->wwn))
                        return res_error(r, o.tag, sub, "invalid WWN '%s': expected 0x and 16 hex digits", v->wwn);
        } else {
                k = identifier_wwn(r->m->id, r->m->name, v->name, &v->wwn);
                if (k < 0)
                        return k;
        }
        if (v->serial) {
                if (sub_path(sub, sizeof(sub), "volumes", o, "serial") < 0)
                        return -ENOMEM;
                if (!serial_is_valid(v->serial))
                        return res_error(r, o.tag, sub, "invalid serial '%s': use 1..36 characters of [A-Za-z0-9_.-]",
                                         v->serial);
        } else {
                k = identifier_serial(r->m->id, r->m->name, v->name, &v->serial);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int resolve_connection(Resolver *r, size_t i) {
        Connection *c = r->m->connections + i;
        Origin o = r->connection_origin[i];
        const Network *n = NULL;
        size_t ni = 0;
        char sub[96];
        int k;

        if (!c->network) {
                c->network = strdup("default");
                if (!c->network)
                        return -ENOMEM;
        }
        for (; r->host && ni < r->host->n_networks && !n; ni++)
                if (streq(r->host->networks[ni].name, c->network))
                        n = r->host->networks + ni;
        if (!n && streq(c->network, "default") && !r->host) {
                c->kind = NETWORK_KIND_USER;
        } else if (!n) {
                if (sub_path(sub, sizeof(sub), "connections", o, "network") < 0)
                        return -ENOMEM;
                return res_error(r, o.tag, sub, "unknown network '%s': the host file defines no such network",
                                 c->network);
        } else {
                c->kind = n->kind;
                free(c->bridge);
                c->bridge = NULL;
                if (n->bridge) {
                        _cleanup_free_ char *bpath = NULL;

                        if (asprintf(&bpath, "$.network[%zu].bridge", ni - 1) < 0)
                                return -ENOMEM;
                        k = expand(r, n->bridge, -1, bpath, &r->host_ctx, &c->bridge);
                        if (k < 0)
                                return k;
                        if (isempty(c->bridge) || strlen(c->bridge) > 15 || strpbrk(c->bridge, " /\t:"))
                                return ctx_error(&r->host_ctx, bpath, "pattern '%s' gives '%s', not a valid bridge name",
                                                 n->bridge, c->bridge);
                }
        }

        if (c->mac) {
                if (sub_path(sub, sizeof(sub), "connections", o, "mac") < 0)
                        return -ENOMEM;
                if (!mac_is_valid(c->mac))
                        return res_error(r, o.tag, sub, "invalid MAC address '%s': expected a unicast xx:xx:xx:xx:xx:xx",
                                         c->mac);
                for (char *p = c->mac; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                return 0;
        }
        return identifier_mac(r->m->id, r->m->name, c->name, &c->mac);
}

static int resolve_device(Resolver *r, size_t i) {
        Device *d = r->m->devices + i;
        Origin o = r->device_origin[i];
        const MediatedDevice *md = host_config_get_mdev(r->host, d->class);
        char sub[96];

        if (!md) {
                if (sub_path(sub, sizeof(sub), "devices", o, "class") < 0)
                        return -ENOMEM;
                return res_error(r, o.tag, sub, "unknown device class '%s': the host file has no such mediated-device",
                                 d->class);
        }
        if (free_and_strdup(&d->sysfs_parent, md->parent) < 0 ||
            free_and_strdup(&d->mdev_type, md->type) < 0)
                return -ENOMEM;
        if (d->id)
                return 0;
        return identifier_device_uuid(r->m->id, r->m->name, d->class, d->name, &d->id);
}

int machine_def_resolve(const MachineDef *def, const HostConfig *host, unsigned index,
                        MachineDef **ret, Diagnostics *diag) {
        _cleanup_(resolver_done) Resolver r = {
                .def = def,
                .host = host,
                .machine_ctx = { .file = def ? strna(def->source) : NULL, .diag = diag },
                .host_ctx = { .file = host && host->source ? host->source : HOST_CONFIG_FILE, .diag = diag },
        };
        int k;

        if (!def || !ret || !def->name)
                return -EINVAL;
        if (!def->source)
                r.machine_ctx.file = "<input>";

        for (size_t i = 0; i < _F_MAX; i++)
                r.attr_origin[i] = -1;
        k = machine_def_copy(def, &r.m);
        if (k < 0)
                return k;
        if (origins_new(&r.var_origin, def->n_vars, DEF_VARS_MAX) < 0 ||
            origins_new(&r.volume_origin, def->n_volumes, DEF_VOLUMES_MAX) < 0 ||
            origins_new(&r.connection_origin, def->n_connections, DEF_CONNECTIONS_MAX) < 0 ||
            origins_new(&r.device_origin, def->n_devices, DEF_DEVICES_MAX) < 0)
                return -ENOMEM;
        r.m->index = index;
        uuid_unparse_lower(r.m->id, r.id_str);  /* all-zero when unset, as for identifiers */
        (void) snprintf(r.index_str, sizeof(r.index_str), "%u", index);

        k = merge_tags(&r);
        if (k == -ENOMEM)
                return k;
        k = resolve_vars(&r);
        if (k == -ENOMEM)
                return k;
        k = resolve_attrs(&r);
        if (k == -ENOMEM)
                return k;

#define RESOLVE_EACH(n_field, fn)                                       \
        for (size_t i = 0; i < r.m->n_field; i++) {                     \
                k = fn(&r, i);                                          \
                if (k == -ENOMEM)                                       \
                        return k;                                       \
        }
        RESOLVE_EACH(n_volumes, resolve_volume);
        RESOLVE_EACH(n_connections, resolve_connection);
        RESOLVE_EACH(n_devices, resolve_device);
#undef RESOLVE_EACH

        if (r.machine_ctx.oom || r.host_ctx.oom)
                return -ENOMEM;
        if (r.machine_ctx.n_errors + r.host_ctx.n_errors > 0)
                return -EINVAL;

        *ret = TAKE_PTR(r.m);
        return 0;
}
