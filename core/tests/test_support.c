/*
 * test_support.c -- helpers of the C tests: random numbers, the tree
 * checked against the model, callbacks, allocation-failure sweeps, edit
 * distances and random keys.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

/* ------------------------------------------------------------------ */
/* Utilities                                                           */
/* ------------------------------------------------------------------ */

uint64_t g_rng;

/* splitmix64: tiny, and good enough to drive the randomized tests. */
uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

void shuffle(size_t *a, size_t n)
{
    size_t i, j, tmp;
    for (i = n; i > 1; i--) {
        j = rnd_below(i);
        tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_art: out of memory\n");
        abort();
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "test_art: out of memory\n");
        abort();
    }
    return q;
}

/* A cursor on the empty key may have no key buffer at all. */
void copy_key(uint8_t *dst, const uint8_t *src, size_t len)
{
    if (len)
        memcpy(dst, src, len);
}

size_t common_len(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t i = 0;
    while (i < al && i < bl && a[i] == b[i])
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* The tree against the model (model.h)                               */
/* ------------------------------------------------------------------ */

/* Both the tree and the model must agree on every key and value. */
int tree_insert_both(art_tree *t, model *m, const uint8_t *k, size_t len,
                     void *v)
{
    void *old = VAL(999999);
    void *want = model_put(m, k, len, v);
    int r = art_insert(t, k, len, v, &old);
    return CHECK(r == (want ? 0 : 1)) && CHECK(old == want);
}

int tree_delete_both(art_tree *t, model *m, const uint8_t *k, size_t len)
{
    void *old = NULL;
    void *want = model_del(m, k, len);
    int r = art_delete(t, k, len, &old);
    if (!CHECK(r == (want ? 1 : 0)))
        return 0;
    return !want || CHECK(old == want);
}

/* The cursor must sit on entry i of the model (i == m->n: nowhere). */
int cursor_on(const art_cursor *c, int r, const model *m, size_t i)
{
    if (i >= m->n) {
        if (CHECK(r == 0) && CHECK(c->at == 0))
            return 1;
        if (r == 1)
            dump_key("cursor is on", c->key, c->key_len);
        return 0;
    }
    if (!CHECK(r == 1)) {
        dump_key("expected", m->a[i].key, m->a[i].len);
        return 0;
    }
    if (!CHECK(model_key_eq(c->key, c->key_len, m->a[i].key, m->a[i].len))) {
        dump_key("cursor is on", c->key, c->key_len);
        dump_key("expected", m->a[i].key, m->a[i].len);
        return 0;
    }
    return CHECK(c->at != 0) && CHECK(art_cursor_value(c) == m->a[i].val);
}

/*
 * Full comparison: validate, size, forward and backward iteration, and a
 * search for every key.  The cursor allocates from t, so fault injection
 * must be off.
 */
int tree_matches(art_tree *t, const model *m)
{
    art_cursor c;
    size_t i;
    int r, ok = 1;

    if (!CHECK(valid(t)) || !CHECK(t->size == m->n))
        return 0;
    art_cursor_init(&c, t);
    r = art_cursor_first(&c);
    for (i = 0; ok && i < m->n; i++) {
        ok = cursor_on(&c, r, m, i);
        if (ok)
            r = art_cursor_next(&c);
    }
    ok = ok && cursor_on(&c, r, m, m->n);
    if (ok)
        r = art_cursor_last(&c);
    for (i = m->n; ok && i-- > 0;) {
        ok = cursor_on(&c, r, m, i);
        if (ok)
            r = art_cursor_prev(&c);
    }
    ok = ok && cursor_on(&c, r, m, m->n);
    art_cursor_free(&c);
    for (i = 0; ok && i < m->n; i++)
        ok = CHECK(art_search(t, m->a[i].key, m->a[i].len) == m->a[i].val);
    return ok;
}

size_t total_nodes(const art_stats_t *s)
{
    size_t n = 0;
    int k;
    for (k = 0; k < ART_NODE_KINDS; k++)
        n += s->nodes[k];
    return n;
}

void plain_tree_init(art_tree *t)
{
    art_tree_init(t);
    CHECK(art_tree_set_buckets(t, 0, 0) == ART_OK);
}

int stats_consistent(const art_tree *t)
{
    art_stats_t s;
    art_stats(t, &s);
    /* Without buckets two keys need an inner node; with them, a tree
       without one is a single leaf or bucket. */
    return CHECK(s.leaves + s.node_values + s.bucket_keys == t->size) &&
           CHECK(s.bytes == t->bytes) &&
           CHECK(t->size >= 2 || total_nodes(&s) == 0) &&
           CHECK(t->bucket_keys
                     ? total_nodes(&s) > 0 || t->size <= t->bucket_keys
                     : (t->size < 2) == (total_nodes(&s) == 0));
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

void tally_value(void *value, void *ctx)
{
    tally_t *tc = ctx;
    tc->calls++;
    tc->sum += (uintptr_t)value;
}

uintptr_t model_value_sum(const model *m)
{
    uintptr_t s = 0;
    size_t i;
    for (i = 0; i < m->n; i++)
        s += (uintptr_t)m->a[i].val;
    return s;
}

int visit_in_order(void *value, void *ctx)
{
    visit_t *v = ctx;
    if (v->seen >= v->m->n || v->m->a[v->seen].val != value)
        v->in_order = 0;
    v->seen++;
    return v->stop_after && v->seen == v->stop_after ? 42 : 0;
}

int visit_count(void *value, void *ctx)
{
    (void)value;
    (*(size_t *)ctx)++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Fault-injection sweeps                                              */
/* ------------------------------------------------------------------ */

/*
 * Runs an insert or delete with the k-th allocation failing, k = 1, 2, ...
 * until it goes through.  After every ART_ENOMEM the tree must be exactly
 * what m describes, with the same byte count and version.  Returns the
 * final result (SWEEP_BROKEN on a failed check); *failures counts the
 * ART_ENOMEM results.
 */
int mutate_sweep(art_tree *t, const model *m, mut_t *op, int full_compare,
                 long *failures)
{
    size_t bytes = t->bytes;
    uint64_t version = t->version;
    long k;
    for (k = 1; k <= SWEEP_LIMIT; k++) {
        int r;
        op->old = VAL(888888);
        t->fail_countdown = k;
        r = op->is_delete ? art_delete(t, op->key, op->len, &op->old)
                          : art_insert(t, op->key, op->len, op->val, &op->old);
        t->fail_countdown = 0;
        if (r != ART_ENOMEM) {
            if (failures)
                *failures = k - 1;
            return r;
        }
        if (!CHECK(t->bytes == bytes) || !CHECK(t->version == version) ||
            !CHECK(t->size == m->n) || !CHECK(valid(t)))
            return SWEEP_BROKEN;
        if (full_compare && !tree_matches(t, m))
            return SWEEP_BROKEN;
    }
    CHECK(!"operation kept failing with ART_ENOMEM");
    return SWEEP_BROKEN;
}

/* As mutate_sweep, for a seek by a fresh cursor.  Returns the number of
   injected failures, or -1. */
long seek_sweep(art_tree *t, const model *m, const uint8_t *key, size_t len,
                art_seek_mode mode)
{
    size_t bytes = t->bytes;
    uint64_t version = t->version;
    long k;
    for (k = 1; k <= SWEEP_LIMIT; k++) {
        art_cursor c;
        int r, ok;
        art_cursor_init(&c, t);
        t->fail_countdown = k;
        r = art_cursor_seek(&c, key, len, mode);
        t->fail_countdown = 0;
        if (r == ART_ENOMEM) {
            ok = CHECK(c.at == 0) && CHECK(t->bytes == bytes) &&
                 CHECK(t->version == version) && tree_matches(t, m);
            /* A failed move leaves an unpositioned cursor, which steps to
               the first key. */
            ok = ok && cursor_on(&c, art_cursor_next(&c), m, 0);
            art_cursor_free(&c);
            if (!ok)
                return -1;
            continue;
        }
        ok = cursor_on(&c, r, m, model_seek(m, key, len, mode));
        art_cursor_free(&c);
        return ok ? k - 1 : -1;
    }
    CHECK(!"seek kept failing with ART_ENOMEM");
    return -1;
}

/* One copy of src with the k-th allocation for dst failing (k = 0: no
   injection).  Returns the copy's result, or SWEEP_BROKEN. */
int copy_once(art_tree *src, const model *m, long k)
{
    art_tree dst;
    size_t bytes = src->bytes;
    uint64_t version = src->version;
    int r, ok;

    art_tree_init(&dst);
    dst.fail_countdown = k;
    r = art_tree_copy(&dst, src);
    dst.fail_countdown = 0;
    ok = CHECK(src->bytes == bytes) && CHECK(src->version == version) &&
         CHECK(src->size == m->n) && CHECK(valid(src));
    if (r == ART_ENOMEM) {
        ok = ok && CHECK(dst.size == 0) && CHECK(dst.root == 0) &&
             CHECK(dst.bytes == 0) && CHECK(valid(&dst));
    } else if (CHECK(r == ART_OK)) {
        art_stats_t a, b;
        tally_t tc = {0, 0};
        int kind;
        ok = ok && tree_matches(&dst, m);
        art_stats(src, &a);
        art_stats(&dst, &b);
        for (kind = 0; ok && kind < ART_NODE_KINDS; kind++)
            ok = CHECK(a.nodes[kind] == b.nodes[kind]);
        ok = ok && CHECK(a.leaves == b.leaves) &&
             CHECK(a.node_values == b.node_values);
        art_tree_clear(&dst, tally_value, &tc);
        ok = ok && CHECK(tc.calls == m->n) &&
             CHECK(tc.sum == model_value_sum(m));
    } else {
        ok = 0;
    }
    art_tree_clear(&dst, NULL, NULL);
    return ok ? r : SWEEP_BROKEN;
}

long copy_sweep(art_tree *src, const model *m)
{
    long k;
    for (k = 1; k <= SWEEP_LIMIT; k++) {
        int r = copy_once(src, m, k);
        if (r == SWEEP_BROKEN)
            return -1;
        if (r != ART_ENOMEM)
            return k - 1;
    }
    CHECK(!"copy kept failing with ART_ENOMEM");
    return -1;
}

/* ------------------------------------------------------------------ */
/* Edit distance (model.h)                                             */
/* ------------------------------------------------------------------ */

static uint32_t *g_syms, *g_row;
static size_t g_syms_cap, g_row_cap;

void scratch_free(void)
{
    free(g_syms);
    free(g_row);
    g_syms = g_row = NULL;
    g_syms_cap = g_row_cap = 0;
}

uint32_t levenshtein(const uint32_t *a, size_t an, const uint32_t *b, size_t bn)
{
    if (g_row_cap < bn + 1) {
        g_row_cap = bn + 1;
        g_row = xrealloc(g_row, g_row_cap * sizeof *g_row);
    }
    return model_levenshtein(a, an, b, bn, g_row);
}

uint32_t key_distance(const uint8_t *k, size_t len, const uint32_t *q,
                      size_t qn, int flags)
{
    size_t n;
    if (g_syms_cap < len + 1) {
        g_syms_cap = len + 1;
        g_syms = xrealloc(g_syms, g_syms_cap * sizeof *g_syms);
    }
    n = model_symbols(k, len, flags & ART_FUZZY_UTF8, g_syms);
    if (!(flags & (ART_FUZZY_TRANSPOSE | ART_FUZZY_PREFIX)))
        return levenshtein(g_syms, n, q, qn);
    if (g_row_cap < 3 * (qn + 1)) {
        g_row_cap = 3 * (qn + 1);
        g_row = xrealloc(g_row, g_row_cap * sizeof *g_row);
    }
    return model_distance(g_syms, n, q, qn, flags, g_row);
}

/* First model entry at or after `from` within distance d of q. */
size_t model_next_match(const model *m, size_t from, const uint32_t *q,
                        size_t qn, uint32_t d, int flags, uint32_t *dist)
{
    for (; from < m->n; from++) {
        uint32_t dd =
            key_distance(m->a[from].key, m->a[from].len, q, qn, flags);
        if (dd <= d) {
            *dist = dd;
            return from;
        }
    }
    return m->n;
}

/* Drains an initialised fuzzy search and compares it with the model. */
int fuzzy_run_matches(art_fuzzy *f, const model *m, const uint8_t *q,
                      size_t qlen, uint32_t d, int flags)
{
    uint32_t *qs = xmalloc((qlen + 1) * sizeof *qs);
    size_t qn = model_symbols(q, qlen, flags & ART_FUZZY_UTF8, qs), i = 0;
    uint32_t dist = 0;
    int r, ok = 1;

    for (;;) {
        r = art_fuzzy_next(f);
        i = model_next_match(m, i, qs, qn, d, flags, &dist);
        if (i == m->n) {
            ok = CHECK(r == 0);
            if (!ok && r == 1)
                dump_key("fuzzy also found", f->cursor.key, f->cursor.key_len);
            break;
        }
        if (!CHECK(r == 1)) {
            dump_key("fuzzy missed", m->a[i].key, m->a[i].len);
            ok = 0;
            break;
        }
        if (!CHECK(model_key_eq(f->cursor.key, f->cursor.key_len, m->a[i].key,
                                m->a[i].len))) {
            dump_key("fuzzy found", f->cursor.key, f->cursor.key_len);
            dump_key("expected", m->a[i].key, m->a[i].len);
            ok = 0;
            break;
        }
        if (!CHECK(f->distance == dist) ||
            !CHECK(art_cursor_value(&f->cursor) == m->a[i].val)) {
            ok = 0;
            break;
        }
        i++;
    }
    if (!ok) {
        dump_key("query", q, qlen);
        if (verbose())
            fprintf(stderr, "    max_distance %u, flags %d\n", (unsigned)d,
                    flags);
    }
    free(qs);
    return ok;
}

int fuzzy_matches(art_tree *t, const model *m, const uint8_t *q, size_t qlen,
                  uint32_t d, int flags)
{
    art_fuzzy f;
    int ok;
    if (!CHECK(art_fuzzy_init(&f, t, q, qlen, d, flags) == ART_OK))
        return 0;
    ok = fuzzy_run_matches(&f, m, q, qlen, d, flags);
    art_fuzzy_free(&f);
    return ok;
}

long fuzzy_init_sweep(art_tree *t, const model *m, const uint8_t *q,
                      size_t qlen, uint32_t d, int flags)
{
    size_t bytes = t->bytes;
    uint64_t version = t->version;
    long k;
    for (k = 1; k <= SWEEP_LIMIT; k++) {
        art_fuzzy f;
        int r, ok;
        t->fail_countdown = k;
        r = art_fuzzy_init(&f, t, q, qlen, d, flags);
        t->fail_countdown = 0;
        if (r == ART_ENOMEM) {
            if (!CHECK(t->bytes == bytes) || !CHECK(t->version == version) ||
                !tree_matches(t, m))
                return -1;
            continue;
        }
        if (!CHECK(r == ART_OK))
            return -1;
        ok = fuzzy_run_matches(&f, m, q, qlen, d, flags);
        art_fuzzy_free(&f);
        return ok ? k - 1 : -1;
    }
    CHECK(!"fuzzy init kept failing with ART_ENOMEM");
    return -1;
}

/* ------------------------------------------------------------------ */
/* Random keys                                                         */
/* ------------------------------------------------------------------ */

const sym_t g_syms_small[] = {{{0x00}, 1}, {{'a'}, 1}, {{'b'}, 1}, {{0xFF}, 1}};
sym_t g_syms_wide[64];
const size_t g_hot_wide[] = {0, 1, 63};
const sym_t g_syms_utf8[] = {
    {{'a'}, 1},
    {{0xC3, 0xA9}, 2},             /* é */
    {{0xC3, 0xA8}, 2},             /* è: shares its first byte with é */
    {{0xE6, 0x97, 0xA5}, 3},       /* 日 */
    {{0xE6, 0x9C, 0xAC}, 3},       /* 本 */
    {{0xF0, 0x9F, 0x98, 0x80}, 4}, /* U+1F600 */
    {{0xED, 0xA0, 0x80}, 3},       /* U+D800: surrogates are allowed */
};

void init_wide_syms(void)
{
    size_t i;
    /* 0x00..0x1F and 0xE0..0xFF: both extremes, 64 values in all. */
    for (i = 0; i < 64; i++) {
        g_syms_wide[i].b[0] = (uint8_t)(i < 32 ? i : 0xE0 + (i - 32));
        g_syms_wide[i].n = 1;
    }
}

size_t gen_key(const rconf_t *cf, size_t max_syms, uint8_t *out)
{
    size_t n = rnd_below(max_syms + 1), len = 0, i;
    for (i = 0; i < n; i++) {
        const sym_t *s;
        if (i == 0 && cf->hot && rnd_below(100) < 80)
            s = &cf->syms[cf->hot[rnd_below(cf->nhot)]];
        else
            s = &cf->syms[rnd_below(cf->nsyms)];
        memcpy(out + len, s->b, s->n);
        len += s->n;
    }
    return len;
}

/* Seek targets: mostly keys the tree may hold, sometimes bytes between. */
size_t gen_target(const rconf_t *cf, uint8_t *out)
{
    size_t len = gen_key(cf, cf->max_syms + 1, out);
    if (rnd_below(4) == 0) {
        if (len == 0)
            out[len++] = (uint8_t)rnd();
        else
            out[rnd_below(len)] = (uint8_t)rnd();
    }
    return len;
}

void build_random(art_tree *t, model *m, const rconf_t *cf, size_t n)
{
    uint8_t k[RKEY_MAX];
    size_t i;
    for (i = 0; i < n; i++) {
        size_t len = gen_key(cf, cf->max_syms, k);
        tree_insert_both(t, m, k, len, VAL(i + 1));
    }
}

const rconf_t g_wide_conf = {.name = "wide",
                             .syms = g_syms_wide,
                             .nsyms = 64,
                             .hot = g_hot_wide,
                             .nhot = 3,
                             .max_syms = 3,
                             .max_d = 2};
