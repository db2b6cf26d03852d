/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Provisioning: "qemu-img create" for volumes with a "provision" block that do not exist yet.
 * qemu-img is run directly (posix_spawn, no shell) into a temporary name next to the target, and
 * moved into place with RENAME_NOREPLACE: an image that appeared meanwhile is never replaced and
 * a failure leaves nothing behind. Images created by a call that fails later are removed again,
 * so a definition is provisioned entirely or not at all. */

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "provision.h"

#define STDERR_MAX 4096U

extern char **environ;

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

/* qemu-img wants the backing format spelled out (-F); the first bytes tell. */
static const char *backing_format(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char magic[4];

        if (fd >= 0 && read(fd, magic, sizeof(magic)) == sizeof(magic) && memcmp(magic, "QFI\xfb", 4) == 0)
                return "qcow2";
        return "raw";
}

/* Runs argv; on failure returns -EIO and the first line of its stderr. */
static int run(char * const *argv, char **ret_error) {
        posix_spawn_file_actions_t fa;
        char buf[STDERR_MAX + 1];
        int pipefd[2], r, status;
        size_t n = 0;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        r = posix_spawn_file_actions_init(&fa);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        if (r == 0)
                r = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)
                                         : posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        safe_close(pipefd[1]);
        if (r != 0) {
                safe_close(pipefd[0]);
                if (asprintf(ret_error, "cannot run %s: %s", argv[0], strerror(r)) < 0)
                        *ret_error = NULL;
                return -r;
        }

        for (;;) {
                ssize_t k = read(pipefd[0], buf + n, STDERR_MAX - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += k;
                if (n == STDERR_MAX) {  /* keep draining so the child never blocks on us */
                        char sink[512];

                        while (read(pipefd[0], sink, sizeof(sink)) > 0)
                                ;
                        break;
                }
        }
        buf[n] = 0;
        safe_close(pipefd[0]);

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;

        buf[strcspn(buf, "\n")] = 0;
        if (asprintf(ret_error, "%s", n > 0 ? buf : "failed without a message") < 0)
                *ret_error = NULL;
        return -EIO;
}

static int create_one(const Volume *v, const char *qemu_img, char **ret_error) {
        const Provision *p = &v->provision;
        VolumeFormat format = p->format != VOLUME_FORMAT_UNSET ? p->format : v->format;
        _cleanup_free_ char *tmp = NULL, *size = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *argv[16];
        size_t n = 0;
        int r;

        if (!IN_SET(format, VOLUME_FORMAT_RAW, VOLUME_FORMAT_QCOW2)) {
                *ret_error = strdup("only raw and qcow2 images can be provisioned");
                return -EINVAL;
        }
        if (p->backing && format != VOLUME_FORMAT_QCOW2) {
                *ret_error = strdup("a backing image needs the qcow2 format");
                return -EINVAL;
        }
        if (p->size == 0 && !p->backing) {
                *ret_error = strdup("no size to provision");
                return -EINVAL;
        }

        r = mkdir_parents(v->path);
        if (r < 0) {
                (void) asprintf(ret_error, "cannot create the parent directory: %s", strerror(-r));
                return r;
        }
        /* Reserve a unique temporary name in the target directory (same file system). */
        if (asprintf(&tmp, "%s.provision-XXXXXX", v->path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                (void) asprintf(ret_error, "cannot create a temporary file: %s", strerror(-r));
                return r;
        }
        fd = safe_close(fd);

        argv[n++] = qemu_img ?: "qemu-img";
        argv[n++] = "create";
        argv[n++] = "-q";
        argv[n++] = "-f";
        argv[n++] = volume_format_to_string(format);
        if (!p->thin) {
                argv[n++] = "-o";
                argv[n++] = "preallocation=falloc";
        }
        if (p->backing) {
                argv[n++] = "-b";
                argv[n++] = p->backing;
                argv[n++] = "-F";
                argv[n++] = backing_format(p->backing);
        }
        argv[n++] = tmp;
        if (p->size > 0) {
                if (asprintf(&size, "%" PRIu64, p->size) < 0) {
                        (void) unlink(tmp);
                        return -ENOMEM;
                }
                argv[n++] = size;
        }
        argv[n] = NULL;

        r = run((char * const *) argv, ret_error);
        if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, v->path, RENAME_NOREPLACE) < 0) {
                r = -errno;
                (void) asprintf(ret_error, r == -EEXIST ? "appeared while provisioning; left alone"
                                                        : "cannot move into place: %s", strerror(-r));
        }
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int provision_volumes(const MachineDef *resolved, const char *qemu_img, Diagnostics *diag) {
        _cleanup_free_ size_t *created = NULL;
        const char *origin;
        size_t n_created = 0;
        int r;

        if (!resolved)
                return -EINVAL;
        origin = resolved->source ?: "<input>";
        created = calloc(resolved->n_volumes + 1, sizeof(size_t));
        if (!created)
                return -ENOMEM;

        for (size_t i = 0; i < resolved->n_volumes; i++) {
                const Volume *v = resolved->volumes + i;
                _cleanup_free_ char *error = NULL;
                struct stat st;
                char jpath[64];

                if (!v->provision.set)
                        continue;
                (void) snprintf(jpath, sizeof(jpath), "$.volumes[%zu].provision", i);
                if (isempty(v->path) || v->path[0] != '/') {
                        r = diag_error(diag, origin, jpath, "volume \"%s\" has no absolute path", strna(v->name));
                        goto rollback;
                }
                if (lstat(v->path, &st) >= 0)
                        continue;               /* existing images are never touched */
                if (errno != ENOENT) {
                        r = -errno;
                        diag_error(diag, origin, jpath, "%s: %s", v->path, strerror(-r));
                        goto rollback;
                }

                r = create_one(v, qemu_img, &error);
                if (r < 0) {
                        if (r == -ENOMEM)
                                goto rollback;
                        diag_error(diag, origin, jpath, "%s: qemu-img create: %s", v->path,
                                   strna(error));
                        goto rollback;
                }
                created[n_created++] = i;
        }
        return (int) n_created;

rollback:
        for (size_t k = 0; k < n_created; k++)
                (void) unlink(resolved->volumes[created[k]].path);
        return r;
}
