/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the QMP tests: a real QEMU in a temp dir (killed by PID on every path, including
 * aborts, via PR_SET_PDEATHSIG), running an sd-event loop until a condition with a deadline,
 * and the test side of a unix socket ("peer") that plays QEMU for fault injection. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "qmp.h"
#include "tests.h"

#ifndef USEC_PER_SEC
#define USEC_PER_SEC ((uint64_t) 1000000)
#endif
#ifndef USEC_PER_MSEC
#define USEC_PER_MSEC ((uint64_t) 1000)
#endif

uint64_t now_usec(void);

/* Run the loop until cond holds; abort the test once timeout_sec passed. */
#define RUN_UNTIL(e, cond, timeout_sec)                                                 \
        do {                                                                            \
                uint64_t _deadline = now_usec() + (uint64_t) (timeout_sec) * USEC_PER_SEC; \
                while (!(cond)) {                                                       \
                        if (now_usec() >= _deadline) {                                  \
                                fprintf(stderr, "%s:%d: timed out waiting for %s\n",    \
                                        __FILE__, __LINE__, #cond);                     \
                                abort();                                                \
                        }                                                               \
                        ASSERT_OK(sd_event_run((e), 50 * USEC_PER_MSEC));               \
                }                                                                       \
        } while (0)

/* Dispatch everything that is ready now, without waiting. */
void run_pending(sd_event *e);

typedef struct TestQemu {
        pid_t pid;
        char *dir;
        char *qmp_path;                 /* machinad's monitor */
        char *qmp_stop_path;            /* the one reserved for machina-qmp-stop */
} TestQemu;

/* -ENOENT (after cleaning up) when qemu-system-x86_64 is not installed: the caller skips. */
int test_qemu_start(TestQemu *q, bool paused);
bool test_qemu_alive(TestQemu *q);
/* Wait (with a deadline) for QEMU to exit by itself; returns its wait status or -ETIMEDOUT. */
int test_qemu_wait_exit(TestQemu *q, unsigned timeout_sec);
/* SIGKILL if still running, reap, remove the temp dir. Safe to call twice. */
void test_qemu_done(TestQemu *q);

/* Start argv[0] (a path); stderr goes to stderr_fd if >= 0. Returns a pidfd, pid in *ret_pid. */
int spawn_process(char *const argv[], int stderr_fd, pid_t *ret_pid);
/* Wait on the pidfd while running the loop; returns the exit code, aborts after timeout_sec. */
int wait_process(sd_event *e, int pidfd, pid_t pid, unsigned timeout_sec);

/* The test end of a socket that plays QEMU's side of QMP. */
typedef struct Peer {
        int fd;
        char buf[64 * 1024];
        size_t n;
} Peer;

void peer_write(Peer *p, const char *s);
/* Run the loop until the client sent a command; returns its "execute" name, id in *ret_id. */
char *peer_read_command(sd_event *e, Peer *p, int64_t *ret_id);
void peer_reply(Peer *p, int64_t id, const char *return_json);
void peer_close(Peer *p);

/* A listening (backlog >= 0) or merely bound (backlog < 0) non-blocking unix socket. */
int listen_unix(const char *path, int backlog);
/* accept4() on a non-blocking listener, running the loop meanwhile; aborts after 10 s. */
int accept_with_deadline(sd_event *e, int server);

char *make_temp_dir(void);
void rm_rf_shallow(const char *dir);

/* Records what a QmpClient reports, for assertions. */
typedef struct Reply {
        unsigned calls;
        unsigned order;                 /* position among all replies of the test, 1-based */
        int error;
        char *result;                   /* "return" as compact JSON */
        char *error_class, *desc;
} Reply;

typedef struct Recorder {
        bool ready;
        unsigned n_disconnects;
        int disconnect_error;
        unsigned n_events;
        char *events[64];               /* "NAME DATA-JSON", "-" when there is no data */
        uint64_t last_timestamp;
} Recorder;

void reply_done(Reply *r);
void recorder_done(Recorder *rec);
void on_reply(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata);
void on_ready(QmpClient *c, void *userdata);
void on_event(QmpClient *c, const char *event, JsonObject *data, uint64_t timestamp, void *userdata);
void on_disconnect(QmpClient *c, int error, void *userdata);
void recorder_attach(QmpClient *c, Recorder *rec);
bool has_event(Recorder *rec, const char *prefix);
