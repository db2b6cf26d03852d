/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Stable identifiers derived from the machine UUID and name (IDENTIFIERS contract, bit-compatible
 * with machina). Each returns a newly allocated string in its text form, or -EINVAL for a NULL
 * name or component. machine_id may be NULL: the all-zero UUID, as for a machine without one. */

#include <stdbool.h>
#include <uuid/uuid.h>

int identifier_mac(const uuid_t machine_id, const char *machine_name, const char *connection,
                   char **ret);        /* "52:54:00:xx:xx:xx" */
int identifier_wwn(const uuid_t machine_id, const char *machine_name, const char *volume,
                   char **ret);        /* "0x55254…" 16 uppercase hex digits */
int identifier_serial(const uuid_t machine_id, const char *machine_name, const char *volume,
                      char **ret);     /* 26 chars base32hex, no padding */
int identifier_device_uuid(const uuid_t machine_id, const char *machine_name, const char *class,
                           const char *device, char **ret);  /* lowercase 8-4-4-4-12 */

/* Validation of explicit values in definitions. */
bool mac_is_valid(const char *s);       /* xx:xx:xx:xx:xx:xx, unicast */
bool wwn_is_valid(const char *s);       /* 0x + 16 hex digits */
bool serial_is_valid(const char *s);    /* 1..36 chars of [A-Za-z0-9_.-] (QEMU/SCSI limit) */
