/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Loading a config directory (broken files skipped, the rest loads), the shipped examples in
 * data/, machine_def_load_file() and config_write_atomic(). */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "config-test.h"

static char *tmpdir_new(void) {
        char *t = strdup("/tmp/test-config-load-XXXXXX");

        ASSERT_TRUE(t);
        ASSERT_TRUE(mkdtemp(t));
        return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void tmpdir_remove(char **t) {
        if (!*t)
                return;
        (void) chmod(*t, 0755);
        (void) nftw(*t, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(*t);
}

static char *path_join(const char *a, const char *b) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/%s", a, b) > 0);
        return p;
}

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = path_join(dir, name);
        FILE *f = fopen(p, "we");

        ASSERT_TRUE(f);
        ASSERT_TRUE(fputs(content, f) >= 0);
        ASSERT_TRUE(fclose(f) == 0);
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        ASSERT_TRUE(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

TEST(examples) {
        const char *srcdir = getenv("MACHINA_SRCDIR");
        _cleanup_free_ char *confdir = NULL;
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef **defs = NULL;
        size_t n = 0;
        int r;

        ASSERT_TRUE(srcdir);
        confdir = path_join(srcdir, "data");
        r = config_load_all(confdir, &host, &defs, &n, &d);
        ASSERT_OK(r);
        ASSERT_NO_DIAGNOSTICS(&d);
        ASSERT_EQ(r, 4);
        ASSERT_EQ(n, 4);
        /* Sorted by file name. */
        ASSERT_STREQ(defs[0]->name, "demo");
        ASSERT_STREQ(defs[3]->name, "web");

        for (size_t i = 0; i < n; i++) {
                _cleanup_(machine_def_freep) MachineDef *res = NULL, *again = NULL, *back = NULL;
                _cleanup_free_ char *json = NULL, *json2 = NULL, *src = NULL, *src2 = NULL;

                ASSERT_OK(machine_def_resolve(defs[i], host, (unsigned) i, &res, &d));
                ASSERT_NO_DIAGNOSTICS(&d);

                /* parse(to_json(x)) round-trips, for the definition and the resolved one. */
                ASSERT_OK(machine_def_to_json(defs[i], true, &src));
                ASSERT_OK(machine_def_parse(src, strlen(src), defs[i]->source, &back, &d));
                ASSERT_OK(machine_def_to_json(back, true, &src2));
                ASSERT_STREQ(src, src2);
                ASSERT_OK(machine_def_to_json(res, true, &json));
                ASSERT_OK(machine_def_parse(json, strlen(json), "<resolved>", &again, &d));
                ASSERT_OK(machine_def_to_json(again, true, &json2));
                ASSERT_STREQ(json, json2);
                ASSERT_NO_DIAGNOSTICS(&d);

                if (streq(res->name, "web")) {
                        ASSERT_EQ(res->attrs.vnc_port, 5900 + 10 + (int) i);
                        ASSERT_EQ(res->attrs.cpus, 2);
                        ASSERT_EQ(res->n_connections, 2);
                        ASSERT_STREQ(res->connections[0].bridge, "br0");
                        ASSERT_STREQ(res->volumes[0].path, "/var/lib/machina/images/web/root.qcow2");
                        ASSERT_STREQ(machine_def_get_var(res, "site")->value, "www-web");
                } else if (streq(res->name, "demo")) {
                        ASSERT_TRUE(!res->id_set);
                        ASSERT_STREQ(res->attrs.kernel, "/var/lib/machina/boot/vmlinuz");
                } else if (streq(res->name, "desktop")) {
                        ASSERT_EQ(res->volumes[1].format, VOLUME_FORMAT_ISO);
                        ASSERT_STREQ(res->volumes[1].path, "/var/lib/machina/iso/win11.iso");
                } else if (streq(res->name, "render"))
                        ASSERT_TRUE(res->devices[0].id);
        }
        machine_defs_free(defs, n);
}

static const char good_a[] = "{\"name\": \"a\", \"id\": \"0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40\"}";

TEST(load_dir_skips_broken) {
        _cleanup_(tmpdir_remove) char *t = tmpdir_new();
        _cleanup_free_ char *dir = path_join(t, MACHINE_CONF_DIR), *outside = path_join(t, "outside.json");
        _cleanup_free_ char *big_path = NULL;
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef **defs = NULL;
        size_t n = 0;
        int fd;

        ASSERT_TRUE(mkdir(dir, 0755) == 0);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        write_file(dir, "a.conf.json", good_a);
        write_file(dir, "b.conf.json", "{\"name\": \"b\", \"attrs\": {");                   /* broken JSON */
        write_file(dir, "c.conf.json", "{\"name\": \"zz\"}");                              /* name mismatch */
        write_file(dir, "d.conf.json", "{\"name\": \"d\", \"id\": \"0F6B2E8A-5D0C-4C1E-9A57-3F2D8B1C7E40\"}");
        write_file(dir, "bad name.conf.json", "{\"name\": \"bad name\"}");
        write_file(dir, "e.conf.json", "{\"name\": \"e\"}");
        write_file(dir, "notes.txt", "ignored");
        write_file(t, "outside.json", "{\"name\": \"f\"}");
        ASSERT_TRUE(symlinkat(outside, dfd, "f.conf.json") == 0);
        write_file(dir, "g.real", "{\"name\": \"g\"}");
        ASSERT_TRUE(symlinkat("g.real", dfd, "g.conf.json") == 0);
        ASSERT_TRUE(mkdirat(dfd, "h.conf.json", 0755) == 0);
        ASSERT_TRUE(mkfifoat(dfd, "i.conf.json", 0644) == 0);
        /* 2 MB: refused by size without being read. */
        big_path = path_join(dir, "j.conf.json");
        fd = open(big_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(ftruncate(fd, 2 * 1024 * 1024) == 0);
        close(fd);
        write_file(t, HOST_CONFIG_FILE, "{\"storage\": 5}");                             /* broken host */

        ASSERT_EQ(config_load_all(t, &host, &defs, &n, &d), 3);
        ASSERT_EQ(n, 3);
        ASSERT_STREQ(defs[0]->name, "a");
        ASSERT_STREQ(defs[1]->name, "e");
        ASSERT_STREQ(defs[2]->name, "g");
        ASSERT_TRUE(host);
        ASSERT_TRUE(host_config_get_network(host, "default"));
        machine_defs_free(defs, n);

        _cleanup_free_ char *hf = path_join(t, HOST_CONFIG_FILE);
        _cleanup_free_ char *fb = path_join(dir, "b.conf.json"), *fc = path_join(dir, "c.conf.json");
        _cleanup_free_ char *fd_ = path_join(dir, "d.conf.json"), *fbad = path_join(dir, "bad name.conf.json");
        _cleanup_free_ char *ff = path_join(dir, "f.conf.json"), *fh = path_join(dir, "h.conf.json");
        _cleanup_free_ char *fi = path_join(dir, "i.conf.json");

        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, hf, "$.storage", "expected an array");
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, fb, "$", "invalid JSON: 1:");
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, fc, "$.name", "name 'zz' does not match the file name 'c.conf.json'");
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, fd_, "$.id", "UUID 0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40 is already used by machine 'a'");
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, fbad, "$", "file name must be <name>.conf.json");
        ASSERT_DIAG(&d, DIAGNOSTIC_WARNING, ff, "$", "symlink points outside");
        ASSERT_DIAG(&d, DIAGNOSTIC_WARNING, fh, "$", "not a regular file");
        ASSERT_DIAG(&d, DIAGNOSTIC_WARNING, fi, "$", "not a regular file");
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, big_path, "$", "file is 2097152 bytes, the limit is 1048576 bytes");
        ASSERT_EQ(d.n_errors, 6);
        ASSERT_EQ(d.n_entries, 9);
}

TEST(load_empty_and_missing) {
        _cleanup_(tmpdir_remove) char *t = tmpdir_new();
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef **defs = NULL;
        size_t n = 1;

        ASSERT_EQ(config_load_all(t, &host, &defs, &n, &d), 0);
        ASSERT_EQ(n, 0);
        ASSERT_NO_DIAGNOSTICS(&d);
        ASSERT_EQ(host->n_networks, 1);
        ASSERT_STREQ(host->networks[0].name, "default");
        machine_defs_free(defs, n);
}

TEST(load_file) {
        _cleanup_(tmpdir_remove) char *t = tmpdir_new();
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *p = path_join(t, "a.conf.json"), *hostile = path_join(t, "../x");
        _cleanup_free_ char *missing = path_join(t, "m.conf.json");
        MachineDef *m = NULL;

        write_file(t, "a.conf.json", good_a);
        ASSERT_OK(machine_def_load_file(p, &m, &d));
        ASSERT_STREQ(m->source, p);
        machine_def_free(m);
        m = NULL;

        ASSERT_ERROR(machine_def_load_file(hostile, &m, &d), EINVAL);
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, hostile, "$", "file name must be");
        ASSERT_ERROR(machine_def_load_file(missing, &m, &d), EINVAL);
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, missing, "$", "no such file");
        ASSERT_TRUE(!m);
}

TEST(write_atomic) {
        _cleanup_(tmpdir_remove) char *t = tmpdir_new();
        _cleanup_free_ char *p = path_join(t, "a.conf.json"), *dirpath = path_join(t, "dir.conf.json");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef *m = NULL;
        struct stat st;
        mode_t old = umask(0077);

        ASSERT_OK(config_write_atomic(t, "a", good_a, strlen(good_a)));
        umask(old);
        ASSERT_TRUE(stat(p, &st) == 0);
        ASSERT_EQ(st.st_mode & 07777, 0644);
        ASSERT_EQ(count_entries(t), 1);
        ASSERT_OK(machine_def_load_file(p, &m, &d));
        machine_def_free(m);

        /* Replacing keeps one file with the new content. */
        ASSERT_OK(config_write_atomic(t, "a", "{\"name\": \"a\"}", 13));
        ASSERT_EQ(count_entries(t), 1);
        ASSERT_EQ(stat(p, &st), 0);
        ASSERT_EQ(st.st_size, 13);

        ASSERT_ERROR(config_write_atomic(t, "../x", "{}", 2), EINVAL);
        ASSERT_ERROR(config_write_atomic(t, "", "{}", 2), EINVAL);

        /* A failing rename (the target is a directory) leaves no temp file behind. */
        ASSERT_TRUE(mkdir(dirpath, 0755) == 0);
        ASSERT_TRUE(config_write_atomic(t, "dir", "{}", 2) < 0);
        ASSERT_EQ(count_entries(t), 2);

        /* A read-only directory (only meaningful when not root: root ignores the mode). */
        if (geteuid() != 0) {
                ASSERT_TRUE(chmod(t, 0555) == 0);
                ASSERT_ERROR(config_write_atomic(t, "b", "{}", 2), EACCES);
                ASSERT_TRUE(chmod(t, 0755) == 0);
                ASSERT_EQ(count_entries(t), 2);
        }
        ASSERT_ERROR(config_write_atomic("/nonexistent-dir-xyz", "a", "{}", 2), ENOENT);

        /* Another suffix and mode (machinad's transient records): exactly that file, that mode. */
        {
                _cleanup_free_ char *rec = path_join(t, "r.json");

                ASSERT_OK(config_write_atomic_full(t, "r", ".json", 0600, "{}", 2));
                ASSERT_EQ(stat(rec, &st), 0);
                ASSERT_EQ(st.st_mode & 07777, 0600);
                ASSERT_EQ(count_entries(t), 3);
                ASSERT_ERROR(config_write_atomic_full(t, "r", NULL, 0600, "{}", 2), EINVAL);
        }
}

int main(void) {
        RUN(examples);
        RUN(load_dir_skips_broken);
        RUN(load_empty_and_missing);
        RUN(load_file);
        RUN(write_atomic);
        return 0;
}
