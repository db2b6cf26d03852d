/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a definer may reference (docs/security.md, "What a definer may reference").
 *
 * machinad runs as root and acts on a definition's host paths as root: it provisions images
 * (qemu-img create), makes disks reachable for the QEMU user and hands them to QEMU. The polkit
 * right org.machina.machine.define must therefore not become "may read or create any file as
 * root" or "may make a guest controllable by someone else". For a caller other than root:
 *
 *   - every host file the resolved definition names (volume paths, provisioning backing images,
 *     kernel, initrd, firmware code and vars) lies strictly below the directory of one of the
 *     host file's storage pools: lexically (absolute, no "." or ".." component) and after
 *     resolving symlinks (the longest existing ancestor is resolved; a dangling symlink on the
 *     way is refused since qemu-img would follow it);
 *   - "owner" is unset or the caller itself.
 *
 * A pool's directory is the literal part of its pattern up to the last '/' before the first '$'
 * (for "/var/lib/machina/images/${machine-name}/${volume}.qcow2": /var/lib/machina/images). A
 * pool whose directory is "/" or not absolute or contains "." / ".." confines nothing and is
 * ignored. Root may reference anything. The check reads the file system (symlinks) but changes
 * nothing; pool directories must not be writable by definers, or a symlink planted after the
 * check would defeat it (units/machina.tmpfiles makes them root-owned). */

#include <sys/types.h>

#include "diagnostics.h"
#include "machine-def.h"

/* Returns 0 when caller may define resolved; -EPERM with one diagnostic per offending reference
 * (file, JSON path, reason) when not; -ENOMEM. Other errors while resolving a path (ELOOP,
 * EACCES, ENOTDIR, ...) count as "outside" and are reported as such. */
int definition_check_references(const MachineDef *resolved, const HostConfig *host, uid_t caller,
                                Diagnostics *diag);

/* The directory that confines storage pool s (see above), or NULL if it confines nothing.
 * Caller frees. Exposed for tests and docs. */
char *storage_pool_directory(const Storage *s);

/* Whether path, expanded from pool s's pattern, stays lexically inside the pool: 1 when it is
 * strictly below storage_pool_directory(s) with no "." or ".." component, or when s confines
 * nothing; 0 when it leaves, with the directory in *ret_dir (optional, caller frees); -ENOMEM.
 * Applies to every caller, root too (config-resolve.c): a variable holding ".." must not lead a
 * pool's volume out of the pool. Reads nothing from the file system. */
int storage_pool_contains(const Storage *s, const char *path, char **ret_dir);
