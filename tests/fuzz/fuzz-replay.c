/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Without libFuzzer: run a fuzz target once over every file of its corpus, so regular builds
 * (and their sanitizers) exercise the corpus as a unit test. Arguments are files or
 * directories; a directory contributes its regular files in name order. */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "macro.h"

#define REPLAY_FILE_MAX (4U * 1024U * 1024U)

static int replay_file(const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t n;

        f = fopen(path, "re");
        if (!f)
                return -errno;

        buf = malloc(REPLAY_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        n = fread(buf, 1, REPLAY_FILE_MAX + 1, f);
        if (ferror(f))
                return -EIO;
        if (n > REPLAY_FILE_MAX)
                return -EFBIG;

        /* An exact-size copy, so the sanitizers see reads past the end of the input. */
        _cleanup_free_ uint8_t *data = malloc(n ?: 1);
        if (!data)
                return -ENOMEM;
        memcpy(data, buf, n);

        (void) LLVMFuzzerTestOneInput(data, n);
        return 0;
}

static int is_regular(const struct dirent *de) {
        return de->d_name[0] != '.';
}

static int replay_path(const char *path, unsigned *count) {
        struct dirent **entries = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(path, &st) < 0)
                return -errno;

        if (!S_ISDIR(st.st_mode)) {
                r = replay_file(path);
                if (r < 0)
                        return r;
                (*count)++;
                return 0;
        }

        n = scandir(path, &entries, is_regular, alphasort);
        if (n < 0)
                return -errno;

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;

                if (r >= 0) {
                        if (asprintf(&p, "%s/%s", path, entries[i]->d_name) < 0)
                                r = -ENOMEM;
                        else {
                                fprintf(stderr, "replay %s\n", p);
                                r = replay_file(p);
                                if (r >= 0)
                                        (*count)++;
                                else
                                        fprintf(stderr, "%s: %s\n", p, strerror(-r));
                        }
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char *argv[]) {
        const char *why;
        unsigned count = 0;

        if (fuzz_target_unavailable && (why = fuzz_target_unavailable())) {
                printf("SKIP: %s\n", why);
                return 77;
        }

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
                return EXIT_FAILURE;
        }

        for (int i = 1; i < argc; i++) {
                int r = replay_path(argv[i], &count);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return EXIT_FAILURE;
                }
        }

        /* An empty corpus would make this test pass while testing nothing. */
        if (count == 0) {
                fprintf(stderr, "no inputs found\n");
                return EXIT_FAILURE;
        }

        printf("replayed %u inputs\n", count);
        return EXIT_SUCCESS;
}
