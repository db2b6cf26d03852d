/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Hand-built resolved definitions for the argv / unit / provision tests, so those tests do not
 * depend on the JSON parser. */

#include <uuid/uuid.h>

#include "machine-def.h"
#include "tests.h"

static inline char *xstrdup(const char *s) {
        char *r;

        if (!s)
                return NULL;
        r = strdup(s);
        ASSERT_TRUE(r);
        return r;
}

static inline MachineDef *test_def_new(const char *name) {
        MachineDef *m = machine_def_new();

        ASSERT_TRUE(m);
        m->name = xstrdup(name);
        ASSERT_OK(uuid_parse("0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40", m->id));
        m->id_set = true;
        m->attrs.cpus = 2;
        m->attrs.memory_mib = 256;
        return m;
}

static inline Volume *test_def_add_volume(MachineDef *m, const char *name, const char *path,
                                          VolumeFormat format, DiskBus bus) {
        Volume *v;

        m->volumes = realloc(m->volumes, (m->n_volumes + 1) * sizeof(Volume));
        ASSERT_TRUE(m->volumes);
        v = m->volumes + m->n_volumes++;
        *v = (Volume) { .readonly = -1, .boot_index = -1 };
        v->name = xstrdup(name);
        v->path = xstrdup(path);
        v->format = format;
        v->bus = bus;
        if (format != VOLUME_FORMAT_ISO) {
                v->wwn = xstrdup("0x55254001636F4B77");
                v->serial = xstrdup("66QBJ72V0G8I8QVM8LJ8TOT4P8");
        }
        return v;
}

static inline Connection *test_def_add_connection(MachineDef *m, const char *name, NetworkKind kind,
                                                  const char *mac) {
        Connection *c;

        m->connections = realloc(m->connections, (m->n_connections + 1) * sizeof(Connection));
        ASSERT_TRUE(m->connections);
        c = m->connections + m->n_connections++;
        *c = (Connection) {};
        c->name = xstrdup(name);
        c->network = xstrdup(kind == NETWORK_KIND_BRIDGE ? "lan" : "default");
        c->kind = kind;
        if (kind == NETWORK_KIND_BRIDGE)
                c->bridge = xstrdup("br0");
        c->mac = xstrdup(mac);
        return c;
}

static inline Device *test_def_add_device(MachineDef *m, const char *name, const char *id) {
        Device *d;

        m->devices = realloc(m->devices, (m->n_devices + 1) * sizeof(Device));
        ASSERT_TRUE(m->devices);
        d = m->devices + m->n_devices++;
        *d = (Device) {};
        d->name = xstrdup(name);
        d->class = xstrdup("gpu");
        d->id = xstrdup(id);
        return d;
}

/* argv contains the adjacent pair "opt value". */
static inline bool argv_has_pair(char * const *argv, const char *opt, const char *value) {
        for (size_t i = 0; argv[i] && argv[i + 1]; i++)
                if (strcmp(argv[i], opt) == 0 && strcmp(argv[i + 1], value) == 0)
                        return true;
        return false;
}
