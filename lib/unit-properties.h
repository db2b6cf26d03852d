/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The transient unit machina-<name>.service (DESIGN §5) as a neutral list of typed properties:
 * the daemon turns it into StartTransientUnit's a(sv); the renderer writes the same set as a
 * unit file for "machinactl unit" and systemd-analyze. */

#include <stdint.h>

#include "machine-def.h"

typedef enum UnitPropertyType {
        UNIT_PROPERTY_STRING,   /* "s" */
        UNIT_PROPERTY_BOOL,     /* "b" */
        UNIT_PROPERTY_UINT64,   /* "t" (USec values too) */
        UNIT_PROPERTY_STRV,     /* "as" */
        UNIT_PROPERTY_EXEC,     /* "a(sasb)": one command, b = ignore_failure ("-") */
        UNIT_PROPERTY_DEVICE_ALLOW, /* "a(ss)": device node, permissions */
        UNIT_PROPERTY_UINT32,   /* "u": value in t (UMask) */
        UNIT_PROPERTY_INT32,    /* "i": value in t, as int32_t (SystemCallErrorNumber) */
        UNIT_PROPERTY_BOOL_STRV, /* "(bas)": b = allow-list, strv = entries (SystemCallFilter,
                                  * RestrictAddressFamilies); several of the same name add up */
        UNIT_PROPERTY_EXEC_EX,  /* "a(sasas)": one command with flags (ExecStartPreEx & co.):
                                 * b = "ignore-failure" ("-"), privileged = "privileged" ("+");
                                 * several of the same name add up */
        _UNIT_PROPERTY_TYPE_MAX,
} UnitPropertyType;

typedef struct UnitProperty {
        const char *name;       /* D-Bus property name, static */
        UnitPropertyType type;
        char *s;                /* STRING */
        bool b;                 /* BOOL */
        uint64_t t;             /* UINT64 */
        char **strv;            /* STRV, EXEC (argv), DEVICE_ALLOW (pairs: node, perms, ...) */
        bool privileged;        /* EXEC_EX: run with full privileges ("+") */
} UnitProperty;

typedef struct UnitProperties {
        UnitProperty *props;
        size_t n_props;
} UnitProperties;

typedef struct UnitContext {
        const char *qmp_stop_helper;    /* path of machina-qmp-stop */
        const char *tap_helper;         /* path of machina-tap; NULL: the one next to
                                         * qmp_stop_helper (both live in libexecdir) */
        const char *runtime_dir;        /* per-guest runtime dir */
        const char *user;               /* QEMU user; NULL in --user mode (no User=) */
        const char *group;
        bool user_mode;                 /* machinad --user: no User=/Group=/DeviceAllow= */
        Accel accel;                    /* KVM or TCG as passed to qemu_argv_build(); AUTO: read
                                         * it from the argv's -machine accel= */
} UnitContext;

/* D-Bus signature of a property's value: "s", "b", "t", "as", "a(sasb)", "a(ss)", "u", "i", "(bas)",
 * "a(sasas)". */
const char *unit_property_type_signature(UnitPropertyType t) _pure_;

void unit_properties_done(UnitProperties *p);

/* "machina-<name>.service" */
char *unit_name_for_machine(const char *name);

int unit_properties_build(const MachineDef *m, char * const *argv, const UnitContext *ctx,
                          UnitProperties *ret);

/* Render as a unit file ([Unit] / [Service] sections, ExecStart= with quoted argv). */
int unit_properties_render(const UnitProperties *p, char **ret);
