/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Run a real QEMU with a generated argv, paused (-S), talk QMP over its socket, quit. Every wait
 * has a deadline; the child is killed (by its pid, which we own) when one passes. */

#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"

#define LIVE_TIMEOUT_MS 20000

static inline int64_t live_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int live_spawn(char * const *argv, const char *log_path, pid_t *ret) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(log_path ?: "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        *ret = pid;
        return 0;
}

/* Waits for pid until the deadline; kills it on timeout. Returns the exit status or -ETIMEDOUT. */
static inline int live_wait(pid_t pid, int64_t deadline) {
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (r < 0)
                        return -errno;
                if (live_now_ms() > deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, &status, 0);
                        return -ETIMEDOUT;
                }
                (void) poll(NULL, 0, 10);
        }
}

static inline int live_run(char * const *argv, int64_t timeout_ms) {
        pid_t pid;
        int r = live_spawn(argv, NULL, &pid);

        if (r < 0)
                return r;
        return live_wait(pid, live_now_ms() + timeout_ms);
}

static inline int live_make_image(const char *path, const char *format) {
        char *argv[] = { (char *) "/usr/bin/qemu-img", (char *) "create", (char *) "-q", (char *) "-f",
                         (char *) format, (char *) path, (char *) "1M", NULL };
        int r = live_run(argv, LIVE_TIMEOUT_MS);

        return r == 0 ? 0 : (r < 0 ? r : -EIO);
}

static inline int live_free_tcp_port(int *ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                return -errno;
        *ret = ntohs(sa.sin_port);
        return 0;
}

/* Reads one QMP line (up to "\n") into buf before the deadline. */
static inline int live_qmp_read_line(int fd, char *buf, size_t size, int64_t deadline) {
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - live_now_ms();
                ssize_t k;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int) left) < 0)
                        return -errno;
                if (!(p.revents & (POLLIN | POLLHUP)))
                        continue;
                k = read(fd, buf + n, 1);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ECONNRESET;
                if (buf[n++] == '\n')
                        break;
        }
        buf[n] = 0;
        return 0;
}

/* Sends a command, skips events, returns the reply line in buf. */
static inline int live_qmp_call(int fd, const char *cmd, char *buf, size_t size, int64_t deadline) {
        int r;

        if (write(fd, cmd, strlen(cmd)) != (ssize_t) strlen(cmd))
                return -EIO;
        do {
                r = live_qmp_read_line(fd, buf, size, deadline);
                if (r < 0)
                        return r;
        } while (strstr(buf, "\"event\""));
        return 0;
}

static inline void live_dump_log(const char *path) {
        char line[512];
        FILE *f = fopen(path, "re");

        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                fprintf(stderr, "# qemu: %s", line);
        fclose(f);
}

/* Starts argv + "-S", expects QMP at <rtdir>/qmp.sock, checks query-status says "prelaunch" and
 * quits. 0 on success. */
static inline int live_run_paused(char * const *argv, const char *rtdir) {
        _cleanup_strv_free_ char **a = strv_copy(argv);
        _cleanup_free_ char *log = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int64_t deadline = live_now_ms() + LIVE_TIMEOUT_MS;
        _cleanup_close_ int fd = -EBADF;
        char buf[4096];
        pid_t pid;
        int r, status;

        if (!a || strv_extend(&a, "-S") < 0 || asprintf(&log, "%s/qemu.log", rtdir) < 0)
                return -ENOMEM;
        if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", rtdir) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        (void) unlink(sa.sun_path);

        r = live_spawn(a, log, &pid);
        if (r < 0)
                return r;

        /* Poll for the socket until it accepts, or QEMU exits, or the deadline passes. */
        for (;;) {
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        r = -errno;
                        break;
                }
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                        r = 0;
                        break;
                }
                fd = safe_close(fd);
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        fprintf(stderr, "# qemu exited before QMP came up\n");
                        live_dump_log(log);
                        return -ECHILD;
                }
                if (live_now_ms() > deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                (void) poll(NULL, 0, 10);
        }

        if (r >= 0)
                r = live_qmp_read_line(fd, buf, sizeof(buf), deadline);       /* greeting */
        if (r >= 0 && !strstr(buf, "\"QMP\""))
                r = -EPROTO;
        if (r >= 0)
                r = live_qmp_call(fd, "{\"execute\":\"qmp_capabilities\"}\n", buf, sizeof(buf), deadline);
        if (r >= 0)
                r = live_qmp_call(fd, "{\"execute\":\"query-status\"}\n", buf, sizeof(buf), deadline);
        if (r >= 0 && !strstr(buf, "\"prelaunch\"")) {
                fprintf(stderr, "# unexpected query-status reply: %s", buf);
                r = -EPROTO;
        }
        if (r >= 0)
                r = live_qmp_call(fd, "{\"execute\":\"quit\"}\n", buf, sizeof(buf), deadline);

        status = live_wait(pid, deadline);
        if (r < 0 || status != 0) {
                live_dump_log(log);
                return r < 0 ? r : -EIO;
        }
        return 0;
}

static inline int live_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

static inline int live_rm_rf(const char *path) {
        return nftw(path, live_rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}
