/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bench-load [N] [RUNS]: generate N definitions (with tags, vars, volumes from a storage pattern,
 * connections) in a temp dir, then time config_load_all() + machine_def_resolve() of all of them
 * against a floor measured in the same run: reading the same files and only JSON-parsing them.
 * Prints the medians and the ratio; see bench/README.md. */

#include <fcntl.h>
#include <ftw.h>
#include <json-glib/json-glib.h>
#include <time.h>

#include "config.h"

#define TARGET_MS_PER_1000 50.0

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(content, f);
        return fclose(f) == 0 ? 0 : -errno;
}

static int generate(const char *dir, unsigned n) {
        char path[PATH_MAX], body[2048];
        int r;

        snprintf(path, sizeof(path), "%s/" HOST_CONFIG_FILE, dir);
        r = write_file(path,
                "{\"storage\": [{\"name\": \"images\", \"type\": \"qcow2\","
                " \"pattern\": \"/var/lib/machina/${machine-name}/${volume}.qcow2\"}],\n"
                " \"network\": [{\"name\": \"default\", \"type\": \"user\"}],\n"
                " \"tag\": [\n"
                "  {\"name\": \"server\", \"vars\": {\"tier\": \"backend\"},"
                "   \"attrs\": {\"cpu\": {\"count\": 2}, \"ram\": {\"size\": \"2G\"}, \"guest-agent\": true}},\n"
                "  {\"name\": \"web\", \"vars\": {\"role\": \"web\"},"
                "   \"connections\": [{\"name\": \"mgmt\", \"network\": \"default\"}]},\n"
                "  {\"name\": \"vnc\", \"attrs\": {\"vnc\": {\"port-pattern\": \"$((5900 + ${machine-index}))\"}}}\n"
                " ]}\n");
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/" MACHINE_CONF_DIR, dir);
        if (mkdir(path, 0755) < 0)
                return -errno;

        for (unsigned i = 0; i < n; i++) {
                snprintf(path, sizeof(path), "%s/" MACHINE_CONF_DIR "/m%05u" MACHINE_CONF_SUFFIX, dir, i);
                snprintf(body, sizeof(body),
                         "{\"name\": \"m%05u\", \"id\": \"%08x-0000-4000-8000-%012x\",\n"
                         " \"description\": \"generated guest ${role}\", \"tags\": [\"server\", \"web\", \"vnc\"],\n"
                         " \"vars\": {\"site\": \"s%u\"},\n"
                         " \"attrs\": {\"ram\": {\"size\": \"%uM\"}},\n"
                         " \"volumes\": [{\"name\": \"root\", \"storage\": \"images\"},"
                         " {\"name\": \"data\", \"storage\": \"images\", \"bus\": \"virtio\"}],\n"
                         " \"connections\": [{\"name\": \"eth0\", \"network\": \"default\"}]}\n",
                         i, i, i, i, 256 + (i % 8) * 128);
                r = write_file(path, body);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One run of the real thing; returns ms or < 0 on failure. */
static double run_load(const char *dir, unsigned n) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        HostConfig *host = NULL;
        MachineDef **defs = NULL;
        size_t n_defs = 0;
        double t0, t;
        int r;

        t0 = now_ms();
        r = config_load_all(dir, &host, &defs, &n_defs, &diag);
        for (size_t i = 0; r >= 0 && i < n_defs; i++) {
                MachineDef *m = NULL;

                r = machine_def_resolve(defs[i], host, (unsigned) i, &m, &diag);
                machine_def_free(m);
        }
        t = now_ms() - t0;

        if (r < 0 || n_defs != n || diag.n_errors > 0) {
                _cleanup_free_ char *e = diagnostics_first_error(&diag);

                fprintf(stderr, "load failed (r=%d, %zu of %u loaded): %s\n", r, n_defs, n, strna(e));
                t = -1;
        }
        machine_defs_free(defs, n_defs);
        host_config_free(host);
        return t;
}

/* The floor: the same directory walk, reads and JSON parses, nothing else. */
static double run_floor(const char *dir, unsigned n) {
        char path[PATH_MAX];
        double t0 = now_ms();

        for (unsigned i = 0; i <= n; i++) {
                g_autoptr(JsonParser) parser = json_parser_new_immutable();
                g_autofree char *data = NULL;
                gsize size;

                if (i == n)
                        snprintf(path, sizeof(path), "%s/" HOST_CONFIG_FILE, dir);
                else
                        snprintf(path, sizeof(path), "%s/" MACHINE_CONF_DIR "/m%05u" MACHINE_CONF_SUFFIX, dir, i);
                if (!g_file_get_contents(path, &data, &size, NULL) ||
                    !json_parser_load_from_data(parser, data, (gssize) size, NULL))
                        return -1;
        }
        return now_ms() - t0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

int main(int argc, char *argv[]) {
        unsigned n = argc > 1 ? (unsigned) strtoul(argv[1], NULL, 10) : 1000;
        unsigned runs = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 7;
        char dir[] = "/tmp/machina-bench-XXXXXX";
        double *load, *floor_;
        double ml, mf;
        int ret = EXIT_SUCCESS;

        if (n == 0 || n > DEF_MACHINES_MAX || runs == 0 || runs > 100) {
                fprintf(stderr, "usage: bench-load [N (1..%u)] [RUNS (1..100)]\n", DEF_MACHINES_MAX);
                return EXIT_FAILURE;
        }
        if (!mkdtemp(dir) || generate(dir, n) < 0) {
                fprintf(stderr, "cannot generate definitions in %s: %m\n", dir);
                return EXIT_FAILURE;
        }
        load = calloc(runs, sizeof(double));
        floor_ = calloc(runs, sizeof(double));
        if (!load || !floor_)
                return EXIT_FAILURE;

        /* Interleaved, after one warm-up of each, so both see the same page cache and CPU state. */
        if (run_load(dir, n) < 0 || run_floor(dir, n) < 0)
                ret = EXIT_FAILURE;
        for (unsigned i = 0; ret == EXIT_SUCCESS && i < runs; i++) {
                load[i] = run_load(dir, n);
                floor_[i] = run_floor(dir, n);
                if (load[i] < 0 || floor_[i] < 0)
                        ret = EXIT_FAILURE;
        }

        if (ret == EXIT_SUCCESS) {
                ml = median(load, runs);
                mf = median(floor_, runs);
                printf("definitions: %u, runs: %u (median)\n", n, runs);
                printf("config_load_all + resolve: %.2f ms\n", ml);
                printf("floor (read + JSON parse): %.2f ms\n", mf);
                printf("ratio: %.2f\n", mf > 0 ? ml / mf : 0.0);
                printf("target: <= %.0f ms per 1000 definitions: %s (%.2f ms per 1000)\n",
                       TARGET_MS_PER_1000, ml * 1000.0 / n <= TARGET_MS_PER_1000 ? "met" : "missed",
                       ml * 1000.0 / n);
        }

        if (getenv("BENCH_KEEP")) printf("kept %s\n", dir); else (void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(load);
        free(floor_);
        return ret;
}
