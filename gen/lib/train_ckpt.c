// Trainer checkpoints (layout in train.h), the `latest` pointer, pruning of
// old checkpoints, and the CSV log's cut-back on resume.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/safetensors.h"
#include "gen/lib/train_private.h"

#define CKPT_PREFIX "checkpoint_"
#define CKPT_SUFFIX ".safetensors"

silt_status train_join(char *buf, size_t n, const char *dir, const char *name) {
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) return SILT_FAIL(SILT_ERR_ARG, "path %s/%s is too long", dir, name);
    return SILT_OK;
}

bool train_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// "checkpoint_<digits>.safetensors" -> step; -1 for any other name.
static int64_t ckpt_step_of(const char *name) {
    size_t lp = strlen(CKPT_PREFIX), ls = strlen(CKPT_SUFFIX), len = strlen(name);
    if (len <= lp + ls || strncmp(name, CKPT_PREFIX, lp) || strcmp(name + len - ls, CKPT_SUFFIX)) return -1;
    int64_t v = 0;
    for (size_t i = lp; i < len - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static void fsync_dir(const char *dir) {  // makes a rename durable; best effort
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

// Writes text to dir/name atomically: a temporary file, fsync, rename.
static silt_status write_atomic(const char *dir, const char *name, const char *text, size_t len) {
    char path[TRAIN_PATH_MAX], tmp[TRAIN_PATH_MAX + 16];
    SILT_TRY(train_join(path, sizeof path, dir, name));
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return SILT_FAIL(SILT_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    (void)fchmod(fd, 0644);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int err = off == len ? 0 : errno ? errno : EIO;
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return SILT_FAIL(SILT_ERR_IO, "cannot write %s: %s", path, strerror(err));
    }
    fsync_dir(dir);
    return SILT_OK;
}

void train_remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (!strstr(n, ".tmp.")) continue;
        if (strncmp(n, CKPT_PREFIX, strlen(CKPT_PREFIX)) && strncmp(n, "latest.tmp.", 11) &&
            strncmp(n, TRAIN_CSV_NAME ".tmp.", strlen(TRAIN_CSV_NAME) + 5))
            continue;
        char path[TRAIN_PATH_MAX];
        if (train_join(path, sizeof path, dir, n) == SILT_OK && unlink(path) == 0)
            silt_info("removed %s (left by an interrupted run)", path);
    }
    closedir(d);
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

// Deletes checkpoints below `step` but the newest keep_last - 1 of them.
// Checkpoints above `step` (left by a run resumed from an older one) are
// kept: this run overwrites them as it gets there.
static void prune(const char *dir, int64_t step, int keep_last) {
    if (keep_last <= 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    int64_t *steps = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int64_t s = ckpt_step_of(e->d_name);
        if (s < 0 || s >= step) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *t = realloc(steps, cap * sizeof *t);
            if (!t) break;
            steps = t;
        }
        steps[n++] = s;
    }
    closedir(d);
    if (steps) qsort(steps, n, sizeof *steps, cmp_desc);
    for (size_t i = (size_t)keep_last - 1; i < n; i++) {
        char name[64], path[TRAIN_PATH_MAX];
        snprintf(name, sizeof name, CKPT_PREFIX "%lld" CKPT_SUFFIX, (long long)steps[i]);
        if (train_join(path, sizeof path, dir, name) == SILT_OK && unlink(path) != 0)
            silt_warn("cannot delete old checkpoint %s: %s", path, strerror(errno));
    }
    free(steps);
}

silt_status silt_train_latest(const char *dir, char *buf, size_t n) {
    if (!dir || !buf || n == 0) return SILT_FAIL(SILT_ERR_ARG, "silt_train_latest: NULL argument");
    char path[TRAIN_PATH_MAX], name[256];
    SILT_TRY(train_join(path, sizeof path, dir, "latest"));
    FILE *f = fopen(path, "r");
    if (!f) return SILT_FAIL(SILT_ERR_IO, "no checkpoint in %s (%s: %s)", dir, path, strerror(errno));
    char *got = fgets(name, sizeof name, f);
    fclose(f);
    if (!got) return SILT_FAIL(SILT_ERR_FORMAT, "%s is empty", path);
    name[strcspn(name, "\r\n")] = 0;
    if (ckpt_step_of(name) < 0)
        return SILT_FAIL(SILT_ERR_FORMAT, "%s names '%s', not a checkpoint_<step>.safetensors file", path, name);
    char full[TRAIN_PATH_MAX];
    SILT_TRY(train_join(full, sizeof full, dir, name));
    if (!train_file_exists(full)) return SILT_FAIL(SILT_ERR_IO, "%s names %s, which is missing", path, full);
    if (strlen(full) >= n) return SILT_FAIL(SILT_ERR_ARG, "checkpoint path %s is too long", full);
    memcpy(buf, full, strlen(full) + 1);
    return SILT_OK;
}

// --- write ----------------------------------------------------------------------

static silt_status add_f32(silt_st_writer *w, const char *prefix, const char *name, const silt_tensor *t,
                           const float *data) {
    char key[1024];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    int64_t shape[SILT_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    return silt_st_writer_add(w, key, SILT_ST_F32, t->ndim, shape, data);
}

silt_status train_ckpt_write(train_state *s, int64_t step) {
    const silt_train_params *p = s->p;
    silt_st_writer *w = silt_st_writer_create();
    if (!w) return SILT_ERR_OOM;
    silt_status st = SILT_OK;
    for (int i = 0; i < s->n && st == SILT_OK; i++) {
        float *m = NULL, *v = NULL;
        st = silt_adamw_state(s->opt, i, &m, &v);
        if (st == SILT_OK) st = add_f32(w, "", s->names[i], s->params[i], silt_f32(s->params[i]));
        if (st == SILT_OK && s->ema) st = add_f32(w, "ema.", s->names[i], s->params[i], s->ema[i]);
        if (st == SILT_OK) st = add_f32(w, "adam_m.", s->names[i], s->params[i], m);
        if (st == SILT_OK) st = add_f32(w, "adam_v.", s->names[i], s->params[i], v);
    }
    char num[32];
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "format", TRAIN_CKPT_FORMAT);
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "format_version", TRAIN_CKPT_VERSION);
    snprintf(num, sizeof num, "%lld", (long long)step);
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "step", num);
    snprintf(num, sizeof num, "%lld", (long long)silt_adamw_step_count(s->opt));
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "adam_step", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)p->data_seed);
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "data_seed", num);
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "arch", s->task->name ? s->task->name : "");
    if (st == SILT_OK) st = silt_st_writer_set_metadata(w, "train_params", s->params_json);
    if (st == SILT_OK && s->task->config) st = silt_st_writer_set_metadata(w, "config", s->task->config);

    char name[64], path[TRAIN_PATH_MAX];
    snprintf(name, sizeof name, CKPT_PREFIX "%lld" CKPT_SUFFIX, (long long)step);
    if (st == SILT_OK) st = train_join(path, sizeof path, p->out_dir, name);
    if (st == SILT_OK) st = silt_st_writer_write(w, path);
    silt_st_writer_free(w);
    if (st != SILT_OK) return SILT_FAIL(st, "checkpoint at step %lld: %s", (long long)step, silt_last_error_message());
    char line[80];
    int len = snprintf(line, sizeof line, "%s\n", name);
    SILT_TRY(write_atomic(p->out_dir, "latest", line, (size_t)len));
    prune(p->out_dir, step, p->keep_last);
    return SILT_OK;
}

// --- read -----------------------------------------------------------------------

static silt_status parse_i64(const silt_safetensors *f, const char *path, const char *key, int64_t *out) {
    const char *v = silt_safetensors_metadata(f, key);
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < 0)
        return SILT_FAIL(SILT_ERR_FORMAT, "%s: metadata '%s' is %s%s%s (need an integer >= 0)", path, key,
                         v ? "'" : "missing", v ? v : "", v ? "'" : "");
    *out = x;
    return SILT_OK;
}

// The tensor prefix+name with param t's shape, or NULL with the error set.
// Checkpoints hold F32; model files (any_float) may hold F16 or BF16.
static const silt_st_tensor *find_like_any(const silt_safetensors *f, const char *path, const char *prefix,
                                           const char *name, const silt_tensor *t, bool any_float, bool narrower,
                                           silt_status *st) {
    char key[1024];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    const silt_st_tensor *x = silt_safetensors_find(f, key);
    if (!x) {
        *st = SILT_FAIL(SILT_ERR_FORMAT, "%s: tensor %s is missing (a checkpoint of another model?)", path, key);
        return NULL;
    }
    bool is_float = x->dtype == SILT_ST_F32 || (any_float && (x->dtype == SILT_ST_F16 || x->dtype == SILT_ST_BF16));
    bool same = is_float && x->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = x->shape[d] == t->shape[d] || (narrower && d == t->ndim - 1 && x->shape[d] >= 1 && x->shape[d] < t->shape[d]);
    if (!same) {
        char buf[160], fbuf[160];
        // Wider inputs only (the last dim): the source took more inputs than
        // this run's model, e.g. an mmdit trained with --relation-channel.
        bool wider = is_float && x->ndim == t->ndim && x->shape[t->ndim - 1] > t->shape[t->ndim - 1];
        for (int d = 0; wider && d < t->ndim - 1; d++) wider = x->shape[d] == t->shape[d];
        *st = SILT_FAIL(SILT_ERR_FORMAT, "%s: tensor %s is %s %s, the model has F32 %s%s", path, key,
                        silt_st_dtype_name(x->dtype), silt_dims_str(x->shape, x->ndim, fbuf, sizeof fbuf),
                        silt_shape_str(t, buf, sizeof buf),
                        wider ? " (it takes more inputs: start with the input options it was trained with, e.g. "
                                "--relation-channel)"
                              : "");
        return NULL;
    }
    return x;
}

static const silt_st_tensor *find_like(const silt_safetensors *f, const char *path, const char *prefix,
                                       const char *name, const silt_tensor *t, silt_status *st) {
    return find_like_any(f, path, prefix, name, t, false, false, st);
}

// Two JSON values alike: same type, same scalar text, containers alike member
// by member (objects: the same keys in any order) except, where skip_aux, the
// object members whose key starts with "aux_".
static bool json_alike(const silt_json *da, const silt_json_value *a, const silt_json *db, const silt_json_value *b,
                       bool skip_aux) {
    if (a->type != b->type) return false;
    if (a->type == SILT_JSON_NUMBER || a->type == SILT_JSON_STRING)
        return a->len == b->len && !memcmp(a->str, b->str, a->len);
    if (a->type == SILT_JSON_ARRAY) {
        if (a->count != b->count) return false;
        for (const silt_json_value *x = silt_json_child(da, a), *y = silt_json_child(db, b); x && y;
             x = silt_json_next(da, x), y = silt_json_next(db, y))
            if (!json_alike(da, x, db, y, false)) return false;
        return true;
    }
    if (a->type != SILT_JSON_OBJECT) return true;  // null, true, false
    int na = 0, nb = 0;
    for (const silt_json_value *x = silt_json_child(da, a); x; x = silt_json_next(da, x)) {
        if (skip_aux && !strncmp(x->key, "aux_", 4)) continue;
        const silt_json_value *y = silt_json_member(db, b, x->key);
        if (!y || !json_alike(da, x, db, y, false)) return false;
        na++;
    }
    for (const silt_json_value *y = silt_json_child(db, b); y; y = silt_json_next(db, y))
        nb += !(skip_aux && !strncmp(y->key, "aux_", 4));
    return na == nb;
}

// The same model: the config strings are equal, or (skip_aux) equal as JSON
// but for their training-only "aux_*" keys (e.g. REPA's settings).
static bool configs_match(const char *a, const char *b, bool skip_aux) {
    if (skip_aux) {  // no config is the empty one: a plain run's checkpoint starts a run with aux_* settings
        a = a ? a : "{}";
        b = b ? b : "{}";
    }
    if (!a || !b) return !a && !b;
    if (!strcmp(a, b)) return true;
    if (!skip_aux) return false;
    silt_json *da = NULL, *db = NULL;
    bool same = silt_json_parse(a, strlen(a), 16, &da) == SILT_OK && silt_json_parse(b, strlen(b), 16, &db) == SILT_OK &&
                json_alike(da, silt_json_root(da), db, silt_json_root(db), true);
    silt_json_free(da);
    silt_json_free(db);
    silt_error_clear();  // a parse failure is just "no match"
    return same;
}

// The checks every reader of a checkpoint makes: format, version, and the
// same arch and model config as the task (for --init, skip_aux: the config
// but for its training-only aux_* keys).
static silt_status ckpt_check_header(const train_state *s, const silt_safetensors *f, const char *path, bool skip_aux) {
    const char *fmt = silt_safetensors_metadata(f, "format"), *ver = silt_safetensors_metadata(f, "format_version");
    if (!fmt || strcmp(fmt, TRAIN_CKPT_FORMAT))
        return SILT_FAIL(SILT_ERR_FORMAT, "%s is not a silt training checkpoint (metadata format is %s)", path,
                         fmt ? fmt : "missing");
    if (!ver || strcmp(ver, TRAIN_CKPT_VERSION))
        return SILT_FAIL(SILT_ERR_FORMAT, "%s has checkpoint format version %s; this build reads version %s", path,
                         ver ? ver : "(none)", TRAIN_CKPT_VERSION);
    const char *arch = silt_safetensors_metadata(f, "arch"), *want = s->task->name ? s->task->name : "";
    if (arch && strcmp(arch, want))
        return SILT_FAIL(SILT_ERR_FORMAT, "%s holds arch '%s', this run trains '%s'", path, arch, want);
    const char *cfg = silt_safetensors_metadata(f, "config"), *want_cfg = s->task->config;
    if (!configs_match(cfg, want_cfg, skip_aux))
        return SILT_FAIL(SILT_ERR_FORMAT, "%s holds a model with config %s; this run builds %s", path,
                         cfg ? cfg : "(none)", want_cfg ? want_cfg : "(none)");
    return SILT_OK;
}

// True when an --init source may lack parameter i: training-only aux.* ones,
// and those the task starts fresh (init_fresh: a head the source model lacks).
static bool may_start_fresh(const train_state *s, int i) {
    return !strncmp(s->names[i], "aux.", 4) || (s->task->init_fresh && s->task->init_fresh(s->task->self, s->names[i]));
}

// True when the checkpoint has EMA weights for every parameter (those an
// --init source may lack aside).
static bool ckpt_has_ema(const train_state *s, const silt_safetensors *f) {
    bool have = true;
    for (int i = 0; i < s->n && have; i++) {
        if (may_start_fresh(s, i)) continue;
        char key[1024];
        snprintf(key, sizeof key, "ema.%s", s->names[i]);
        have = silt_safetensors_find(f, key) != NULL;
    }
    return have;
}

silt_status train_ckpt_init(train_state *s, const char *path, int64_t *from_step) {
    silt_safetensors *f = NULL;
    SILT_TRY(silt_safetensors_open(path, &f));
    const char *fmt = silt_safetensors_metadata(f, "format");
    // A model file (an export: no trainer metadata) qualifies when it holds
    // every parameter under its name with its shape; a checkpoint must also
    // be of the same arch and config.
    const bool model_file = !fmt || strcmp(fmt, TRAIN_CKPT_FORMAT);
    silt_status st = model_file ? SILT_OK : ckpt_check_header(s, f, path, true);
    const silt_st_tensor **found = calloc((size_t)s->n, sizeof *found);
    if (st == SILT_OK && !found) st = SILT_FAIL(SILT_ERR_OOM, "out of memory");
    *from_step = -1;
    if (st == SILT_OK && !model_file) st = parse_i64(f, path, "step", from_step);
    const char *prefix = !model_file && ckpt_has_ema(s, f) ? "ema." : "";
    // Validate everything, then copy: a bad file changes nothing. Training-only
    // "aux." parameters the source lacks keep their fresh values.
    // The task's note on the file (e.g. pixels vs latent) comes first: it
    // explains a shape mismatch found below.
    if (st == SILT_OK && model_file && s->task->check_init_model) s->task->check_init_model(s->task->self, f, path);
    int fresh = 0, fresh_head = 0;
    for (int i = 0; st == SILT_OK && i < s->n; i++) {
        char key[1024];
        snprintf(key, sizeof key, "%s%s", prefix, s->names[i]);
        if (may_start_fresh(s, i) && !silt_safetensors_find(f, key)) {
            !strncmp(s->names[i], "aux.", 4) ? fresh++ : fresh_head++;
            continue;
        }
        bool narrower = s->task->init_narrower && s->task->init_narrower(s->task->self, s->names[i]);
        found[i] = find_like_any(f, path, prefix, s->names[i], s->params[i], model_file, narrower, &st);
    }
    if (st == SILT_OK && fresh) silt_info("%s lacks %d training-only aux.* parameters: they start fresh", path, fresh);
    if (st == SILT_OK && fresh_head) silt_info("%s lacks the %d parameters of the model's new head: they start fresh", path, fresh_head);
    for (int i = 0; st == SILT_OK && i < s->n; i++) {
        if (!found[i]) continue;
        int64_t n = silt_numel(s->params[i]);
        const silt_tensor *t = s->params[i];
        int64_t have = found[i]->shape[t->ndim - 1], want = t->shape[t->ndim - 1];
        if (have == want) {
            silt_safetensors_read_f32(found[i], silt_f32(s->params[i]), n);
        } else {
            // A narrower source (init_narrower): its rows fill the first
            // columns, the new inputs' columns start at zero.
            int64_t rows = n / want;
            float *tmp = malloc(sizeof(float) * (size_t)(rows * have));
            if (!tmp) {
                st = SILT_FAIL(SILT_ERR_OOM, "out of memory");
                break;
            }
            silt_safetensors_read_f32(found[i], tmp, rows * have);
            float *dst = silt_f32(s->params[i]);
            for (int64_t r = 0; r < rows; r++) {
                memcpy(dst + r * want, tmp + r * have, sizeof(float) * (size_t)have);
                memset(dst + r * want + have, 0, sizeof(float) * (size_t)(want - have));
            }
            free(tmp);
            silt_info("%s: %s is %lld wide, the model's %lld: its %lld new input columns start at zero", path,
                      s->names[i], (long long)have, (long long)want, (long long)(want - have));
        }
        if (s->ema) memcpy(s->ema[i], silt_f32(s->params[i]), (size_t)n * sizeof(float));
    }
    if (st == SILT_OK && !model_file && !*prefix)
        silt_warn("%s has no EMA weights: the run starts from its raw weights", path);
    free(found);
    silt_safetensors_close(f);
    return st;
}

silt_status train_ckpt_read(train_state *s, const char *path, int64_t *step_out) {
    silt_safetensors *f = NULL;
    SILT_TRY(silt_safetensors_open(path, &f));
    silt_status st = SILT_OK;
    const silt_st_tensor **found = calloc((size_t)s->n * 4, sizeof *found);
    int64_t step = 0, adam_step = 0;
    if (!found) { st = SILT_FAIL(SILT_ERR_OOM, "out of memory"); goto done; }
    if ((st = ckpt_check_header(s, f, path, false)) != SILT_OK) goto done;
    if ((st = parse_i64(f, path, "step", &step)) != SILT_OK) goto done;
    if ((st = parse_i64(f, path, "adam_step", &adam_step)) != SILT_OK) goto done;
    const char *pj = silt_safetensors_metadata(f, "train_params");
    if (pj && strcmp(pj, s->params_json))
        silt_warn("%s was trained with other parameters; the resumed run will not match an uninterrupted one.\n"
                  "  checkpoint: %s\n  now:        %s",
                  path, pj, s->params_json);

    bool have_ema = ckpt_has_ema(s, f);
    // A resume continues the same model: a parameter the checkpoint holds and
    // this run's model lacks (a head it was started with, e.g. --itm-layers)
    // would be dropped without a word.
    for (int t = 0; t < silt_safetensors_count(f); t++) {
        const char *name = silt_safetensors_get(f, t)->name;
        if (!strncmp(name, "ema.", 4) || !strncmp(name, "adam_m.", 7) || !strncmp(name, "adam_v.", 7)) continue;
        bool known = false;
        for (int i = 0; i < s->n && !known; i++) known = !strcmp(name, s->names[i]);
        if (!known) {
            st = SILT_FAIL(SILT_ERR_FORMAT, "%s holds parameter %s, which this run's model lacks (resume with the "
                                            "model options the run was started with)", path, name);
            goto done;
        }
    }
    // Validate everything, then copy: a bad file changes nothing.
    static const char *const prefixes[4] = {"", "ema.", "adam_m.", "adam_v."};
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < 4; k++) {
            if (k == 1 && (!s->ema || !have_ema)) continue;
            found[4 * i + k] = find_like(f, path, prefixes[k], s->names[i], s->params[i], &st);
            if (!found[4 * i + k]) goto done;
        }
    for (int i = 0; i < s->n; i++) {
        float *m = NULL, *v = NULL, *dst[4];
        int64_t n = silt_numel(s->params[i]);
        silt_adamw_state(s->opt, i, &m, &v);
        dst[0] = silt_f32(s->params[i]);
        dst[1] = s->ema ? s->ema[i] : NULL;
        dst[2] = m;
        dst[3] = v;
        for (int k = 0; k < 4; k++)
            if (found[4 * i + k]) silt_safetensors_read_f32(found[4 * i + k], dst[k], n);
        if (s->ema && !have_ema) memcpy(s->ema[i], dst[0], (size_t)n * sizeof(float));
    }
    if (s->ema && !have_ema) silt_warn("%s has no EMA weights: the EMA starts from its weights", path);
    silt_adamw_set_step_count(s->opt, adam_step);
    *step_out = step;
done:
    free(found);
    silt_safetensors_close(f);
    return st;
}

// --- CSV ------------------------------------------------------------------------

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

silt_status train_csv_open(const char *dir, int64_t start_step, FILE **out) {
    char path[TRAIN_PATH_MAX];
    SILT_TRY(train_join(path, sizeof path, dir, TRAIN_CSV_NAME));
    size_t len = 0;
    char *old = start_step > 0 ? slurp(path, &len) : NULL;
    if (start_step > 0 && !old) silt_info("%s is missing: the log restarts at step %lld", path, (long long)start_step);
    // Keep the header and every complete row with step <= start_step; rows a
    // killed run wrote after its last checkpoint are run again.
    silt_json_buf keep = {0};
    silt_json_buf_append(&keep, TRAIN_CSV_HEADER, strlen(TRAIN_CSV_HEADER));
    for (size_t i = 0; old && i < len;) {
        char *nl = memchr(old + i, '\n', len - i);
        if (!nl) break;  // an incomplete last line
        size_t line_len = (size_t)(nl - (old + i)) + 1;
        char *end = NULL;
        long long step = strtoll(old + i, &end, 10);
        if (end != old + i && *end == ',' && step >= 1 && step <= start_step)
            silt_json_buf_append(&keep, old + i, line_len);
        i += line_len;
    }
    free(old);
    silt_status st = keep.failed ? SILT_FAIL(SILT_ERR_OOM, "out of memory for %s", path)
                                 : write_atomic(dir, TRAIN_CSV_NAME, keep.data, keep.len);
    silt_json_buf_free(&keep);
    if (st != SILT_OK) return st;
    *out = fopen(path, "a");
    if (!*out) return SILT_FAIL(SILT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return SILT_OK;
}

silt_status silt_train_resolve_path(const char *path, char *buf, size_t n, const char *what) {
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return SILT_FAIL(SILT_ERR_IO, "%s %s: %s", what, path ? path : "(none)", path ? strerror(errno) : "no path");
    if (S_ISDIR(st.st_mode)) return silt_train_latest(path, buf, n);
    if (strlen(path) >= n) return SILT_FAIL(SILT_ERR_ARG, "%s path is too long", what);
    snprintf(buf, n, "%s", path);
    return SILT_OK;
}

silt_status silt_train_open_checkpoint(const char *ckpt_or_dir, const char *arch, char *path, size_t n,
                                       silt_safetensors **out) {
    if (!ckpt_or_dir || !arch || !path || !out) return SILT_FAIL(SILT_ERR_ARG, "export: NULL argument");
    SILT_TRY(silt_train_resolve_path(ckpt_or_dir, path, n, "checkpoint"));
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    const char *a = silt_safetensors_metadata(st, "arch"), *fmt = silt_safetensors_metadata(st, "format");
    if (!fmt || strcmp(fmt, "silt-train-checkpoint") || !a || strcmp(a, arch)) {
        silt_status s = SILT_FAIL(SILT_ERR_FORMAT, "%s export: %s is not a `gen train --arch %s` checkpoint (format %s, arch %s)",
                                  arch, path, arch, fmt ? fmt : "none", a ? a : "none");
        silt_safetensors_close(st);
        return s;
    }
    *out = st;
    return SILT_OK;
}

silt_status silt_train_export_summary(const silt_safetensors *st, const char *ema_probe, char **out) {
    const char *step = silt_safetensors_metadata(st, "step"), *tp = silt_safetensors_metadata(st, "train_params");
    char ema[512];
    snprintf(ema, sizeof ema, "ema.%s", ema_probe ? ema_probe : "");
    size_t n = (tp ? strlen(tp) : 0) + (step ? strlen(step) : 1) + 64;
    char *train = malloc(n);
    if (!train) return SILT_FAIL(SILT_ERR_OOM, "export: out of memory");
    if (tp && tp[0] == '{' && tp[1] != '}')
        snprintf(train, n, "{\"step\": %s, \"ema\": %s, %s", step ? step : "0",
                 ema_probe && silt_safetensors_find(st, ema) ? "true" : "false", tp + 1);
    else
        snprintf(train, n, "{\"step\": %s}", step ? step : "0");
    *out = train;
    return SILT_OK;
}

silt_status silt_train_config_add_aux(char *config, size_t cap, const char *members, const char *what) {
    size_t len = config ? strlen(config) : 0;
    // The object's closing brace becomes ", members}": check the room first so a
    // refusal leaves the config whole.
    if (!config || !members || len < 2 || config[len - 1] != '}' || len + strlen(members) + 3 > cap)
        return SILT_FAIL(SILT_ERR_ARG, "%s: config JSON too long", what ? what : "config");
    // An empty object ("{}", possibly with blanks) takes the members without the comma.
    size_t open = strspn(config, " \t\n");
    bool empty = config[open] == '{' && strspn(config + open + 1, " \t\n") == len - open - 2;
    snprintf(config + len - 1, cap - (len - 1), "%s%s}", empty ? "" : ", ", members);
    return SILT_OK;
}
