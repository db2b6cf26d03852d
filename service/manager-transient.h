/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* CreateMachine guests are never written to the config dir, but their units outlive machinad.
 * So that a restarted machinad (crash, upgrade, idle exit) can re-adopt them, each one's
 * definition is kept, like systemd keeps transient units, in the runtime dir (a tmpfs: gone at
 * reboot, as are the guests): <runtime-dir>/.transient/<name>.json, root-only (0700 dir, 0600
 * file), written atomically, removed when the guest is gone. The leading dot keeps it apart
 * from the per-guest directories (a machine name cannot start with one). */

#include "machine-def.h"

typedef struct Manager Manager;

#define TRANSIENT_DIR ".transient"

/* Record def (as given, not resolved) and its machine-index. */
int manager_transient_save(Manager *m, const MachineDef *def, unsigned index);
/* Forget the record of name; a missing one is fine. */
void manager_transient_remove(Manager *m, const char *name);
/* The names of all records (sorted), or NULL when there are none. */
int manager_transient_list(Manager *m, char ***ret);
/* Read the record of name: the definition and its machine-index. -EINVAL if it is broken. */
int manager_transient_read(Manager *m, const char *name, MachineDef **ret_def, unsigned *ret_index);
