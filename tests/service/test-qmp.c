/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The QMP client against the real QEMU (qemu-system-x86_64, TCG, no guest code needed). */

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "qemu-util.h"
#include "qmp.h"

static QmpClient *connect_recorded(sd_event *e, const char *path, Recorder *rec) {
        QmpClient *c = NULL;

        ASSERT_OK(qmp_client_connect(e, path, &c));
        recorder_attach(c, rec);
        RUN_UNTIL(e, rec->ready, 20);
        return c;
}

static void execute_wait(sd_event *e, QmpClient *c, const char *command, JsonObject *args, Reply *r) {
        reply_done(r);
        ASSERT_OK(qmp_client_execute(c, command, args, on_reply, r));
        RUN_UNTIL(e, r->calls > 0, 20);
        ASSERT_EQ(r->calls, 1);
}

static int64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void test_qemu_lifecycle(TestQemu *q) {
        _cleanup_(recorder_done) Recorder rec = {}, rec2 = {};
        Reply r = {}, a = {}, b = {}, d = {}, after = {};
        g_autoptr(JsonObject) args = json_object_new();
        sd_event *e = NULL;
        QmpClient *c, *c2;
        unsigned major = 0;
        int status;

        ASSERT_OK(sd_event_new(&e));
        c = connect_recorded(e, q->qmp_path, &rec);
        ASSERT_TRUE(qmp_client_is_ready(c));
        ASSERT_OK(qmp_client_get_version(c, &major, NULL, NULL));
        ASSERT_TRUE(major >= 2);

        /* The second monitor is independent and sees the same events. */
        c2 = connect_recorded(e, q->qmp_stop_path, &rec2);

        execute_wait(e, c, "query-status", NULL, &r);
        ASSERT_EQ(r.error, 0);
        ASSERT_STREQ(r.result, "{\"status\":\"prelaunch\",\"singlestep\":false,\"running\":false}");

        execute_wait(e, c, "cont", NULL, &r);
        ASSERT_EQ(r.error, 0);
        ASSERT_STREQ(r.result, "{}");
        RUN_UNTIL(e, has_event(&rec, "RESUME") && has_event(&rec2, "RESUME"), 20);
        /* QEMU stamps events with CLOCK_REALTIME. */
        ASSERT_TRUE(llabs(realtime_usec() - (int64_t) rec.last_timestamp) < 60 * 1000000LL);

        execute_wait(e, c, "stop", NULL, &r);
        ASSERT_EQ(r.error, 0);
        RUN_UNTIL(e, has_event(&rec, "STOP"), 20);
        execute_wait(e, c, "query-status", NULL, &r);
        ASSERT_STREQ(r.result, "{\"status\":\"paused\",\"singlestep\":false,\"running\":false}");

        execute_wait(e, c, "no-such-command", NULL, &r);
        ASSERT_EQ(r.error, -EOPNOTSUPP);
        ASSERT_TRUE(!r.result);
        ASSERT_STREQ(r.error_class, "CommandNotFound");
        ASSERT_STREQ(r.desc, "The command no-such-command has not been found");

        /* Arguments are passed through. */
        json_object_set_string_member(args, "path", "/machine");
        json_object_set_string_member(args, "property", "type");
        execute_wait(e, c, "qom-get", args, &r);
        ASSERT_EQ(r.error, 0);
        ASSERT_TRUE(strstr(r.result, "q35"));

        /* Three in flight, one failing: answered in order, each to its own handler. */
        reply_done(&r);
        ASSERT_OK(qmp_client_execute(c, "query-status", NULL, on_reply, &a));
        ASSERT_OK(qmp_client_execute(c, "no-such-command", NULL, on_reply, &b));
        ASSERT_OK(qmp_client_execute(c, "query-name", NULL, on_reply, &d));
        ASSERT_EQ(qmp_client_n_pending(c), 3);
        RUN_UNTIL(e, a.calls && b.calls && d.calls, 20);
        ASSERT_TRUE(a.order < b.order && b.order < d.order);
        ASSERT_TRUE(strstr(a.result, "\"paused\""));
        ASSERT_STREQ(b.error_class, "CommandNotFound");
        ASSERT_STREQ(d.result, "{}");
        ASSERT_EQ(qmp_client_n_pending(c), 0);
        reply_done(&a);
        reply_done(&b);
        reply_done(&d);

        execute_wait(e, c, "system_reset", NULL, &r);
        ASSERT_EQ(r.error, 0);
        RUN_UNTIL(e, has_event(&rec, "RESET {\"guest\":false,\"reason\":\"host-qmp-system-reset\"}"), 20);

        /* quit: reply, SHUTDOWN with the reason, then EOF. A command queued behind it gets
         * exactly one answer: normally -ECONNRESET (QEMU exits without reading it). */
        c2 = qmp_client_unref(c2);
        reply_done(&r);
        ASSERT_OK(qmp_client_execute(c, "quit", NULL, on_reply, &r));
        ASSERT_OK(qmp_client_execute(c, "query-status", NULL, on_reply, &after));
        RUN_UNTIL(e, rec.n_disconnects > 0, 20);
        ASSERT_EQ(r.calls, 1);
        ASSERT_EQ(r.error, 0);
        ASSERT_TRUE(has_event(&rec, "SHUTDOWN {\"guest\":false,\"reason\":\"host-qmp-quit\"}"));
        ASSERT_EQ(after.calls, 1);
        ASSERT_TRUE(after.error == -ECONNRESET || after.error == 0);
        fprintf(stderr, "command queued behind quit: %s, disconnect error %d\n",
                after.error == 0 ? "answered" : "failed with -ECONNRESET", rec.disconnect_error);
        ASSERT_TRUE(rec.disconnect_error == 0 || rec.disconnect_error == -ECONNRESET);
        ASSERT_TRUE(!qmp_client_is_connected(c));
        ASSERT_ERROR(qmp_client_execute(c, "query-status", NULL, on_reply, &r), ENOTCONN);

        /* Nothing more arrives: no second disconnect, no second reply. */
        run_pending(e);
        ASSERT_EQ(rec.n_disconnects, 1);
        ASSERT_EQ(after.calls, 1);

        status = test_qemu_wait_exit(q, 20);
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        reply_done(&r);
        reply_done(&after);
        qmp_client_unref(c);
        sd_event_unref(e);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Figures for the report: connect → ready, and one query-status round trip. */
static void test_qemu_latency(TestQemu *q) {
        uint64_t ready[20], rtt[20];
        sd_event *e = NULL;

        ASSERT_OK(sd_event_new(&e));
        for (unsigned i = 0; i < ELEMENTSOF(ready); i++) {
                _cleanup_(recorder_done) Recorder rec = {};
                Reply r = {};
                uint64_t t0 = now_usec(), t1;
                QmpClient *c;

                c = connect_recorded(e, q->qmp_path, &rec);
                t1 = now_usec();
                ready[i] = t1 - t0;
                execute_wait(e, c, "query-status", NULL, &r);
                rtt[i] = now_usec() - t1;
                ASSERT_EQ(r.error, 0);
                reply_done(&r);
                qmp_client_unref(c);
        }
        qsort(ready, ELEMENTSOF(ready), sizeof(uint64_t), cmp_u64);
        qsort(rtt, ELEMENTSOF(rtt), sizeof(uint64_t), cmp_u64);
        printf("# connect->ready: median %" PRIu64 " us, min %" PRIu64 ", max %" PRIu64 " (n=20)\n",
               ready[10], ready[0], ready[19]);
        printf("# query-status round trip: median %" PRIu64 " us, min %" PRIu64 ", max %" PRIu64 " (n=20)\n",
               rtt[10], rtt[0], rtt[19]);
        sd_event_unref(e);
}

static TestQemu qemu;

int main(void) {
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        r = test_qemu_start(&qemu, true);
        if (r == -ENOENT) {
                printf("1..0 # SKIP qemu-system-x86_64 not installed\n");
                return 77;
        }
        ASSERT_OK(r);

        test_qemu_latency(&qemu);
        printf("ok - qemu_latency\n");
        test_qemu_lifecycle(&qemu);
        printf("ok - qemu_lifecycle\n");

        test_qemu_done(&qemu);
        return 0;
}
