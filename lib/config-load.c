/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Definitions on disk: reading files with bounds, loading a config directory where one broken
 * file never keeps the others from loading, and writing definitions atomically. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config-internal.h"

int config_read_file(const char *path, char **ret, size_t *ret_size, Diagnostics *diag) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap;
        struct stat st;

        /* O_NONBLOCK: opening a FIFO must not hang; it is refused below as not regular. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                return diag_error(diag, path, "$", "cannot open: %s", strerror(errno));
        }
        if (fstat(fd, &st) < 0)
                return diag_error(diag, path, "$", "cannot stat: %s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return diag_error(diag, path, "$", "not a regular file");
        if ((uint64_t) st.st_size > DEF_FILE_SIZE_MAX)
                return diag_error(diag, path, "$", "file is %" PRIu64 " bytes, the limit is %u bytes",
                                  (uint64_t) st.st_size, DEF_FILE_SIZE_MAX);

        /* Sized by fstat(), not by the limit: a 1 MiB buffer per file costs an mmap() or a heap
         * consolidation each time. One byte of headroom tells a file that grew since fstat()
         * from one that did not; a grown one gets a larger buffer, up to the limit. */
        cap = (size_t) st.st_size + 1;
        buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k;

                if (n == cap) {
                        char *b;

                        cap = cap > DEF_FILE_SIZE_MAX / 2 ? DEF_FILE_SIZE_MAX + 1 : cap * 2;
                        b = realloc(buf, cap + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return diag_error(diag, path, "$", "cannot read: %s", strerror(errno));
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > DEF_FILE_SIZE_MAX)
                        return diag_error(diag, path, "$", "file is larger than %u bytes", DEF_FILE_SIZE_MAX);
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

/* "<name>.conf.json" → name, if the name is valid. */
static int file_name_to_machine_name(const char *filename, char **ret) {
        size_t n = strlen(filename), s = strlen(MACHINE_CONF_SUFFIX);
        _cleanup_free_ char *name = NULL;

        if (n <= s || !streq(filename + n - s, MACHINE_CONF_SUFFIX))
                return -EINVAL;
        name = strndup(filename, n - s);
        if (!name)
                return -ENOMEM;
        if (!machine_name_is_valid(name))
                return -EINVAL;
        *ret = TAKE_PTR(name);
        return 0;
}

int machine_def_load_file(const char *path, MachineDef **ret, Diagnostics *diag) {
        _cleanup_(machine_def_freep) MachineDef *m = NULL;
        _cleanup_free_ char *data = NULL, *stem = NULL;
        const char *base;
        size_t size;
        int r;

        if (!path || !ret)
                return -EINVAL;
        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        r = file_name_to_machine_name(base, &stem);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return diag_error(diag, path, "$", "file name must be <name>%s with a valid machine name",
                                  MACHINE_CONF_SUFFIX);

        r = config_read_file(path, &data, &size, diag);
        if (r == -ENOENT)
                return diag_error(diag, path, "$", "no such file");
        if (r < 0)
                return r;

        r = machine_def_parse(data, size, path, &m, diag);
        if (r < 0)
                return r;
        if (!streq(m->name, stem))
                return diag_error(diag, path, "$.name", "name '%s' does not match the file name '%s'",
                                  m->name, base);

        *ret = TAKE_PTR(m);
        return 0;
}

void machine_defs_free(MachineDef **defs, size_t n) {
        for (size_t i = 0; defs && i < n; i++)
                machine_def_free(defs[i]);
        free(defs);
}

static int cmp_strings(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* The sorted *.conf.json names in dir; a missing dir is empty. */
static int list_machine_files(const char *dir, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        struct dirent *de;
        size_t n = 0, cap = 0;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return -errno;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name), s = strlen(MACHINE_CONF_SUFFIX);

                if (len < s || !streq(de->d_name + len - s, MACHINE_CONF_SUFFIX))
                        continue;
                /* Grown by doubling: strv_extend() would walk the list for every entry. */
                if (n + 1 >= cap) {
                        char **a = realloc(names, sizeof(char *) * (cap = cap * 2 + 16));

                        if (!a) {
                                r = -ENOMEM;
                                break;
                        }
                        names = a;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                names[++n] = NULL;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (n > 0)
                qsort(names, n, sizeof(char *), cmp_strings);
        *ret = TAKE_PTR(names);
        return 0;
}

/* Regular files, and symlinks to regular files inside the directory itself, are loaded. */
static int check_entry(const char *dir, const char *realdir, const char *name, const char *path,
                       Diagnostics *diag) {
        _cleanup_free_ char *target = NULL;
        struct stat st;
        size_t n;

        if (lstat(path, &st) < 0)
                return diag_warning(diag, path, "$", "skipped: %s", strerror(errno)) ?: -ENOENT;
        if (S_ISLNK(st.st_mode)) {
                target = realpath(path, NULL);
                if (!target)
                        return diag_warning(diag, path, "$", "skipped: dangling symlink") ?: -ENOENT;
                n = strlen(realdir);
                if (strncmp(target, realdir, n) != 0 || target[n] != '/' || strchr(target + n + 1, '/'))
                        return diag_warning(diag, path, "$", "skipped: symlink points outside %s", dir) ?: -EPERM;
                if (stat(target, &st) < 0)
                        return diag_warning(diag, path, "$", "skipped: %s", strerror(errno)) ?: -ENOENT;
        }
        if (!S_ISREG(st.st_mode))
                return diag_warning(diag, path, "$", "skipped: not a regular file") ?: -EBADF;
        return 0;
}

/* FNV-1a over the 16 bytes; keys point at MachineDef.id of definitions already accepted. */
static guint uuid_hash(gconstpointer p) {
        const uint8_t *u = p;
        guint h = 2166136261U;

        for (size_t i = 0; i < sizeof(uuid_t); i++)
                h = (h ^ u[i]) * 16777619U;
        return h;
}

static gboolean uuid_equal(gconstpointer a, gconstpointer b) {
        return memcmp(a, b, sizeof(uuid_t)) == 0;
}

/* The first earlier definition (in load order) with the same name or, when both have one, the
 * same UUID: the tables map both to their 1-based index in defs, so no quadratic scan. A match
 * on both sides at the same index is reported as the name. */
static int check_duplicate(GHashTable *by_name, GHashTable *by_id, MachineDef **defs, const MachineDef *m,
                           const char *path, Diagnostics *diag) {
        size_t jn = GPOINTER_TO_SIZE(g_hash_table_lookup(by_name, m->name));
        size_t ju = m->id_set ? GPOINTER_TO_SIZE(g_hash_table_lookup(by_id, m->id)) : 0;
        char u[UUID_STR_LEN];

        if (jn > 0 && (ju == 0 || jn <= ju))
                return diag_error(diag, path, "$.name", "machine '%s' is already defined in %s",
                                  m->name, defs[jn - 1]->source);
        if (ju > 0) {
                uuid_unparse_lower(m->id, u);
                return diag_error(diag, path, "$.id", "UUID %s is already used by machine '%s' in %s",
                                  u, defs[ju - 1]->name, defs[ju - 1]->source);
        }
        return 0;
}

static int load_machine_dir(const char *dir, MachineDef ***defs, size_t *n, Diagnostics *diag) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *realdir = NULL;
        g_autoptr(GHashTable) by_name = NULL, by_id = NULL;
        size_t cap = *n;
        int r;

        r = list_machine_files(dir, &names);
        if (r < 0)
                return diag_error(diag, dir, "$", "cannot read directory: %s", strerror(-r));
        if (!names)
                return 0;
        realdir = realpath(dir, NULL);
        if (!realdir)
                return -errno;
        by_name = g_hash_table_new(g_str_hash, g_str_equal);
        by_id = g_hash_table_new(uuid_hash, uuid_equal);

        for (char **i = names; *i; i++) {
                _cleanup_(machine_def_freep) MachineDef *m = NULL;
                _cleanup_free_ char *path = NULL, *stem = NULL;
                MachineDef **a;

                if (asprintf(&path, "%s/%s", dir, *i) < 0)
                        return -ENOMEM;

                r = file_name_to_machine_name(*i, &stem);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        r = diag_error(diag, path, "$", "skipped: file name must be <name>%s with a valid machine name",
                                       MACHINE_CONF_SUFFIX);
                        if (r == -ENOMEM)
                                return r;
                        continue;
                }
                r = check_entry(dir, realdir, *i, path, diag);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (*n >= DEF_MACHINES_MAX) {
                        r = diag_error(diag, path, "$", "skipped: more than %u definitions", DEF_MACHINES_MAX);
                        if (r == -ENOMEM)
                                return r;
                        break;
                }

                r = machine_def_load_file(path, &m, diag);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;

                r = check_duplicate(by_name, by_id, *defs, m, path, diag);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;

                if (*n >= cap) {
                        cap = cap * 2 + 16;
                        a = realloc(*defs, sizeof(MachineDef *) * cap);
                        if (!a)
                                return -ENOMEM;
                        *defs = a;
                }
                a = *defs;
                a[*n] = TAKE_PTR(m);
                g_hash_table_insert(by_name, a[*n]->name, GSIZE_TO_POINTER(*n + 1));
                if (a[*n]->id_set)
                        g_hash_table_insert(by_id, a[*n]->id, GSIZE_TO_POINTER(*n + 1));
                (*n)++;
        }
        return 0;
}

int config_load_all(const char *confdir, HostConfig **ret_host,
                    MachineDef ***ret_defs, size_t *ret_n, Diagnostics *diag) {
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_free_ char *dir = NULL;
        MachineDef **defs = NULL;
        size_t n = 0;
        int r;

        if (!confdir || !ret_host || !ret_defs || !ret_n)
                return -EINVAL;

        r = host_config_load(confdir, &host, diag);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* A broken host file is reported; guests still load and resolve against defaults
                 * (those that need its pools or networks then fail to resolve, with a reason). */
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", confdir, HOST_CONFIG_FILE) < 0)
                        return -ENOMEM;
                r = host_config_parse("{}", 2, path, &host, NULL);
                if (r < 0)
                        return r;
        }

        if (asprintf(&dir, "%s/%s", confdir, MACHINE_CONF_DIR) < 0)
                return -ENOMEM;
        r = load_machine_dir(dir, &defs, &n, diag);
        if (r == -ENOMEM) {
                machine_defs_free(defs, n);
                return r;
        }

        *ret_host = TAKE_PTR(host);
        *ret_defs = defs;
        *ret_n = n;
        return (int) n;
}

int config_write_atomic_full(const char *dir, const char *name, const char *suffix, mode_t mode,
                             const char *data, size_t size) {
        _cleanup_free_ char *tmp = NULL, *final = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        size_t done = 0;
        int r;

        if (!dir || !machine_name_is_valid(name) || !suffix || (!data && size > 0))
                return -EINVAL;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        /* A hidden name not ending in the suffix: a concurrent load never picks it up. */
        if (asprintf(&tmp, "%s/.#%s%s.XXXXXX", dir, name, suffix) < 0 ||
            asprintf(&final, "%s/%s%s", dir, name, suffix) < 0)
                return -ENOMEM;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        if (fchmod(fd, mode) < 0) {
                r = -errno;
                goto fail;
        }
        while (done < size) {
                ssize_t k = write(fd, data + done, size - done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                done += (size_t) k;
        }
        if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0) {
                r = -errno;
                goto fail;
        }
        /* Fault injection for tests (test-machinad-defs.py): die where a crash would hurt most,
         * with the new content complete beside the old file. */
        if (secure_getenv("MACHINA_TEST_CRASH_BEFORE_RENAME"))
                (void) raise(SIGKILL);
        if (rename(tmp, final) < 0) {
                r = -errno;
                goto fail;
        }
        if (fsync(dfd) < 0)
                return -errno;
        return 0;

fail:
        (void) unlink(tmp);
        return r;
}

int config_write_atomic(const char *dir, const char *name, const char *data, size_t size) {
        return config_write_atomic_full(dir, name, MACHINE_CONF_SUFFIX, 0644, data, size);
}

int config_remove_stale_temporaries(const char *dir) {
        _cleanup_close_ int dfd = -EBADF;
        DIR *d;
        struct dirent *de;
        int n = 0;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(TAKE_FD(dfd));
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                /* Only the names config_write_atomic() makes: ".#NAME.conf.json.XXXXXX". */
                if (strncmp(de->d_name, ".#", 2) == 0 && strstr(de->d_name, MACHINE_CONF_SUFFIX ".") &&
                    unlinkat(dirfd(d), de->d_name, 0) >= 0)
                        n++;
        closedir(d);
        return n;
}
