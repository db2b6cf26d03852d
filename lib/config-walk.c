/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Walking json-glib trees: typed getters that report file, JSON path and reason, key matching
 * with "did you mean" hints, and the bounds checks that must happen before json-glib sees the
 * data (size, nesting). */

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#include "config-internal.h"

static int ctx_add(JsonCtx *c, DiagnosticLevel level, const char *path, const char *format, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (level == DIAGNOSTIC_ERROR)
                c->n_errors++;
        if (vasprintf(&msg, format, ap) < 0) {
                c->oom = true;
                return -ENOMEM;
        }
        r = diagnostics_add(c->diag, level, c->file, path, "%s", msg);
        if (r == -ENOMEM)
                c->oom = true;
        return r;
}

int ctx_error(JsonCtx *c, const char *path, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = ctx_add(c, DIAGNOSTIC_ERROR, path, format, ap);
        va_end(ap);
        return r;
}

int ctx_warning(JsonCtx *c, const char *path, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = ctx_add(c, DIAGNOSTIC_WARNING, path, format, ap);
        va_end(ap);
        return r;
}

static bool key_is_plain(const char *key) {
        if (isempty(key))
                return false;
        for (const char *p = key; *p; p++)
                if (!isascii(*p) || !(isalnum(*p) || *p == '_' || *p == '-'))
                        return false;
        return true;
}

/* Paths are built for every value walked, so these avoid printf: they are on the load path. */
char *path_key(const char *parent, const char *key) {
        size_t n = strlen(parent), k = strlen(key);
        char *s;

        if (key_is_plain(key)) {
                s = malloc(n + 1 + k + 1);
                if (!s)
                        return NULL;
                memcpy(s, parent, n);
                s[n] = '.';
                memcpy(s + n + 1, key, k + 1);
                return s;
        }

        /* Quote anything else, escaping quotes/backslashes and showing control bytes as \xNN. */
        s = malloc(n + 4 * k + 5);
        if (!s)
                return NULL;
        char *p = stpcpy(stpcpy(s, parent), "[\"");
        for (const char *q = key; *q; q++) {
                if (*q == '"' || *q == '\\') {
                        *p++ = '\\';
                        *p++ = *q;
                } else if ((unsigned char) *q < 0x20 || *q == 0x7f)
                        p += sprintf(p, "\\x%02x", (unsigned char) *q);
                else
                        *p++ = *q;
        }
        strcpy(p, "\"]");
        return s;
}

char *path_index(const char *parent, size_t i) {
        /* 20 digits hold any 64-bit size_t. */
        char digits[24], *d = digits + sizeof(digits), *s;
        size_t n = strlen(parent), k;

        do
                *--d = (char) ('0' + i % 10);
        while ((i /= 10) > 0);
        k = (size_t) (digits + sizeof(digits) - d);

        s = malloc(n + 1 + k + 2);
        if (!s)
                return NULL;
        memcpy(s, parent, n);
        s[n] = '[';
        memcpy(s + n + 1, d, k);
        memcpy(s + n + 1 + k, "]", 2);
        return s;
}

/* Line and column (1-based, as json-glib counts) of byte i, for the rare error: the scan below
 * does not track them. */
static void position_of(const char *data, size_t i, unsigned *ret_line, unsigned *ret_column) {
        unsigned line = 1;
        size_t line_start = 0;

        for (size_t j = 0; j < i; j++)
                if (data[j] == '\n') {
                        line++;
                        line_start = j + 1;
                }
        *ret_line = line;
        *ret_column = (unsigned) (i - line_start + 1);
}

/* Brackets outside strings, counted on the raw bytes: refuses hostile nesting before json-glib
 * (which recurses) ever sees it. -ELOOP for nesting, -EBADMSG for an escaped NUL. Every file
 * loaded goes through here: the scan keeps no line/column (computed again for an error) and
 * skips runs of ordinary bytes in tight loops. */
static int check_nesting(const char *data, size_t size, unsigned *ret_line, unsigned *ret_column) {
        static const bool structural[256] = {
                ['"'] = true, ['['] = true, [']'] = true, ['{'] = true, ['}'] = true,
        };
        unsigned depth = 0;
        size_t i = 0;

        while (i < size) {
                char ch;

                /* Outside a string only quotes and brackets matter. */
                while (i < size && !structural[(unsigned char) data[i]])
                        i++;
                if (i >= size)
                        break;
                ch = data[i++];
                if (ch == '[' || ch == '{') {
                        if (++depth > DEF_NESTING_MAX) {
                                position_of(data, i - 1, ret_line, ret_column);
                                return -ELOOP;
                        }
                        continue;
                }
                if (ch == ']' || ch == '}') {
                        if (depth > 0)
                                depth--;
                        continue;
                }

                /* Inside a string: find its end, skipping escapes. */
                while (i < size && data[i] != '"') {
                        if (data[i++] != '\\' || i >= size)
                                continue;
                        /* json-glib would silently cut the string at an escaped NUL. */
                        if (data[i] == 'u' && size - i > 4 && strncmp(data + i + 1, "0000", 4) == 0) {
                                position_of(data, i, ret_line, ret_column);
                                return -EBADMSG;
                        }
                        i++;
                }
                i++;
        }
        return 0;
}

int json_ctx_load(JsonCtx *c, const char *data, size_t size, JsonParser **ret_parser, JsonNode **ret_root) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) error = NULL;
        unsigned line, column;
        JsonNode *root;
        int r;

        if (size > DEF_FILE_SIZE_MAX)
                return ctx_error(c, "$", "document is %zu bytes, the limit is %u bytes", size, DEF_FILE_SIZE_MAX);
        if (memchr(data, 0, size))
                return ctx_error(c, "$", "invalid JSON: document contains a NUL byte");
        r = check_nesting(data, size, &line, &column);
        if (r == -EBADMSG)
                return ctx_error(c, "$", "invalid JSON: %u:%u: strings must not contain NUL (\\u0000)",
                                 line, column);
        if (r < 0)
                return ctx_error(c, "$", "invalid JSON: %u:%u: nesting deeper than %u levels",
                                 line, column, DEF_NESTING_MAX);

        parser = json_parser_new_immutable();
        if (!json_parser_load_from_data(parser, data, (gssize) size, &error)) {
                const char *m = error->message;

                /* json-glib says "<data>:LINE:COL: Parse error: ..."; keep LINE:COL and the reason. */
                if (g_str_has_prefix(m, "<data>:"))
                        m += strlen("<data>:");
                return ctx_error(c, "$", "invalid JSON: %s", m);
        }
        root = json_parser_get_root(parser);
        if (!root)
                return ctx_error(c, "$", "invalid JSON: document is empty");
        if (!JSON_NODE_HOLDS_OBJECT(root))
                return ctx_error(c, "$", "expected a JSON object");

        *ret_root = root;
        *ret_parser = TAKE_PTR(parser);
        return 0;
}

/* Levenshtein distance, case-insensitive, for short keys only. */
static unsigned edit_distance(const char *a, const char *b) {
        size_t n = strlen(a), m = strlen(b);
        unsigned row[64];

        if (n >= ELEMENTSOF(row) || m >= ELEMENTSOF(row))
                return UINT32_MAX;
        for (size_t j = 0; j <= m; j++)
                row[j] = (unsigned) j;
        for (size_t i = 1; i <= n; i++) {
                unsigned diag = row[0];

                row[0] = (unsigned) i;
                for (size_t j = 1; j <= m; j++) {
                        unsigned up = row[j];
                        unsigned cost = tolower((unsigned char) a[i - 1]) != tolower((unsigned char) b[j - 1]);
                        unsigned v = diag + cost;

                        if (up + 1 < v)
                                v = up + 1;
                        if (row[j - 1] + 1 < v)
                                v = row[j - 1] + 1;
                        row[j] = v;
                        diag = up;
                }
        }
        return row[m];
}

int json_ctx_keys(JsonCtx *c, JsonNode *node, const char *path, const char * const *keys, size_t n,
                  JsonNode **found) {
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;
        int r = 0;

        for (size_t i = 0; i < n; i++)
                found[i] = NULL;

        r = json_ctx_object(c, node, path);
        if (r < 0)
                return r;

        /* In document order, like json_object_get_members(), without copying the list. */
        json_object_iter_init_ordered(&iter, json_node_get_object(node));
        while (json_object_iter_next_ordered(&iter, &key, &member)) {
                _cleanup_free_ char *p = NULL;
                const char *hint = NULL;
                unsigned best = 3;
                size_t i;

                for (i = 0; i < n; i++)
                        if (strcasecmp(keys[i], key) == 0)
                                break;
                if (i < n && !found[i]) {
                        found[i] = member;
                        continue;
                }

                /* Only a key that is reported needs its path. */
                p = path_key(path, key);
                if (!p)
                        return -ENOMEM;
                if (i < n) {
                        r = ctx_error(c, p, "key '%s' given twice (keys are case-insensitive)", keys[i]);
                        if (r == -ENOMEM)
                                return r;
                        continue;
                }

                for (i = 0; i < n; i++) {
                        unsigned d = edit_distance(key, keys[i]);

                        if (d < best) {
                                best = d;
                                hint = keys[i];
                        }
                }
                if (hint)
                        r = ctx_warning(c, p, "unknown key '%s' ignored, did you mean '%s'?", key, hint);
                else
                        r = ctx_warning(c, p, "unknown key '%s' ignored", key);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static const char *node_type_name(JsonNode *node) {
        switch (json_node_get_node_type(node)) {
        case JSON_NODE_OBJECT:
                return "an object";
        case JSON_NODE_ARRAY:
                return "an array";
        case JSON_NODE_NULL:
                return "null";
        case JSON_NODE_VALUE:
                switch (json_node_get_value_type(node)) {
                case G_TYPE_STRING:
                        return "a string";
                case G_TYPE_BOOLEAN:
                        return "a boolean";
                default:
                        return "a number";
                }
        }
        return "unknown";
}

static int type_error(JsonCtx *c, JsonNode *node, const char *path, const char *expected) {
        return ctx_error(c, path, "expected %s, got %s", expected, node_type_name(node));
}

int json_ctx_object(JsonCtx *c, JsonNode *node, const char *path) {
        if (!JSON_NODE_HOLDS_OBJECT(node))
                return type_error(c, node, path, "an object");
        return 0;
}

int json_ctx_array(JsonCtx *c, JsonNode *node, const char *path, size_t max, JsonArray **ret) {
        JsonArray *a;

        if (!JSON_NODE_HOLDS_ARRAY(node))
                return type_error(c, node, path, "an array");
        a = json_node_get_array(node);
        if (json_array_get_length(a) > max)
                return ctx_error(c, path, "list has %u entries, the limit is %zu",
                                 json_array_get_length(a), max);
        *ret = a;
        return 0;
}

int json_ctx_string(JsonCtx *c, JsonNode *node, const char *path, char **ret) {
        const char *s;
        size_t n;

        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return type_error(c, node, path, "a string");
        s = json_node_get_string(node);
        n = strlen(s);
        if (n > DEF_STRING_MAX)
                return ctx_error(c, path, "string is %zu bytes long, the limit is %u", n, DEF_STRING_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 && s[i] != '\t')
                        return ctx_error(c, path, "string contains control character 0x%02x", (unsigned char) s[i]);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int json_ctx_name(JsonCtx *c, JsonNode *node, const char *path, const char *what, char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = json_ctx_string(c, node, path, &s);
        if (r < 0)
                return r;
        if (!machine_name_is_valid(s))
                return ctx_error(c, path, "invalid %s name '%s': use 1..%u characters of [A-Za-z0-9_.-], "
                                 "not starting with '.' or '-'", what, s, DEF_NAME_MAX);
        *ret = TAKE_PTR(s);
        return 0;
}

int json_ctx_file_path(JsonCtx *c, JsonNode *node, const char *path, char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = json_ctx_string(c, node, path, &s);
        if (r < 0)
                return r;
        if (s[0] != '/' && s[0] != '$')
                return ctx_error(c, path, "path '%s' is not absolute", s);
        *ret = TAKE_PTR(s);
        return 0;
}

int json_ctx_bool(JsonCtx *c, JsonNode *node, const char *path, int *ret) {
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
                return type_error(c, node, path, "a boolean");
        *ret = json_node_get_boolean(node);
        return 0;
}

int json_ctx_int(JsonCtx *c, JsonNode *node, const char *path, int64_t min, int64_t max, int64_t *ret) {
        int64_t v;

        if (!JSON_NODE_HOLDS_VALUE(node))
                return type_error(c, node, path, "an integer");
        if (json_node_get_value_type(node) == G_TYPE_DOUBLE)
                return ctx_error(c, path, "expected an integer, got %g", json_node_get_double(node));
        if (json_node_get_value_type(node) != G_TYPE_INT64)
                return type_error(c, node, path, "an integer");
        v = json_node_get_int(node);
        if (v < min || v > max)
                return ctx_error(c, path, "value %" PRIi64 " out of range %" PRIi64 "..%" PRIi64, v, min, max);
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t unit, uint64_t *ret) {
        uint64_t v = 0, mult = unit;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p) {
                switch (toupper((unsigned char) *p)) {
                case 'K':
                        mult = 1ULL << 10;
                        break;
                case 'M':
                        mult = 1ULL << 20;
                        break;
                case 'G':
                        mult = 1ULL << 30;
                        break;
                case 'T':
                        mult = 1ULL << 40;
                        break;
                default:
                        return -EINVAL;
                }
                p++;
                if (streq(p, "iB") || streq(p, "B"))
                        p += strlen(p);
                if (*p)
                        return -EINVAL;
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int json_ctx_size(JsonCtx *c, JsonNode *node, const char *path, uint64_t unit, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        uint64_t v;
        int r;

        if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64) {
                int64_t n = json_node_get_int(node);

                if (n < 0)
                        return ctx_error(c, path, "size must not be negative");
                if ((uint64_t) n > UINT64_MAX / unit)
                        return ctx_error(c, path, "size %" PRIi64 " is too large", n);
                *ret = (uint64_t) n * unit;
                return 0;
        }
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return type_error(c, node, path, "a size (number or string like \"2G\")");

        r = json_ctx_string(c, node, path, &s);
        if (r < 0)
                return r;
        r = parse_size(s, unit, &v);
        if (r == -ERANGE)
                return ctx_error(c, path, "size '%s' is too large", s);
        if (r < 0)
                return ctx_error(c, path, "invalid size '%s': expected digits with an optional K, M, G or T suffix", s);
        *ret = v;
        return 0;
}

int json_ctx_uuid(JsonCtx *c, JsonNode *node, const char *path, uuid_t ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = json_ctx_string(c, node, path, &s);
        if (r < 0)
                return r;
        if (strlen(s) != 36 || uuid_parse(s, ret) < 0)
                return ctx_error(c, path, "invalid UUID '%s'", s);
        return 0;
}

int json_ctx_port(JsonCtx *c, JsonNode *node, const char *path, int *ret) {
        int64_t v;
        int r;

        r = json_ctx_int(c, node, path, 1, 65535, &v);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

int json_ctx_enum(JsonCtx *c, JsonNode *node, const char *path, const char *what,
                  const char * const *names, size_t n, int *ret) {
        _cleanup_free_ char *s = NULL, *allowed = NULL;
        size_t len = 0;
        int r;

        r = json_ctx_string(c, node, path, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcasecmp(names[i], s) == 0) {
                        *ret = (int) i;
                        return 0;
                }

        for (size_t i = 0; i < n; i++)
                if (names[i])
                        len += strlen(names[i]) + 2;
        allowed = calloc(len + 1, 1);
        if (!allowed)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (names[i]) {
                        if (*allowed)
                                strcat(allowed, ", ");
                        strcat(allowed, names[i]);
                }
        return ctx_error(c, path, "unknown %s '%s', expected one of: %s", what, s, allowed);
}
