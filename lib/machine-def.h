/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The in-memory model of guest definitions and of the host file.
 *
 * One MachineDef type serves three purposes: a definition as parsed from its file, a tag from the
 * host file (a partial definition: vars, attrs, volumes, connections, devices), and a resolved
 * guest (tags merged, patterns expanded, identifiers derived, storage paths filled in). Only
 * resolved definitions are handed to qemu-argv.c and unit-properties.c.
 *
 * "Unset" is 0 / NULL / -1 (tristates, ports) so that the merge rule "first non-zero value wins
 * per field" (DESIGN §4) is a plain field-by-field walk. */

#include <stdint.h>
#include <sys/types.h>
#include <uuid/uuid.h>

#include "diagnostics.h"
#include "macro.h"

/* Bounds on what a caller controls (DESIGN: bound everything). */
#define DEF_FILE_SIZE_MAX       (1024U * 1024U)  /* one definition file or posted JSON */
#define DEF_NESTING_MAX         32U
#define DEF_STRING_MAX          4096U            /* any single string value */
#define DEF_NAME_MAX            64U              /* machine, tag, volume, connection names */
#define DEF_VOLUMES_MAX         64U
#define DEF_CONNECTIONS_MAX     32U
#define DEF_DEVICES_MAX         32U
#define DEF_TAGS_MAX            64U
#define DEF_VARS_MAX            256U
#define DEF_MACHINES_MAX        100000U
#define DEF_CPUS_MAX            1024U
#define DEF_MEMORY_MIB_MAX      (16U * 1024U * 1024U)

typedef enum Accel {
        ACCEL_AUTO,
        ACCEL_KVM,
        ACCEL_TCG,
        _ACCEL_MAX,
        _ACCEL_INVALID = -EINVAL,
} Accel;

typedef enum Autostart {
        AUTOSTART_NO,
        AUTOSTART_YES,
        AUTOSTART_ONESHOT,
        AUTOSTART_ALWAYS,
        _AUTOSTART_MAX,
        _AUTOSTART_INVALID = -EINVAL,
} Autostart;

typedef enum VolumeFormat {
        VOLUME_FORMAT_UNSET,
        VOLUME_FORMAT_RAW,      /* "raw" (also the machina storage type "file") */
        VOLUME_FORMAT_QCOW2,    /* "qcow2" */
        VOLUME_FORMAT_BLOCK,    /* "block": a block device, raw */
        VOLUME_FORMAT_ISO,      /* "iso": read-only CD-ROM */
        _VOLUME_FORMAT_MAX,
        _VOLUME_FORMAT_INVALID = -EINVAL,
} VolumeFormat;

typedef enum DiskBus {
        DISK_BUS_UNSET,
        DISK_BUS_VIRTIO_SCSI,   /* "scsi" (default for disks) */
        DISK_BUS_VIRTIO_BLK,    /* "virtio" */
        DISK_BUS_AHCI,          /* "sata" (default for ISOs) */
        _DISK_BUS_MAX,
        _DISK_BUS_INVALID = -EINVAL,
} DiskBus;

typedef enum NetworkKind {
        NETWORK_KIND_UNSET,
        NETWORK_KIND_USER,      /* "user": QEMU user-mode networking, works unprivileged */
        NETWORK_KIND_BRIDGE,    /* "bridge": a tap device on a host bridge */
        _NETWORK_KIND_MAX,
        _NETWORK_KIND_INVALID = -EINVAL,
} NetworkKind;

typedef enum Firmware {
        FIRMWARE_UNSET,
        FIRMWARE_SEABIOS,       /* default */
        FIRMWARE_OVMF,          /* UEFI: code + per-guest vars, as pflash */
        _FIRMWARE_MAX,
        _FIRMWARE_INVALID = -EINVAL,
} Firmware;

typedef enum ConsoleKind {
        CONSOLE_UNSET,
        CONSOLE_SERIAL,         /* "serial": ttyS0 on a unix socket in the runtime dir (default) */
        CONSOLE_NONE,           /* "none" */
        _CONSOLE_KIND_MAX,
        _CONSOLE_KIND_INVALID = -EINVAL,
} ConsoleKind;

DECLARE_STRING_TABLE_LOOKUP(accel, Accel);
DECLARE_STRING_TABLE_LOOKUP(autostart, Autostart);
DECLARE_STRING_TABLE_LOOKUP(volume_format, VolumeFormat);
DECLARE_STRING_TABLE_LOOKUP(disk_bus, DiskBus);
DECLARE_STRING_TABLE_LOOKUP(network_kind, NetworkKind);
DECLARE_STRING_TABLE_LOOKUP(firmware, Firmware);
DECLARE_STRING_TABLE_LOOKUP(console_kind, ConsoleKind);

typedef struct Provision {
        bool set;               /* "provision" present */
        uint64_t size;          /* bytes */
        VolumeFormat format;    /* RAW or QCOW2 */
        bool thin;              /* qcow2 preallocation=off / raw sparse (else full/falloc) */
        char *backing;          /* qcow2 backing image, absolute path */
} Provision;

typedef struct Volume {
        char *name;             /* required; unique within a guest */
        char *storage;          /* name of a host "storage" pool, or NULL when "path" is given */
        char *path;             /* explicit path, or the storage pattern expanded at resolve */
        VolumeFormat format;    /* explicit, else from the storage pool */
        DiskBus bus;
        int readonly;           /* tristate: -1 unset, 0, 1 (ISOs are always read-only) */
        int boot_index;         /* -1 unset */
        char *wwn;              /* "0x" + 16 hex digits; derived when unset */
        char *serial;           /* derived when unset */
        Provision provision;
} Volume;

typedef struct Connection {
        char *name;             /* required */
        char *network;          /* name of a host "network" */
        NetworkKind kind;       /* from the network at resolve */
        char *bridge;           /* from the network at resolve (bridge kind) */
        char *mac;              /* "52:54:00:..." lowercase; derived when unset */
        char *model;            /* NIC model, default "virtio-net-pci" */
} Connection;

typedef struct Device {
        char *name;             /* required */
        char *class;            /* device class, e.g. "gpu"; names a host "mediated-device" */
        char *id;               /* mediated device UUID, lowercase; derived when unset */
        char *sysfs_parent;     /* from the host mediated-device entry at resolve */
        char *mdev_type;        /* from the host mediated-device entry at resolve */
} Device;

typedef struct Attrs {
        unsigned cpus;          /* "cpu": {"count": N}  */
        char *cpu_model;        /* "cpu": {"model": "host"|"max"|...} */
        uint64_t memory_mib;    /* "ram": {"size": "512M" | 512} (numbers are MiB) */
        char *machine_type;     /* "machine": "q35" (only q35 is supported) */
        Accel accel;            /* "accel": "auto"|"kvm"|"tcg"; AUTO counts as unset for merge */
        Firmware firmware;      /* "firmware": {"type": "seabios"|"ovmf", "code": P, "vars": P} */
        char *firmware_code;
        char *firmware_vars;
        char *kernel;           /* "kernel": {"path": P, "initrd": P, "cmdline": S} */
        char *initrd;
        char *cmdline;
        ConsoleKind console;    /* "console": "serial"|"none" */
        int vnc_port;           /* "vnc": {"port": N} or {"port-pattern": S}; -1 unset */
        char *vnc_port_pattern;
        int spice_port;         /* "spice": {"port": N} or {"port-pattern": S}; -1 unset */
        char *spice_port_pattern;
        int hyperv;             /* "hyperv": bool; tristate */
        int guest_agent;        /* "guest-agent": bool; tristate */
        int pvpanic;            /* "pvpanic": bool; tristate */
} Attrs;

typedef struct Var {
        char *name;
        char *value;
} Var;

typedef struct MachineDef {
        char *name;
        uuid_t id;
        bool id_set;
        char *description;
        char **tags;            /* strv */
        Var *vars;
        size_t n_vars;
        Attrs attrs;
        Volume *volumes;
        size_t n_volumes;
        Connection *connections;
        size_t n_connections;
        Device *devices;
        size_t n_devices;

        /* Extensions beyond the machina format. */
        Autostart autostart;
        uint64_t boot_delay_usec;       /* "boot-delay": seconds */
        uint64_t stop_timeout_usec;     /* "stop-timeout": seconds; 0 = default (60 s) */
        uid_t owner;                    /* "owner": uid number or user name */
        bool owner_set;

        unsigned index;                 /* machine-index, set at resolve */
        char *source;                   /* file it came from, or an origin like "<bus>" */
} MachineDef;

/* A storage pool of the host file: where a guest's volumes live. */
typedef struct Storage {
        char *name;
        VolumeFormat format;    /* "type": "file"|"raw"|"qcow2"|"block"|"iso" */
        char *pattern;          /* path pattern, e.g. "/var/lib/machina/${machine-name}/${volume}.img" */
} Storage;

typedef struct Network {
        char *name;
        NetworkKind kind;       /* "type": "user"|"bridge" */
        char *bridge;           /* bridge kind: host bridge name */
} Network;

typedef struct MediatedDevice {
        char *class;            /* "class": what definitions' devices name */
        char *parent;           /* "parent": PCI address of the physical device */
        char *type;             /* "type": mdev type, e.g. "nvidia-63" */
} MediatedDevice;

typedef struct HostConfig {
        Storage *storage;
        size_t n_storage;
        Network *networks;
        size_t n_networks;
        MachineDef **tags;      /* "tag": [{"name": ..., "vars", "attrs", ...}] */
        size_t n_tags;
        Attrs processor;        /* "processor": {"count": N, "model": S}: host-wide CPU defaults */
        MediatedDevice *mdevs;
        size_t n_mdevs;

        char *emulator;         /* "emulator": default "qemu-system-x86_64" (searched in PATH) */
        Accel accel;            /* "accel" */
        char *qemu_user;        /* "user": default "machina-qemu" */
        char *qemu_group;       /* "group": default same as user */
        char *source;
} HostConfig;

MachineDef *machine_def_free(MachineDef *m);
static inline void machine_def_freep(MachineDef **m) {
        machine_def_free(*m);
}
HostConfig *host_config_free(HostConfig *h);
static inline void host_config_freep(HostConfig **h) {
        host_config_free(*h);
}
void attrs_done(Attrs *a);
void volume_done(Volume *v);
void connection_done(Connection *c);
void device_done(Device *d);

/* A fresh empty definition / host config with every field "unset". */
MachineDef *machine_def_new(void);
HostConfig *host_config_new(void);

/* Deep copy. */
int machine_def_copy(const MachineDef *m, MachineDef **ret);

/* Lookups by name, NULL if none. */
const Var *machine_def_get_var(const MachineDef *m, const char *name);
const Storage *host_config_get_storage(const HostConfig *h, const char *name);
const Network *host_config_get_network(const HostConfig *h, const char *name);
const MachineDef *host_config_get_tag(const HostConfig *h, const char *name);
const MediatedDevice *host_config_get_mdev(const HostConfig *h, const char *class);

/* Names: machine, tag, volume, connection and device names. A hostname-like subset so that a name
 * is safe as a file name, unit name, tap name component and object path label:
 * [A-Za-z0-9_.-], 1..64 bytes, no leading '.' or '-'. */
bool machine_name_is_valid(const char *name);

/* Effective values with defaults applied. */
uint64_t machine_def_stop_timeout_usec(const MachineDef *m);  /* default 60 s */
#define MACHINE_STOP_TIMEOUT_DEFAULT_USEC (60ULL * 1000000ULL)

/* Deep copies of one element into *ret (which is overwritten). */
int volume_copy(const Volume *v, Volume *ret);
int connection_copy(const Connection *c, Connection *ret);
int device_copy(const Device *d, Device *ret);
