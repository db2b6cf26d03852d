/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a definer other than root may reference: host files only inside the storage pools, and
 * no owner but itself. See references.h for the rules and docs/security.md for why. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "references.h"

/* Absolute, and no "." or ".." component (empty components from "//" are fine). */
static bool path_is_clean_absolute(const char *p) {
        if (!p || p[0] != '/')
                return false;
        for (const char *c = p; *c; ) {
                size_t n;

                c += strspn(c, "/");
                n = strcspn(c, "/");
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += n;
        }
        return true;
}

/* Collapse "//" and drop a trailing '/'; "/" stays "/". */
static char *path_collapse(const char *p) {
        char *s = malloc(strlen(p) + 1), *o = s;

        if (!s)
                return NULL;
        for (const char *c = p; *c; c++)
                if (*c != '/' || o == s || o[-1] != '/')
                        *o++ = *c;
        if (o > s + 1 && o[-1] == '/')
                o--;
        *o = 0;
        return s;
}

/* Strictly below dir: "/a/b/c" is below "/a/b", "/a/bc" and "/a/b" are not. */
static bool path_is_below(const char *path, const char *dir) {
        size_t n = strlen(dir);

        if (streq(dir, "/"))
                return path[0] == '/' && path[1] != 0;
        return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != 0;
}

/* 0 with *ret = NULL when s confines nothing, 0 with the directory, or -ENOMEM. */
static int pool_directory(const Storage *s, char **ret) {
        _cleanup_free_ char *prefix = NULL, *dir = NULL;
        char *slash;

        *ret = NULL;
        if (!s || !s->pattern || s->pattern[0] != '/')
                return 0;
        prefix = strndup(s->pattern, strcspn(s->pattern, "$"));
        if (!prefix)
                return -ENOMEM;
        slash = strrchr(prefix, '/');
        *slash = 0;
        if (!path_is_clean_absolute(prefix[0] ? prefix : "/"))
                return 0;
        dir = path_collapse(prefix);
        if (!dir)
                return -ENOMEM;
        if (dir[0] == 0 || streq(dir, "/"))
                return 0;               /* a pool at "/" would confine nothing */
        *ret = TAKE_PTR(dir);
        return 0;
}

char *storage_pool_directory(const Storage *s) {
        char *dir;

        return pool_directory(s, &dir) < 0 ? NULL : dir;
}

int storage_pool_contains(const Storage *s, const char *path, char **ret_dir) {
        _cleanup_free_ char *dir = NULL, *lexical = NULL;
        int r;

        r = pool_directory(s, &dir);
        if (r < 0)
                return r;
        if (!dir)
                return 1;
        if (path_is_clean_absolute(path)) {
                lexical = path_collapse(path);
                if (!lexical)
                        return -ENOMEM;
                if (path_is_below(lexical, dir))
                        return 1;
        }
        if (ret_dir)
                *ret_dir = TAKE_PTR(dir);
        return 0;
}

/* Resolve symlinks in the longest existing ancestor of a clean absolute path and append the
 * rest. A missing component that exists as a (dangling) symlink is refused (-ELOOP): whatever
 * later creates the file would follow it. */
static int resolve_existing(const char *path, char **ret) {
        _cleanup_free_ char *head = strdup(path), *tail = strdup("");

        if (!head || !tail)
                return -ENOMEM;
        for (;;) {
                char buf[PATH_MAX];
                struct stat st;
                char *slash, *joined;

                if (realpath(head[0] ? head : "/", buf)) {
                        if (asprintf(&joined, "%s%s", streq(buf, "/") ? "" : buf, tail) < 0)
                                return -ENOMEM;
                        *ret = joined[0] ? joined : (free(joined), strdup("/"));
                        return *ret ? 0 : -ENOMEM;
                }
                if (errno != ENOENT)
                        return -errno;
                if (lstat(head, &st) == 0)
                        return -ELOOP;  /* exists but does not resolve: a dangling symlink */
                slash = strrchr(head, '/');
                if (!slash)
                        return -EINVAL;
                if (asprintf(&joined, "%s%s", slash, tail) < 0)
                        return -ENOMEM;
                free(tail);
                tail = joined;
                *slash = 0;
        }
}

typedef struct Pools {
        char **lexical;         /* pool directories as written */
        char **resolved;        /* the same, symlinks resolved (NULL entry: did not resolve) */
        size_t n;
} Pools;

static void pools_done(Pools *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->lexical[i]);
                free(p->resolved[i]);
        }
        free(p->lexical);
        free(p->resolved);
}

static int pools_load(const HostConfig *host, Pools *ret) {
        size_t n = host ? host->n_storage : 0;

        ret->lexical = calloc(n + 1, sizeof(char *));
        ret->resolved = calloc(n + 1, sizeof(char *));
        if (!ret->lexical || !ret->resolved)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL;
                char *res = NULL;
                int r;

                r = pool_directory(host->storage + i, &dir);
                if (r < 0)
                        return r;
                if (!dir)
                        continue;
                r = resolve_existing(dir, &res);
                if (r == -ENOMEM)
                        return r;
                ret->lexical[ret->n] = TAKE_PTR(dir);
                ret->resolved[ret->n] = res;
                ret->n++;
        }
        return 0;
}

typedef enum Outside {
        INSIDE,
        OUTSIDE_NOT_CLEAN,      /* relative, or a "." / ".." component */
        OUTSIDE_LEXICALLY,
        OUTSIDE_UNRESOLVABLE,   /* dangling symlink, loop, unreadable ancestor */
        OUTSIDE_VIA_SYMLINK,
} Outside;

/* Returns an Outside value, or -ENOMEM. */
static int check_path(const Pools *pools, const char *path) {
        _cleanup_free_ char *lexical = NULL, *resolved = NULL;
        bool inside = false;
        int r;

        if (!path)
                return INSIDE;
        if (!path_is_clean_absolute(path))
                return OUTSIDE_NOT_CLEAN;
        lexical = path_collapse(path);
        if (!lexical)
                return -ENOMEM;
        for (size_t i = 0; i < pools->n && !inside; i++)
                inside = path_is_below(lexical, pools->lexical[i]);
        if (!inside)
                return OUTSIDE_LEXICALLY;
        r = resolve_existing(lexical, &resolved);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return OUTSIDE_UNRESOLVABLE;
        for (size_t i = 0; i < pools->n; i++)
                if (pools->resolved[i] && path_is_below(resolved, pools->resolved[i]))
                        return INSIDE;
        return OUTSIDE_VIA_SYMLINK;
}

static int report(Diagnostics *diag, const Pools *pools, const char *path, const char *origin,
                  const char *json_path, const char *what, int *n_bad) {
        int r = check_path(pools, path);

        if (r <= 0)
                return r;       /* INSIDE or -ENOMEM */
        (*n_bad)++;
        if (pools->n == 0)
                r = diag_error(diag, origin, json_path,
                               "%s '%s': only root may name host files, and the host file defines no storage pool",
                               what, path);
        else
                r = diag_error(diag, origin, json_path,
                               "%s '%s' %s: a caller other than root may only name files inside the storage pools",
                               what, path,
                               r == OUTSIDE_NOT_CLEAN ? "is not a clean absolute path (no '.' or '..')" :
                               r == OUTSIDE_LEXICALLY ? "is outside the storage pools" :
                               r == OUTSIDE_UNRESOLVABLE ? "does not resolve (dangling symlink or unreadable)" :
                                                           "leads outside the storage pools through a symlink");
        return r == -ENOMEM ? r : 0;
}

int definition_check_references(const MachineDef *resolved, const HostConfig *host, uid_t caller,
                                Diagnostics *diag) {
        _cleanup_(pools_done) Pools pools = {};
        const char *origin;
        char jp[64];
        int n_bad = 0, r;

        if (caller == 0)
                return 0;
        origin = resolved->source ?: "<bus>";

        if (resolved->owner_set && resolved->owner != caller) {
                n_bad++;
                r = diag_error(diag, origin, "$.owner",
                               "owner %u: a caller other than root may only name itself (uid %u) as owner",
                               (unsigned) resolved->owner, (unsigned) caller);
                if (r == -ENOMEM)
                        return r;
        }

        r = pools_load(host, &pools);
        if (r < 0)
                return r;

        for (size_t i = 0; i < resolved->n_volumes; i++) {
                const Volume *v = resolved->volumes + i;

                snprintf(jp, sizeof(jp), "$.volumes[%zu].path", i);
                r = report(diag, &pools, v->path, origin, jp, "volume path", &n_bad);
                if (r < 0)
                        return r;
                snprintf(jp, sizeof(jp), "$.volumes[%zu].provision.backing", i);
                r = report(diag, &pools, v->provision.backing, origin, jp, "backing image", &n_bad);
                if (r < 0)
                        return r;
        }

        const struct {
                const char *path, *json_path, *what;
        } attrs[] = {
                { resolved->attrs.kernel,        "$.attrs.kernel.path",    "kernel"         },
                { resolved->attrs.initrd,        "$.attrs.kernel.initrd",  "initrd"         },
                { resolved->attrs.firmware_code, "$.attrs.firmware.code",  "firmware code"  },
                { resolved->attrs.firmware_vars, "$.attrs.firmware.vars",  "firmware vars"  },
        };
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                r = report(diag, &pools, attrs[i].path, origin, attrs[i].json_path, attrs[i].what, &n_bad);
                if (r < 0)
                        return r;
        }

        return n_bad > 0 ? -EPERM : 0;
}
