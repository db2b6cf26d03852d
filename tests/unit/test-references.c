/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a definer other than root may reference: definitions parsed and resolved as machinad
 * does, then checked against pools in a temp dir with real symlinks. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "references.h"
#include "tests.h"

#define CALLER 65534U

static char tmp[] = "/tmp/test-references-XXXXXX";
static char host_json[4096];

/* Parse, resolve and check def_json (printf format, %s = the temp dir) for caller. */
_printf_(3, 4)
static int check(uid_t caller, Diagnostics *diag, const char *def_format, ...) {
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(machine_def_freep) MachineDef *def = NULL, *resolved = NULL;
        _cleanup_free_ char *json = NULL;
        va_list ap;
        int r;

        va_start(ap, def_format);
        ASSERT_TRUE(vasprintf(&json, def_format, ap) >= 0);
        va_end(ap);
        ASSERT_OK(host_config_parse(host_json, strlen(host_json), "host", &host, diag));
        ASSERT_OK(machine_def_parse(json, strlen(json), "<bus>", &def, diag));
        r = machine_def_resolve(def, host, 0, &resolved, diag);
        if (r < 0) {
                _cleanup_free_ char *e = diagnostics_first_error(diag);
                fprintf(stderr, "resolve failed: %s\n", strna(e));
                ASSERT_OK(r);
        }
        return definition_check_references(resolved, host, caller, diag);
}

static void set_host(const char *pool_dir) {
        snprintf(host_json, sizeof(host_json),
                 "{\"storage\": [{\"name\": \"images\", \"type\": \"raw\","
                 " \"pattern\": \"%s/${machine-name}/${volume}.img\"}]}", pool_dir);
}

/* The first error's text contains needle. */
static void assert_diag(const Diagnostics *diag, const char *needle) {
        _cleanup_free_ char *e = diagnostics_first_error(diag);

        if (!e || !strstr(e, needle)) {
                fprintf(stderr, "diagnostic '%s' does not contain '%s'\n", strna(e), needle);
                abort();
        }
}

#define EXPECT_OK(caller, ...)                                                  \
        do {                                                                    \
                _cleanup_(diagnostics_done) Diagnostics _d = {};                \
                ASSERT_OK(check((caller), &_d, __VA_ARGS__));                   \
                ASSERT_EQ(_d.n_errors, 0);                                      \
        } while (0)

#define EXPECT_REFUSED(needle, ...)                                             \
        do {                                                                    \
                _cleanup_(diagnostics_done) Diagnostics _d = {};                \
                ASSERT_ERROR(check(CALLER, &_d, __VA_ARGS__), EPERM);           \
                ASSERT_EQ(_d.n_errors, 1);                                      \
                assert_diag(&_d, (needle));                                     \
        } while (0)

static char *tpath(const char *rel) {
        static char buf[4][512];
        static unsigned k;
        char *b = buf[k++ % 4];

        snprintf(b, sizeof(buf[0]), "%s/%s", tmp, rel);
        return b;
}

TEST(pool_directory) {
        const struct { const char *pattern, *dir; } cases[] = {
                { "/var/lib/machina/images/${machine-name}/${volume}.qcow2", "/var/lib/machina/images" },
                { "/var/lib/machina/iso/${volume}.iso",                     "/var/lib/machina/iso"    },
                { "//srv//vm/$volume",                                      "/srv/vm"                 },
                { "/srv/vm-${volume}.img",                                  "/srv"                    },
                { "/${volume}.img",                                         NULL                      },
                { "/srv/../${volume}.img",                                  NULL                      },
                { "relative/${volume}",                                     NULL                      },
                { "/fixed/file.img",                                        "/fixed"                  },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Storage s = { .name = (char *) "p", .pattern = (char *) cases[i].pattern };
                _cleanup_free_ char *d = storage_pool_directory(&s);

                if (!streq_ptr(d, cases[i].dir)) {
                        fprintf(stderr, "%s: got %s, want %s\n", cases[i].pattern, strna(d), strna(cases[i].dir));
                        abort();
                }
        }
}

TEST(pool_contains) {
        const struct { const char *pattern, *path; int want; } cases[] = {
                { "/srv/vm/${dir}/${volume}.img", "/srv/vm/a/d.img",             1 },
                { "/srv/vm/${dir}/${volume}.img", "/srv/vm//d.img",              1 },
                { "/srv/vm/${dir}/${volume}.img", "/srv/vm/../d.img",            0 },
                { "/srv/vm/${dir}/${volume}.img", "/srv/vm/a/../../etc/shadow",  0 },
                { "/srv/vm/${dir}/${volume}.img", "/srv/vm/./d.img",             0 },
                { "/srv/vm/${dir}",               "/srv/vm/",                    0 },   /* the directory itself */
                { "/srv/vm-${volume}.img",        "/srv/vm-d.img",               1 },
                { "//srv//vm/${volume}",          "//srv//vm//d",                1 },
                { "/${dir}/${volume}",            "/../etc/shadow",              1 },   /* confines nothing */
                { "${base}/${volume}",            "/../etc/shadow",              1 },   /* confines nothing */
                { "/fixed/file.img",              "/fixed/file.img",             1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Storage s = { .name = (char *) "p", .pattern = (char *) cases[i].pattern };
                _cleanup_free_ char *dir = NULL;
                int r = storage_pool_contains(&s, cases[i].path, &dir);

                if (r != cases[i].want) {
                        fprintf(stderr, "%s, %s: got %d, want %d\n", cases[i].pattern, cases[i].path, r, cases[i].want);
                        abort();
                }
                ASSERT_TRUE(r == 0 ? !!dir : !dir);
        }
        ASSERT_EQ(storage_pool_contains(&(Storage) { .pattern = (char *) "/srv/vm/${v}" }, "/srv/x", NULL), 0);
}

TEST(root_may_reference_anything) {
        EXPECT_OK(0, "{\"name\": \"a\", \"owner\": 1000, \"volumes\": [{\"name\": \"d\", \"path\": \"/etc/shadow\"}],"
                     " \"attrs\": {\"kernel\": {\"path\": \"/boot/x\"}}}");
}

TEST(inside_pools) {
        /* Through the pool (file and directory not there yet), and named explicitly. */
        EXPECT_OK(CALLER, "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"storage\": \"images\"}]}");
        EXPECT_OK(CALLER, "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}],"
                          " \"attrs\": {\"kernel\": {\"path\": \"%s\", \"initrd\": \"%s\"}}}",
                  tpath("pool/a/d.img"), tpath("pool/k/vmlinux"), tpath("pool//initrd"));
        /* A symlink inside the pool that stays inside is fine. */
        EXPECT_OK(CALLER, "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}",
                  tpath("pool/inner-link"));
        /* The owner may be the caller itself. */
        EXPECT_OK(CALLER, "{\"name\": \"a\", \"owner\": %u}", CALLER);
}

TEST(outside_lexically) {
        EXPECT_REFUSED("is outside the storage pools",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"/etc/shadow\"}]}");
        EXPECT_REFUSED("not a clean absolute path",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}",
                       tpath("pool/../../../etc/shadow"));
        /* A sibling whose name starts like the pool is not inside it. */
        EXPECT_REFUSED("is outside the storage pools",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}",
                       tpath("pool2/x.img"));
        /* The pool directory itself is not a file inside it. */
        EXPECT_REFUSED("is outside the storage pools",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}", tpath("pool"));
        EXPECT_REFUSED("kernel '/boot/vmlinuz'",
                       "{\"name\": \"a\", \"attrs\": {\"kernel\": {\"path\": \"/boot/vmlinuz\"}}}");
        EXPECT_REFUSED("firmware vars",
                       "{\"name\": \"a\", \"attrs\": {\"firmware\": {\"type\": \"ovmf\", \"code\": \"%s\", \"vars\": \"/etc/x\"}}}",
                       tpath("pool/code.fd"));
        EXPECT_REFUSED("backing image",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"storage\": \"images\", \"format\": \"qcow2\","
                       " \"provision\": {\"size\": \"1G\", \"backing\": \"/etc/shadow\"}}]}");
}

TEST(outside_via_symlink) {
        EXPECT_REFUSED("through a symlink",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}", tpath("pool/shadow-link"));
        /* A directory symlink on the way, the file below it not existing yet. */
        EXPECT_REFUSED("through a symlink",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}", tpath("pool/etc-link/new.img"));
        /* A dangling symlink: creating the image would follow it out of the pool. */
        EXPECT_REFUSED("does not resolve",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}", tpath("pool/dangling"));
        /* Through the pool's own pattern: the machine's directory is a symlink to /etc. */
        EXPECT_REFUSED("through a symlink",
                       "{\"name\": \"evil\", \"volumes\": [{\"name\": \"shadow\", \"storage\": \"images\"}]}");
}

TEST(owner_only_self) {
        EXPECT_REFUSED("may only name itself (uid 65534) as owner", "{\"name\": \"a\", \"owner\": 0}");
        EXPECT_REFUSED("owner 1000", "{\"name\": \"a\", \"owner\": 1000}");
}

TEST(every_violation_reported) {
        _cleanup_(diagnostics_done) Diagnostics d = {};

        ASSERT_ERROR(check(CALLER, &d, "{\"name\": \"a\", \"owner\": 0,"
                                       " \"volumes\": [{\"name\": \"d\", \"path\": \"/etc/shadow\"},"
                                       "               {\"name\": \"e\", \"storage\": \"images\"}],"
                                       " \"attrs\": {\"kernel\": {\"path\": \"/boot/k\", \"initrd\": \"/boot/i\"}}}"),
                     EPERM);
        ASSERT_EQ(d.n_errors, 4);
        ASSERT_STREQ(d.entries[0].json_path, "$.owner");
        ASSERT_STREQ(d.entries[1].json_path, "$.volumes[0].path");
        ASSERT_STREQ(d.entries[2].json_path, "$.attrs.kernel.path");
        ASSERT_STREQ(d.entries[3].json_path, "$.attrs.kernel.initrd");
}

TEST(pool_reached_through_symlink) {
        /* The pool directory itself is a symlink (e.g. /var/lib/machina -> /srv/machina): files
         * below it are inside, lexically and resolved. */
        set_host(tpath("pool-link"));
        EXPECT_OK(CALLER, "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"storage\": \"images\"}]}");
        EXPECT_REFUSED("through a symlink",
                       "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"path\": \"%s\"}]}", tpath("pool-link/shadow-link"));
        set_host(tpath("pool"));
}

TEST(no_pools) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        char saved[sizeof(host_json)];

        memcpy(saved, host_json, sizeof(saved));
        snprintf(host_json, sizeof(host_json), "{\"storage\": [{\"name\": \"all\", \"type\": \"raw\", \"pattern\": \"/${volume}\"}]}");
        ASSERT_ERROR(check(CALLER, &d, "{\"name\": \"a\", \"volumes\": [{\"name\": \"d\", \"storage\": \"all\"}]}"), EPERM);
        assert_diag(&d, "defines no storage pool");
        memcpy(host_json, saved, sizeof(saved));
        EXPECT_OK(CALLER, "{\"name\": \"a\"}");
}

static void setup(void) {
        ASSERT_TRUE(mkdtemp(tmp));
        ASSERT_OK(mkdir(tpath("pool"), 0755));
        ASSERT_OK(mkdir(tpath("pool/k"), 0755));
        ASSERT_OK(mkdir(tpath("pool/a"), 0755));
        ASSERT_OK(close(open(tpath("pool/a/d.img"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)));
        ASSERT_OK(symlink("/etc/shadow", tpath("pool/shadow-link")));
        ASSERT_OK(symlink("/etc", tpath("pool/etc-link")));
        ASSERT_OK(symlink("/etc", tpath("pool/evil")));
        ASSERT_OK(symlink(tpath("nowhere/x"), tpath("pool/dangling")));
        ASSERT_OK(symlink("a/d.img", tpath("pool/inner-link")));
        ASSERT_OK(symlink(tpath("pool"), tpath("pool-link")));
        set_host(tpath("pool"));
}

static void cleanup(void) {
        const char *links[] = { "pool/shadow-link", "pool/etc-link", "pool/evil", "pool/dangling",
                                "pool/inner-link", "pool-link" };

        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                ASSERT_OK(unlink(tpath(links[i])));
        ASSERT_OK(rmdir(tpath("pool/k")));
        ASSERT_OK(unlink(tpath("pool/a/d.img")));
        ASSERT_OK(rmdir(tpath("pool/a")));
        ASSERT_OK(rmdir(tpath("pool")));
        ASSERT_OK(rmdir(tmp));
}

int main(void) {
        setup();
        RUN(pool_directory);
        RUN(pool_contains);
        RUN(root_may_reference_anything);
        RUN(inside_pools);
        RUN(outside_lexically);
        RUN(outside_via_symlink);
        RUN(owner_only_self);
        RUN(every_violation_reported);
        RUN(pool_reached_through_symlink);
        RUN(no_pools);
        cleanup();
        return 0;
}
