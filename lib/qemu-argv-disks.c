/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Firmware and volumes: -blockdev graphs (a protocol node "<x>-file" under a format node "<x>")
 * and the devices that present them. Node names come from the volume index, never from the
 * volume name, so any name is safe and node names stay short. */

#include "qemu-argv-internal.h"

static VolumeFormat volume_effective_format(const Volume *v) {
        return v->format == VOLUME_FORMAT_UNSET ? VOLUME_FORMAT_RAW : v->format;
}

static DiskBus volume_effective_bus(const Volume *v) {
        if (v->bus != DISK_BUS_UNSET)
                return v->bus;
        return v->format == VOLUME_FORMAT_ISO ? DISK_BUS_AHCI : DISK_BUS_VIRTIO_SCSI;
}

static bool volume_is_readonly(const Volume *v) {
        return v->format == VOLUME_FORMAT_ISO || v->readonly > 0;
}

bool volume_is_scsi(const Volume *v) {
        return volume_effective_bus(v) == DISK_BUS_VIRTIO_SCSI;
}

bool volume_is_virtio_blk(const Volume *v) {
        return volume_effective_bus(v) == DISK_BUS_VIRTIO_BLK;
}

size_t volumes_count_virtio_blk(const MachineDef *m) {
        size_t n = 0;

        for (size_t i = 0; i < m->n_volumes; i++)
                if (volume_is_virtio_blk(m->volumes + i))
                        n++;
        return n;
}

/* Two -blockdev options: the protocol node (file or host_device) and the format node on top. */
static int add_blockdev(ArgvBuilder *b, const char *node, const char *path, bool block_device,
                        const char *format, bool readonly) {
        _cleanup_free_ char *p = NULL;
        const char *ro = readonly ? ",read-only=on" : "";
        int r;

        p = qemu_opt_escape(path);
        if (!p)
                return -ENOMEM;

        r = argv_add_opt(b, "-blockdev", "driver=%s,filename=%s,node-name=%s-file%s",
                         block_device ? "host_device" : "file", p, node, ro);
        if (r < 0)
                return r;
        return argv_add_opt(b, "-blockdev", "driver=%s,file=%s-file,node-name=%s%s",
                            format, node, node, ro);
}

const char *qemu_machine_firmware_opts(const MachineDef *m) {
        if (m->attrs.firmware != FIRMWARE_OVMF)
                return "";
        /* SMM is what keeps a secure-boot capable OVMF's variable store out of the guest's reach. */
        return isempty(m->attrs.firmware_vars) ? ",smm=on,pflash0=fw-code"
                                               : ",smm=on,pflash0=fw-code,pflash1=fw-vars";
}

int qemu_argv_add_firmware(ArgvBuilder *b, const MachineDef *m) {
        const Attrs *a = &m->attrs;
        int r;

        if (a->firmware != FIRMWARE_OVMF)
                return 0;
        if (isempty(a->firmware_code))
                return -EINVAL;

        /* OVMF as pflash: the shared code image read-only, the per-guest vars writable. */
        r = add_blockdev(b, "fw-code", a->firmware_code, false, "raw", true);
        if (r < 0)
                return r;
        if (isempty(a->firmware_vars))
                return 0;
        return add_blockdev(b, "fw-vars", a->firmware_vars, false, "raw", false);
}

static int add_volume_device(ArgvBuilder *b, const Volume *v, size_t i,
                             unsigned *scsi_id, unsigned *ahci_port) {
        _cleanup_free_ char *serial = NULL, *wwn = NULL, *bootindex = NULL, *bus = NULL;
        bool cd = v->format == VOLUME_FORMAT_ISO;
        int r;

        if (v->serial) {
                _cleanup_free_ char *e = qemu_opt_escape(v->serial);

                if (!e || asprintf(&serial, ",serial=%s", e) < 0)
                        return -ENOMEM;
        }
        if (v->wwn) {
                _cleanup_free_ char *e = qemu_opt_escape(v->wwn);

                if (!e || asprintf(&wwn, ",wwn=%s", e) < 0)
                        return -ENOMEM;
        }
        if (v->boot_index >= 0 && asprintf(&bootindex, ",bootindex=%d", v->boot_index) < 0)
                return -ENOMEM;

        switch (volume_effective_bus(v)) {

        case DISK_BUS_VIRTIO_SCSI:
                /* One target per disk, LUN 0: every firmware scans targets, not all scan LUNs. */
                if (*scsi_id > 255)
                        return -E2BIG;
                return argv_add_opt(b, "-device",
                                    "%s,bus=scsi0.0,channel=0,scsi-id=%u,lun=0,drive=vol%zu,id=disk%zu%s%s%s",
                                    cd ? "scsi-cd" : "scsi-hd", (*scsi_id)++, i, i,
                                    strempty(wwn), strempty(serial), strempty(bootindex));

        case DISK_BUS_VIRTIO_BLK:
                /* virtio-blk has no WWN; the serial is what /dev/disk/by-id shows. */
                r = argv_take_port(b, &bus);
                if (r < 0)
                        return r;
                return argv_add_opt(b, "-device", "virtio-blk-pci,bus=%s,addr=0x0,drive=vol%zu,id=disk%zu%s%s",
                                    bus, i, i, strempty(serial), strempty(bootindex));

        case DISK_BUS_AHCI:
                /* QEMU's ide-hd refuses read-only nodes ("Block node is read-only"). */
                if (!cd && volume_is_readonly(v))
                        return -EOPNOTSUPP;
                if (*ahci_port >= AHCI_PORTS)
                        return -E2BIG;
                return argv_add_opt(b, "-device", "%s,bus=ide.%u,drive=vol%zu,id=disk%zu%s%s%s",
                                    cd ? "ide-cd" : "ide-hd", (*ahci_port)++, i, i,
                                    strempty(wwn), strempty(serial), strempty(bootindex));

        default:
                return -EINVAL;
        }
}

int qemu_argv_add_volumes(ArgvBuilder *b, const MachineDef *m) {
        unsigned scsi_id = 0, ahci_port = 0;
        bool need_scsi = false;
        int r;

        for (size_t i = 0; i < m->n_volumes; i++) {
                const Volume *v = m->volumes + i;
                VolumeFormat f = volume_effective_format(v);
                char node[32];

                if (isempty(v->path))
                        return -EINVAL;

                (void) snprintf(node, sizeof(node), "vol%zu", i);
                r = add_blockdev(b, node, v->path, f == VOLUME_FORMAT_BLOCK,
                                 f == VOLUME_FORMAT_QCOW2 ? "qcow2" : "raw",
                                 volume_is_readonly(v));
                if (r < 0)
                        return r;
                if (volume_is_scsi(v))
                        need_scsi = true;
        }

        /* The controller takes its root port before the virtio-blk disks: adding a virtio-blk
         * disk never moves the SCSI disks' addresses. */
        if (need_scsi) {
                _cleanup_free_ char *bus = NULL;

                r = argv_take_port(b, &bus);
                if (r < 0)
                        return r;
                r = argv_add_opt(b, "-device", "virtio-scsi-pci,id=scsi0,bus=%s,addr=0x0", bus);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->n_volumes; i++) {
                r = add_volume_device(b, m->volumes + i, i, &scsi_id, &ahci_port);
                if (r < 0)
                        return r;
        }
        return 0;
}
