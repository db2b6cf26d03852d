/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "provision.h"
#include "qemu-live.h"
#include "test-defs.h"

static char dir[] = "/tmp/machina-provision-XXXXXX";

static char *path_in(const char *name) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static size_t count_entries(const char *d) {
        DIR *dd = opendir(d);
        struct dirent *de;
        size_t n = 0;

        ASSERT_TRUE(dd);
        while ((de = readdir(dd)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(dd);
        return n;
}

static bool has_qcow2_magic(const char *p) {
        char magic[4] = {};
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);

        return fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
}

static Volume *add(MachineDef *m, const char *name, VolumeFormat f, uint64_t size, bool thin) {
        _cleanup_free_ char *p = path_in(name);
        Volume *v = test_def_add_volume(m, name, p, f, DISK_BUS_UNSET);

        v->provision = (Provision) { .set = true, .size = size, .format = f, .thin = thin };
        return v;
}

TEST(create_and_keep) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("p");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *existing = path_in("keep.raw"), *base = NULL;
        struct stat st;
        FILE *f;
        Volume *v;

        f = fopen(existing, "we");
        ASSERT_TRUE(f && fputs("precious", f) >= 0 && fclose(f) == 0);

        add(m, "thin.qcow2", VOLUME_FORMAT_QCOW2, 64ULL << 20, true);
        add(m, "full.raw", VOLUME_FORMAT_RAW, 1ULL << 20, false);
        add(m, "keep.raw", VOLUME_FORMAT_RAW, 1ULL << 20, true);
        add(m, "sub/dir/nested.raw", VOLUME_FORMAT_RAW, 4096, true);
        test_def_add_volume(m, "plain", "/nonexistent/never-provisioned", VOLUME_FORMAT_RAW, DISK_BUS_UNSET);

        ASSERT_EQ(provision_volumes(m, NULL, &d), 3);
        ASSERT_EQ(d.n_errors, 0);
        ASSERT_TRUE(has_qcow2_magic(m->volumes[0].path));
        ASSERT_EQ(stat(m->volumes[1].path, &st), 0);
        ASSERT_EQ(st.st_size, 1 << 20);
        ASSERT_TRUE(st.st_blocks * 512 >= (1 << 20));           /* preallocated */
        ASSERT_EQ(stat(existing, &st), 0);
        ASSERT_EQ(st.st_size, 8);                               /* untouched */
        ASSERT_EQ(stat(m->volumes[3].path, &st), 0);

        /* Second run: everything exists, nothing to do. */
        ASSERT_EQ(provision_volumes(m, "qemu-img", &d), 0);

        /* A qcow2 overlay on the first image, size taken from the backing file. */
        base = strdup(m->volumes[0].path);
        ASSERT_TRUE(base);
        {
                _cleanup_(machine_def_freep) MachineDef *o = test_def_new("o");

                v = add(o, "overlay.qcow2", VOLUME_FORMAT_QCOW2, 0, true);
                v->provision.backing = TAKE_PTR(base);
                ASSERT_EQ(provision_volumes(o, "/usr/bin/qemu-img", &d), 1);
                ASSERT_TRUE(has_qcow2_magic(o->volumes[0].path));
        }
}

TEST(failure_leaves_nothing) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("f");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *sub = path_in("fail"), *msg = NULL;
        size_t before;

        ASSERT_EQ(mkdir(sub, 0755), 0);
        add(m, "fail/a.raw", VOLUME_FORMAT_RAW, 4096, true);
        add(m, "fail/b.qcow2", VOLUME_FORMAT_QCOW2, UINT64_MAX / 2, true);     /* too big for qcow2 */
        before = count_entries(sub);

        ASSERT_ERROR(provision_volumes(m, NULL, &d), EIO);
        ASSERT_EQ(count_entries(sub), before);                  /* a.raw rolled back, no temp file */
        ASSERT_EQ(d.n_errors, 1);
        msg = diagnostics_first_error(&d);
        ASSERT_TRUE(strstr(msg, "$.volumes[1].provision: "));
        ASSERT_TRUE(strstr(msg, "qemu-img create: "));

        diagnostics_done(&d);
        ASSERT_ERROR(provision_volumes(m, "/nonexistent/qemu-img", &d), ENOENT);
        ASSERT_EQ(count_entries(sub), before);
}

TEST(invalid) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("i");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        Volume *v = add(m, "x.iso", VOLUME_FORMAT_ISO, 4096, true);

        ASSERT_ERROR(provision_volumes(m, NULL, &d), EINVAL);
        v->format = v->provision.format = VOLUME_FORMAT_RAW;
        v->provision.backing = xstrdup("/x.qcow2");
        ASSERT_ERROR(provision_volumes(m, NULL, &d), EINVAL);
        ASSERT_EQ(d.n_errors, 2);
}

int main(void) {
        if (access("/usr/bin/qemu-img", X_OK) < 0) {
                printf("# skipping: no qemu-img\n");
                return 77;
        }
        ASSERT_TRUE(mkdtemp(dir));
        RUN(create_and_keep);
        RUN(failure_leaves_nothing);
        RUN(invalid);
        ASSERT_OK(live_rm_rf(dir));
        return 0;
}
