/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Loading definitions from JSON (json-glib), validating them and resolving them against the host
 * file. No D-Bus, no process state: the daemon and machinactl both call these.
 *
 * Every problem is appended to a Diagnostics with file, JSON path and reason. Unknown keys are
 * warnings; everything else is an error. Keys match case-insensitively. */

#include "machine-def.h"

#define HOST_CONFIG_FILE   "machina.conf.json"
#define MACHINE_CONF_DIR   "machine.conf.d"
#define MACHINE_CONF_SUFFIX ".conf.json"

/* Parse one machine definition from memory. origin names it in diagnostics ("<bus>" or a path).
 * Validates syntax, types, bounds, names, UUID, enums; not references to the host file. */
int machine_def_parse(const char *data, size_t size, const char *origin,
                      MachineDef **ret, Diagnostics *diag);

/* Read and parse <path>; checks the file name matches "<name>.conf.json" for the "name" inside. */
int machine_def_load_file(const char *path, MachineDef **ret, Diagnostics *diag);

/* Parse the host file. A missing file is not an error: defaults (no pools, no networks; a
 * "default" user-mode network is always available). */
int host_config_parse(const char *data, size_t size, const char *origin,
                      HostConfig **ret, Diagnostics *diag);
int host_config_load(const char *confdir, HostConfig **ret, Diagnostics *diag);

/* Load <confdir>/machina.conf.json and every <confdir>/machine.conf.d/<name>.conf.json, sorted by name.
 * A broken machine file is reported in diag and skipped; the others load. Duplicate names (and
 * duplicate explicit UUIDs) are errors for the later file. Returns the number of definitions. */
int config_load_all(const char *confdir, HostConfig **ret_host,
                    MachineDef ***ret_defs, size_t *ret_n, Diagnostics *diag);
void machine_defs_free(MachineDef **defs, size_t n);

/* Tag merge + pattern expansion + identifier derivation + reference checks (storage, network,
 * tags, mediated devices). index is the machine-index built-in. The input is not modified; on
 * error nothing is returned and diag says why. */
int machine_def_resolve(const MachineDef *def, const HostConfig *host, unsigned index,
                        MachineDef **ret, Diagnostics *diag);

/* Serialize a (resolved or not) definition to JSON in the definition format, keys in a stable
 * order, so that parse(to_json(x)) == x. pretty: indented. */
int machine_def_to_json(const MachineDef *m, bool pretty, char **ret);

/* Write data to <dir>/<name>.conf.json atomically: temp file in the same dir, fsync, rename,
 * fsync of the dir. */
int config_write_atomic(const char *dir, const char *name, const char *data, size_t size);
/* The same for <dir>/<name><suffix> with the given mode (the temporary is never readable by
 * more than that). */
int config_write_atomic_full(const char *dir, const char *name, const char *suffix, mode_t mode,
                             const char *data, size_t size);
/* Removes the temporary files a config_write_atomic() interrupted by a crash left in dir (only
 * one writer may exist: machinad at startup). Returns how many, or -errno. */
int config_remove_stale_temporaries(const char *dir);
