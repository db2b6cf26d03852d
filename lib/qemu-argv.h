/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The exact QEMU command line of a resolved guest: q35 with a deterministic PCIe layout, disks,
 * NICs, firmware, consoles and QMP. Pure: same input, same argv. */

#include "machine-def.h"

typedef struct RuntimePaths {
        const char *dir;        /* per-guest runtime dir, e.g. /run/machina/<name> */
        /* The files inside it are fixed: qmp.sock (machinad), qmp-stop.sock (ExecStop helper),
         * console.sock (serial console), and for OVMF the vars copy lives with the volumes. */
} RuntimePaths;

#define RUNTIME_QMP_SOCKET       "qmp.sock"
#define RUNTIME_QMP_STOP_SOCKET  "qmp-stop.sock"
#define RUNTIME_CONSOLE_SOCKET   "console.sock"
#define RUNTIME_GA_SOCKET        "guest-agent.sock"

/* Escape a value for a QEMU option list: every ',' doubled. */
char *qemu_opt_escape(const char *s);

/* accel must be KVM or TCG (accel_choose()). emulator: the binary (argv[0]). */
int qemu_argv_build(const MachineDef *m, const HostConfig *host, const char *emulator,
                    Accel accel, const RuntimePaths *rt, char ***ret_argv);

/* The tap device of a bridged connection: derived from the machine name and the connection's
 * index, at most 15 bytes (IFNAMSIZ - 1), deterministic. "mt-<name>-<index>" when that fits,
 * else "mh-<8 hex digits of the FNV-1a hash of the name>-<index>". The unit's "ExecStartPre=+
 * machina-tap add" creates the tap under this name (QEMU runs unprivileged and only opens it);
 * its "ExecStopPost=" removes it. */
int qemu_tap_name(const char *machine_name, size_t index, char **ret);

/* Look up an emulator name in $PATH (or return a copy of an absolute/relative path). systemd
 * wants an absolute ExecStart. -ENOENT when not found. */
int qemu_find_binary(const char *name, char **ret);

/* One option per line, shell-quoted ("machinactl args"). */
char *qemu_argv_format(char * const *argv);
/* Shell-quote one word if needed. */
char *shell_quote(const char *s);
