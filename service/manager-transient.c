/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "manager-transient.h"
#include "manager.h"

#define TRANSIENT_SUFFIX ".json"
/* The definition plus a small wrapper. */
#define TRANSIENT_FILE_SIZE_MAX (DEF_FILE_SIZE_MAX + 4096U)

static int transient_dir(Manager *m, char **ret) {
        if (asprintf(ret, "%s/" TRANSIENT_DIR, m->runtime_dir) < 0)
                return -ENOMEM;
        return 0;
}

static int transient_file(Manager *m, const char *name, char **ret) {
        if (!machine_name_is_valid(name))
                return -EINVAL;
        if (asprintf(ret, "%s/" TRANSIENT_DIR "/%s" TRANSIENT_SUFFIX, m->runtime_dir, name) < 0)
                return -ENOMEM;
        return 0;
}

int manager_transient_save(Manager *m, const MachineDef *def, unsigned index) {
        _cleanup_free_ char *dir = NULL, *json = NULL, *data = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        r = transient_dir(m, &dir);
        if (r < 0)
                return r;
        r = machine_def_to_json(def, false, &json);
        if (r < 0)
                return r;
        if (asprintf(&data, "{\"machine-index\":%u,\"definition\":%s}\n", index, json) < 0)
                return -ENOMEM;

        r = manager_make_runtime_dir(m);
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return -errno;
        /* Records are the callers' definitions: only root reads them, whatever made the dir. */
        if (fchmod(dfd, 0700) < 0)
                return -errno;

        /* Temporary, fsync, rename, fsync of the dir: never a half-written record. */
        return config_write_atomic_full(dir, def->name, TRANSIENT_SUFFIX, 0600, data, strlen(data));
}

void manager_transient_remove(Manager *m, const char *name) {
        _cleanup_free_ char *path = NULL;

        if (transient_file(m, name, &path) < 0)
                return;
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s: %m", path);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

int manager_transient_list(Manager *m, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *dir = NULL;
        DIR *d;
        struct dirent *de;
        size_t sl = strlen(TRANSIENT_SUFFIX);
        int r;

        r = transient_dir(m, &dir);
        if (r < 0)
                return r;
        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        return 0;
                }
                return -errno;
        }
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                char *name;

                /* A temp file of a write that was interrupted (machinad killed): never complete. */
                if (strncmp(de->d_name, ".#", 2) == 0) {
                        (void) unlinkat(dirfd(d), de->d_name, 0);
                        continue;
                }
                if (n <= sl || !streq(de->d_name + n - sl, TRANSIENT_SUFFIX))
                        continue;
                name = strndup(de->d_name, n - sl);
                if (!name) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (!machine_name_is_valid(name)) {
                        free(name);
                        continue;
                }
                r = strv_push(&names, name);
                if (r < 0) {
                        closedir(d);
                        return r;
                }
        }
        closedir(d);
        if (names)
                qsort(names, strv_length(names), sizeof(char *), compare_strings);
        *ret = TAKE_PTR(names);
        return 0;
}

int manager_transient_read(Manager *m, const char *name, MachineDef **ret_def, unsigned *ret_index) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        _cleanup_free_ char *path = NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autofree char *data = NULL, *def_json = NULL;
        JsonObject *root;
        JsonNode *node;
        gint64 index;
        gsize size;
        struct stat st;
        MachineDef *def;
        int r;

        r = transient_file(m, name, &path);
        if (r < 0)
                return r;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t) TRANSIENT_FILE_SIZE_MAX)
                return -EINVAL;
        if (!g_file_get_contents(path, &data, &size, NULL))
                return -EIO;
        if (!json_parser_load_from_data(parser, data, (gssize) size, NULL))
                return -EINVAL;
        node = json_parser_get_root(parser);
        if (!node || !JSON_NODE_HOLDS_OBJECT(node))
                return -EINVAL;
        root = json_node_get_object(node);
        node = json_object_get_member(root, "definition");
        index = json_object_get_int_member_with_default(root, "machine-index", -1);
        if (!node || !JSON_NODE_HOLDS_OBJECT(node) || index < 0 || index > UINT_MAX)
                return -EINVAL;
        def_json = json_to_string(node, false);
        if (!def_json)
                return -ENOMEM;
        r = machine_def_parse(def_json, strlen(def_json), path, &def, &diag);
        if (r < 0) {
                _cleanup_free_ char *why = diagnostics_first_error(&diag);

                log_warning("%s: %s", path, strna(why));
                return r;
        }
        if (!streq(def->name, name)) {
                machine_def_free(def);
                return -EINVAL;
        }
        *ret_def = def;
        *ret_index = (unsigned) index;
        return 0;
}
