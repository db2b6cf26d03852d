/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>

#include "machine-def.h"

static const char * const accel_table[_ACCEL_MAX] = {
        [ACCEL_AUTO] = "auto",
        [ACCEL_KVM]  = "kvm",
        [ACCEL_TCG]  = "tcg",
};
DEFINE_STRING_TABLE_LOOKUP(accel, Accel);

static const char * const autostart_table[_AUTOSTART_MAX] = {
        [AUTOSTART_NO]      = "no",
        [AUTOSTART_YES]     = "yes",
        [AUTOSTART_ONESHOT] = "oneshot",
        [AUTOSTART_ALWAYS]  = "always",
};
DEFINE_STRING_TABLE_LOOKUP(autostart, Autostart);

static const char * const volume_format_table[_VOLUME_FORMAT_MAX] = {
        [VOLUME_FORMAT_RAW]   = "raw",
        [VOLUME_FORMAT_QCOW2] = "qcow2",
        [VOLUME_FORMAT_BLOCK] = "block",
        [VOLUME_FORMAT_ISO]   = "iso",
};
DEFINE_STRING_TABLE_LOOKUP(volume_format, VolumeFormat);

static const char * const disk_bus_table[_DISK_BUS_MAX] = {
        [DISK_BUS_VIRTIO_SCSI] = "scsi",
        [DISK_BUS_VIRTIO_BLK]  = "virtio",
        [DISK_BUS_AHCI]        = "sata",
};
DEFINE_STRING_TABLE_LOOKUP(disk_bus, DiskBus);

static const char * const network_kind_table[_NETWORK_KIND_MAX] = {
        [NETWORK_KIND_USER]   = "user",
        [NETWORK_KIND_BRIDGE] = "bridge",
};
DEFINE_STRING_TABLE_LOOKUP(network_kind, NetworkKind);

static const char * const firmware_table[_FIRMWARE_MAX] = {
        [FIRMWARE_SEABIOS] = "seabios",
        [FIRMWARE_OVMF]    = "ovmf",
};
DEFINE_STRING_TABLE_LOOKUP(firmware, Firmware);

static const char * const console_kind_table[_CONSOLE_KIND_MAX] = {
        [CONSOLE_SERIAL] = "serial",
        [CONSOLE_NONE]   = "none",
};
DEFINE_STRING_TABLE_LOOKUP(console_kind, ConsoleKind);

void attrs_done(Attrs *a) {
        free(a->cpu_model);
        free(a->machine_type);
        free(a->firmware_code);
        free(a->firmware_vars);
        free(a->kernel);
        free(a->initrd);
        free(a->cmdline);
        free(a->vnc_port_pattern);
        free(a->spice_port_pattern);
        *a = (Attrs) {
                .vnc_port = -1,
                .spice_port = -1,
                .hyperv = -1,
                .guest_agent = -1,
                .pvpanic = -1,
        };
}

void volume_done(Volume *v) {
        free(v->name);
        free(v->storage);
        free(v->path);
        free(v->wwn);
        free(v->serial);
        free(v->provision.backing);
        *v = (Volume) { .readonly = -1, .boot_index = -1 };
}

void connection_done(Connection *c) {
        free(c->name);
        free(c->network);
        free(c->bridge);
        free(c->mac);
        free(c->model);
        *c = (Connection) {};
}

void device_done(Device *d) {
        free(d->name);
        free(d->class);
        free(d->id);
        free(d->sysfs_parent);
        free(d->mdev_type);
        *d = (Device) {};
}

MachineDef *machine_def_new(void) {
        MachineDef *m = calloc(1, sizeof(MachineDef));

        if (!m)
                return NULL;
        attrs_done(&m->attrs);
        return m;
}

MachineDef *machine_def_free(MachineDef *m) {
        if (!m)
                return NULL;
        free(m->name);
        free(m->description);
        strv_free(m->tags);
        for (size_t i = 0; i < m->n_vars; i++) {
                free(m->vars[i].name);
                free(m->vars[i].value);
        }
        free(m->vars);
        attrs_done(&m->attrs);
        for (size_t i = 0; i < m->n_volumes; i++)
                volume_done(m->volumes + i);
        free(m->volumes);
        for (size_t i = 0; i < m->n_connections; i++)
                connection_done(m->connections + i);
        free(m->connections);
        for (size_t i = 0; i < m->n_devices; i++)
                device_done(m->devices + i);
        free(m->devices);
        free(m->source);
        free(m);
        return NULL;
}

HostConfig *host_config_new(void) {
        HostConfig *h = calloc(1, sizeof(HostConfig));

        if (!h)
                return NULL;
        attrs_done(&h->processor);
        return h;
}

HostConfig *host_config_free(HostConfig *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_storage; i++) {
                free(h->storage[i].name);
                free(h->storage[i].pattern);
        }
        free(h->storage);
        for (size_t i = 0; i < h->n_networks; i++) {
                free(h->networks[i].name);
                free(h->networks[i].bridge);
        }
        free(h->networks);
        for (size_t i = 0; i < h->n_tags; i++)
                machine_def_free(h->tags[i]);
        free(h->tags);
        attrs_done(&h->processor);
        for (size_t i = 0; i < h->n_mdevs; i++) {
                free(h->mdevs[i].class);
                free(h->mdevs[i].parent);
                free(h->mdevs[i].type);
        }
        free(h->mdevs);
        free(h->emulator);
        free(h->qemu_user);
        free(h->qemu_group);
        free(h->source);
        free(h);
        return NULL;
}

static int strdup_field(char **dst, const char *src) {
        *dst = NULL;
        return free_and_strdup(dst, src);
}

static int attrs_copy(const Attrs *a, Attrs *ret) {
        *ret = *a;
        /* Clear the pointers first so a failure half way frees only what was copied. */
        ret->cpu_model = ret->machine_type = ret->firmware_code = ret->firmware_vars = NULL;
        ret->kernel = ret->initrd = ret->cmdline = NULL;
        ret->vnc_port_pattern = ret->spice_port_pattern = NULL;
        if (strdup_field(&ret->cpu_model, a->cpu_model) < 0 ||
            strdup_field(&ret->machine_type, a->machine_type) < 0 ||
            strdup_field(&ret->firmware_code, a->firmware_code) < 0 ||
            strdup_field(&ret->firmware_vars, a->firmware_vars) < 0 ||
            strdup_field(&ret->kernel, a->kernel) < 0 ||
            strdup_field(&ret->initrd, a->initrd) < 0 ||
            strdup_field(&ret->cmdline, a->cmdline) < 0 ||
            strdup_field(&ret->vnc_port_pattern, a->vnc_port_pattern) < 0 ||
            strdup_field(&ret->spice_port_pattern, a->spice_port_pattern) < 0) {
                attrs_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int volume_copy(const Volume *v, Volume *ret) {
        *ret = *v;
        ret->name = ret->storage = ret->path = ret->wwn = ret->serial = ret->provision.backing = NULL;
        if (strdup_field(&ret->name, v->name) < 0 ||
            strdup_field(&ret->storage, v->storage) < 0 ||
            strdup_field(&ret->path, v->path) < 0 ||
            strdup_field(&ret->wwn, v->wwn) < 0 ||
            strdup_field(&ret->serial, v->serial) < 0 ||
            strdup_field(&ret->provision.backing, v->provision.backing) < 0) {
                volume_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int connection_copy(const Connection *c, Connection *ret) {
        *ret = *c;
        ret->name = ret->network = ret->bridge = ret->mac = ret->model = NULL;
        if (strdup_field(&ret->name, c->name) < 0 ||
            strdup_field(&ret->network, c->network) < 0 ||
            strdup_field(&ret->bridge, c->bridge) < 0 ||
            strdup_field(&ret->mac, c->mac) < 0 ||
            strdup_field(&ret->model, c->model) < 0) {
                connection_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int device_copy(const Device *d, Device *ret) {
        *ret = *d;
        ret->name = ret->class = ret->id = ret->sysfs_parent = ret->mdev_type = NULL;
        if (strdup_field(&ret->name, d->name) < 0 ||
            strdup_field(&ret->class, d->class) < 0 ||
            strdup_field(&ret->id, d->id) < 0 ||
            strdup_field(&ret->sysfs_parent, d->sysfs_parent) < 0 ||
            strdup_field(&ret->mdev_type, d->mdev_type) < 0) {
                device_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int machine_def_copy(const MachineDef *m, MachineDef **ret) {
        _cleanup_(machine_def_freep) MachineDef *c = NULL;

        c = machine_def_new();
        if (!c)
                return -ENOMEM;

        if (strdup_field(&c->name, m->name) < 0 ||
            strdup_field(&c->description, m->description) < 0 ||
            strdup_field(&c->source, m->source) < 0)
                return -ENOMEM;
        memcpy(c->id, m->id, sizeof(uuid_t));
        c->id_set = m->id_set;
        if (m->tags) {
                c->tags = strv_copy(m->tags);
                if (!c->tags)
                        return -ENOMEM;
        }

        if (m->n_vars > 0) {
                c->vars = calloc(m->n_vars, sizeof(Var));
                if (!c->vars)
                        return -ENOMEM;
                for (; c->n_vars < m->n_vars; c->n_vars++)
                        if (strdup_field(&c->vars[c->n_vars].name, m->vars[c->n_vars].name) < 0 ||
                            strdup_field(&c->vars[c->n_vars].value, m->vars[c->n_vars].value) < 0) {
                                c->n_vars++;
                                return -ENOMEM;
                        }
        }

        attrs_done(&c->attrs);
        if (attrs_copy(&m->attrs, &c->attrs) < 0)
                return -ENOMEM;

#define COPY_ARRAY(field, n_field, type, copy)                                          \
        if (m->n_field > 0) {                                                           \
                c->field = calloc(m->n_field, sizeof(type));                            \
                if (!c->field)                                                          \
                        return -ENOMEM;                                                 \
                for (; c->n_field < m->n_field; c->n_field++)                           \
                        if (copy(m->field + c->n_field, c->field + c->n_field) < 0)     \
                                return -ENOMEM;                                         \
        }
        COPY_ARRAY(volumes, n_volumes, Volume, volume_copy);
        COPY_ARRAY(connections, n_connections, Connection, connection_copy);
        COPY_ARRAY(devices, n_devices, Device, device_copy);
#undef COPY_ARRAY

        c->autostart = m->autostart;
        c->boot_delay_usec = m->boot_delay_usec;
        c->stop_timeout_usec = m->stop_timeout_usec;
        c->owner = m->owner;
        c->owner_set = m->owner_set;
        c->index = m->index;

        *ret = TAKE_PTR(c);
        return 0;
}

const Var *machine_def_get_var(const MachineDef *m, const char *name) {
        for (size_t i = 0; i < m->n_vars; i++)
                if (streq(m->vars[i].name, name))
                        return m->vars + i;
        return NULL;
}

const Storage *host_config_get_storage(const HostConfig *h, const char *name) {
        for (size_t i = 0; h && i < h->n_storage; i++)
                if (streq(h->storage[i].name, name))
                        return h->storage + i;
        return NULL;
}

const Network *host_config_get_network(const HostConfig *h, const char *name) {
        for (size_t i = 0; h && i < h->n_networks; i++)
                if (streq(h->networks[i].name, name))
                        return h->networks + i;
        return NULL;
}

const MachineDef *host_config_get_tag(const HostConfig *h, const char *name) {
        for (size_t i = 0; h && i < h->n_tags; i++)
                if (streq(h->tags[i]->name, name))
                        return h->tags[i];
        return NULL;
}

const MediatedDevice *host_config_get_mdev(const HostConfig *h, const char *class) {
        for (size_t i = 0; h && i < h->n_mdevs; i++)
                if (streq(h->mdevs[i].class, class))
                        return h->mdevs + i;
        return NULL;
}

bool machine_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > DEF_NAME_MAX)
                return false;
        if (name[0] == '.' || name[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(isascii(name[i]) && (isalnum(name[i]) || strchr("_.-", name[i]))))
                        return false;
        return true;
}

uint64_t machine_def_stop_timeout_usec(const MachineDef *m) {
        return m->stop_timeout_usec > 0 ? m->stop_timeout_usec : MACHINE_STOP_TIMEOUT_DEFAULT_USEC;
}
