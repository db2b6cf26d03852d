/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-util.h"
#include "log.h"
#include "manager.h"
#include "polkit.h"

typedef struct PolkitQuery {
        Manager *manager;
        sd_bus_message *message;        /* the parked call, ref'd */
        sd_bus_slot *slot;              /* CheckAuthorization in flight */
        char *action;
        char *machine;                  /* the guest it is about, or NULL */
        bool done;
        bool authorized;
        bool challenge;
        char *error_name;               /* polkit itself failed: deny with this */
} PolkitQuery;

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->message);
        free(q->action);
        free(q->machine);
        free(q->error_name);
        free(q);
        return NULL;
}

static void polkit_query_free_void(gpointer p) {
        polkit_query_free(p);
}

static GHashTable *registry(Manager *m) {
        if (!m->polkit_registry)
                m->polkit_registry = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                           polkit_query_free_void);
        return m->polkit_registry;
}

void manager_polkit_registry_free(Manager *m) {
        if (m->polkit_registry)
                g_hash_table_destroy(m->polkit_registry);
        m->polkit_registry = NULL;
}

static int on_check_authorization(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized, challenge, r;

        q->slot = sd_bus_slot_unref(q->slot);
        q->done = true;
        if (e) {
                log_warning("polkit check of %s failed: %s", q->action, e->message);
                (void) free_and_strdup(&q->error_name, e->name);
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        (void) free_and_strdup(&q->error_name, SD_BUS_ERROR_INVALID_ARGS);
                } else {
                        q->authorized = authorized;
                        q->challenge = challenge;
                }
        }
        /* Dispatch the parked call again: its handler now finds the answer. */
        r = sd_bus_enqueue_for_read(q->manager->bus, q->message);
        if (r < 0) {
                log_error_errno(r, "Failed to re-dispatch a call after polkit answered: %m");
                (void) sd_bus_reply_method_errorf(q->message, SD_BUS_ERROR_FAILED,
                                                  "Internal error while checking authorization.");
                g_hash_table_remove(registry(q->manager), q->message);
        }
        return 0;
}

static unsigned queries_for_machine(Manager *m, const char *machine) {
        GHashTableIter it;
        gpointer value;
        unsigned n = 0;

        g_hash_table_iter_init(&it, registry(m));
        while (g_hash_table_iter_next(&it, NULL, &value))
                if (streq_ptr(((PolkitQuery *) value)->machine, machine))
                        n++;
        return n;
}

static int deny(sd_bus_error *error, const char *action) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "Access denied: not authorized for %s.", action);
}

int manager_verify_polkit_async(Manager *m, sd_bus_message *message, const char *action,
                                const char *machine, uid_t good_uid, sd_bus_error *error) {
        _cleanup_bus_message_ sd_bus_message *call = NULL;
        PolkitQuery *q;
        const char *sender;
        uid_t uid;
        int r;

        r = bus_message_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        if (m->user_mode) {
                /* Like libvirt's qemu:///session: the user's own daemon serves only that user. */
                if (uid == getuid())
                        return 1;
                return deny(error, action);
        }
        if (uid == 0 || (good_uid != (uid_t) -1 && uid == good_uid))
                return 1;

        q = g_hash_table_lookup(registry(m), message);
        if (q) {
                bool authorized = q->authorized, challenge = q->challenge, failed = q->error_name;

                if (!q->done)
                        return 0;       /* still waiting (should not be dispatched again yet) */
                g_hash_table_remove(registry(m), message);
                if (authorized)
                        return 1;
                if (challenge && !failed)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                                 "Interactive authentication required for %s.", action);
                return deny(error, action);
        }

        sender = sd_bus_message_get_sender(message);
        if (!sender)
                return deny(error, action);
        /* Each parked call holds a message and a polkit call: bound them. */
        if (g_hash_table_size(registry(m)) >= m->polkit_queries_max)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many authorization checks in flight (limit %u); try again later.",
                                         m->polkit_queries_max);
        /* One guest's callers must not use up the room of all the others. */
        if (machine && queries_for_machine(m, machine) >= m->polkit_queries_per_machine_max)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many authorization checks in flight for machine %s (limit %u); try again later.",
                                         machine, m->polkit_queries_per_machine_max);

        r = sd_bus_message_new_method_call(m->bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(call, 'a', "{ss}");
        if (r >= 0 && machine)
                r = sd_bus_message_append(call, "{ss}", "machine", machine);
        if (r >= 0)
                r = sd_bus_message_append(call, "{ss}", "verb", sd_bus_message_get_member(message));
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "us",
                                  (uint32_t) (sd_bus_message_get_allow_interactive_authorization(message) > 0),
                                  "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->manager = m;
        q->message = sd_bus_message_ref(message);
        q->action = strdup(action);
        q->machine = machine ? strdup(machine) : NULL;
        if (!q->action || (machine && !q->machine)) {
                polkit_query_free(q);
                return -ENOMEM;
        }
        r = sd_bus_call_async(m->bus, &q->slot, call, on_check_authorization, q, 0);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        g_hash_table_insert(registry(m), message, q);
        return 0;
}
