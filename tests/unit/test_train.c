// The trainer (gen/lib/train.h) on the toy task: the loss falls, the lr
// schedule, gradient accumulation, the EMA formula, checkpoint round trips
// and pruning, NaN stops, and the key property: a run stopped (SIGINT) and
// resumed ends bit-identical to an uninterrupted one - weights, EMA, AdamW
// state and CSV rows; --init starts a fresh run from another run's weights.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "gen/lib/train.h"
#include "gen/lib/train_arch.h"

static char tmpdir[256];

static const char *dir_of(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static const char *file_in(const char *dir, const char *name) {
    static char buf[8][640];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void rm_tree(const char *path) {  // two levels: tmpdir/run/file
    DIR *d = opendir(path);
    if (!d) { unlink(path); return; }
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        rm_tree(p);
    }
    closedir(d);
    rmdir(path);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
    *len = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static bool same_file(const char *a, const char *b) {
    size_t la, lb;
    unsigned char *x = slurp(a, &la), *y = slurp(b, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// CSV rows: the first four columns (step, loss, lr, grad_norm) as text; the
// last two are timings and differ run to run by nature.
typedef struct csv_rows {
    int n;
    long long step[512];
    char det[512][128];
    double loss[512], lr[512];
} csv_rows;

static void read_csv(const char *dir, csv_rows *r) {
    size_t len;
    char *text = (char *)slurp(file_in(dir, "train_log.csv"), &len);
    r->n = 0;
    if (!text) return;
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    CHECK(line && !strcmp(line, "step,loss,lr,grad_norm,images_per_s,elapsed_s"));
    while ((line = strtok_r(NULL, "\n", &save)) && r->n < 512) {
        char *c = line;
        for (int k = 0; k < 4 && c; k++) c = strchr(c + 1, ',');
        size_t l = c ? (size_t)(c - line) : strlen(line);
        snprintf(r->det[r->n], sizeof r->det[r->n], "%.*s", (int)l, line);
        sscanf(line, "%lld,%lf,%lf", &r->step[r->n], &r->loss[r->n], &r->lr[r->n]);
        r->n++;
    }
    free(text);
}

static bool rows_increasing(const csv_rows *r) {
    for (int i = 1; i < r->n; i++)
        if (r->step[i] <= r->step[i - 1]) return false;
    return true;
}

static silt_train_params base_params(const char *out) {
    silt_train_params p = silt_train_default_params();
    p.steps = 24;
    p.batch_size = 16;
    p.lr = 1e-2;
    p.lr_min = 1e-4;
    p.warmup_steps = 5;
    p.weight_decay = 0.05;
    p.ckpt_every = 5;
    p.log_every = 1;
    p.out_dir = out;
    p.data_seed = 7;
    return p;
}

static silt_train_task new_toy(uint64_t seed) {
    silt_train_task t = {0};
    silt_train_toy_config c = silt_train_toy_default_config();
    CHECK_OK(silt_train_toy_create(&c, seed, &t));
    return t;
}

// --- a wrapper task that misbehaves on cue ----------------------------------------

typedef enum { WRAP_NONE, WRAP_SIGINT, WRAP_NAN_LOSS, WRAP_NAN_GRAD } wrap_mode;

typedef struct wrap {
    silt_train_task inner;
    wrap_mode mode;
    int64_t trigger;  // batch index
} wrap;

static int w_n(void *s) { wrap *w = s; return w->inner.n_params(w->inner.self); }
static silt_tensor *w_param(void *s, int i, const char **name, bool *nd) {
    wrap *w = s;
    return w->inner.param(w->inner.self, i, name, nd);
}

typedef struct { silt_tensor *x, *out; } nan_node;
static silt_status nan_bwd(silt_graph *g, void *p) {
    nan_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (dx) dx[0] += n->out->grad[0] * NAN;
    return SILT_OK;
}

static silt_tensor *w_loss(void *s, silt_graph *g, uint64_t seed, int64_t bi, int bs) {
    wrap *w = s;
    silt_tensor *l = w->inner.loss(w->inner.self, g, seed, bi, bs);
    if (!l || bi != w->trigger) return l;
    if (w->mode == WRAP_SIGINT) raise(SIGINT);
    if (w->mode == WRAP_NAN_LOSS) return silt_scale(g, l, NAN);
    if (w->mode == WRAP_NAN_GRAD) {  // finite loss whose backward is NaN
        silt_tensor *out = silt_graph_new(g, 1, 0, 0, 0);
        nan_node *n = silt_graph_record(g, nan_bwd, sizeof *n);
        if (!out || !n) return NULL;
        silt_f32(out)[0] = silt_f32(l)[0];
        out->requires_grad = true;
        n->x = l;
        n->out = out;
        return out;
    }
    return l;
}

static silt_train_task wrap_task(wrap *w, silt_train_task inner, wrap_mode mode, int64_t trigger) {
    w->inner = inner;
    w->mode = mode;
    w->trigger = trigger;
    silt_train_task t = {.self = w, .n_params = w_n, .param = w_param, .loss = w_loss, .name = inner.name};
    return t;
}

// --- tests --------------------------------------------------------------------------

static void test_lr_schedule(void) {
    silt_train_params p = silt_train_default_params();
    p.steps = 101;
    p.warmup_steps = 10;
    p.lr = 1e-2;
    p.lr_min = 1e-4;
    // Warmup: lr * (step + 1) / W.
    CHECK(fabs(silt_train_lr(&p, 0) - 1e-3) < 1e-15);
    CHECK(fabs(silt_train_lr(&p, 4) - 5e-3) < 1e-15);
    CHECK(fabs(silt_train_lr(&p, 9) - 1e-2) < 1e-15);
    // Cosine: lr at step W, the midpoint (W + 45 of a 90-step span) halfway,
    // lr_min at the last update and after.
    CHECK(fabs(silt_train_lr(&p, 10) - 1e-2) < 1e-15);
    CHECK(fabs(silt_train_lr(&p, 55) - (1e-2 + 1e-4) / 2) < 1e-15);
    double q = 1e-4 + (1e-2 - 1e-4) * 0.5 * (1 + cos(3.14159265358979323846 * 20.0 / 90.0));
    CHECK(fabs(silt_train_lr(&p, 30) - q) < 1e-15);
    CHECK(fabs(silt_train_lr(&p, 100) - 1e-4) < 1e-15);
    CHECK(silt_train_lr(&p, 500) == 1e-4);
    bool mono = true;
    for (int64_t s = 11; s < 101; s++) mono = mono && silt_train_lr(&p, s) < silt_train_lr(&p, s - 1);
    CHECK(mono);
    p.warmup_steps = 0;
    CHECK(silt_train_lr(&p, 0) == 1e-2);
    p.steps = 1;
    CHECK(silt_train_lr(&p, 0) == 1e-2);
}

static void test_params_check(void) {
    silt_train_params p = silt_train_default_params();
    CHECK_OK(silt_train_params_check(&p));
    silt_train_params b = p;
    b.steps = 0;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    b = p, b.lr_min = 2 * p.lr;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    b = p, b.beta2 = 1.0;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    b = p, b.ema_decay = 1.0;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    b = p, b.grad_accum = 0;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    b = p, b.out_dir = NULL;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    b = p, b.grad_clip = NAN;
    CHECK(silt_train_params_check(&b) == SILT_ERR_ARG);
    // The batch RNG is a pure function of its inputs.
    silt_rng a = silt_train_batch_rng(3, 5, 0), c = silt_train_batch_rng(3, 5, 0), d = silt_train_batch_rng(3, 5, 1);
    uint32_t x = silt_rng_next_u32(&a);
    CHECK(x == silt_rng_next_u32(&c));
    CHECK(x != silt_rng_next_u32(&d));
}

static void test_loss_falls(void) {
    const char *out = dir_of("falls");
    silt_train_params p = base_params(out);
    p.steps = 300;
    p.warmup_steps = 20;
    p.ckpt_every = 0;
    silt_train_task t = new_toy(1);
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    static csv_rows r;
    read_csv(out, &r);
    CHECK(r.n == 300);
    double first = 0, last = 0;
    for (int i = 0; i < 10 && r.n == 300; i++) first += r.loss[i] / 10, last += r.loss[290 + i] / 10;
    CHECK_MSG(last < 0.2 * first, "loss did not fall: first 10 steps %.4g, last 10 %.4g", first, last);
    bool lr_ok = true, steps_ok = true;
    for (int i = 0; i < r.n; i++) {
        lr_ok = lr_ok && fabs(r.lr[i] - silt_train_lr(&p, i)) <= 1e-8 * silt_train_lr(&p, i);
        steps_ok = steps_ok && r.step[i] == i + 1;
    }
    CHECK_MSG(lr_ok, "CSV lr column differs from silt_train_lr");
    CHECK(steps_ok);
    // Only the final checkpoint (ckpt_every 0).
    CHECK(exists(file_in(out, "checkpoint_300.safetensors")));
    CHECK(!exists(file_in(out, "checkpoint_100.safetensors")));
    // A fresh run into a directory that holds a run is refused, and so is
    // any run while another holds the directory's lock.
    CHECK(silt_train_run(&p, &t, NULL, NULL) == SILT_ERR_ARG);
    int fd = open(file_in(out, "train.lock"), O_RDWR);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    CHECK(silt_train_run(&p, &t, "auto", NULL) == SILT_ERR_IO);
    CHECK(strstr(silt_last_error_message(), "another run") != NULL);
    if (fd >= 0) close(fd);
    silt_train_task_free(&t);
}

// Reads tensor `name` of a checkpoint into a new buffer.
static float *ckpt_tensor(const char *path, const char *name, int64_t *n) {
    silt_safetensors *st = NULL;
    *n = 0;
    if (silt_safetensors_open(path, &st) != SILT_OK) return NULL;
    const silt_st_tensor *t = silt_safetensors_find(st, name);
    float *buf = NULL;
    if (t) {
        *n = (int64_t)(t->nbytes / 4);
        buf = malloc(t->nbytes ? t->nbytes : 4);
        silt_safetensors_read_f32(t, buf, *n);
    }
    silt_safetensors_close(st);
    return buf;
}

static void test_grad_accumulation(void) {
    // One update of 4 micro-batches of 8 against one of a batch of 32: the
    // same 32 samples (the toy indexes samples globally), so the gradient is
    // the same up to fp32 summation order. AdamW's first moment after one
    // step is (1 - beta1) g, so adam_m compares the gradients. Tolerance:
    // 1e-5 relative plus 1e-6 of the largest |g| (entries that cancel to ~0
    // have no meaningful relative error).
    const char *da = dir_of("accum4x8"), *db = dir_of("batch32"), *dc = dir_of("batch8");
    silt_train_params p = base_params(da);
    p.steps = 1;
    p.grad_clip = 0;
    p.weight_decay = 0;
    p.batch_size = 8;
    p.grad_accum = 4;
    silt_train_task t = new_toy(2);
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    silt_train_task_free(&t);
    p.out_dir = db, p.batch_size = 32, p.grad_accum = 1;
    t = new_toy(2);
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    silt_train_task_free(&t);
    p.out_dir = dc, p.batch_size = 8, p.grad_accum = 1;
    t = new_toy(2);
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    silt_train_task_free(&t);
    const char *names[] = {"adam_m.net.0.weight", "adam_m.net.0.bias", "adam_m.net.2.weight", "adam_m.net.2.bias"};
    for (int k = 0; k < 4; k++) {
        int64_t na, nb, nc;
        float *a = ckpt_tensor(file_in(da, "checkpoint_1.safetensors"), names[k], &na);
        float *b = ckpt_tensor(file_in(db, "checkpoint_1.safetensors"), names[k], &nb);
        float *c = ckpt_tensor(file_in(dc, "checkpoint_1.safetensors"), names[k], &nc);
        CHECK(a && b && c && na == nb && na == nc && na > 0);
        if (a && b && c && na == nb) {
            double mx = 0, diff_c = 0;
            for (int64_t i = 0; i < na; i++) mx = fmax(mx, fabs(b[i])), diff_c = fmax(diff_c, fabs(c[i] - b[i]));
            CHECK_CLOSE(names[k], a, b, na, 1e-5, 1e-6 * mx);
            // A quarter of the batch gives another gradient: the check can fail.
            CHECK_MSG(diff_c > 1e-3 * mx, "%s: batch 8 matches batch 32 (test has no power)", names[k]);
        }
        free(a), free(b), free(c);
    }
    // The optimiser got the schedule's lr for update 0: AdamW's first step
    // moves each weight by lr * g / (|g| + eps) = lr (weight decay is 0 here),
    // for every entry whose |g| is far above eps.
    silt_train_task t0 = new_toy(2);
    int moved = 0, off = 0;
    const double lr0 = silt_train_lr(&p, 0);
    for (int i = 0; i < 4; i++) {
        const char *name;
        bool nd;
        silt_tensor *w0 = t0.param(t0.self, i, &name, &nd);
        char key[64];
        snprintf(key, sizeof key, "adam_m.%s", name);
        int64_t n1, nm;
        float *w1 = ckpt_tensor(file_in(db, "checkpoint_1.safetensors"), name, &n1);
        float *m = ckpt_tensor(file_in(db, "checkpoint_1.safetensors"), key, &nm);
        for (int64_t j = 0; w1 && m && j < n1 && n1 == nm; j++) {
            if (fabs(m[j]) / (1 - p.beta1) < 1e-4) continue;
            moved++;
            off += fabs(fabs((double)w1[j] - silt_f32(w0)[j]) - lr0) > 1e-3 * lr0;
        }
        free(w1), free(m);
    }
    CHECK_MSG(moved > 1000 && off == 0, "first update: %d of %d weights did not move by lr(0) = %g", off, moved, lr0);
    silt_train_task_free(&t0);
    static csv_rows ra, rb;
    read_csv(da, &ra);
    read_csv(db, &rb);
    CHECK(ra.n == 1 && rb.n == 1);
    CHECK(fabs(ra.loss[0] - rb.loss[0]) <= 1e-6 * rb.loss[0]);  // mean of means == mean
}

// In a run: e_0 = the initial weights, e_s = d_s e_{s-1} + (1 - d_s) p_s with
// p_s the weights after update s (every checkpoint kept) and d_s the decay
// of update s - 1: 0.8 without warmup, min(0.8, s / (9 + s)) with it (so
// 0.1, 0.18, 0.25, ...: the two runs differ from the first step). Reference
// in double; the float EMA drifts from it by a few ulp per step.
static void test_ema_run(bool warmup) {
    const char *out = dir_of(warmup ? "ema_warmup" : "ema");
    silt_train_params p = base_params(out);
    p.steps = 6;
    p.ckpt_every = 1;
    p.keep_last = 0;
    p.ema_decay = 0.8;
    p.ema_warmup = warmup;
    silt_train_task t = new_toy(3);
    const char *names[4];
    double *e_ref[4];
    int64_t n[4];
    for (int i = 0; i < 4; i++) {
        bool nd;
        silt_tensor *w = t.param(t.self, i, &names[i], &nd);
        n[i] = silt_numel(w);
        e_ref[i] = malloc((size_t)n[i] * sizeof(double));
        for (int64_t j = 0; j < n[i]; j++) e_ref[i][j] = silt_f32(w)[j];
    }
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    for (int s = 1; s <= 6; s++) {
        char name[64], key[128];
        snprintf(name, sizeof name, "checkpoint_%d.safetensors", s);
        CHECK(exists(file_in(out, name)));
        for (int i = 0; i < 4; i++) {
            int64_t np, ne;
            float *w = ckpt_tensor(file_in(out, name), names[i], &np);
            snprintf(key, sizeof key, "ema.%s", names[i]);
            float *e2 = ckpt_tensor(file_in(out, name), key, &ne);
            CHECK(w && e2 && np == n[i] && ne == n[i]);
            if (!w || !e2 || np != n[i] || ne != n[i]) { free(w), free(e2); continue; }
            float *want = malloc((size_t)n[i] * sizeof(float));
            bool moved = false;
            for (int64_t j = 0; j < n[i]; j++) {
                double d = warmup ? fmin(0.8, (double)s / (9.0 + s)) : 0.8;
                e_ref[i][j] = d * e_ref[i][j] + (1 - d) * w[j];
                want[j] = (float)e_ref[i][j];
                moved = moved || e2[j] != w[j];
            }
            snprintf(key, sizeof key, "ema after step %d (warmup %d): %s", s, (int)warmup, names[i]);
            CHECK_CLOSE(key, e2, want, n[i], 1e-5, 1e-6);
            if (i == 0) CHECK_MSG(moved, "EMA equals the weights at step %d", s);
            free(w), free(e2), free(want);
        }
    }
    for (int i = 0; i < 4; i++) free(e_ref[i]);
    silt_train_task_free(&t);
}


static void test_ema(void) {
    float e[37], x[37];
    double ref[37];
    test_seed(5);
    test_fill(e, 37, -1, 1);
    test_fill(x, 37, -1, 1);
    for (int i = 0; i < 37; i++) ref[i] = 0.9 * e[i] + 0.1 * x[i];
    silt_train_ema_update(e, x, 37, 0.9);
    float rf[37];
    for (int i = 0; i < 37; i++) rf[i] = (float)ref[i];
    CHECK_CLOSE("ema kernel", e, rf, 37, 1e-6, 1e-7);
    // A weight that stays put keeps its EMA bit for bit (a frozen encoder).
    float same[37];
    memcpy(same, x, sizeof same);
    silt_train_ema_update(same, x, 37, 0.999);
    CHECK(!memcmp(same, x, sizeof same));

    // The decay schedule: warmup ramps (1 + t) / (10 + t) up to the decay.
    silt_train_params q = silt_train_default_params();
    q.ema_decay = 0.999;
    CHECK(q.ema_warmup);
    CHECK(fabs(silt_train_ema_decay_at(&q, 0) - 0.1) < 1e-15);
    CHECK(fabs(silt_train_ema_decay_at(&q, 90) - 91.0 / 100.0) < 1e-15);
    CHECK(silt_train_ema_decay_at(&q, 100000) == 0.999);
    q.ema_warmup = false;
    CHECK(silt_train_ema_decay_at(&q, 0) == 0.999);
    test_ema_run(true);
    test_ema_run(false);
}

static void test_checkpoint_round_trip(void) {
    const char *a = dir_of("rt_a"), *b = dir_of("rt_b");
    silt_train_params p = base_params(a);
    p.steps = 12;
    p.ckpt_every = 4;
    p.ema_decay = 0.9;
    silt_train_task t = new_toy(4);
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    const char *last = file_in(a, "checkpoint_12.safetensors");
    size_t len;
    char *latest = (char *)slurp(file_in(a, "latest"), &len);
    CHECK(latest && !strcmp(latest, "checkpoint_12.safetensors\n"));
    free(latest);
    char path[512];
    CHECK_OK(silt_train_latest(a, path, sizeof path));
    CHECK(!strcmp(path, last));
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(last, &st));
    if (st) {
        CHECK(silt_safetensors_count(st) == 16);  // 4 params x (weights, ema, adam_m, adam_v)
        const char *m;
        CHECK((m = silt_safetensors_metadata(st, "format")) && !strcmp(m, "silt-train-checkpoint"));
        CHECK((m = silt_safetensors_metadata(st, "format_version")) && !strcmp(m, "1"));
        CHECK((m = silt_safetensors_metadata(st, "step")) && !strcmp(m, "12"));
        CHECK((m = silt_safetensors_metadata(st, "adam_step")) && !strcmp(m, "12"));
        CHECK((m = silt_safetensors_metadata(st, "data_seed")) && !strcmp(m, "7"));
        CHECK((m = silt_safetensors_metadata(st, "arch")) && !strcmp(m, "toy"));
        CHECK((m = silt_safetensors_metadata(st, "train_params")) && strstr(m, "\"grad_accum\": 1"));
        for (int i = 0; i < 4; i++) {
            const char *name;
            bool nd;
            silt_tensor *w = t.param(t.self, i, &name, &nd);
            const silt_st_tensor *x = silt_safetensors_find(st, name);
            CHECK_MSG(x && x->nbytes == silt_nbytes(w) && !memcmp(x->data, w->data, x->nbytes),
                      "checkpoint %s differs from the weights in memory", name);
        }
        silt_safetensors_close(st);
    }
    // Load into a differently initialised model, save again: the same bytes.
    silt_train_task t2 = new_toy(99);
    silt_train_params pb = p;
    pb.out_dir = b;
    CHECK_OK(silt_train_run(&pb, &t2, last, NULL));
    CHECK_MSG(same_file(last, file_in(b, "checkpoint_12.safetensors")), "load + save changed the checkpoint");
    for (int i = 0; i < 4; i++) {
        const char *n1, *n2;
        bool nd;
        silt_tensor *w1 = t.param(t.self, i, &n1, &nd), *w2 = t2.param(t2.self, i, &n2, &nd);
        CHECK(!memcmp(w1->data, w2->data, silt_nbytes(w1)));
    }
    // A checkpoint of another arch, or a plain safetensors file, is refused
    // and leaves the weights alone.
    wrap w;
    silt_train_task other = wrap_task(&w, t2, WRAP_NONE, -1);
    other.name = "other";
    pb.out_dir = dir_of("rt_c");
    CHECK(silt_train_run(&pb, &other, last, NULL) == SILT_ERR_FORMAT);
    CHECK(strstr(silt_last_error_message(), "arch") != NULL);
    const char *plain = dir_of("plain.safetensors");
    silt_st_writer *wr = silt_st_writer_create();
    float one = 1;
    int64_t shape[1] = {1};
    CHECK_OK(silt_st_writer_add(wr, "x", SILT_ST_F32, 1, shape, &one));
    CHECK_OK(silt_st_writer_write(wr, plain));
    silt_st_writer_free(wr);
    CHECK(silt_train_run(&pb, &t2, plain, NULL) == SILT_ERR_FORMAT);
    // Pruning: keep_last 3 of checkpoints 2, 4, ..., 20.
    silt_train_params pp = p;
    pp.out_dir = dir_of("prune");
    pp.steps = 20;
    pp.ckpt_every = 2;
    pp.keep_last = 3;
    CHECK_OK(silt_train_run(&pp, &t2, NULL, NULL));
    int count = 0;
    DIR *d = opendir(pp.out_dir);
    for (struct dirent *e; d && (e = readdir(d));) count += !strncmp(e->d_name, "checkpoint_", 11);
    if (d) closedir(d);
    CHECK(count == 3);
    CHECK(exists(file_in(pp.out_dir, "checkpoint_16.safetensors")) &&
          exists(file_in(pp.out_dir, "checkpoint_18.safetensors")) &&
          exists(file_in(pp.out_dir, "checkpoint_20.safetensors")));
    silt_train_task_free(&t);
    silt_train_task_free(&t2);
}

static bool same_params(silt_train_task *a, silt_train_task *b) {
    for (int i = 0; i < a->n_params(a->self); i++) {
        const char *n;
        bool nd;
        silt_tensor *x = a->param(a->self, i, &n, &nd), *y = b->param(b->self, i, &n, &nd);
        if (memcmp(x->data, y->data, silt_nbytes(x))) return false;
    }
    return true;
}

// Compares two checkpoints tensor by tensor, bit for bit.
static void same_tensors(const char *what, const char *pa, const char *pb) {
    silt_safetensors *a = NULL, *b = NULL;
    CHECK_OK(silt_safetensors_open(pa, &a));
    CHECK_OK(silt_safetensors_open(pb, &b));
    if (!a || !b) goto done;
    CHECK(silt_safetensors_count(a) == silt_safetensors_count(b));
    int bad = 0;
    for (int i = 0; i < silt_safetensors_count(a); i++) {
        const silt_st_tensor *x = silt_safetensors_get(a, i), *y = silt_safetensors_find(b, x->name);
        if (!y || x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes)) {
            fprintf(stderr, "  %s: tensor %s differs\n", what, x->name);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d tensors differ", what, bad);
done:
    silt_safetensors_close(a);
    silt_safetensors_close(b);
}

static void test_resume_is_exact(void) {
    // Accumulation, clipping (max-norm 0.5 bites on the early steps), EMA,
    // warmup and weight decay all on, so every piece of state matters.
    const char *a = dir_of("full"), *b = dir_of("stopped"), *c = dir_of("from10");
    silt_train_params p = base_params(a);
    p.grad_accum = 3;
    p.grad_clip = 0.5;
    p.ema_decay = 0.95;
    p.keep_last = 0;
    const int64_t N = 12;  // half of p.steps

    silt_train_task ta = new_toy(11);
    CHECK_OK(silt_train_run(&p, &ta, NULL, NULL));

    // Stopped by SIGINT during update N (its last micro-batch), then resumed
    // by a new model object that starts from other weights.
    silt_train_task tb0 = new_toy(11);
    wrap w;
    silt_train_task stop = wrap_task(&w, tb0, WRAP_SIGINT, N * p.grad_accum - 1);
    silt_train_params pb = p;
    pb.out_dir = b;
    CHECK(silt_train_run(&pb, &stop, NULL, NULL) == SILT_ERR_CANCELLED);
    CHECK(strstr(silt_last_error_message(), "step 12") != NULL);
    silt_train_task_free(&tb0);
    char path[512];
    CHECK_OK(silt_train_latest(b, path, sizeof path));
    CHECK(!strcmp(path, file_in(b, "checkpoint_12.safetensors")));
    CHECK(!exists(file_in(b, "checkpoint_15.safetensors")));
    static csv_rows rb;
    read_csv(b, &rb);
    CHECK(rb.n == N);
    // The stopped run's state at N equals the full run's state at N... the
    // full run has no checkpoint at 12, so compare at 10 (both have one).
    same_tensors("checkpoint 10", file_in(a, "checkpoint_10.safetensors"), file_in(b, "checkpoint_10.safetensors"));

    silt_train_task tb = new_toy(12345);
    CHECK_OK(silt_train_run(&pb, &tb, "auto", NULL));
    same_tensors("final, stopped at 12 + resumed", file_in(a, "checkpoint_24.safetensors"),
                 file_in(b, "checkpoint_24.safetensors"));
    CHECK_MSG(same_file(file_in(a, "checkpoint_24.safetensors"), file_in(b, "checkpoint_24.safetensors")),
              "final checkpoint files differ");
    CHECK_MSG(same_params(&ta, &tb), "weights in memory differ after resume");

    static csv_rows ra, rb2, rc;
    read_csv(a, &ra);
    read_csv(b, &rb2);
    CHECK(ra.n == 24 && rb2.n == 24);
    CHECK_MSG(rows_increasing(&rb2), "resumed CSV has repeated or unordered steps");
    int diff = 0;
    for (int i = 0; i < ra.n && i < rb2.n; i++) diff += strcmp(ra.det[i], rb2.det[i]) != 0;
    CHECK_MSG(diff == 0, "%d CSV rows differ (step, loss, lr, grad_norm)", diff);

    // Resume from an explicit older checkpoint into another directory that
    // holds a copy of the full run's CSV: rows after 10 are cut, then redone.
    mkdir(c, 0755);
    size_t len;
    unsigned char *csv = slurp(file_in(a, "train_log.csv"), &len);
    FILE *f = fopen(file_in(c, "train_log.csv"), "wb");
    if (f) { fwrite(csv, 1, len, f); fputs("25,0.1,0.1,0.", f); fclose(f); }  // + a torn last line
    free(csv);
    silt_train_task tc = new_toy(777);
    silt_train_params pc = p;
    pc.out_dir = c;
    CHECK_OK(silt_train_run(&pc, &tc, file_in(a, "checkpoint_10.safetensors"), NULL));
    CHECK_MSG(same_file(file_in(a, "checkpoint_24.safetensors"), file_in(c, "checkpoint_24.safetensors")),
              "resume from checkpoint 10: final checkpoint differs");
    read_csv(c, &rc);
    CHECK(rc.n == 24 && rows_increasing(&rc));
    diff = 0;
    for (int i = 0; i < ra.n && i < rc.n; i++) diff += strcmp(ra.det[i], rc.det[i]) != 0;
    CHECK_MSG(diff == 0, "resume from 10: %d CSV rows differ", diff);

    // Control: resuming with another data seed does not match (the test can fail).
    silt_train_task td = new_toy(11);
    silt_train_params pd = p;
    pd.out_dir = dir_of("otherseed");
    pd.data_seed = 8;
    silt_log_level lvl = silt_log_get_level();
    silt_log_set_level(SILT_LOG_ERROR);  // the mismatch warning is expected
    CHECK_OK(silt_train_run(&pd, &td, file_in(a, "checkpoint_10.safetensors"), NULL));
    silt_log_set_level(lvl);
    CHECK(!same_params(&ta, &td));
    silt_train_task_free(&ta);
    silt_train_task_free(&tb);
    silt_train_task_free(&tc);
    silt_train_task_free(&td);
}

static void test_numeric_stop(void) {
    for (int mode = WRAP_NAN_LOSS; mode <= WRAP_NAN_GRAD; mode++) {
        const char *out = dir_of(mode == WRAP_NAN_LOSS ? "nan_loss" : "nan_grad");
        silt_train_params p = base_params(out);
        p.grad_accum = 2;
        p.ckpt_every = 3;
        silt_train_task inner = new_toy(5);
        wrap w;
        silt_train_task t = wrap_task(&w, inner, (wrap_mode)mode, 7 * 2 + 1);  // update 8, micro-batch 1
        CHECK(silt_train_run(&p, &t, NULL, NULL) == SILT_ERR_NUMERIC);
        const char *msg = silt_last_error_message();
        CHECK_MSG(strstr(msg, "step 8:") != NULL, "message does not name step 8: %s", msg);
        CHECK(strstr(msg, mode == WRAP_NAN_LOSS ? "loss is nan" : "gradient norm is nan") != NULL);
        char path[512];
        CHECK_OK(silt_train_latest(out, path, sizeof path));
        CHECK(!strcmp(path, file_in(out, "checkpoint_6.safetensors")));
        silt_safetensors *st = NULL;
        CHECK_OK(silt_safetensors_open(path, &st));
        silt_safetensors_close(st);
        // The weights hold update 7: no NaN reached them.
        bool finite = true;
        for (int i = 0; i < 4; i++) {
            const char *n;
            bool nd;
            silt_tensor *x = inner.param(inner.self, i, &n, &nd);
            for (int64_t j = 0; j < silt_numel(x); j++) finite = finite && isfinite(silt_f32(x)[j]);
        }
        CHECK(finite);
        static csv_rows r;
        read_csv(out, &r);
        CHECK(r.n == 7);
        // Resuming (without the fault) continues from 6.
        silt_train_task t2 = new_toy(5);
        CHECK_OK(silt_train_run(&p, &t2, "auto", NULL));
        read_csv(out, &r);
        CHECK(r.n == 24 && rows_increasing(&r));
        silt_train_task_free(&t2);
        silt_train_task_free(&inner);
    }
}

// --init: a fresh run starts from another run's EMA weights (its raw weights
// when it has no EMA); the wrong arch or a missing file is refused with the
// task untouched; a resumed run ignores it.
static bool params_equal_ckpt(silt_train_task *t, const char *ckpt, const char *prefix) {
    bool same = true;
    for (int i = 0; i < t->n_params(t->self); i++) {
        const char *name;
        bool nd;
        silt_tensor *w = t->param(t->self, i, &name, &nd);
        char key[256];
        snprintf(key, sizeof key, "%s%s", prefix, name);
        int64_t n = 0;
        float *x = ckpt_tensor(ckpt, key, &n);
        same = same && x && n == silt_numel(w) && !memcmp(x, w->data, silt_nbytes(w));
        free(x);
    }
    return same;
}

static void test_init(void) {
    char src[512], src_raw[512];  // dir_of's buffers rotate
    snprintf(src, sizeof src, "%s", dir_of("init_src"));
    snprintf(src_raw, sizeof src_raw, "%s", dir_of("init_src_raw"));
    silt_train_params p = base_params(src);
    p.steps = 6;
    p.ema_decay = 0.8;
    silt_train_task a = new_toy(3);
    CHECK_OK(silt_train_run(&p, &a, NULL, NULL));
    char ckpt[512], ckpt_raw[512];
    snprintf(ckpt, sizeof ckpt, "%s", file_in(src, "checkpoint_6.safetensors"));
    p.out_dir = src_raw;
    p.ema_decay = 0;
    silt_train_task a_raw = new_toy(4);
    CHECK_OK(silt_train_run(&p, &a_raw, NULL, NULL));
    snprintf(ckpt_raw, sizeof ckpt_raw, "%s", file_in(src_raw, "checkpoint_6.safetensors"));
    // The EMA and the weights differ, so the test tells which one was taken.
    CHECK(!params_equal_ckpt(&a, ckpt, "ema."));

    // lr 0: the one step changes nothing, so the run ends on its start weights.
    silt_train_params q = base_params(dir_of("init_ema"));
    q.steps = 1;
    q.lr = q.lr_min = 0;
    q.ema_decay = 0.9;
    q.init_path = src;  // a run directory: its latest checkpoint
    silt_train_task b = new_toy(11);
    CHECK(!params_equal_ckpt(&b, ckpt, "ema."));
    CHECK_OK(silt_train_run(&q, &b, NULL, NULL));
    CHECK_MSG(params_equal_ckpt(&b, ckpt, "ema."), "--init took the source's EMA weights");
    CHECK(params_equal_ckpt(&b, file_in(dir_of("init_ema"), "checkpoint_1.safetensors"), ""));

    q.out_dir = dir_of("init_raw");
    q.init_path = ckpt_raw;
    silt_train_task c = new_toy(12);
    CHECK_OK(silt_train_run(&q, &c, NULL, NULL));
    CHECK_MSG(params_equal_ckpt(&c, ckpt_raw, ""), "--init from a run without EMA took its weights");

    // Another arch, a missing file: one error, the weights untouched.
    silt_train_task d = new_toy(13), other = new_toy(13);
    d.name = "toy-other";
    q.out_dir = dir_of("init_bad");
    q.init_path = ckpt;
    CHECK(silt_train_run(&q, &d, NULL, NULL) == SILT_ERR_FORMAT);
    CHECK(same_params(&d, &other));
    q.out_dir = dir_of("init_missing");
    q.init_path = file_in(src, "no_such.safetensors");
    d.name = other.name;
    CHECK(silt_train_run(&q, &d, NULL, NULL) == SILT_ERR_IO);
    CHECK(same_params(&d, &other));

    // A resumed run (here: a finished one) takes its state from its own
    // checkpoint and never reads --init.
    q.out_dir = dir_of("init_ema");
    q.init_path = file_in(src, "no_such.safetensors");
    silt_train_task e = new_toy(14);
    CHECK_OK(silt_train_run(&q, &e, "auto", NULL));
    CHECK(params_equal_ckpt(&e, ckpt, "ema."));

    silt_train_task *all[] = {&a, &a_raw, &b, &c, &d, &other, &e};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) silt_train_task_free(all[i]);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_test_train_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    silt_log_set_level(SILT_LOG_WARN);
    test_lr_schedule();
    test_params_check();
    test_loss_falls();
    test_grad_accumulation();
    test_ema();
    test_checkpoint_round_trip();
    test_resume_is_exact();
    test_numeric_stop();
    test_init();
    if (!getenv("KEEP_TMP")) rm_tree(tmpdir);
    else fprintf(stderr, "kept %s\n", tmpdir);
    return check_summary();
}
