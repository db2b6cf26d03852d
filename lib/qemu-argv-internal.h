/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between qemu-argv.c (machine, CPU, consoles, NICs, devices) and qemu-argv-disks.c
 * (firmware, volumes). Not part of the library's API. */

#include "qemu-argv.h"

/* Root ports live on pcie.0 as multifunction slots 0x2..0x1e, 8 functions each. Slot 0x1 is the
 * display, 0x1f the ICH9 functions (LPC, AHCI, SMBus). */
#define PCIE_FIRST_SLOT         0x2U
#define PCIE_LAST_SLOT          0x1eU
#define PCIE_ROOT_PORTS_MAX     ((PCIE_LAST_SLOT - PCIE_FIRST_SLOT + 1) * 8U)
#define PCIE_ROOT_PORTS_MIN     8U      /* a fixed floor, so small guests look alike */
#define PCIE_ROOT_PORTS_SPARE   2U      /* free ports for hotplug */
#define AHCI_PORTS              6U      /* ich9-ahci: ide.0 … ide.5 */

typedef struct ArgvBuilder {
        char **argv;
        unsigned next_port;     /* next free root port, in layout order */
} ArgvBuilder;

int argv_add(ArgvBuilder *b, const char *s);
int argv_addf(ArgvBuilder *b, const char *format, ...) _printf_(2, 3);
/* Adds "option" and a formatted value: two argv entries. */
int argv_add_opt(ArgvBuilder *b, const char *option, const char *format, ...) _printf_(3, 4);
/* Hands out the next root port id ("rp<N>") for one PCIe device. */
int argv_take_port(ArgvBuilder *b, char **ret_bus);

bool volume_is_scsi(const Volume *v);
bool volume_is_virtio_blk(const Volume *v);
size_t volumes_count_virtio_blk(const MachineDef *m);

/* ",smm=on,pflash0=…" for -machine, or "". */
const char *qemu_machine_firmware_opts(const MachineDef *m);
int qemu_argv_add_firmware(ArgvBuilder *b, const MachineDef *m);
int qemu_argv_add_volumes(ArgvBuilder *b, const MachineDef *m);
