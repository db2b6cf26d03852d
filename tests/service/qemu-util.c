/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "qemu-util.h"

uint64_t now_usec(void) {
        struct timespec ts;

        ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000U;
}

void run_pending(sd_event *e) {
        /* Bounded: a busy source must not hang the test. */
        for (unsigned i = 0; i < 10000; i++) {
                int r = sd_event_run(e, 0);
                ASSERT_OK(r);
                if (r == 0)
                        return;
        }
        ASSERT_TRUE(!"event loop never went idle");
}

char *make_temp_dir(void) {
        char *d = strdup("/tmp/machina-qmp-test-XXXXXX");

        ASSERT_TRUE(d);
        ASSERT_TRUE(mkdtemp(d));
        return d;
}

void rm_rf_shallow(const char *dir) {
        DIR *d;
        struct dirent *de;

        if (!dir)
                return;
        d = opendir(dir);
        if (d) {
                while ((de = readdir(d)))
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        (void) rmdir(dir);
}

/* In the child: die with the test, whatever way the test ends (abort included). */
static void child_setup(pid_t parent) {
        int null;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                (void) dup2(null, STDIN_FILENO);
                (void) dup2(null, STDOUT_FILENO);
        }
}

static bool socket_listening(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(strlen(path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);
        return connect(fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0;
}

int test_qemu_start(TestQemu *q, bool paused) {
        _cleanup_free_ char *qmp_arg = NULL, *chardev_arg = NULL;
        const char *binary = getenv("MACHINA_TEST_QEMU") ?: "qemu-system-x86_64";
        int pipefd[2], exec_errno = 0;
        pid_t parent = getpid();
        uint64_t deadline;
        ssize_t n;

        *q = (TestQemu) {};
        q->dir = make_temp_dir();
        ASSERT_TRUE(asprintf(&q->qmp_path, "%s/qmp.sock", q->dir) > 0);
        ASSERT_TRUE(asprintf(&q->qmp_stop_path, "%s/qmp-stop.sock", q->dir) > 0);
        ASSERT_TRUE(asprintf(&qmp_arg, "unix:%s,server=on,wait=off", q->qmp_path) > 0);
        ASSERT_TRUE(asprintf(&chardev_arg, "socket,id=qmp2,path=%s,server=on,wait=off", q->qmp_stop_path) > 0);

        const char *argv[] = {
                binary, "-no-user-config", "-nodefaults", "-display", "none",
                "-accel", "tcg", "-machine", "q35", "-m", "64",
                "-qmp", qmp_arg,
                "-chardev", chardev_arg, "-mon", "chardev=qmp2,mode=control",
                paused ? "-S" : NULL, NULL,
        };

        ASSERT_OK(pipe2(pipefd, O_CLOEXEC));
        q->pid = fork();
        ASSERT_TRUE(q->pid >= 0);
        if (q->pid == 0) {
                child_setup(parent);
                execvp(argv[0], (char **) argv);
                exec_errno = errno;
                (void) write(pipefd[1], &exec_errno, sizeof(exec_errno));
                _exit(127);
        }
        safe_close(pipefd[1]);
        n = read(pipefd[0], &exec_errno, sizeof(exec_errno));
        safe_close(pipefd[0]);
        if (n == sizeof(exec_errno)) {
                test_qemu_done(q);
                return -exec_errno;
        }

        /* Poll for both monitors with a deadline; QEMU listens within ~50 ms normally. */
        deadline = now_usec() + 30 * USEC_PER_SEC;
        for (;;) {
                ASSERT_TRUE(test_qemu_alive(q));
                if (socket_listening(q->qmp_path) && socket_listening(q->qmp_stop_path))
                        return 0;
                ASSERT_TRUE(now_usec() < deadline);
                (void) poll(NULL, 0, 5);
        }
}

bool test_qemu_alive(TestQemu *q) {
        int status;

        if (q->pid <= 0)
                return false;
        if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
                q->pid = 0;
                return false;
        }
        return true;
}

int test_qemu_wait_exit(TestQemu *q, unsigned timeout_sec) {
        _cleanup_close_ int pidfd = -EBADF;
        struct pollfd p;
        int status;

        if (q->pid <= 0)
                return -ECHILD;
        pidfd = pidfd_open(q->pid, 0);
        ASSERT_TRUE(pidfd >= 0);
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        if (poll(&p, 1, (int) timeout_sec * 1000) <= 0)
                return -ETIMEDOUT;
        ASSERT_EQ(waitpid(q->pid, &status, 0), q->pid);
        q->pid = 0;
        return status;
}

void test_qemu_done(TestQemu *q) {
        if (q->pid > 0) {
                (void) kill(q->pid, SIGKILL);
                (void) waitpid(q->pid, NULL, 0);
                q->pid = 0;
        }
        rm_rf_shallow(q->dir);
        free(q->dir);
        free(q->qmp_path);
        free(q->qmp_stop_path);
        q->dir = q->qmp_path = q->qmp_stop_path = NULL;
}

int spawn_process(char *const argv[], int stderr_fd, pid_t *ret_pid) {
        pid_t parent = getpid(), pid;
        int pidfd;

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                if (stderr_fd >= 0 && dup2(stderr_fd, STDERR_FILENO) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        pidfd = pidfd_open(pid, 0);
        ASSERT_TRUE(pidfd >= 0);
        *ret_pid = pid;
        return pidfd;
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        *(bool *) userdata = true;
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

int wait_process(sd_event *e, int pidfd, pid_t pid, unsigned timeout_sec) {
        sd_event_source *s = NULL;
        bool exited = false;
        int status;

        ASSERT_OK(sd_event_add_io(e, &s, pidfd, EPOLLIN, on_pidfd, &exited));
        RUN_UNTIL(e, exited, timeout_sec);
        sd_event_source_disable_unref(s);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        safe_close(pidfd);
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

void peer_write(Peer *p, const char *s) {
        size_t l = strlen(s);

        while (l > 0) {
                ssize_t n = send(p->fd, s, l, MSG_NOSIGNAL);
                ASSERT_TRUE(n > 0);
                s += n;
                l -= (size_t) n;
        }
}

char *peer_read_command(sd_event *e, Peer *p, int64_t *ret_id) {
        uint64_t deadline = now_usec() + 10 * USEC_PER_SEC;
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *o;
        char *nl, *execute;
        size_t k;

        while (!(nl = memchr(p->buf, '\n', p->n))) {
                struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
                ssize_t n;

                ASSERT_TRUE(now_usec() < deadline);
                run_pending(e);
                if (poll(&pfd, 1, 10) <= 0)
                        continue;
                ASSERT_TRUE(p->n < sizeof(p->buf));
                n = recv(p->fd, p->buf + p->n, sizeof(p->buf) - p->n, MSG_DONTWAIT);
                ASSERT_TRUE(n > 0);
                p->n += (size_t) n;
        }
        k = (size_t) (nl - p->buf);
        ASSERT_TRUE(json_parser_load_from_data(parser, p->buf, (gssize) k, NULL));
        o = json_node_get_object(json_parser_get_root(parser));
        execute = strdup(json_object_get_string_member(o, "execute"));
        *ret_id = json_object_get_int_member(o, "id");
        memmove(p->buf, nl + 1, p->n - k - 1);
        p->n -= k + 1;
        return execute;
}

void peer_reply(Peer *p, int64_t id, const char *return_json) {
        _cleanup_free_ char *s = NULL;

        ASSERT_TRUE(asprintf(&s, "{\"return\": %s, \"id\": %" PRIi64 "}\r\n", return_json, id) > 0);
        peer_write(p, s);
}

void peer_close(Peer *p) {
        p->fd = safe_close(p->fd);
}

static unsigned reply_counter;

void reply_done(Reply *r) {
        free(r->result);
        free(r->error_class);
        free(r->desc);
        *r = (Reply) {};
}

void recorder_done(Recorder *rec) {
        for (unsigned i = 0; i < rec->n_events; i++)
                free(rec->events[i]);
        *rec = (Recorder) {};
}

void on_reply(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata) {
        Reply *r = userdata;

        r->calls++;
        r->order = ++reply_counter;
        r->error = error;
        if (result)
                r->result = json_to_string(result, false);
        if (qmp_error) {
                r->error_class = strdup(qmp_error->error_class);
                r->desc = strdup(qmp_error->desc);
        }
}

void on_ready(QmpClient *c, void *userdata) {
        ((Recorder *) userdata)->ready = true;
}

void on_event(QmpClient *c, const char *event, JsonObject *data, uint64_t timestamp, void *userdata) {
        Recorder *rec = userdata;
        g_autofree char *json = NULL;
        char *s;

        if (data) {
                g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), data);
                json = json_to_string(n, false);
        }
        ASSERT_TRUE(asprintf(&s, "%s %s", event, json ?: "-") > 0);
        ASSERT_TRUE(rec->n_events < ELEMENTSOF(rec->events));
        rec->events[rec->n_events++] = s;
        rec->last_timestamp = timestamp;
}

void on_disconnect(QmpClient *c, int error, void *userdata) {
        Recorder *rec = userdata;

        rec->n_disconnects++;
        rec->disconnect_error = error;
}

void recorder_attach(QmpClient *c, Recorder *rec) {
        qmp_client_set_ready_handler(c, on_ready, rec);
        qmp_client_set_event_handler(c, on_event, rec);
        qmp_client_set_disconnect_handler(c, on_disconnect, rec);
}

bool has_event(Recorder *rec, const char *prefix) {
        for (unsigned i = 0; i < rec->n_events; i++)
                if (strncmp(rec->events[i], prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

int listen_unix(const char *path, int backlog) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ASSERT_TRUE(fd >= 0 && strlen(path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);
        ASSERT_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        if (backlog >= 0)
                ASSERT_OK(listen(fd, backlog));
        return fd;
}

int accept_with_deadline(sd_event *e, int server) {
        uint64_t deadline = now_usec() + 10 * USEC_PER_SEC;

        for (;;) {
                struct pollfd p = { .fd = server, .events = POLLIN };
                int fd = accept4(server, NULL, NULL, SOCK_CLOEXEC);

                if (fd >= 0)
                        return fd;
                ASSERT_TRUE(errno == EAGAIN);
                ASSERT_TRUE(now_usec() < deadline);
                run_pending(e);
                (void) poll(&p, 1, 5);
        }
}
