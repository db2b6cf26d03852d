/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fault injection for the QMP client. The server side here is a STAND-IN written in this test
 * (a socketpair or unix socket whose other end the test writes by hand), because the real QEMU
 * never splits its greeting byte by byte, sends over-long lines, garbage, half messages, a full
 * listen backlog or replies out of order on purpose. Everything else is tested against the real
 * QEMU in test-qmp.c. */

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "qemu-util.h"
#include "qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 1, \"major\": 9}, " \
                 "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"

typedef struct Fixture {
        sd_event *e;
        QmpClient *c;
        Peer peer;
        Recorder rec;
} Fixture;

static void fixture_new(Fixture *f) {
        int sv[2];

        *f = (Fixture) {};
        ASSERT_OK(sd_event_new(&f->e));
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(qmp_client_new_from_fd(f->e, sv[0], &f->c));
        f->peer.fd = sv[1];
        recorder_attach(f->c, &f->rec);
}

static void fixture_handshake(Fixture *f) {
        _cleanup_free_ char *cmd = NULL;
        int64_t id;

        peer_write(&f->peer, GREETING);
        cmd = peer_read_command(f->e, &f->peer, &id);
        ASSERT_STREQ(cmd, "qmp_capabilities");
        peer_reply(&f->peer, id, "{}");
        RUN_UNTIL(f->e, f->rec.ready, 10);
}

static void fixture_done(Fixture *f) {
        qmp_client_unref(f->c);
        peer_close(&f->peer);
        recorder_done(&f->rec);
        sd_event_unref(f->e);
}

/* Write a large buffer through a non-blocking peer, running the client between chunks, until it
 * is all written or the client hung up. */
static void peer_write_big(Fixture *f, const char *data, size_t size) {
        uint64_t deadline = now_usec() + 30 * USEC_PER_SEC;

        while (size > 0 && f->rec.n_disconnects == 0) {
                ssize_t n = send(f->peer.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);

                ASSERT_TRUE(now_usec() < deadline);
                if (n < 0) {
                        ASSERT_TRUE(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
                        if (errno == EAGAIN)
                                (void) sd_event_run(f->e, 10 * USEC_PER_MSEC);
                        else
                                RUN_UNTIL(f->e, f->rec.n_disconnects > 0, 10);
                        continue;
                }
                data += n;
                size -= (size_t) n;
                run_pending(f->e);
        }
}

TEST(greeting_byte_by_byte) {
        _cleanup_free_ char *cmd = NULL, *cmd2 = NULL, *reply = NULL;
        Fixture f;
        Reply early = {};
        unsigned major, minor, micro;
        int64_t id, id2;

        fixture_new(&f);
        /* Queued before the greeting: must go out after qmp_capabilities was answered. */
        ASSERT_OK(qmp_client_execute(f.c, "query-status", NULL, on_reply, &early));
        ASSERT_ERROR(qmp_client_get_version(f.c, NULL, NULL, NULL), ENODATA);

        for (const char *p = GREETING; *p; p++) {
                char b[2] = { *p, 0 };
                peer_write(&f.peer, b);
                run_pending(f.e);
                ASSERT_TRUE(!f.rec.ready);
        }
        ASSERT_OK(qmp_client_get_version(f.c, &major, &minor, &micro));
        ASSERT_TRUE(major == 9 && minor == 1 && micro == 3);

        cmd = peer_read_command(f.e, &f.peer, &id);
        ASSERT_STREQ(cmd, "qmp_capabilities");
        run_pending(f.e);
        ASSERT_EQ(f.peer.n, 0);         /* nothing else before the negotiation finished */

        ASSERT_TRUE(asprintf(&reply, "{\"return\": {}, \"id\": %" PRIi64 "}\r\n", id) > 0);
        for (const char *p = reply; *p; p++) {
                char b[2] = { *p, 0 };
                ASSERT_TRUE(!f.rec.ready);
                peer_write(&f.peer, b);
                run_pending(f.e);
        }
        ASSERT_TRUE(f.rec.ready);

        cmd2 = peer_read_command(f.e, &f.peer, &id2);
        ASSERT_STREQ(cmd2, "query-status");
        ASSERT_TRUE(id2 != id);
        peer_reply(&f.peer, id2, "{\"status\": \"running\"}");
        RUN_UNTIL(f.e, early.calls > 0, 10);
        ASSERT_STREQ(early.result, "{\"status\":\"running\"}");
        reply_done(&early);
        fixture_done(&f);
}

TEST(several_messages_in_one_write) {
        _cleanup_free_ char *ca = NULL, *cb = NULL, *cc = NULL, *burst = NULL;
        Reply a = {}, b = {}, c = {};
        int64_t ia, ib, ic;
        Fixture f;

        fixture_new(&f);
        fixture_handshake(&f);
        ASSERT_OK(qmp_client_execute(f.c, "cmd-a", NULL, on_reply, &a));
        ASSERT_OK(qmp_client_execute(f.c, "cmd-b", NULL, on_reply, &b));
        ASSERT_OK(qmp_client_execute(f.c, "cmd-c", NULL, on_reply, &c));
        ca = peer_read_command(f.e, &f.peer, &ia);
        cb = peer_read_command(f.e, &f.peer, &ib);
        cc = peer_read_command(f.e, &f.peer, &ic);
        ASSERT_STREQ(ca, "cmd-a");
        ASSERT_STREQ(cb, "cmd-b");
        ASSERT_STREQ(cc, "cmd-c");

        /* Events, blank lines, "\n" and "\r\n", and replies out of order, all in one write:
         * matching is by id, not by position. */
        ASSERT_TRUE(asprintf(&burst,
                             "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}}\r\n"
                             "{\"return\": [1, 2], \"id\": %" PRIi64 "}\n"
                             "\r\n\n"
                             "{\"return\": {\"n\": \"a\"}, \"id\": %" PRIi64 "}\r\n"
                             "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r\n"
                             "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"no such thing\"}, \"id\": %" PRIi64 "}\r\n"
                             "{\"return\": {}, \"id\": 999999}\r\n"
                             "{\"return\": {}}\r\n",
                             ic, ia, ib) > 0);
        peer_write(&f.peer, burst);
        RUN_UNTIL(f.e, a.calls && b.calls && c.calls && f.rec.n_events == 2, 10);

        ASSERT_STREQ(a.result, "{\"n\":\"a\"}");
        ASSERT_EQ(b.error, -ENODEV);
        ASSERT_STREQ(b.error_class, "DeviceNotFound");
        ASSERT_STREQ(b.desc, "no such thing");
        ASSERT_STREQ(c.result, "[1,2]");
        ASSERT_TRUE(c.order < a.order && a.order < b.order);
        ASSERT_STREQ(f.rec.events[0], "STOP -");
        ASSERT_STREQ(f.rec.events[1], "SHUTDOWN {\"guest\":true,\"reason\":\"guest-shutdown\"}");
        ASSERT_EQ(f.rec.last_timestamp, 0);     /* the second event had none */
        /* Unknown ids and id-less replies are ignored, not fatal. */
        ASSERT_TRUE(qmp_client_is_ready(f.c));
        ASSERT_EQ(qmp_client_n_pending(f.c), 0);
        ASSERT_EQ(f.rec.n_disconnects, 0);

        reply_done(&a);
        reply_done(&b);
        reply_done(&c);
        fixture_done(&f);
}

TEST(event_timestamp) {
        Fixture f;

        fixture_new(&f);
        fixture_handshake(&f);
        peer_write(&f.peer, "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}}\n");
        RUN_UNTIL(f.e, f.rec.n_events == 1, 10);
        ASSERT_EQ(f.rec.last_timestamp, 1700000000123456ULL);
        fixture_done(&f);
}

TEST(overlong_line) {
        size_t size = QMP_LINE_MAX + 1;
        _cleanup_free_ char *big = malloc(size);
        Reply a = {};
        Fixture f;

        fixture_new(&f);
        fixture_handshake(&f);
        ASSERT_OK(qmp_client_execute(f.c, "query-status", NULL, on_reply, &a));
        memset(big, 'x', size);
        peer_write_big(&f, big, size);
        RUN_UNTIL(f.e, f.rec.n_disconnects > 0, 10);
        ASSERT_EQ(f.rec.n_disconnects, 1);
        ASSERT_EQ(f.rec.disconnect_error, -EMSGSIZE);
        ASSERT_EQ(a.calls, 1);
        ASSERT_EQ(a.error, -ECONNRESET);
        ASSERT_TRUE(!qmp_client_is_connected(f.c));
        reply_done(&a);
        fixture_done(&f);
}

TEST(large_line_within_limit) {
        static const char head[] = "{\"event\": \"BIG\", \"data\": {\"s\": \"", tail[] = "\"}}\r\n";
        size_t fill = QMP_LINE_MAX - 64, size = strlen(head) + fill + strlen(tail);
        _cleanup_free_ char *big = malloc(size + 1);
        Fixture f;

        fixture_new(&f);
        fixture_handshake(&f);
        strcpy(big, head);
        memset(big + strlen(head), 'y', fill);
        strcpy(big + strlen(head) + fill, tail);
        peer_write_big(&f, big, size);
        RUN_UNTIL(f.e, f.rec.n_events == 1, 10);
        ASSERT_EQ(strlen(f.rec.events[0]), strlen("BIG {\"s\":\"\"}") + fill);
        ASSERT_EQ(f.rec.n_disconnects, 0);
        fixture_done(&f);
}

static void expect_bad_message(const char *greeting, const char *message, bool want_ready) {
        Reply a = {};
        Fixture f;

        fixture_new(&f);
        if (greeting)
                peer_write(&f.peer, greeting);
        else {
                fixture_handshake(&f);
                ASSERT_OK(qmp_client_execute(f.c, "query-status", NULL, on_reply, &a));
        }
        peer_write(&f.peer, message);
        RUN_UNTIL(f.e, f.rec.n_disconnects > 0, 10);
        ASSERT_EQ(f.rec.disconnect_error, -EBADMSG);
        ASSERT_EQ(f.rec.ready, want_ready);
        ASSERT_EQ(a.calls, greeting ? 0 : 1);
        if (!greeting)
                ASSERT_EQ(a.error, -ECONNRESET);
        reply_done(&a);
        fixture_done(&f);
}

TEST(garbage) {
        expect_bad_message(NULL, "this is not json\r\n", true);
        expect_bad_message(NULL, "{\"return\": {}, \"id\": 1 xyz}\r\n", true);
        expect_bad_message(NULL, "[1, 2]\r\n", true);
        expect_bad_message("{\"hello\": 1}\r\n", "", false);
        expect_bad_message("\"QMP\"\r\n", "", false);
}

TEST(eof) {
        Reply a = {}, b = {};
        int64_t id;
        Fixture f;

        /* In the middle of a message: cut short. */
        fixture_new(&f);
        fixture_handshake(&f);
        ASSERT_OK(qmp_client_execute(f.c, "query-status", NULL, on_reply, &a));
        ASSERT_OK(qmp_client_execute(f.c, "query-name", NULL, on_reply, &b));
        /* Read them: closing with unread data would make the kernel report ECONNRESET. */
        free(peer_read_command(f.e, &f.peer, &id));
        free(peer_read_command(f.e, &f.peer, &id));
        peer_write(&f.peer, "{\"event\": \"ST");
        run_pending(f.e);
        peer_close(&f.peer);
        RUN_UNTIL(f.e, f.rec.n_disconnects > 0, 10);
        ASSERT_EQ(f.rec.disconnect_error, -EBADMSG);
        ASSERT_TRUE(a.calls == 1 && a.error == -ECONNRESET && a.order < b.order);
        ASSERT_TRUE(b.calls == 1 && b.error == -ECONNRESET);
        ASSERT_EQ(f.rec.n_events, 0);
        run_pending(f.e);
        ASSERT_EQ(f.rec.n_disconnects, 1);
        reply_done(&a);
        reply_done(&b);
        fixture_done(&f);

        /* At a line boundary: orderly. */
        fixture_new(&f);
        fixture_handshake(&f);
        peer_write(&f.peer, "{\"event\": \"POWERDOWN\"}\r\n");
        peer_close(&f.peer);
        RUN_UNTIL(f.e, f.rec.n_disconnects > 0, 10);
        ASSERT_EQ(f.rec.disconnect_error, 0);
        ASSERT_STREQ(f.rec.events[0], "POWERDOWN -");
        fixture_done(&f);
}

TEST(limits) {
        Reply r[QMP_PENDING_MAX] = {}, extra = {};
        Fixture f;

        fixture_new(&f);
        fixture_handshake(&f);
        for (unsigned i = 0; i < QMP_PENDING_MAX; i++)
                ASSERT_OK(qmp_client_execute(f.c, "query-status", NULL, on_reply, &r[i]));
        ASSERT_ERROR(qmp_client_execute(f.c, "query-status", NULL, on_reply, &extra), ENOBUFS);
        ASSERT_ERROR(qmp_client_execute(f.c, "", NULL, on_reply, &extra), EINVAL);
        peer_close(&f.peer);
        RUN_UNTIL(f.e, f.rec.n_disconnects > 0, 10);
        for (unsigned i = 0; i < QMP_PENDING_MAX; i++) {
                ASSERT_EQ(r[i].calls, 1);
                ASSERT_EQ(r[i].error, -ECONNRESET);
                if (i > 0)
                        ASSERT_TRUE(r[i - 1].order < r[i].order);
        }
        ASSERT_EQ(extra.calls, 0);
        ASSERT_ERROR(qmp_client_execute(f.c, "query-status", NULL, on_reply, &extra), ENOTCONN);
        fixture_done(&f);
}

/* Handlers that drop the client: nothing of it may be called afterwards (ASan checks the
 * memory side). */
typedef struct Dropper {
        Fixture *f;
        unsigned calls;
} Dropper;

static void drop_on_reply(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata) {
        Dropper *d = userdata;

        d->calls++;
        d->f->c = qmp_client_unref(d->f->c);
}

static void drop_on_event(QmpClient *c, const char *event, JsonObject *data, uint64_t timestamp, void *userdata) {
        drop_on_reply(c, 0, NULL, NULL, userdata);
}

static void drop_on_disconnect(QmpClient *c, int error, void *userdata) {
        drop_on_reply(c, error, NULL, NULL, userdata);
}

static void drop_on_ready(QmpClient *c, void *userdata) {
        drop_on_reply(c, 0, NULL, NULL, userdata);
}

TEST(unref_in_reply) {
        _cleanup_free_ char *c1 = NULL, *c2 = NULL, *burst = NULL;
        Reply second = {};
        int64_t i1, i2;
        Fixture f;
        Dropper d;

        fixture_new(&f);
        d = (Dropper) { .f = &f };
        fixture_handshake(&f);
        ASSERT_OK(qmp_client_execute(f.c, "one", NULL, drop_on_reply, &d));
        ASSERT_OK(qmp_client_execute(f.c, "two", NULL, on_reply, &second));
        c1 = peer_read_command(f.e, &f.peer, &i1);
        c2 = peer_read_command(f.e, &f.peer, &i2);
        ASSERT_TRUE(asprintf(&burst, "{\"return\": {}, \"id\": %" PRIi64 "}\r\n{\"event\": \"STOP\"}\r\n"
                             "{\"return\": {}, \"id\": %" PRIi64 "}\r\n", i1, i2) > 0);
        peer_write(&f.peer, burst);
        RUN_UNTIL(f.e, d.calls > 0, 10);
        run_pending(f.e);
        ASSERT_TRUE(!f.c);
        ASSERT_EQ(d.calls, 1);
        ASSERT_EQ(second.calls, 0);
        ASSERT_EQ(f.rec.n_events, 0);
        ASSERT_EQ(f.rec.n_disconnects, 0);
        fixture_done(&f);
}

TEST(unref_in_event) {
        Reply r = {};
        Fixture f;
        Dropper d;

        fixture_new(&f);
        d = (Dropper) { .f = &f };
        fixture_handshake(&f);
        qmp_client_set_event_handler(f.c, drop_on_event, &d);
        ASSERT_OK(qmp_client_execute(f.c, "query-status", NULL, on_reply, &r));
        peer_write(&f.peer, "{\"event\": \"STOP\"}\r\n{\"event\": \"RESUME\"}\r\n");
        RUN_UNTIL(f.e, d.calls > 0, 10);
        run_pending(f.e);
        ASSERT_EQ(d.calls, 1);
        ASSERT_EQ(r.calls, 0);          /* cancelled silently */
        ASSERT_EQ(f.rec.n_disconnects, 0);
        fixture_done(&f);
}

TEST(unref_in_failed_pending) {
        Reply second = {};
        Fixture f;
        Dropper d;

        fixture_new(&f);
        d = (Dropper) { .f = &f };
        fixture_handshake(&f);
        ASSERT_OK(qmp_client_execute(f.c, "one", NULL, drop_on_reply, &d));
        ASSERT_OK(qmp_client_execute(f.c, "two", NULL, on_reply, &second));
        peer_close(&f.peer);
        RUN_UNTIL(f.e, d.calls > 0, 10);
        run_pending(f.e);
        ASSERT_EQ(d.calls, 1);
        ASSERT_EQ(second.calls, 0);
        ASSERT_EQ(f.rec.n_disconnects, 0);
        fixture_done(&f);
}

TEST(unref_in_disconnect_and_ready) {
        Fixture f;
        Dropper d;

        fixture_new(&f);
        d = (Dropper) { .f = &f };
        fixture_handshake(&f);
        qmp_client_set_disconnect_handler(f.c, drop_on_disconnect, &d);
        peer_close(&f.peer);
        RUN_UNTIL(f.e, d.calls > 0, 10);
        ASSERT_TRUE(!f.c);
        fixture_done(&f);

        fixture_new(&f);
        d = (Dropper) { .f = &f };
        qmp_client_set_ready_handler(f.c, drop_on_ready, &d);
        peer_write(&f.peer, GREETING);
        {
                _cleanup_free_ char *cmd = NULL;
                int64_t id;

                cmd = peer_read_command(f.e, &f.peer, &id);
                peer_reply(&f.peer, id, "{}");
                peer_write(&f.peer, "{\"event\": \"STOP\"}\r\n");
        }
        RUN_UNTIL(f.e, d.calls > 0, 10);
        run_pending(f.e);
        ASSERT_TRUE(!f.c);
        ASSERT_EQ(f.rec.n_events, 0);
        fixture_done(&f);
}

TEST(extra_reference_keeps_dispatching) {
        QmpClient *extra;
        Fixture f;
        Dropper d;

        fixture_new(&f);
        d = (Dropper) { .f = &f };
        fixture_handshake(&f);
        extra = qmp_client_ref(f.c);
        qmp_client_set_event_handler(f.c, drop_on_event, &d);
        peer_write(&f.peer, "{\"event\": \"STOP\"}\r\n");
        RUN_UNTIL(f.e, d.calls > 0, 10);
        /* Someone else still holds it: it stays connected and keeps calling handlers. */
        qmp_client_set_event_handler(extra, on_event, &f.rec);
        peer_write(&f.peer, "{\"event\": \"RESUME\"}\r\n");
        RUN_UNTIL(f.e, f.rec.n_events > 0, 10);
        ASSERT_TRUE(qmp_client_is_ready(extra));
        qmp_client_unref(extra);
        fixture_done(&f);
}

TEST(connect_paths) {
        _cleanup_free_ char *dir = make_temp_dir(), *path = NULL, *longdir = NULL, *longpath = NULL, *bindpath = NULL;
        _cleanup_close_ int server = -EBADF, filler = -EBADF, dfd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sd_event *e = NULL;
        QmpClient *c = NULL;
        Recorder rec = {};
        Peer peer = {};
        int fd;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_TRUE(asprintf(&path, "%s/qmp.sock", dir) > 0);

        /* QEMU gone: no file, or a file nobody listens on. Both fail at once. */
        ASSERT_ERROR(qmp_client_connect(e, path, &c), ENOENT);
        server = listen_unix(path, -1);
        ASSERT_ERROR(qmp_client_connect(e, path, &c), ECONNREFUSED);
        server = safe_close(server);
        ASSERT_OK(unlink(path));

        /* Full backlog: the kernel says EAGAIN; the client retries from a timer. */
        server = listen_unix(path, 0);
        filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, path);
        ASSERT_OK(connect(filler, (struct sockaddr *) &sa, sizeof(sa)));
        ASSERT_OK(qmp_client_connect(e, path, &c));
        recorder_attach(c, &rec);
        ASSERT_TRUE(qmp_client_is_connected(c) && !qmp_client_is_ready(c));
        run_pending(e);
        fd = accept4(server, NULL, NULL, SOCK_CLOEXEC);         /* the filler */
        ASSERT_TRUE(fd >= 0);
        safe_close(fd);
        ASSERT_TRUE(accept4(server, NULL, NULL, SOCK_CLOEXEC) < 0 && errno == EAGAIN);  /* client not queued yet */
        peer.fd = accept_with_deadline(e, server);
        {
                _cleanup_free_ char *cmd = NULL;
                int64_t id;

                peer_write(&peer, GREETING);
                cmd = peer_read_command(e, &peer, &id);
                peer_reply(&peer, id, "{}");
        }
        RUN_UNTIL(e, rec.ready, 10);
        c = qmp_client_unref(c);
        peer_close(&peer);
        server = safe_close(server);
        ASSERT_OK(unlink(path));

        /* A path longer than sun_path (bound here through /proc/self/fd). */
        ASSERT_TRUE(asprintf(&longdir, "%s/%0120d", dir, 0) > 0);
        ASSERT_OK(mkdir(longdir, 0700));
        ASSERT_TRUE(asprintf(&longpath, "%s/qmp.sock", longdir) > 0);
        ASSERT_TRUE(strlen(longpath) >= sizeof(sa.sun_path));
        dfd = open(longdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        ASSERT_TRUE(asprintf(&bindpath, "/proc/self/fd/%i/qmp.sock", dfd) > 0);
        server = listen_unix(bindpath, 4);
        recorder_done(&rec);
        ASSERT_OK(qmp_client_connect(e, longpath, &c));
        recorder_attach(c, &rec);
        peer.fd = accept_with_deadline(e, server);
        peer_write(&peer, GREETING);
        peer_close(&peer);
        RUN_UNTIL(e, rec.n_disconnects > 0, 10);
        ASSERT_OK(qmp_client_get_version(c, NULL, NULL, NULL));
        c = qmp_client_unref(c);

        ASSERT_OK(unlinkat(dfd, "qmp.sock", 0));
        ASSERT_OK(rmdir(longdir));
        rm_rf_shallow(dir);
        recorder_done(&rec);
        sd_event_unref(e);
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        RUN(greeting_byte_by_byte);
        RUN(several_messages_in_one_write);
        RUN(event_timestamp);
        RUN(overlong_line);
        RUN(large_line_within_limit);
        RUN(garbage);
        RUN(eof);
        RUN(limits);
        RUN(unref_in_reply);
        RUN(unref_in_event);
        RUN(unref_in_failed_pending);
        RUN(unref_in_disconnect_and_ready);
        RUN(extra_reference_keeps_dispatching);
        RUN(connect_paths);
        return 0;
}
