/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machine_def_parse() and host_config_parse() on arbitrary bytes. Whatever parses must serialize,
 * and its serialization must parse again to the same serialization (compact and pretty). */

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "macro.h"

/* The config layer is written in parallel with this target: weak references keep this building
 * (and the replay test skipping) until it is there. */
#pragma weak machine_def_parse
#pragma weak machine_def_to_json
#pragma weak host_config_parse

const char *fuzz_target_unavailable(void) {
        if (!machine_def_parse || !machine_def_to_json || !host_config_parse)
                return "machine_def_parse(), machine_def_to_json() or host_config_parse() not built";
        return NULL;
}

/* Under libFuzzer: say so instead of fuzzing a no-op. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *why = fuzz_target_unavailable();

        if (why) {
                printf("SKIP: %s\n", why);
                exit(EXIT_SUCCESS);
        }
        return 0;
}

static MachineDef *parse_or_die(const char *json) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        MachineDef *m = NULL;
        int r;

        r = machine_def_parse(json, strlen(json), "<fuzz:json>", &m, &diag);
        if (r == -ENOMEM)
                return NULL;
        if (r < 0 || !m) {
                _cleanup_free_ char *first = diagnostics_first_error(&diag);

                fprintf(stderr, "serialized definition does not parse again: %s\n%s\n",
                        strna(first), json);
                abort();
        }
        return m;
}

static void check_round_trip(const MachineDef *m) {
        _cleanup_(machine_def_freep) MachineDef *again = NULL, *again_pretty = NULL;
        _cleanup_free_ char *json = NULL, *pretty = NULL, *json2 = NULL, *json3 = NULL;

        if (machine_def_to_json(m, false, &json) < 0 || machine_def_to_json(m, true, &pretty) < 0)
                return;         /* only ENOMEM is expected here; a parsed definition serializes */

        again = parse_or_die(json);
        again_pretty = parse_or_die(pretty);
        if (!again || !again_pretty)
                return;

        if (machine_def_to_json(again, false, &json2) < 0 ||
            machine_def_to_json(again_pretty, false, &json3) < 0)
                return;

        if (!streq(json, json2) || !streq(json, json3)) {
                fprintf(stderr, "round trip changed the definition:\n%s\n%s\n%s\n", json, json2, json3);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (fuzz_target_unavailable())
                return 0;

        /* Bounded by the parser itself (DEF_FILE_SIZE_MAX); a bit past it exercises that check. */
        if (size > DEF_FILE_SIZE_MAX + 16)
                return 0;

        {
                _cleanup_(diagnostics_done) Diagnostics diag = {};
                _cleanup_(machine_def_freep) MachineDef *m = NULL;

                if (machine_def_parse((const char *) data, size, "<fuzz>", &m, &diag) >= 0) {
                        if (!m)
                                abort();
                        check_round_trip(m);
                }
        }

        {
                _cleanup_(diagnostics_done) Diagnostics diag = {};
                _cleanup_(host_config_freep) HostConfig *h = NULL;

                if (host_config_parse((const char *) data, size, "<fuzz>", &h, &diag) >= 0 && !h)
                        abort();
        }

        return 0;
}
