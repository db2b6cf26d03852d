/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Autostart policy (the "autostart" key of a definition), once per host boot:
 *
 *   no       never started by machinad on its own.
 *   yes      started once per boot: at the first machinad start after boot, or, for a guest that
 *            appears later (Reload), at the first Reload that sees it. A daemon restart never
 *            starts it again.
 *   oneshot  started only at the first machinad start after boot; never by later restarts or
 *            reloads.
 *   always   like yes, and the unit has Restart=on-success (lib/unit-properties.c): a guest that
 *            powers itself off comes back; machinad follows the new QEMU (machine-lifecycle.c).
 *
 * "This boot was handled" is remembered in <runtime-dir>/.autostart (a tmpfs in production, so
 * it is empty after every boot), with the names already started this boot, one per line.
 * "boot-delay" seconds are waited on an sd-event timer per guest, never blocking the daemon. */

#include "manager.h"

#define AUTOSTART_STATE_FILE ".autostart"

/* at_startup: machinad just started (oneshot guests count only then). Never fails the caller:
 * problems are logged. */
void manager_autostart(Manager *m, bool at_startup);

/* Whether delayed autostarts are pending (the daemon is not idle then). */
bool manager_autostart_pending(Manager *m);
