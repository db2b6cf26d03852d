/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the config-*.c files: walking json-glib trees with JSON paths for diagnostics. */

#include <json-glib/json-glib.h>

#include "config.h"

typedef struct JsonCtx {
        const char *file;       /* origin for diagnostics */
        Diagnostics *diag;      /* may be NULL */
        unsigned n_errors;      /* errors seen by this walk, also when diag is NULL */
        bool oom;
} JsonCtx;

/* Record an error/warning; errors return -EINVAL (-ENOMEM on allocation failure). */
int ctx_error(JsonCtx *c, const char *path, const char *format, ...) _printf_(3, 4);
int ctx_warning(JsonCtx *c, const char *path, const char *format, ...) _printf_(3, 4);

/* "$.a" + "b" → "$.a.b" (or "$.a[\"b c\"]" when the key is not a plain word); "$.a" + 3 →
 * "$.a[3]". NULL on OOM. */
char *path_key(const char *parent, const char *key);
char *path_index(const char *parent, size_t i);

/* Size check, nesting pre-scan (json-glib recurses), parse, non-empty root. */
int json_ctx_load(JsonCtx *c, const char *data, size_t size, JsonParser **ret_parser, JsonNode **ret_root);

/* Match the members of o (case-insensitively) against keys[0..n): found[i] is the node for
 * keys[i] or NULL. Unknown keys are warnings with a "did you mean" hint, keys given twice
 * (differing in case) errors. */
int json_ctx_keys(JsonCtx *c, JsonNode *node, const char *path, const char * const *keys, size_t n,
                  JsonNode **found);

/* Typed getters: on a type/bound problem an error naming path, returning -EINVAL. */
int json_ctx_object(JsonCtx *c, JsonNode *node, const char *path);
int json_ctx_array(JsonCtx *c, JsonNode *node, const char *path, size_t max, JsonArray **ret);
int json_ctx_string(JsonCtx *c, JsonNode *node, const char *path, char **ret);
int json_ctx_name(JsonCtx *c, JsonNode *node, const char *path, const char *what, char **ret);
/* An absolute path, or a pattern starting with '$' (checked again after expansion). */
int json_ctx_file_path(JsonCtx *c, JsonNode *node, const char *path, char **ret);
int json_ctx_bool(JsonCtx *c, JsonNode *node, const char *path, int *ret);
int json_ctx_int(JsonCtx *c, JsonNode *node, const char *path, int64_t min, int64_t max, int64_t *ret);
/* A size: a JSON number or a string with an optional K/M/G/T suffix (binary); unit applies
 * when there is no suffix. */
int json_ctx_size(JsonCtx *c, JsonNode *node, const char *path, uint64_t unit, uint64_t *ret);
int json_ctx_uuid(JsonCtx *c, JsonNode *node, const char *path, uuid_t ret);
int json_ctx_port(JsonCtx *c, JsonNode *node, const char *path, int *ret);

/* Parse "512M", "2G", "1024" (× unit). -EINVAL / -ERANGE. */
int parse_size(const char *s, uint64_t unit, uint64_t *ret);

/* Enum values by name (case-insensitive) from the string table: names[i] = X_to_string(i). An
 * unknown value is an error listing the allowed ones. */
int json_ctx_enum(JsonCtx *c, JsonNode *node, const char *path, const char *what,
                  const char * const *names, size_t n, int *ret);
#define JSON_CTX_ENUM(c, node, path, what, name, max, ret)                              \
        ({                                                                              \
                const char *_names[max];                                                \
                int _v = 0, _r;                                                         \
                for (int _i = 0; _i < (int) (max); _i++)                                \
                        _names[_i] = name##_to_string(_i);                              \
                _r = json_ctx_enum((c), (node), (path), (what), _names, (max), &_v);    \
                if (_r >= 0)                                                            \
                        *(ret) = _v;                                                    \
                _r;                                                                     \
        })

/* Walks shared by the machine and host parsers (config-parse.c). tag: a host file "tag" entry
 * (a partial definition: no id, extensions or name-vs-file check). */
int machine_def_parse_node(JsonCtx *c, JsonNode *root, const char *path, bool tag, MachineDef *m);
int attrs_parse_cpu(JsonCtx *c, JsonNode *node, const char *path, Attrs *a);

/* Read a regular file of at most DEF_FILE_SIZE_MAX bytes (refused by size before reading).
 * -ENOENT is returned silently, other problems are also reported in diag. */
int config_read_file(const char *path, char **ret, size_t *ret_size, Diagnostics *diag);
