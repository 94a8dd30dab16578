/*
 * Tests for the ART core.  core/art.h is the contract; core/art.c is the
 * code under test.  `make test-c` builds this file with ASan and UBSan, so
 * every test is also a memory-safety test: a stale cursor or a leak fails
 * the run even when every CHECK passes.
 *
 * Usage: test_art [seed [name]]
 *   seed: for the randomized tests (the default is fixed so runs repeat)
 *   name: run only the tests whose name contains this string
 */
#include "art.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static const char *g_test = "?";
static char g_ctx[160]; /* seed and step of a randomized test, for replay */
static unsigned long g_test_failures;
static unsigned long long g_seed = 20240611ULL;

enum { MAX_REPORTS = 20 };

static int check_failed(const char *file, int line, const char *expr)
{
    g_test_failures++;
    if (g_test_failures <= MAX_REPORTS)
        fprintf(stderr, "%s:%d: [%s%s%s] CHECK failed: %s\n", file, line,
                g_test, g_ctx[0] ? " " : "", g_ctx, expr);
    else if (g_test_failures == MAX_REPORTS + 1)
        fprintf(stderr, "[%s] further failures not shown\n", g_test);
    return 0;
}

/* Evaluates to 1 or 0 so that helpers can stop at the first mismatch. */
#define CHECK(e) ((e) ? 1 : check_failed(__FILE__, __LINE__, #e))
/* For a test that cannot meaningfully go on after this failure. */
#define REQUIRE(e)                                                             \
    do {                                                                       \
        if (!CHECK(e))                                                         \
            return;                                                            \
    } while (0)

static int verbose(void)
{
    return g_test_failures <= MAX_REPORTS;
}

static void dump_key(const char *label, const uint8_t *k, size_t len)
{
    size_t i;
    if (!verbose())
        return;
    fprintf(stderr, "    %s (%zu bytes):", label, len);
    for (i = 0; i < len && i < 48; i++)
        fprintf(stderr, " %02x", k[i]);
    if (len > 48)
        fprintf(stderr, " ...");
    fputc('\n', stderr);
}

static int valid(const art_tree *t)
{
    const char *why = NULL;
    if (art_validate(t, &why) == ART_OK)
        return 1;
    if (verbose())
        fprintf(stderr, "    art_validate: %s\n", why ? why : "(no reason)");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Utilities                                                           */
/* ------------------------------------------------------------------ */

static uint64_t g_rng;

/* splitmix64: tiny, and good enough to drive the randomized tests. */
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void shuffle(size_t *a, size_t n)
{
    size_t i, j, tmp;
    for (i = n; i > 1; i--) {
        j = rnd_below(i);
        tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_art: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "test_art: out of memory\n");
        abort();
    }
    return q;
}

/* Values are opaque to the tree; distinct small integers are enough. */
#define VAL(i) ((void *)(uintptr_t)((uintptr_t)(i)*8u + 8u))
/* A string literal as (key, len); embedded NULs count. */
#define K(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : (al > bl ? 1 : 0);
}

static int key_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static int starts_with(const uint8_t *k, size_t kl, const uint8_t *p, size_t pl)
{
    return kl >= pl && (pl == 0 || memcmp(k, p, pl) == 0);
}

/* A cursor on the empty key may have no key buffer at all. */
static void copy_key(uint8_t *dst, const uint8_t *src, size_t len)
{
    if (len)
        memcpy(dst, src, len);
}

static size_t common_len(const uint8_t *a, size_t al, const uint8_t *b,
                         size_t bl)
{
    size_t i = 0;
    while (i < al && i < bl && a[i] == b[i])
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* The model: a sorted array of (key, value)                           */
/* ------------------------------------------------------------------ */

typedef struct {
    uint8_t *key;
    size_t len;
    void *val;
} kv_t;

typedef struct {
    kv_t *a;
    size_t n, cap;
} model_t;

/* Index of the first entry >= key. */
static size_t model_lb(const model_t *m, const uint8_t *k, size_t len)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(m->a[mid].key, m->a[mid].len, k, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static kv_t *model_find(const model_t *m, const uint8_t *k, size_t len)
{
    size_t i = model_lb(m, k, len);
    if (i < m->n && key_eq(m->a[i].key, m->a[i].len, k, len))
        return &m->a[i];
    return NULL;
}

/* Returns the replaced value, or NULL when the key is new. */
static void *model_put(model_t *m, const uint8_t *k, size_t len, void *v)
{
    size_t i = model_lb(m, k, len);
    if (i < m->n && key_eq(m->a[i].key, m->a[i].len, k, len)) {
        void *old = m->a[i].val;
        m->a[i].val = v;
        return old;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->a = xrealloc(m->a, m->cap * sizeof *m->a);
    }
    memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof *m->a);
    m->a[i].key = xmalloc(len + 1);
    if (len)
        memcpy(m->a[i].key, k, len);
    m->a[i].len = len;
    m->a[i].val = v;
    m->n++;
    return NULL;
}

/* Returns the removed value, or NULL when the key was absent. */
static void *model_del(model_t *m, const uint8_t *k, size_t len)
{
    size_t i = model_lb(m, k, len);
    void *old;
    if (i >= m->n || !key_eq(m->a[i].key, m->a[i].len, k, len))
        return NULL;
    old = m->a[i].val;
    free(m->a[i].key);
    memmove(&m->a[i], &m->a[i + 1], (m->n - i - 1) * sizeof *m->a);
    m->n--;
    return old;
}

static void model_free(model_t *m)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        free(m->a[i].key);
    free(m->a);
    m->a = NULL;
    m->n = m->cap = 0;
}

/* Where a seek lands in the model: an index, or m->n for "no key". */
static size_t model_seek(const model_t *m, const uint8_t *k, size_t len,
                         art_seek_mode mode)
{
    size_t lb = model_lb(m, k, len);
    int exact = lb < m->n && key_eq(m->a[lb].key, m->a[lb].len, k, len);
    switch (mode) {
    case ART_SEEK_GE:
        return lb;
    case ART_SEEK_GT:
        return exact ? lb + 1 : lb;
    case ART_SEEK_LE:
        if (exact)
            return lb;
        return lb ? lb - 1 : m->n;
    case ART_SEEK_LT:
        return lb ? lb - 1 : m->n;
    }
    return m->n;
}

/* Both the tree and the model must agree on every key and value. */
static int tree_insert_both(art_tree *t, model_t *m, const uint8_t *k,
                            size_t len, void *v)
{
    void *old = VAL(999999);
    void *want = model_put(m, k, len, v);
    int r = art_insert(t, k, len, v, &old);
    return CHECK(r == (want ? 0 : 1)) && CHECK(old == want);
}

static int tree_delete_both(art_tree *t, model_t *m, const uint8_t *k,
                            size_t len)
{
    void *old = NULL;
    void *want = model_del(m, k, len);
    int r = art_delete(t, k, len, &old);
    if (!CHECK(r == (want ? 1 : 0)))
        return 0;
    return !want || CHECK(old == want);
}

/* The cursor must sit on entry i of the model (i == m->n: nowhere). */
static int cursor_on(const art_cursor *c, int r, const model_t *m, size_t i)
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
    if (!CHECK(key_eq(c->key, c->key_len, m->a[i].key, m->a[i].len))) {
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
static int tree_matches(art_tree *t, const model_t *m)
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

static size_t total_nodes(const art_stats_t *s)
{
    size_t n = 0;
    int k;
    for (k = 0; k < ART_NODE_KINDS; k++)
        n += s->nodes[k];
    return n;
}

static int stats_consistent(const art_tree *t)
{
    art_stats_t s;
    art_stats(t, &s);
    return CHECK(s.leaves + s.node_values == t->size) &&
           CHECK(s.bytes == t->bytes) &&
           CHECK((t->size < 2) == (total_nodes(&s) == 0));
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t calls;
    uintptr_t sum;
} tally_t;

static void tally_value(void *value, void *ctx)
{
    tally_t *tc = ctx;
    tc->calls++;
    tc->sum += (uintptr_t)value;
}

static uintptr_t model_value_sum(const model_t *m)
{
    uintptr_t s = 0;
    size_t i;
    for (i = 0; i < m->n; i++)
        s += (uintptr_t)m->a[i].val;
    return s;
}

typedef struct {
    const model_t *m;
    size_t seen, stop_after;
    int in_order;
} visit_t;

static int visit_in_order(void *value, void *ctx)
{
    visit_t *v = ctx;
    if (v->seen >= v->m->n || v->m->a[v->seen].val != value)
        v->in_order = 0;
    v->seen++;
    return v->stop_after && v->seen == v->stop_after ? 42 : 0;
}

static int visit_count(void *value, void *ctx)
{
    (void)value;
    (*(size_t *)ctx)++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Fault-injection sweeps                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    int is_delete;
    const uint8_t *key;
    size_t len;
    void *val;
    void *old;
} mut_t;

enum { SWEEP_LIMIT = 100000, SWEEP_BROKEN = -100 };

/*
 * Runs an insert or delete with the k-th allocation failing, k = 1, 2, ...
 * until it goes through.  After every ART_ENOMEM the tree must be exactly
 * what m describes, with the same byte count and version.  Returns the
 * final result (SWEEP_BROKEN on a failed check); *failures counts the
 * ART_ENOMEM results.
 */
static int mutate_sweep(art_tree *t, const model_t *m, mut_t *op,
                        int full_compare, long *failures)
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
static long seek_sweep(art_tree *t, const model_t *m, const uint8_t *key,
                       size_t len, art_seek_mode mode)
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
static int copy_once(art_tree *src, const model_t *m, long k)
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

static long copy_sweep(art_tree *src, const model_t *m)
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
/* Edit distance, the slow and obvious way                             */
/* ------------------------------------------------------------------ */

/* Code points of well-formed UTF-8 (all the tests store), or bytes. */
static size_t to_symbols(const uint8_t *s, size_t len, int utf8, uint32_t *out)
{
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t c = s[i++];
        int extra = 0;
        if (utf8) {
            if (c >= 0xF0) {
                c &= 0x07;
                extra = 3;
            } else if (c >= 0xE0) {
                c &= 0x0F;
                extra = 2;
            } else if (c >= 0xC0) {
                c &= 0x1F;
                extra = 1;
            }
        }
        while (extra-- > 0 && i < len)
            c = (c << 6) | (s[i++] & 0x3Fu);
        out[n++] = c;
    }
    return n;
}

static uint32_t *g_syms, *g_row;
static size_t g_syms_cap, g_row_cap;

static void scratch_free(void)
{
    free(g_syms);
    free(g_row);
    g_syms = g_row = NULL;
    g_syms_cap = g_row_cap = 0;
}

static uint32_t levenshtein(const uint32_t *a, size_t an, const uint32_t *b,
                            size_t bn)
{
    size_t i, j;
    if (g_row_cap < bn + 1) {
        g_row_cap = bn + 1;
        g_row = xrealloc(g_row, g_row_cap * sizeof *g_row);
    }
    for (j = 0; j <= bn; j++)
        g_row[j] = (uint32_t)j;
    for (i = 1; i <= an; i++) {
        uint32_t diag = g_row[0];
        g_row[0] = (uint32_t)i;
        for (j = 1; j <= bn; j++) {
            uint32_t up = g_row[j];
            uint32_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (g_row[j - 1] + 1 < best)
                best = g_row[j - 1] + 1;
            g_row[j] = best;
            diag = up;
        }
    }
    return g_row[bn];
}

static uint32_t key_distance(const uint8_t *k, size_t len, const uint32_t *q,
                             size_t qn, int utf8)
{
    size_t n;
    if (g_syms_cap < len + 1) {
        g_syms_cap = len + 1;
        g_syms = xrealloc(g_syms, g_syms_cap * sizeof *g_syms);
    }
    n = to_symbols(k, len, utf8, g_syms);
    return levenshtein(g_syms, n, q, qn);
}

/* First model entry at or after `from` within distance d of q. */
static size_t model_next_match(const model_t *m, size_t from, const uint32_t *q,
                               size_t qn, uint32_t d, int utf8, uint32_t *dist)
{
    for (; from < m->n; from++) {
        uint32_t dd = key_distance(m->a[from].key, m->a[from].len, q, qn, utf8);
        if (dd <= d) {
            *dist = dd;
            return from;
        }
    }
    return m->n;
}

/* Drains an initialised fuzzy search and compares it with the model. */
static int fuzzy_run_matches(art_fuzzy *f, const model_t *m, const uint8_t *q,
                             size_t qlen, uint32_t d, int utf8)
{
    uint32_t *qs = xmalloc((qlen + 1) * sizeof *qs);
    size_t qn = to_symbols(q, qlen, utf8, qs), i = 0;
    uint32_t dist = 0;
    int r, ok = 1;

    for (;;) {
        r = art_fuzzy_next(f);
        i = model_next_match(m, i, qs, qn, d, utf8, &dist);
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
        if (!CHECK(key_eq(f->cursor.key, f->cursor.key_len, m->a[i].key,
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
            fprintf(stderr, "    max_distance %u, utf8 %d\n", (unsigned)d,
                    utf8);
    }
    free(qs);
    return ok;
}

static int fuzzy_matches(art_tree *t, const model_t *m, const uint8_t *q,
                         size_t qlen, uint32_t d, int utf8)
{
    art_fuzzy f;
    int ok;
    if (!CHECK(art_fuzzy_init(&f, t, q, qlen, d, utf8) == ART_OK))
        return 0;
    ok = fuzzy_run_matches(&f, m, q, qlen, d, utf8);
    art_fuzzy_free(&f);
    return ok;
}

static long fuzzy_init_sweep(art_tree *t, const model_t *m, const uint8_t *q,
                             size_t qlen, uint32_t d, int utf8)
{
    size_t bytes = t->bytes;
    uint64_t version = t->version;
    long k;
    for (k = 1; k <= SWEEP_LIMIT; k++) {
        art_fuzzy f;
        int r, ok;
        t->fail_countdown = k;
        r = art_fuzzy_init(&f, t, q, qlen, d, utf8);
        t->fail_countdown = 0;
        if (r == ART_ENOMEM) {
            if (!CHECK(t->bytes == bytes) || !CHECK(t->version == version) ||
                !tree_matches(t, m))
                return -1;
            continue;
        }
        if (!CHECK(r == ART_OK))
            return -1;
        ok = fuzzy_run_matches(&f, m, q, qlen, d, utf8);
        art_fuzzy_free(&f);
        return ok ? k - 1 : -1;
    }
    CHECK(!"fuzzy init kept failing with ART_ENOMEM");
    return -1;
}

/* ------------------------------------------------------------------ */
/* Basics                                                              */
/* ------------------------------------------------------------------ */

static void test_empty_tree(void)
{
    art_tree t, cp;
    art_cursor c;
    art_fuzzy f;
    art_stats_t s;
    size_t fl = 7, visits = 0;
    tally_t tc = {0, 0};
    int mode, kind;

    art_tree_init(&t);
    CHECK(t.root == 0);
    CHECK(t.size == 0);
    CHECK(t.bytes == 0);
    CHECK(t.fail_countdown == 0);
    CHECK(valid(&t));
    CHECK(art_search(&t, K("")) == NULL);
    CHECK(art_search(&t, K("a")) == NULL);
    CHECK(art_search_slot(&t, K("")) == NULL);
    CHECK(art_delete(&t, K(""), NULL) == 0);
    CHECK(art_delete(&t, K("abc"), NULL) == 0);
    CHECK(art_foreach(&t, visit_count, &visits) == 0);
    CHECK(visits == 0);
    CHECK(art_prefix_at_least(&t, K("abc"), 0, &fl) == NULL);
    CHECK(art_longest_prefix(&t, K("abc"), &fl) == NULL);

    art_stats(&t, &s);
    for (kind = 0; kind < ART_NODE_KINDS; kind++)
        CHECK(s.nodes[kind] == 0);
    CHECK(s.leaves == 0);
    CHECK(s.node_values == 0);
    CHECK(s.max_depth == 0);
    CHECK(s.bytes == 0);

    art_cursor_init(&c, &t);
    CHECK(art_cursor_first(&c) == 0);
    CHECK(c.at == 0);
    CHECK(art_cursor_last(&c) == 0);
    CHECK(art_cursor_next(&c) == 0);
    CHECK(art_cursor_prev(&c) == 0);
    for (mode = ART_SEEK_GE; mode <= ART_SEEK_LT; mode++) {
        CHECK(art_cursor_seek(&c, K(""), (art_seek_mode)mode) == 0);
        CHECK(art_cursor_seek(&c, K("m"), (art_seek_mode)mode) == 0);
    }
    art_cursor_free(&c);

    if (CHECK(art_fuzzy_init(&f, &t, K(""), 3, 0) == ART_OK)) {
        CHECK(art_fuzzy_next(&f) == 0);
        art_fuzzy_free(&f);
    }

    art_tree_init(&cp);
    CHECK(art_tree_copy(&cp, &t) == ART_OK);
    CHECK(cp.size == 0);
    CHECK(cp.root == 0);
    CHECK(valid(&cp));
    art_tree_clear(&cp, NULL, NULL);

    art_tree_clear(&t, tally_value, &tc);
    CHECK(tc.calls == 0);
    CHECK(valid(&t));
    art_tree_clear(&t, NULL, NULL);
}

static void test_insert_search_delete(void)
{
    art_tree t;
    void *old;
    void **slot;
    uint64_t v;

    art_tree_init(&t);
    old = VAL(99);
    CHECK(art_insert(&t, K("abc"), VAL(1), &old) == 1);
    CHECK(old == NULL);
    CHECK(t.size == 1);
    CHECK(t.bytes > 0);
    CHECK(valid(&t));

    /* Replacing a value is not a change of structure. */
    v = t.version;
    CHECK(art_insert(&t, K("abc"), VAL(2), &old) == 0);
    CHECK(old == VAL(1));
    CHECK(t.version == v);
    CHECK(art_insert(&t, K("abc"), VAL(3), NULL) == 0);
    CHECK(t.version == v);
    CHECK(t.size == 1);
    CHECK(art_search(&t, K("abc")) == VAL(3));
    CHECK(art_search(&t, K("ab")) == NULL);
    CHECK(art_search(&t, K("abcd")) == NULL);
    CHECK(art_search(&t, K("abd")) == NULL);
    CHECK(art_search(&t, K("")) == NULL);

    /* NULL values are refused and change nothing, new key or old. */
    old = VAL(5);
    CHECK(art_insert(&t, K("xyz"), NULL, &old) == ART_EINVAL);
    CHECK(art_insert(&t, K("abc"), NULL, &old) == ART_EINVAL);
    CHECK(art_insert(&t, K(""), NULL, NULL) == ART_EINVAL);
    CHECK(t.size == 1);
    CHECK(t.version == v);
    CHECK(art_search(&t, K("abc")) == VAL(3));
    CHECK(art_search(&t, K("xyz")) == NULL);
#if SIZE_MAX > UINT32_MAX
    /* Lengths are stored in 32 bits.  The buffer is only 3 bytes: the
       length must be refused before the key is read. */
    CHECK(art_insert(&t, K("xyz"), VAL(6), NULL) == 1);
    CHECK(art_insert(&t, (const uint8_t *)"xyz", ART_MAX_KEY_LEN + 1, VAL(7),
                     &old) == ART_EINVAL);
    CHECK(art_search(&t, K("xyz")) == VAL(6));
    CHECK(art_delete(&t, K("xyz"), NULL) == 1);
    v = t.version;
#endif
    CHECK(t.size == 1);
    CHECK(valid(&t));

    CHECK(art_insert(&t, K("abd"), VAL(4), &old) == 1);
    CHECK(old == NULL);
    CHECK(t.version != v);
    CHECK(t.size == 2);
    CHECK(valid(&t));

    /* search_slot hands out the value slot itself. */
    slot = art_search_slot(&t, K("abd"));
    if (CHECK(slot != NULL)) {
        CHECK(*slot == VAL(4));
        *slot = VAL(40);
        CHECK(art_search(&t, K("abd")) == VAL(40));
    }
    CHECK(art_search_slot(&t, K("ab")) == NULL);
    CHECK(art_search_slot(&t, K("abdd")) == NULL);
    /* The slot outlives anything that leaves the structure alone: a
       replace, a failed insert, a delete of an absent key. */
    CHECK(art_insert(&t, K("abc"), VAL(30), NULL) == 0);
    t.fail_countdown = 1;
    CHECK(art_insert(&t, K("abx"), VAL(9), NULL) == ART_ENOMEM);
    t.fail_countdown = 0;
    CHECK(art_delete(&t, K("abz"), NULL) == 0);
    if (slot) {
        *slot = VAL(41);
        CHECK(art_search(&t, K("abd")) == VAL(41));
    }
    CHECK(art_search(&t, K("abc")) == VAL(30));
    CHECK(art_insert(&t, K("abc"), VAL(3), NULL) == 0);

    v = t.version;
    CHECK(art_delete(&t, K("zzz"), &old) == 0);
    CHECK(art_delete(&t, K("ab"), &old) == 0);
    CHECK(art_delete(&t, K("abcd"), &old) == 0);
    CHECK(t.size == 2);
    CHECK(t.version == v);
    old = NULL;
    CHECK(art_delete(&t, K("abc"), &old) == 1);
    CHECK(old == VAL(3));
    CHECK(t.version != v);
    CHECK(t.size == 1);
    CHECK(art_search(&t, K("abc")) == NULL);
    CHECK(art_search(&t, K("abd")) == VAL(41));
    CHECK(art_delete(&t, K("abc"), &old) == 0);
    CHECK(valid(&t));
    CHECK(art_delete(&t, K("abd"), NULL) == 1);
    CHECK(t.size == 0);
    CHECK(t.root == 0);
    CHECK(t.bytes == 0);
    CHECK(valid(&t));
    art_tree_clear(&t, NULL, NULL);
}

static const size_t g_perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                      {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* "key", "key1" and "key123" are three keys, whatever the order. */
static void test_keys_that_are_prefixes(void)
{
    static const char *const keys[3] = {"key", "key1", "key123"};
    int p, q, j;

    for (p = 0; p < 6; p++) {
        for (q = 0; q < 6; q++) {
            art_tree t;
            art_stats_t s;
            int present[3] = {0, 0, 0};
            art_tree_init(&t);
            for (j = 0; j < 3; j++) {
                size_t w = g_perms3[p][j], i;
                const char *kk = keys[w];
                CHECK(art_insert(&t, (const uint8_t *)kk, strlen(kk), VAL(w),
                                 NULL) == 1);
                present[w] = 1;
                CHECK(valid(&t));
                for (i = 0; i < 3; i++)
                    CHECK(art_search(&t, (const uint8_t *)keys[i],
                                     strlen(keys[i])) ==
                          (present[i] ? VAL(i) : NULL));
            }
            /* "key" and "key1" each end at an inner node; "key123" is
               the only leaf. */
            art_stats(&t, &s);
            CHECK(s.nodes[ART_NODE4] == 2);
            CHECK(total_nodes(&s) == 2);
            CHECK(s.leaves == 1);
            CHECK(s.node_values == 2);
            CHECK(art_search(&t, K("key12")) == NULL);
            CHECK(art_search(&t, K("ke")) == NULL);
            CHECK(art_search(&t, K("key1234")) == NULL);
            for (j = 0; j < 3; j++) {
                size_t w = g_perms3[q][j], i;
                void *old = NULL;
                const char *kk = keys[w];
                CHECK(art_delete(&t, (const uint8_t *)kk, strlen(kk), &old) ==
                      1);
                CHECK(old == VAL(w));
                present[w] = 0;
                CHECK(valid(&t));
                CHECK(stats_consistent(&t));
                for (i = 0; i < 3; i++)
                    CHECK(art_search(&t, (const uint8_t *)keys[i],
                                     strlen(keys[i])) ==
                          (present[i] ? VAL(i) : NULL));
            }
            CHECK(t.root == 0);
            CHECK(t.bytes == 0);
            art_tree_clear(&t, NULL, NULL);
        }
    }
}

typedef struct {
    const char *s;
    size_t len;
} lit_t;
#define LIT(s)                                                                 \
    {                                                                          \
        (s), sizeof(s) - 1                                                     \
    }

/* The empty key, NUL and 0xFF bytes anywhere: no byte is reserved. */
static void test_empty_key_and_extreme_bytes(void)
{
    /* Already in key order. */
    static const lit_t keys[] = {
        LIT(""),
        LIT("\0"),
        LIT("\0\0"),
        LIT("\0\xff"),
        LIT("\x01"),
        LIT("a"),
        LIT("a\0"),
        LIT("a\0"
            "b"),
        LIT("a\0"
            "b\0"),
        LIT("a\xff"),
        LIT("a\xff\xff"),
        LIT("\xff"),
        LIT("\xff\0"),
        LIT("\xff\xff"),
        LIT("\xff\xff\xff"),
    };
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    size_t order[NKEYS], i, round;
    art_tree t;
    art_cursor c;
    int r;

    /* The empty key alone, then beside other keys. */
    art_tree_init(&t);
    CHECK(art_insert(&t, K(""), VAL(1), NULL) == 1);
    CHECK(art_search(&t, K("")) == VAL(1));
    CHECK(art_search(&t, K("\0")) == NULL);
    CHECK(valid(&t));
    art_cursor_init(&c, &t);
    CHECK(art_cursor_first(&c) == 1 && c.key_len == 0);
    CHECK(art_cursor_next(&c) == 0);
    CHECK(art_insert(&t, K("\0"), VAL(2), NULL) == 1);
    CHECK(art_search(&t, K("")) == VAL(1));
    CHECK(art_search(&t, K("\0")) == VAL(2));
    CHECK(art_cursor_first(&c) == 1 && c.key_len == 0);
    CHECK(art_cursor_next(&c) == 1 && c.key_len == 1 && c.key[0] == 0);
    CHECK(art_delete(&t, K(""), NULL) == 1);
    CHECK(valid(&t));
    CHECK(art_search(&t, K("\0")) == VAL(2));
    CHECK(art_search(&t, K("")) == NULL);
    art_cursor_free(&c);
    art_tree_clear(&t, NULL, NULL);

    for (i = 0; i < NKEYS; i++)
        order[i] = i;
    for (round = 0; round < 20; round++) {
        art_tree_init(&t);
        shuffle(order, NKEYS);
        for (i = 0; i < NKEYS; i++)
            CHECK(art_insert(&t, (const uint8_t *)keys[order[i]].s,
                             keys[order[i]].len, VAL(order[i]), NULL) == 1);
        CHECK(valid(&t));
        art_cursor_init(&c, &t);
        for (i = 0, r = art_cursor_first(&c); r == 1 && i < NKEYS;
             r = art_cursor_next(&c), i++) {
            if (!CHECK(key_eq(c.key, c.key_len, (const uint8_t *)keys[i].s,
                              keys[i].len)))
                break;
            CHECK(art_cursor_value(&c) == VAL(i));
        }
        CHECK(i == NKEYS && r == 0);
        for (i = NKEYS, r = art_cursor_last(&c); r == 1 && i > 0;
             r = art_cursor_prev(&c), i--)
            if (!CHECK(key_eq(c.key, c.key_len, (const uint8_t *)keys[i - 1].s,
                              keys[i - 1].len)))
                break;
        CHECK(i == 0 && r == 0);
        art_cursor_free(&c);

        shuffle(order, NKEYS);
        for (i = 0; i < NKEYS; i++) {
            size_t j;
            void *old = NULL;
            CHECK(art_delete(&t, (const uint8_t *)keys[order[i]].s,
                             keys[order[i]].len, &old) == 1);
            CHECK(old == VAL(order[i]));
            CHECK(valid(&t));
            for (j = 0; j < NKEYS; j++) {
                size_t w = order[j];
                CHECK(art_search(&t, (const uint8_t *)keys[w].s, keys[w].len) ==
                      (j > i ? VAL(w) : NULL));
            }
        }
        CHECK(t.size == 0);
        art_tree_clear(&t, NULL, NULL);
        if (g_test_failures)
            break;
    }
}

/* ------------------------------------------------------------------ */
/* Node kinds                                                          */
/* ------------------------------------------------------------------ */

static const size_t g_kind_cap[ART_NODE_KINDS] = {4, 16, 48, 256};

static int kind_for(size_t children)
{
    return children <= 4    ? ART_NODE4
           : children <= 16 ? ART_NODE16
           : children <= 48 ? ART_NODE48
                            : ART_NODE256;
}

/* The kind of the one inner node beyond `base`, -1 if there is none, -2
   if the counts are not `base` plus at most one node. */
static int extra_node_kind(const art_stats_t *s,
                           const size_t base[ART_NODE_KINDS])
{
    int k, kind = -1;
    size_t extra = 0;
    for (k = 0; k < ART_NODE_KINDS; k++) {
        if (s->nodes[k] < base[k])
            return -2;
        if (s->nodes[k] > base[k]) {
            extra += s->nodes[k] - base[k];
            kind = k;
        }
    }
    if (extra == 0)
        return -1;
    return extra == 1 ? kind : -2;
}

/*
 * Children "pre"+b are added to one node until it has all 256, then
 * removed again.  with_value: "pre" itself is a key, so the node survives
 * with a single child.  nested: a key "q" forces a root Node4 above it.
 * order: 0 ascending, 1 descending, 2 random.
 */
static void node_transitions(int with_value, int nested, int order)
{
    art_tree t;
    model_t m = {0};
    art_stats_t s;
    size_t ins[256], del[256], base[ART_NODE_KINDS] = {0, 0, 0, 0}, i;
    uint8_t key[4] = {'p', 'r', 'e', 0};
    int kind, prev_kind = ART_NODE256;

    for (i = 0; i < 256; i++) {
        ins[i] = order == 1 ? 255 - i : i;
        del[i] = order == 0 ? 255 - i : i;
    }
    if (order == 2) {
        shuffle(ins, 256);
        shuffle(del, 256);
    }
    art_tree_init(&t);
    if (nested) {
        tree_insert_both(&t, &m, K("q"), VAL(1000));
        base[ART_NODE4] = 1;
    }
    if (with_value)
        tree_insert_both(&t, &m, key, 3, VAL(1001));

    for (i = 1; i <= 256; i++) {
        key[3] = (uint8_t)ins[i - 1];
        if (!tree_insert_both(&t, &m, key, 4, VAL(ins[i - 1])) ||
            !CHECK(valid(&t)))
            goto out;
        art_stats(&t, &s);
        kind = extra_node_kind(&s, base);
        if (i + (size_t)with_value < 2)
            CHECK(kind == -1);
        else if (!CHECK(kind == kind_for(i)) && verbose())
            fprintf(stderr, "    %zu children: kind %d, expected %d\n", i, kind,
                    kind_for(i));
        CHECK(s.leaves == i + (size_t)nested);
        CHECK(s.node_values == (size_t)with_value);
        if ((i % 16 == 0 || i <= 6 || (i >= 15 && i <= 18) ||
             (i >= 47 && i <= 50)) &&
            !tree_matches(&t, &m))
            goto out;
        if (g_test_failures)
            goto out;
    }

    for (i = 0; i < 256; i++) {
        size_t left = 255 - i;
        key[3] = (uint8_t)del[i];
        if (!tree_delete_both(&t, &m, key, 4) || !CHECK(valid(&t)))
            goto out;
        art_stats(&t, &s);
        if (left + (size_t)with_value == 0) {
            CHECK(total_nodes(&s) == 0);
        } else if (left + (size_t)with_value == 1) {
            /* A node left with one child and no value is merged away. */
            CHECK(extra_node_kind(&s, base) == -1);
        } else {
            kind = extra_node_kind(&s, base);
            if (!CHECK(kind >= 0))
                goto out;
            CHECK(g_kind_cap[kind] >= left);
            CHECK(kind <= prev_kind); /* deleting never grows a node */
            if (left <= 3 && !CHECK(kind == ART_NODE4) && verbose())
                fprintf(stderr, "    %zu children left: kind %d\n", left, kind);
            prev_kind = kind;
        }
        CHECK(s.leaves ==
              left + (size_t)nested + (left == 0 && with_value ? 1u : 0u));
        if ((i % 16 == 0 || left <= 5) && !tree_matches(&t, &m))
            goto out;
        if (g_test_failures)
            goto out;
    }
    CHECK(tree_matches(&t, &m));
out:
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static void test_node_grow_and_shrink(void)
{
    int with_value, nested, order;
    for (with_value = 0; with_value < 2; with_value++)
        for (nested = 0; nested < 2; nested++)
            for (order = 0; order < 3; order++) {
                snprintf(g_ctx, sizeof g_ctx,
                         "with_value=%d nested=%d order=%d", with_value, nested,
                         order);
                node_transitions(with_value, nested, order);
                if (g_test_failures)
                    return;
            }
}

/* Bytes of the root node alone when it holds the empty key's value and
   n one-byte keys (each a 16-byte leaf with no suffix).  Node4 and Node16
   come in two sizes each (docs/format.md); growing goes through every
   size, shrinking goes to a kind at its larger size and stays there. */
static size_t root_bytes_for(size_t n, int growing)
{
    static const size_t node4_2 = 16 + 8 + 2 * 8, node4 = 16 + 8 + 4 * 8,
                        node16_8 = 16 + 8 + 8 * 8, node16 = 16 + 16 + 16 * 8,
                        node48 = 16 + 256 + 48 * 8, node256 = 16 + 256 * 8;
    if (growing)
        return n <= 2    ? node4_2
               : n <= 4  ? node4
               : n <= 8  ? node16_8
               : n <= 16 ? node16
               : n <= 48 ? node48
                         : node256;
    return n <= 3 ? node4 : n <= 12 ? node16 : n <= 37 ? node48 : node256;
}

static void test_node_sizes(void)
{
    art_tree t;
    model_t m = {0};
    art_stats_t s;
    uint8_t k;
    size_t n;

    art_tree_init(&t);
    tree_insert_both(&t, &m, K(""), VAL(1000));
    for (n = 1; n <= 256; n++) {
        k = (uint8_t)(n - 1);
        tree_insert_both(&t, &m, &k, 1, VAL(n));
        art_stats(&t, &s);
        if (!CHECK(s.bytes == root_bytes_for(n, 1) + 16 * n) && verbose())
            fprintf(stderr, "    growing to %zu children: %zu bytes\n", n,
                    s.bytes - 16 * n);
        if (!CHECK(valid(&t)))
            break;
    }
    for (n = 255; n >= 1 && !g_test_failures; n--) {
        k = (uint8_t)n;
        tree_delete_both(&t, &m, &k, 1);
        art_stats(&t, &s);
        if (!CHECK(s.bytes == root_bytes_for(n, 0) + 16 * n) && verbose())
            fprintf(stderr, "    shrinking to %zu children: %zu bytes\n", n,
                    s.bytes - 16 * n);
        if (!CHECK(valid(&t)))
            break;
    }
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* Insert and delete around every threshold, in both directions, so that
   hysteresis never leaves a node too small or invalid. */
static void test_node_oscillation(void)
{
    static const size_t bands[][2] = {{1, 7},   {2, 20},  {12, 22}, {40, 56},
                                      {10, 60}, {3, 256}, {44, 256}};
    art_tree t;
    model_t m = {0};
    uint8_t key[3] = {'o', 's', 0};
    size_t b, round;

    art_tree_init(&t);
    tree_insert_both(&t, &m, key, 2, VAL(7777));
    for (b = 0; b < sizeof bands / sizeof bands[0]; b++) {
        size_t lo = bands[b][0], hi = bands[b][1];
        for (round = 0; round < 6; round++) {
            size_t target = round % 2 ? lo : hi;
            while (m.n - 1 != target) {
                art_stats_t s;
                int kind;
                size_t children;
                key[2] = (uint8_t)rnd_below(256);
                if (m.n - 1 < target) {
                    if (model_find(&m, key, 3))
                        continue;
                    if (!tree_insert_both(&t, &m, key, 3, VAL(key[2])))
                        goto out;
                } else {
                    if (!model_find(&m, key, 3))
                        continue;
                    if (!tree_delete_both(&t, &m, key, 3))
                        goto out;
                }
                if (!CHECK(valid(&t)))
                    goto out;
                children = m.n - 1;
                art_stats(&t, &s);
                if (children == 0) {
                    CHECK(total_nodes(&s) == 0);
                    continue;
                }
                if (!CHECK(total_nodes(&s) == 1))
                    goto out;
                for (kind = 0; s.nodes[kind] == 0; kind++)
                    ;
                CHECK(g_kind_cap[kind] >= children);
                if (children <= 3)
                    CHECK(kind == ART_NODE4);
                if (g_test_failures)
                    goto out;
            }
            if (!tree_matches(&t, &m))
                goto out;
        }
    }
out:
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* The root with all 256 children and a value, and children with
   subtrees of their own. */
static void test_node256_all_bytes(void)
{
    art_tree t;
    model_t m = {0};
    art_stats_t s;
    art_cursor c;
    size_t order[256 * 3], i;
    int r;
    uint8_t key[2];

    art_tree_init(&t);
    tree_insert_both(&t, &m, K(""), VAL(5000));
    for (i = 0; i < 256; i++)
        order[i] = i;
    shuffle(order, 256);
    for (i = 0; i < 256; i++) {
        key[0] = (uint8_t)order[i];
        tree_insert_both(&t, &m, key, 1, VAL(order[i]));
    }
    REQUIRE(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(s.nodes[ART_NODE256] == 1);
    CHECK(total_nodes(&s) == 1);
    CHECK(s.leaves == 256);
    CHECK(s.node_values == 1);

    art_cursor_init(&c, &t);
    CHECK(art_cursor_first(&c) == 1 && c.key_len == 0);
    for (i = 0; i < 256; i++) {
        r = art_cursor_next(&c);
        if (!CHECK(r == 1 && c.key_len == 1 && c.key[0] == i))
            break;
    }
    CHECK(art_cursor_next(&c) == 0);
    for (i = 0; i < 256; i++) {
        key[0] = (uint8_t)i;
        CHECK(
            cursor_on(&c, art_cursor_seek(&c, key, 1, ART_SEEK_GT), &m, i + 2));
        CHECK(cursor_on(&c, art_cursor_seek(&c, key, 1, ART_SEEK_LT), &m, i));
    }
    art_cursor_free(&c);

    /* Deeper: every child byte with its own small subtree. */
    for (i = 0; i < 256; i++) {
        key[0] = (uint8_t)i;
        key[1] = 0x00;
        tree_insert_both(&t, &m, key, 2, VAL(1000 + i));
        key[1] = 0xFF;
        tree_insert_both(&t, &m, key, 2, VAL(2000 + i));
    }
    REQUIRE(tree_matches(&t, &m));

    /* Remove everything but the empty key in random order. */
    {
        size_t n = m.n - 1;
        model_t keys = {0};
        for (i = 1; i < m.n; i++)
            model_put(&keys, m.a[i].key, m.a[i].len, NULL);
        for (i = 0; i < n; i++)
            order[i] = i;
        shuffle(order, n);
        for (i = 0; i < n; i++) {
            const kv_t *e = &keys.a[order[i]];
            if (!tree_delete_both(&t, &m, e->key, e->len) || !CHECK(valid(&t)))
                break;
            if (i % 64 == 0 && !tree_matches(&t, &m))
                break;
        }
        model_free(&keys);
    }
    CHECK(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 0);
    CHECK(s.leaves == 1);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static void test_stats_simple(void)
{
    art_tree t;
    art_stats_t s;

    art_tree_init(&t);
    art_insert(&t, K("abc"), VAL(1), NULL);
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 0);
    CHECK(s.leaves == 1);
    CHECK(s.node_values == 0);
    CHECK(s.max_depth == 0);
    CHECK(s.mean_depth == 0.0);
    CHECK(s.bytes == t.bytes && s.bytes > 0);

    art_insert(&t, K("abd"), VAL(2), NULL);
    art_insert(&t, K("x"), VAL(3), NULL);
    /* root -> 'a' -> node "b" -> {c, d}; root -> 'x' */
    art_stats(&t, &s);
    CHECK(s.nodes[ART_NODE4] == 2);
    CHECK(total_nodes(&s) == 2);
    CHECK(s.leaves == 3);
    CHECK(s.max_depth == 2);
    CHECK(s.mean_depth > 5.0 / 3 - 1e-9 && s.mean_depth < 5.0 / 3 + 1e-9);
    CHECK(s.bytes == t.bytes);

    art_insert(&t, K(""), VAL(4), NULL);
    art_stats(&t, &s);
    CHECK(s.node_values == 1);
    CHECK(s.leaves == 3);
    CHECK(valid(&t));
    art_tree_clear(&t, NULL, NULL);
    art_stats(&t, &s);
    CHECK(s.leaves == 0 && total_nodes(&s) == 0 && s.bytes == 0);
}

/* Deleting the key that keeps a node alive merges the node away. */
static void test_merge_on_delete(void)
{
    art_tree t;
    model_t m = {0};
    art_stats_t s;
    uint8_t *a = xmalloc(700), *key = xmalloc(720);
    size_t i;

    art_tree_init(&t);
    tree_insert_both(&t, &m, K("ab"), VAL(1));
    tree_insert_both(&t, &m, K("abcd"), VAL(2));
    tree_insert_both(&t, &m, K("abce"), VAL(3));
    tree_delete_both(&t, &m, K("ab"));
    CHECK(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 1 && s.leaves == 2 && s.node_values == 0);
    tree_delete_both(&t, &m, K("abcd"));
    CHECK(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 0 && s.leaves == 1);
    tree_delete_both(&t, &m, K("abce"));

    /* The value's key goes, the leaf below takes over its place. */
    tree_insert_both(&t, &m, K("ab"), VAL(4));
    tree_insert_both(&t, &m, K("abcdef"), VAL(5));
    tree_delete_both(&t, &m, K("ab"));
    CHECK(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 0 && s.leaves == 1);
    /* The child goes, the node's value becomes a leaf. */
    tree_insert_both(&t, &m, K("ab"), VAL(6));
    tree_delete_both(&t, &m, K("abcdef"));
    CHECK(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 0 && s.leaves == 1 && s.node_values == 0);
    tree_delete_both(&t, &m, K("ab"));
    CHECK(t.root == 0 && t.bytes == 0);

    /* Merging concatenates long prefixes: A + 'x' + B, 601 bytes. */
    for (i = 0; i < 700; i++)
        a[i] = (uint8_t)(i * 131 + 7);
    memcpy(key, a, 300);
    tree_insert_both(&t, &m, key, 300, VAL(10));
    key[300] = 'x';
    memcpy(key + 301, a + 300, 300);
    key[601] = '1';
    tree_insert_both(&t, &m, key, 602, VAL(11));
    key[601] = '2';
    tree_insert_both(&t, &m, key, 602, VAL(12));
    REQUIRE(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 2);
    tree_delete_both(&t, &m, key, 300);
    REQUIRE(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 1);
    /* Split the merged prefix in its middle, then merge it back. */
    key[451] = (uint8_t)(key[451] ^ 0x5A);
    tree_insert_both(&t, &m, key, 452, VAL(13));
    REQUIRE(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 2);
    tree_delete_both(&t, &m, key, 452);
    key[451] = (uint8_t)(key[451] ^ 0x5A);
    REQUIRE(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 1);
    key[601] = '1';
    tree_delete_both(&t, &m, key, 602);
    REQUIRE(tree_matches(&t, &m));
    art_stats(&t, &s);
    CHECK(total_nodes(&s) == 0 && s.leaves == 1);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
    free(a);
    free(key);
}

/* Keys sharing hundreds of bytes, split at random points. */
static void test_long_shared_prefixes(void)
{
    enum { L = 700, NK = 160 };
    static uint8_t base[L];
    uint8_t key[L + 8];
    art_tree t;
    art_cursor c;
    model_t m = {0};
    size_t i, order[NK];
    int fill;

    for (fill = 0; fill < 2; fill++) {
        for (i = 0; i < L; i++)
            base[i] =
                fill ? (uint8_t)(i * 37 + 11) : (uint8_t)(i % 2 ? 0xFF : 0);
        art_tree_init(&t);
        tree_insert_both(&t, &m, base, L, VAL(0));
        for (i = 1; i < NK; i++) {
            size_t s = rnd_below(L + 1), len = s;
            memcpy(key, base, s);
            if (i % 5 == 0) {
                /* a key that is a prefix of the others */
            } else if (s < L) {
                size_t extra = rnd_below(4);
                key[len++] = (uint8_t)(base[s] ^ (1 + rnd_below(255)));
                while (extra-- > 0)
                    key[len++] = (uint8_t)rnd();
            } else {
                key[len++] = (uint8_t)rnd();
            }
            tree_insert_both(&t, &m, key, len, VAL(i));
            if (!CHECK(valid(&t)) || !CHECK(art_search(&t, key, len) != NULL))
                goto out;
            if (i % 16 == 0 && !tree_matches(&t, &m))
                goto out;
        }
        if (!tree_matches(&t, &m))
            goto out;
        art_cursor_init(&c, &t);
        for (i = 0; i < 200; i++) {
            size_t s = rnd_below(L + 1), len = s;
            art_seek_mode mode = (art_seek_mode)rnd_below(4);
            memcpy(key, base, s);
            if (rnd_below(2))
                key[len++] = (uint8_t)rnd();
            if (!cursor_on(&c, art_cursor_seek(&c, key, len, mode), &m,
                           model_seek(&m, key, len, mode)))
                break;
        }
        art_cursor_free(&c);

        {
            model_t keys = {0};
            for (i = 0; i < m.n; i++) {
                model_put(&keys, m.a[i].key, m.a[i].len, NULL);
                order[i] = i;
            }
            shuffle(order, keys.n);
            for (i = 0; i < keys.n; i++) {
                const kv_t *e = &keys.a[order[i]];
                if (!tree_delete_both(&t, &m, e->key, e->len) ||
                    !CHECK(valid(&t)))
                    break;
                if (i % 16 == 0 && !tree_matches(&t, &m))
                    break;
            }
            model_free(&keys);
        }
        CHECK(tree_matches(&t, &m));
    out:
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
        if (g_test_failures)
            return;
    }
}

/* A key of a mebibyte, and two more sharing most of it. */
static void test_huge_keys(void)
{
    enum { HUGE_LEN = 1 << 20 };
    uint8_t *k = xmalloc(HUGE_LEN);
    art_tree t, cp;
    art_cursor c;
    model_t m = {0};
    size_t i;

    for (i = 0; i < HUGE_LEN; i++)
        k[i] = (uint8_t)(i ^ (i >> 8));
    art_tree_init(&t);
    tree_insert_both(&t, &m, k, HUGE_LEN, VAL(1));
    tree_insert_both(&t, &m, k, HUGE_LEN / 2, VAL(2));
    k[HUGE_LEN - 1] ^= 1;
    tree_insert_both(&t, &m, k, HUGE_LEN, VAL(3));
    if (!tree_matches(&t, &m))
        goto out;
    art_cursor_init(&c, &t);
    CHECK(cursor_on(&c, art_cursor_seek(&c, k, HUGE_LEN - 1, ART_SEEK_GT), &m,
                    1));
    CHECK(cursor_on(&c, art_cursor_prev(&c), &m, 0));
    CHECK(cursor_on(&c, art_cursor_skip(&c, HUGE_LEN / 2), &m, m.n));
    art_cursor_free(&c);
    art_tree_init(&cp);
    CHECK(art_tree_copy(&cp, &t) == ART_OK);
    CHECK(tree_matches(&cp, &m));
    art_tree_clear(&cp, NULL, NULL);
    tree_delete_both(&t, &m, k, HUGE_LEN / 2);
    CHECK(tree_matches(&t, &m));
    tree_delete_both(&t, &m, k, HUGE_LEN);
    CHECK(tree_matches(&t, &m));
out:
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
    free(k);
}

/*
 * Key i is i bytes of 'a', so the tree is a chain of DEEP_N inner nodes.
 * Anything that recursed on depth would need a deep native stack here.
 */
enum { DEEP_N = 20000 };

static void test_deep_chain(void)
{
    art_tree t, cp;
    art_cursor c, c2;
    art_stats_t s;
    art_fuzzy f;
    uint8_t *a = xmalloc(DEEP_N + 2);
    size_t i, visits = 0, fl = 0;
    tally_t tc = {0, 0};
    void *old = NULL;
    int r, r2;

    memset(a, 'a', DEEP_N + 1);
    art_tree_init(&t);
    art_cursor_init(&c, &t);
    for (i = 0; i < DEEP_N; i++)
        if (!CHECK(art_insert(&t, a, i, VAL(i), NULL) == 1))
            goto out;
    REQUIRE(valid(&t));
    CHECK(t.size == DEEP_N);
    for (i = 0; i < DEEP_N; i++)
        if (!CHECK(art_search(&t, a, i) == VAL(i)))
            break;
    CHECK(art_search(&t, a, DEEP_N) == NULL);
    art_stats(&t, &s);
    CHECK(s.leaves == 1);
    CHECK(s.node_values == DEEP_N - 1);
    CHECK(s.nodes[ART_NODE4] == DEEP_N - 1);
    CHECK(s.max_depth == DEEP_N - 1);
    CHECK(art_longest_prefix(&t, a, DEEP_N + 1, &fl) == VAL(DEEP_N - 1) &&
          fl == DEEP_N - 1);
    CHECK(art_prefix_at_least(&t, a, DEEP_N + 1, 777, &fl) == VAL(777) &&
          fl == 777);

    for (i = 0, r = art_cursor_first(&c); r == 1; r = art_cursor_next(&c), i++)
        if (!CHECK(c.key_len == i) || !CHECK(i == 0 || !memcmp(c.key, a, i)) ||
            !CHECK(art_cursor_value(&c) == VAL(i)))
            break;
    CHECK(r == 0 && i == DEEP_N);
    for (i = DEEP_N, r = art_cursor_last(&c); r == 1;
         r = art_cursor_prev(&c), i--)
        if (!CHECK(c.key_len == i - 1) ||
            !CHECK(art_cursor_value(&c) == VAL(i - 1)))
            break;
    CHECK(r == 0 && i == 0);

    CHECK(art_cursor_seek(&c, a, 5000, ART_SEEK_GE) == 1 && c.key_len == 5000);
    CHECK(art_cursor_seek(&c, a, 5000, ART_SEEK_GT) == 1 && c.key_len == 5001);
    CHECK(art_cursor_seek(&c, a, 5000, ART_SEEK_LT) == 1 && c.key_len == 4999);
    CHECK(art_cursor_seek(&c, a, 5000, ART_SEEK_LE) == 1 && c.key_len == 5000);
    /* a^5000 'b' sorts after every key of the chain. */
    a[5000] = 'b';
    CHECK(art_cursor_seek(&c, a, 5001, ART_SEEK_GE) == 0);
    CHECK(art_cursor_seek(&c, a, 5001, ART_SEEK_LE) == 1 &&
          c.key_len == DEEP_N - 1);
    a[5000] = 'a';
    CHECK(art_cursor_seek(&c, K(""), ART_SEEK_GT) == 1 && c.key_len == 1);
    CHECK(art_cursor_seek(&c, K(""), ART_SEEK_LT) == 0);
    CHECK(art_cursor_seek(&c, K("b"), ART_SEEK_LT) == 1 &&
          c.key_len == DEEP_N - 1);

    CHECK(art_insert(&t, K("b"), VAL(DEEP_N), NULL) == 1);
    CHECK(art_cursor_seek(&c, a, 5000, ART_SEEK_GE) == 1);
    CHECK(art_cursor_skip(&c, 4000) == 1 && c.key_len == 1 && c.key[0] == 'b');
    CHECK(art_cursor_seek(&c, a, DEEP_N - 1, ART_SEEK_GE) == 1);
    CHECK(art_cursor_skip(&c, 1) == 1 && c.key_len == 1 && c.key[0] == 'b');
    CHECK(art_delete(&t, K("b"), NULL) == 1);

    CHECK(art_foreach(&t, visit_count, &visits) == 0 && visits == DEEP_N);

    if (CHECK(art_fuzzy_init(&f, &t, a, 10, 2, 0) == ART_OK)) {
        for (i = 8; i <= 12; i++) {
            if (!CHECK(art_fuzzy_next(&f) == 1) ||
                !CHECK(f.cursor.key_len == i) ||
                !CHECK(f.distance == (i > 10 ? i - 10 : 10 - i)))
                break;
        }
        CHECK(art_fuzzy_next(&f) == 0);
        art_fuzzy_free(&f);
    }

    art_tree_init(&cp);
    if (CHECK(art_tree_copy(&cp, &t) == ART_OK) && CHECK(valid(&cp))) {
        art_cursor_init(&c2, &cp);
        for (r = art_cursor_first(&c), r2 = art_cursor_first(&c2);
             r == 1 && r2 == 1;
             r = art_cursor_next(&c), r2 = art_cursor_next(&c2))
            if (!CHECK(key_eq(c.key, c.key_len, c2.key, c2.key_len)) ||
                !CHECK(art_cursor_value(&c) == art_cursor_value(&c2)))
                break;
        CHECK(r == 0 && r2 == 0);
        art_cursor_free(&c2);
        /* The copy's walk stack must already be deep enough. */
        visits = 0;
        cp.fail_countdown = 1;
        CHECK(art_foreach(&cp, visit_count, &visits) == 0 && visits == DEEP_N);
        CHECK(cp.fail_countdown == 1);
        cp.fail_countdown = 0;
    }
    art_tree_clear(&cp, tally_value, &tc);
    CHECK(tc.calls == DEEP_N);
    CHECK(cp.root == 0 && cp.size == 0 && cp.bytes == 0);

    /* Even lengths first (each removal merges two chain links), then the
       rest from the deep end. */
    for (i = 0; i < DEEP_N; i += 2)
        if (!CHECK(art_delete(&t, a, i, &old) == 1) || !CHECK(old == VAL(i)))
            goto out;
    CHECK(valid(&t));
    CHECK(t.size == DEEP_N / 2);
    CHECK(art_search(&t, a, 4000) == NULL);
    CHECK(art_search(&t, a, 4001) == VAL(4001));
    for (i = 0, r = art_cursor_last(&c); r == 1 && i < 50;
         r = art_cursor_prev(&c), i++)
        CHECK(c.key_len == DEEP_N - 1 - 2 * i);
    for (i = DEEP_N; i-- > 0;)
        if (i % 2 == 1 && !CHECK(art_delete(&t, a, i, NULL) == 1))
            goto out;
    CHECK(t.size == 0 && t.root == 0 && t.bytes == 0);
    CHECK(valid(&t));
out:
    art_cursor_free(&c);
    art_tree_clear(&t, NULL, NULL);
    free(a);
}

/* ------------------------------------------------------------------ */
/* Whole-tree operations                                               */
/* ------------------------------------------------------------------ */

/* Symbols for generated keys: one to four bytes each. */
typedef struct {
    uint8_t b[4];
    uint8_t n;
} sym_t;

static const sym_t g_syms_small[] = {
    {{0x00}, 1}, {{'a'}, 1}, {{'b'}, 1}, {{0xFF}, 1}};
static sym_t g_syms_wide[64];
static const size_t g_hot_wide[] = {0, 1, 63};
static const sym_t g_syms_utf8[] = {
    {{'a'}, 1},
    {{0xC3, 0xA9}, 2},             /* é */
    {{0xC3, 0xA8}, 2},             /* è: shares its first byte with é */
    {{0xE6, 0x97, 0xA5}, 3},       /* 日 */
    {{0xE6, 0x9C, 0xAC}, 3},       /* 本 */
    {{0xF0, 0x9F, 0x98, 0x80}, 4}, /* U+1F600 */
    {{0xED, 0xA0, 0x80}, 3},       /* U+D800: surrogates are allowed */
};

typedef struct {
    const char *name;
    const sym_t *syms;
    size_t nsyms;
    const size_t *hot; /* symbols favoured in first position */
    size_t nhot;
    size_t max_syms;
    int utf8;
    long steps;
    size_t fill_to;
    unsigned max_d;
    unsigned fuzzy_every;
} rconf_t;

enum { RKEY_MAX = 64 };

static void init_wide_syms(void)
{
    size_t i;
    /* 0x00..0x1F and 0xE0..0xFF: both extremes, 64 values in all. */
    for (i = 0; i < 64; i++) {
        g_syms_wide[i].b[0] = (uint8_t)(i < 32 ? i : 0xE0 + (i - 32));
        g_syms_wide[i].n = 1;
    }
}

static size_t gen_key(const rconf_t *cf, size_t max_syms, uint8_t *out)
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
static size_t gen_target(const rconf_t *cf, uint8_t *out)
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

static void build_random(art_tree *t, model_t *m, const rconf_t *cf, size_t n)
{
    uint8_t k[RKEY_MAX];
    size_t i;
    for (i = 0; i < n; i++) {
        size_t len = gen_key(cf, cf->max_syms, k);
        tree_insert_both(t, m, k, len, VAL(i + 1));
    }
}

static const rconf_t g_wide_conf = {.name = "wide",
                                    .syms = g_syms_wide,
                                    .nsyms = 64,
                                    .hot = g_hot_wide,
                                    .nhot = 3,
                                    .max_syms = 3,
                                    .max_d = 2};

static void test_foreach(void)
{
    art_tree t;
    model_t m = {0};
    visit_t v;
    size_t i;

    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 400);
    /* Renumber the values in key order. */
    for (i = 0; i < m.n; i++) {
        void **slot = art_search_slot(&t, m.a[i].key, m.a[i].len);
        REQUIRE(slot != NULL);
        *slot = m.a[i].val = VAL(i);
    }
    v.m = &m;
    v.seen = 0;
    v.stop_after = 0;
    v.in_order = 1;
    CHECK(art_foreach(&t, visit_in_order, &v) == 0);
    CHECK(v.seen == m.n && v.in_order);

    v.seen = 0;
    v.stop_after = 37;
    CHECK(art_foreach(&t, visit_in_order, &v) == 42);
    CHECK(v.seen == 37 && v.in_order);
    v.seen = 0;
    v.stop_after = 1;
    CHECK(art_foreach(&t, visit_in_order, &v) == 42);
    CHECK(v.seen == 1 && v.in_order);
    v.seen = 0;
    v.stop_after = m.n;
    CHECK(art_foreach(&t, visit_in_order, &v) == 42);
    CHECK(v.seen == m.n && v.in_order);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static int g_hits[600];

static void count_hit(void *value, void *ctx)
{
    CHECK(ctx == (void *)g_hits);
    (*(int *)value)++;
}

static void test_clear_calls_back_once_per_value(void)
{
    art_tree t;
    model_t m = {0};
    uint8_t k[RKEY_MAX];
    size_t i, n = 0;
    uint64_t v;
    void *old = NULL;

    art_tree_init(&t);
    memset(g_hits, 0, sizeof g_hits);
    for (i = 0; i < 500; i++) {
        size_t len = gen_key(&g_wide_conf, 3, k);
        if (model_find(&m, k, len))
            continue;
        tree_insert_both(&t, &m, k, len, &g_hits[n++]);
    }
    /* A replaced value is handed back, so the clear must skip it. */
    REQUIRE(art_insert(&t, m.a[0].key, m.a[0].len, &g_hits[n], &old) == 0);
    CHECK(old == m.a[0].val);
    m.a[0].val = &g_hits[n];
    v = t.version;
    art_tree_clear(&t, count_hit, g_hits);
    CHECK(t.version != v);
    CHECK(t.size == 0 && t.root == 0 && t.bytes == 0);
    CHECK(valid(&t));
    for (i = 0; i <= n; i++)
        if (!CHECK(g_hits[i] == (&g_hits[i] == old ? 0 : 1)))
            break;
    /* Reusable after clearing. */
    model_free(&m);
    build_random(&t, &m, &g_wide_conf, 100);
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    CHECK(t.size == 0 && t.root == 0);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/*
 * A tree emptied by deletes is empty but keeps its walk stack; copying a
 * deeper tree into it must not leak that stack (found by the fuzzer).
 */
static void test_copy_into_emptied_tree(void)
{
    art_tree t, src;
    art_tree_init(&t);
    art_tree_init(&src);
    CHECK(art_insert(&t, K("a"), VAL(1), NULL) == 1);
    CHECK(art_insert(&t, K("b"), VAL(2), NULL) == 1);
    CHECK(art_delete(&t, K("a"), NULL) == 1);
    CHECK(art_delete(&t, K("b"), NULL) == 1);
    CHECK(t.size == 0 && t.root == 0);
    for (int i = 0; i < 40; i++) {
        char key[64];
        memset(key, 'x', (size_t)i);
        CHECK(art_insert(&src, (const uint8_t *)key, (size_t)i, VAL(i + 1),
                         NULL) == 1);
    }
    size_t live = art_live_allocations();
    CHECK(art_tree_copy(&t, &src) == ART_OK);
    CHECK(valid(&t) && t.size == src.size);
    art_tree_clear(&t, NULL, NULL);
    art_tree_clear(&src, NULL, NULL);
    CHECK(art_live_allocations() < live);
}

static void test_copy(void)
{
    art_tree t, cp, empty;
    model_t m = {0}, mc = {0};
    uint8_t k[320];
    size_t i;

    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 1500);
    for (i = 0; i < 20; i++) {
        uint8_t big[300];
        memset(big, 0xAB, sizeof big);
        big[299] = (uint8_t)i;
        tree_insert_both(&t, &m, big, 300 - (i % 3) * 7, VAL(5000 + i));
    }
    REQUIRE(tree_matches(&t, &m));
    REQUIRE(copy_once(&t, &m, 0) == ART_OK);

    art_tree_init(&cp);
    REQUIRE(art_tree_copy(&cp, &t) == ART_OK);
    REQUIRE(tree_matches(&cp, &m));
    for (i = 0; i < m.n; i++)
        model_put(&mc, m.a[i].key, m.a[i].len, m.a[i].val);
    /* Changing the copy leaves the original alone, and the other way. */
    for (i = 0; i < 1000; i++) {
        size_t len = gen_key(&g_wide_conf, 3, k);
        if (rnd_below(2))
            tree_insert_both(&cp, &mc, k, len, VAL(100000 + i));
        else
            tree_delete_both(&cp, &mc, k, len);
        if (i % 3 == 0 && mc.n) {
            kv_t *e = &mc.a[rnd_below(mc.n)];
            memcpy(k, e->key, e->len);
            tree_delete_both(&cp, &mc, k, e->len);
        }
    }
    CHECK(tree_matches(&cp, &mc));
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    CHECK(tree_matches(&cp, &mc));
    art_tree_clear(&cp, NULL, NULL);

    art_tree_init(&empty);
    art_tree_init(&cp);
    CHECK(art_tree_copy(&cp, &empty) == ART_OK);
    CHECK(cp.size == 0 && cp.root == 0 && valid(&cp));
    art_tree_clear(&cp, NULL, NULL);
    model_free(&m);
    model_free(&mc);
}

static void test_move(void)
{
    art_tree src, dst;
    model_t m = {0}, m2 = {0};
    uint64_t v;
    size_t visits = 0;

    art_tree_init(&src);
    art_tree_init(&dst);
    build_random(&src, &m, &g_wide_conf, 300);
    v = src.version;
    art_tree_move(&dst, &src);
    CHECK(src.size == 0 && src.root == 0 && src.bytes == 0);
    CHECK(src.version != v);
    CHECK(valid(&src));
    CHECK(tree_matches(&dst, &m));
    dst.fail_countdown = 1;
    CHECK(art_foreach(&dst, visit_count, &visits) == 0 && visits == m.n);
    CHECK(dst.fail_countdown == 1);
    dst.fail_countdown = 0;

    /* Both stay usable; moving into a cleared tree works too. */
    build_random(&src, &m2, &g_wide_conf, 50);
    CHECK(tree_matches(&src, &m2));
    CHECK(tree_matches(&dst, &m));
    art_tree_clear(&dst, NULL, NULL);
    art_tree_move(&dst, &src);
    CHECK(tree_matches(&dst, &m2));
    CHECK(src.size == 0 && valid(&src));
    art_tree_clear(&src, NULL, NULL);
    art_tree_clear(&dst, NULL, NULL);
    model_free(&m);
    model_free(&m2);
}

/* Functions documented as never allocating must not touch the
   allocator: an armed countdown stays where it was. */
static void test_no_allocation(void)
{
    art_tree t;
    model_t m = {0};
    art_stats_t s;
    size_t fl, visits = 0;
    const char *why;

    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 500);
    t.fail_countdown = 1;
    art_search(&t, m.a[3].key, m.a[3].len);
    art_search(&t, K("\x01\x02\x03\x04"));
    art_search_slot(&t, m.a[5].key, m.a[5].len);
    CHECK(art_foreach(&t, visit_count, &visits) == 0 && visits == m.n);
    art_stats(&t, &s);
    CHECK(art_validate(&t, &why) == ART_OK);
    art_prefix_at_least(&t, m.a[7].key, m.a[7].len, 1, &fl);
    art_longest_prefix(&t, m.a[7].key, m.a[7].len, &fl);
    CHECK(t.fail_countdown == 1);
    t.fail_countdown = 0;
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* ------------------------------------------------------------------ */
/* Cursors                                                             */
/* ------------------------------------------------------------------ */

static void test_cursor_basics(void)
{
    static const lit_t keys[] = {
        LIT(""),    LIT("\0"),  LIT("\0\0"), LIT("a"),    LIT("ab"),
        LIT("abc"), LIT("abd"), LIT("b"),    LIT("\xff"), LIT("\xff\xff")};
    static const struct {
        lit_t target;
        art_seek_mode mode;
        int want; /* index, -1 for none */
    } seeks[] = {
        {LIT(""), ART_SEEK_GE, 0},
        {LIT(""), ART_SEEK_GT, 1},
        {LIT(""), ART_SEEK_LE, 0},
        {LIT(""), ART_SEEK_LT, -1},
        {LIT("\0\0\0"), ART_SEEK_GE, 3},
        {LIT("\0\0\0"), ART_SEEK_LE, 2},
        {LIT("\0\0\0"), ART_SEEK_GT, 3},
        {LIT("\0\0\0"), ART_SEEK_LT, 2},
        {LIT("\x01"), ART_SEEK_LT, 2},
        {LIT("\x01"), ART_SEEK_GE, 3},
        {LIT("aa"), ART_SEEK_GE, 4},
        {LIT("aa"), ART_SEEK_GT, 4},
        {LIT("aa"), ART_SEEK_LE, 3},
        {LIT("aa"), ART_SEEK_LT, 3},
        {LIT("ab"), ART_SEEK_GE, 4},
        {LIT("ab"), ART_SEEK_GT, 5},
        {LIT("ab"), ART_SEEK_LE, 4},
        {LIT("ab"), ART_SEEK_LT, 3},
        {LIT("abz"), ART_SEEK_GE, 7},
        {LIT("abz"), ART_SEEK_LE, 6},
        {LIT("abcd"), ART_SEEK_LE, 5},
        {LIT("abcd"), ART_SEEK_GT, 6},
        {LIT("c"), ART_SEEK_GE, 8},
        {LIT("c"), ART_SEEK_LE, 7},
        {LIT("\xff\xff"), ART_SEEK_GT, -1},
        {LIT("\xff\xff"), ART_SEEK_LE, 9},
        {LIT("\xff\xff"), ART_SEEK_LT, 8},
        {LIT("\xff\xff\xff"), ART_SEEK_GE, -1},
        {LIT("\xff\xff\xff"), ART_SEEK_LT, 9},
    };
    static const struct {
        int at;
        size_t n;
        int want;
    } skips[] = {{5, 2, 7},  {5, 3, 6},  {5, 0, -1}, {4, 1, 7}, {4, 2, 7},
                 {3, 1, 7},  {0, 0, -1}, {1, 1, 3},  {2, 1, 3}, {8, 1, -1},
                 {9, 2, -1}, {9, 1, -1}, {6, 1, 7},  {6, 2, 7}, {0, 0, -1}};
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    art_tree t;
    model_t m = {0};
    art_cursor c;
    size_t i;
    int r;

    art_tree_init(&t);
    for (i = 0; i < NKEYS; i++)
        tree_insert_both(&t, &m, (const uint8_t *)keys[i].s, keys[i].len,
                         VAL(i));
    REQUIRE(tree_matches(&t, &m));
    art_cursor_init(&c, &t);
    CHECK(c.at == 0);

    /* From nowhere, next and prev start at the ends. */
    CHECK(cursor_on(&c, art_cursor_next(&c), &m, 0));
    CHECK(cursor_on(&c, art_cursor_prev(&c), &m, m.n));
    CHECK(cursor_on(&c, art_cursor_prev(&c), &m, NKEYS - 1));
    CHECK(cursor_on(&c, art_cursor_next(&c), &m, m.n));
    CHECK(cursor_on(&c, art_cursor_next(&c), &m, 0));

    for (i = 0; i < sizeof seeks / sizeof seeks[0]; i++) {
        size_t want = seeks[i].want < 0 ? m.n : (size_t)seeks[i].want;
        const uint8_t *tk = (const uint8_t *)seeks[i].target.s;
        size_t tl = seeks[i].target.len;
        /* The model is checked against the table, the tree against both. */
        CHECK(model_seek(&m, tk, tl, seeks[i].mode) == want);
        r = art_cursor_seek(&c, tk, tl, seeks[i].mode);
        if (!cursor_on(&c, r, &m, want) && verbose())
            fprintf(stderr, "    seek %zu\n", i);
        if (r == 1)
            CHECK(c.changed_from == 0);
    }

    for (i = 0; i < sizeof skips / sizeof skips[0]; i++) {
        const kv_t *e = &m.a[skips[i].at];
        size_t want = skips[i].want < 0 ? m.n : (size_t)skips[i].want;
        if (!CHECK(art_cursor_seek(&c, e->key, e->len, ART_SEEK_GE) == 1))
            continue;
        r = art_cursor_skip(&c, skips[i].n);
        if (!cursor_on(&c, r, &m, want) && verbose())
            fprintf(stderr, "    skip %zu\n", i);
    }
    /* Skip from positions reached by stepping, not by seeking. */
    CHECK(cursor_on(&c, art_cursor_first(&c), &m, 0));
    for (i = 1; i < 6; i++)
        CHECK(cursor_on(&c, art_cursor_next(&c), &m, i));
    CHECK(cursor_on(&c, art_cursor_skip(&c, 1), &m, 7));
    CHECK(cursor_on(&c, art_cursor_last(&c), &m, 9));
    CHECK(cursor_on(&c, art_cursor_prev(&c), &m, 8));
    CHECK(cursor_on(&c, art_cursor_prev(&c), &m, 7));
    CHECK(cursor_on(&c, art_cursor_prev(&c), &m, 6));
    CHECK(cursor_on(&c, art_cursor_skip(&c, 2), &m, 7));
    CHECK(cursor_on(&c, art_cursor_skip(&c, 1), &m, 8));
    CHECK(cursor_on(&c, art_cursor_skip(&c, 1), &m, m.n));

    /* changed_from never claims a changed byte is unchanged. */
    {
        uint8_t prev[8];
        size_t plen;
        r = art_cursor_first(&c);
        while (r == 1) {
            plen = c.key_len;
            copy_key(prev, c.key, plen);
            r = art_cursor_next(&c);
            if (r == 1)
                CHECK(c.changed_from <=
                      common_len(prev, plen, c.key, c.key_len));
        }
        r = art_cursor_last(&c);
        while (r == 1) {
            plen = c.key_len;
            copy_key(prev, c.key, plen);
            r = art_cursor_prev(&c);
            if (r == 1)
                CHECK(c.changed_from <=
                      common_len(prev, plen, c.key, c.key_len));
        }
    }

    /* A value replaced in place is visible through the cursor at once. */
    CHECK(art_cursor_seek(&c, K("abc"), ART_SEEK_GE) == 1);
    CHECK(art_insert(&t, K("abc"), VAL(555), NULL) == 0);
    CHECK(art_cursor_value(&c) == VAL(555));
    CHECK(art_cursor_next(&c) == 1 && art_cursor_value(&c) == VAL(6));

    art_cursor_free(&c);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static int cursor_key_is_n(const art_cursor *c, int r, const char *s,
                           size_t len)
{
    if (CHECK(r == 1) &&
        CHECK(key_eq(c->key, c->key_len, (const uint8_t *)s, len)))
        return 1;
    if (r == 1)
        dump_key("cursor is on", c->key, c->key_len);
    dump_key("expected", (const uint8_t *)s, len);
    return 0;
}

static int cursor_key_is(const art_cursor *c, int r, const char *s)
{
    return cursor_key_is_n(c, r, s, strlen(s));
}

/* A guard that refuses every child whose byte is 'x', and passes over the
   rest of a node once the key holds an 'x' before the child's byte (which
   only a node's prefix can bring).  It fails after fail_after calls. */
typedef struct {
    long calls, fail_after;
    int forward_only_seen; /* set when called during a backward move */
    int moving_back;
    long asked_b; /* skip_guard: asked about a 'b' right after an 'a' */
    size_t a_at;  /* skip_guard: key length when it last refused an 'a' */
} guard_probe_t;

static int has_x(const uint8_t *k, size_t n)
{
    return n && memchr(k, 'x', n) != NULL;
}

static int x_guard(void *ctx, art_cursor *c, int *next)
{
    guard_probe_t *g = ctx;
    if (g->moving_back)
        g->forward_only_seen = 1;
    if (++g->calls == g->fail_after)
        return ART_ENOMEM;
    if (has_x(c->key, c->key_len - 1)) {
        *next = 256;
        return 0;
    }
    return c->key[c->key_len - 1] == 'x' ? 0 : 1;
}

static int only_cx(const uint8_t *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (k[i] != 'c' && k[i] != 'x')
            return 0;
    return 1;
}

/* Refuses children with byte 'a' and tells the cursor to go on at 'c',
   so that it never asks about a 'b'. */
static int skip_guard(void *ctx, art_cursor *c, int *next)
{
    guard_probe_t *g = ctx;
    uint8_t b = c->key[c->key_len - 1];
    g->asked_b += b == 'b' && g->a_at == c->key_len;
    g->a_at = 0;
    if (b != 'a')
        return 1;
    g->a_at = c->key_len;
    *next = 'c';
    return 0;
}

static int refuse_all(void *ctx, art_cursor *c, int *next)
{
    (void)ctx;
    (void)c;
    (void)next;
    return 0;
}

static void test_cursor_guard(void)
{
    art_tree t;
    model_t m = {0};
    art_cursor c;
    guard_probe_t g = {0};
    uint8_t k[8];
    size_t i, j;
    int r;

    g_rng = 77;
    art_tree_init(&t);
    for (i = 0; i < 3000; i++) {
        size_t len = rnd_below(7);
        for (j = 0; j < len; j++)
            k[j] = (uint8_t) "abcx"[rnd_below(4)];
        tree_insert_both(&t, &m, k, len, VAL(i + 1));
    }
    art_cursor_init(&c, &t);
    c.guard = x_guard;
    c.guard_ctx = &g;

    /* Forward: ascending keys of the tree, every key without an 'x'
       among them, and the guard consulted for far fewer keys than all. */
    size_t at = 0, seen = 0, clean = 0;
    for (i = 0; i < m.n; i++)
        clean += !has_x(m.a[i].key, m.a[i].len);
    for (r = art_cursor_first(&c); r == 1; r = art_cursor_next(&c)) {
        while (at < m.n &&
               !key_eq(m.a[at].key, m.a[at].len, c.key, c.key_len)) {
            CHECK(has_x(m.a[at].key, m.a[at].len));
            at++;
        }
        if (!CHECK(at < m.n))
            break;
        CHECK(art_cursor_value(&c) == m.a[at].val);
        seen += !has_x(c.key, c.key_len);
        at++;
    }
    CHECK(r == 0 && c.at == 0);
    CHECK(seen == clean);
    CHECK(g.calls > 0 && (size_t)g.calls < m.n);

    /* Backward moves ignore the guard: all keys, in reverse. */
    g.moving_back = 1;
    for (i = m.n, r = art_cursor_last(&c); r == 1; r = art_cursor_prev(&c)) {
        if (!CHECK(i > 0))
            break;
        i--;
        CHECK(key_eq(m.a[i].key, m.a[i].len, c.key, c.key_len));
    }
    CHECK(i == 0 && !g.forward_only_seen);
    g.moving_back = 0;

    /* A failing guard fails the move and leaves the cursor unpositioned. */
    for (g.fail_after = 1; g.fail_after < 40; g.fail_after += 3) {
        g.calls = 0;
        for (r = art_cursor_first(&c); r == 1; r = art_cursor_next(&c))
            ;
        CHECK(r == ART_ENOMEM && c.at == 0);
    }

    /* Jumping ahead: keys of 'c' and 'x' only are all there, in order. */
    c.guard = skip_guard;
    at = seen = clean = 0;
    for (i = 0; i < m.n; i++)
        clean += only_cx(m.a[i].key, m.a[i].len);
    for (r = art_cursor_first(&c); r == 1; r = art_cursor_next(&c)) {
        while (at < m.n && !key_eq(m.a[at].key, m.a[at].len, c.key, c.key_len))
            at++;
        if (!CHECK(at < m.n))
            break;
        seen += only_cx(c.key, c.key_len);
        at++;
    }
    CHECK(r == 0 && seen == clean && g.asked_b == 0);

    /* A guard that refuses every child leaves only what takes no step
       into a child: the root's own key, the empty one. */
    c.guard = refuse_all;
    REQUIRE(m.n > 0 && m.a[0].len == 0);
    CHECK(art_cursor_first(&c) == 1 && c.key_len == 0);
    CHECK(art_cursor_next(&c) == 0 && c.at == 0);
    art_cursor_free(&c);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static void test_cursor_weak_consistency(void)
{
    art_tree t, dst;
    art_cursor c, c2, c3;
    int r;

    art_tree_init(&t);
    art_tree_init(&dst);
    art_insert(&t, K("b"), VAL(1), NULL);
    art_insert(&t, K("d"), VAL(2), NULL);
    art_insert(&t, K("f"), VAL(3), NULL);
    art_cursor_init(&c, &t);
    art_cursor_init(&c2, &t);
    art_cursor_init(&c3, &t);

    REQUIRE(cursor_key_is(&c, art_cursor_seek(&c, K("d"), ART_SEEK_GE), "d"));
    art_insert(&t, K("c"), VAL(4), NULL);
    art_insert(&t, K("e"), VAL(5), NULL);
    CHECK(cursor_key_is(&c, art_cursor_next(&c), "e"));
    CHECK(art_cursor_value(&c) == VAL(5));

    art_delete(&t, K("e"), NULL); /* the cursor's own key */
    CHECK(cursor_key_is(&c, art_cursor_prev(&c), "d"));

    art_delete(&t, K("d"), NULL);
    art_insert(&t, K("d\0"), VAL(6), NULL);
    CHECK(cursor_key_is_n(&c, art_cursor_next(&c), "d\0", 2));

    art_delete(&t, K("d\0"), NULL);
    art_insert(&t, K("d"), VAL(7), NULL);
    CHECK(cursor_key_is(&c, art_cursor_prev(&c), "d"));

    art_insert(&t, K("dd"), VAL(8), NULL);
    art_insert(&t, K("da"), VAL(9), NULL);
    art_delete(&t, K("d"), NULL);
    CHECK(cursor_key_is(&c, art_cursor_next(&c), "da"));

    /* Heavy restructuring: the nodes on the cursor's stack are rebuilt
       or freed. */
    {
        char buf[16];
        int i;
        for (i = 0; i < 300; i++) {
            snprintf(buf, sizeof buf, "d%03d", i);
            art_insert(&t, (const uint8_t *)buf, 4, VAL(100 + i), NULL);
            buf[0] = 'a';
            art_insert(&t, (const uint8_t *)buf, 4, VAL(400 + i), NULL);
        }
        CHECK(cursor_key_is(&c, art_cursor_prev(&c), "d299"));
        for (i = 0; i < 300; i++) {
            snprintf(buf, sizeof buf, "d%03d", i);
            art_delete(&t, (const uint8_t *)buf, 4, NULL);
        }
        CHECK(cursor_key_is(&c, art_cursor_next(&c), "da"));
        for (i = 0; i < 300; i++) {
            snprintf(buf, sizeof buf, "a%03d", i);
            art_delete(&t, (const uint8_t *)buf, 4, NULL);
        }
        CHECK(cursor_key_is(&c, art_cursor_prev(&c), "c"));
    }
    CHECK(valid(&t));

    /* Cleared under the cursors: their keys stay readable, then steps
       find whatever is in the tree by then. */
    CHECK(cursor_key_is(&c, art_cursor_seek(&c, K("f"), ART_SEEK_GE), "f"));
    CHECK(cursor_key_is(&c2, art_cursor_seek(&c2, K("b"), ART_SEEK_GE), "b"));
    CHECK(cursor_key_is(&c3, art_cursor_seek(&c3, K("c"), ART_SEEK_GE), "c"));
    art_tree_clear(&t, NULL, NULL);
    CHECK(c.key_len == 1 && c.key[0] == 'f');
    r = art_cursor_next(&c);
    CHECK(r == 0 && c.at == 0);
    CHECK(art_cursor_prev(&c3) == 0);
    art_insert(&t, K("a"), VAL(10), NULL);
    art_insert(&t, K("z"), VAL(11), NULL);
    CHECK(cursor_key_is(&c2, art_cursor_prev(&c2), "a"));
    CHECK(cursor_key_is(&c, art_cursor_next(&c), "a")); /* from nowhere */

    /* Moved away: the source is empty for its cursors. */
    art_insert(&t, K("m"), VAL(12), NULL);
    CHECK(cursor_key_is(&c, art_cursor_seek(&c, K("m"), ART_SEEK_GE), "m"));
    CHECK(cursor_key_is(&c2, art_cursor_seek(&c2, K("m"), ART_SEEK_GE), "m"));
    art_tree_move(&dst, &t);
    CHECK(art_cursor_next(&c) == 0);
    art_insert(&t, K("n"), VAL(13), NULL);
    art_insert(&t, K("b"), VAL(14), NULL);
    CHECK(cursor_key_is(&c2, art_cursor_next(&c2), "n"));
    CHECK(art_cursor_value(&c2) == VAL(13));
    CHECK(cursor_key_is(&c2, art_cursor_prev(&c2), "b"));
    CHECK(art_cursor_prev(&c2) == 0);
    art_cursor_free(&c3);
    art_cursor_init(&c3, &dst);
    CHECK(cursor_key_is(&c3, art_cursor_first(&c3), "a"));
    CHECK(cursor_key_is(&c3, art_cursor_next(&c3), "m"));
    CHECK(cursor_key_is(&c3, art_cursor_next(&c3), "z"));
    CHECK(valid(&t) && valid(&dst));

    art_cursor_free(&c);
    art_cursor_free(&c2);
    art_cursor_free(&c3);
    art_tree_clear(&t, NULL, NULL);
    art_tree_clear(&dst, NULL, NULL);
}

/* Equalises two trees' versions by adding and removing a key in the one
   that is behind. */
static void align_versions(art_tree *a, art_tree *b)
{
    while (a->version != b->version) {
        art_tree *lag = a->version < b->version ? a : b;
        if (art_search(lag, K("\x01")))
            art_delete(lag, K("\x01"), NULL);
        else
            art_insert(lag, K("\x01"), VAL(1), NULL);
    }
}

/*
 * A tree that is moved or copied into has changed structure even if its
 * new version number happens to equal one its cursors saw before; the
 * cursors must still re-seek instead of walking freed nodes.
 */
static void test_cursor_after_move_or_copy_into(void)
{
    int use_copy;
    for (use_copy = 0; use_copy < 2; use_copy++) {
        art_tree t, other;
        art_cursor c;
        art_tree_init(&t);
        art_tree_init(&other);
        art_insert(&other, K("a"), VAL(1), NULL);
        art_insert(&other, K("b"), VAL(2), NULL);
        art_insert(&other, K("c"), VAL(3), NULL);
        art_insert(&t, K("x"), VAL(4), NULL);
        art_insert(&t, K("xy"), VAL(5), NULL);
        art_insert(&t, K("xz"), VAL(6), NULL);
        align_versions(&t, &other);
        art_cursor_init(&c, &t);
        CHECK(
            cursor_key_is(&c, art_cursor_seek(&c, K("xy"), ART_SEEK_GE), "xy"));
        art_tree_clear(&t, NULL, NULL);
        if (use_copy)
            CHECK(art_tree_copy(&t, &other) == ART_OK);
        else
            art_tree_move(&t, &other);
        CHECK(valid(&t));
        CHECK(art_cursor_next(&c) == 0);
        CHECK(cursor_key_is(&c, art_cursor_prev(&c), "c"));
        art_cursor_free(&c);
        art_tree_clear(&t, NULL, NULL);
        art_tree_clear(&other, NULL, NULL);
        if (g_test_failures)
            return;
    }
}

/* Several cursors stepping while the tree around them changes in bulk. */
static void test_cursors_survive_bulk_changes(void)
{
    enum { NC = 8 };
    art_tree t, away;
    model_t m = {0};
    art_cursor cs[NC];
    uint8_t keys[NC][RKEY_MAX], k[RKEY_MAX];
    size_t lens[NC], i;
    int on[NC], round;

    art_tree_init(&t);
    art_tree_init(&away);
    build_random(&t, &m, &g_wide_conf, 1500);
    for (i = 0; i < NC; i++) {
        art_cursor_init(&cs[i], &t);
        on[i] = 0;
    }
    for (round = 0; round < 40 && !g_test_failures; round++) {
        size_t n = 50 + rnd_below(400), j;
        snprintf(g_ctx, sizeof g_ctx, "round=%d", round);
        for (j = 0; j < n; j++) {
            size_t len = gen_key(&g_wide_conf, 3, k);
            if (rnd_below(3) == 0 || m.n < 20) {
                tree_insert_both(&t, &m, k, len, VAL(round * 1000 + j + 1));
            } else {
                kv_t *e = &m.a[rnd_below(m.n)];
                len = e->len;
                memcpy(k, e->key, len);
                tree_delete_both(&t, &m, k, len);
            }
        }
        if (round % 10 == 7) {
            art_tree_clear(&t, NULL, NULL);
            model_free(&m);
            build_random(&t, &m, &g_wide_conf, 300);
        } else if (round % 10 == 3) {
            /* Away and back: every node is the same, the tree is not. */
            art_tree_clear(&away, NULL, NULL);
            art_tree_move(&away, &t);
            art_tree_clear(&t, NULL, NULL);
            art_tree_move(&t, &away);
        }
        if (!CHECK(valid(&t)))
            break;
        for (i = 0; i < NC; i++) {
            int fwd = (int)rnd_below(2), r;
            size_t want;
            if (!on[i])
                want = fwd ? 0 : (m.n ? m.n - 1 : 0);
            else
                want = model_seek(&m, keys[i], lens[i],
                                  fwd ? ART_SEEK_GT : ART_SEEK_LT);
            r = fwd ? art_cursor_next(&cs[i]) : art_cursor_prev(&cs[i]);
            if (!cursor_on(&cs[i], r, &m, want))
                break;
            on[i] = r == 1;
            if (on[i]) {
                lens[i] = cs[i].key_len;
                copy_key(keys[i], cs[i].key, lens[i]);
            }
        }
    }
    for (i = 0; i < NC; i++)
        art_cursor_free(&cs[i]);
    art_tree_clear(&t, NULL, NULL);
    art_tree_clear(&away, NULL, NULL);
    model_free(&m);
}

static void test_prefix_lookups(void)
{
    art_tree t;
    size_t fl;

    art_tree_init(&t);
    art_insert(&t, K("a"), VAL(1), NULL);
    art_insert(&t, K("ab"), VAL(2), NULL);
    art_insert(&t, K("abc"), VAL(3), NULL);
    art_insert(&t, K("b"), VAL(4), NULL);
    art_insert(&t, K("abd\0"), VAL(5), NULL);

    fl = 99;
    CHECK(art_longest_prefix(&t, K("abcd"), &fl) == VAL(3) && fl == 3);
    CHECK(art_longest_prefix(&t, K("abc"), &fl) == VAL(3) && fl == 3);
    CHECK(art_longest_prefix(&t, K("abx"), &fl) == VAL(2) && fl == 2);
    CHECK(art_longest_prefix(&t, K("abd"), &fl) == VAL(2) && fl == 2);
    CHECK(art_longest_prefix(&t, K("abd\0\0"), &fl) == VAL(5) && fl == 4);
    CHECK(art_longest_prefix(&t, K("x"), &fl) == NULL);
    CHECK(art_longest_prefix(&t, K(""), &fl) == NULL);

    CHECK(art_prefix_at_least(&t, K("abcd"), 0, &fl) == VAL(1) && fl == 1);
    CHECK(art_prefix_at_least(&t, K("abcd"), 2, &fl) == VAL(2) && fl == 2);
    CHECK(art_prefix_at_least(&t, K("abcd"), 3, &fl) == VAL(3) && fl == 3);
    CHECK(art_prefix_at_least(&t, K("abcd"), 4, &fl) == NULL);
    CHECK(art_prefix_at_least(&t, K("ab"), 3, &fl) == NULL);
    CHECK(art_prefix_at_least(&t, K("abd\0"), 3, &fl) == VAL(5) && fl == 4);

    art_insert(&t, K(""), VAL(6), NULL);
    CHECK(art_longest_prefix(&t, K("x"), &fl) == VAL(6) && fl == 0);
    CHECK(art_longest_prefix(&t, K(""), &fl) == VAL(6) && fl == 0);
    CHECK(art_prefix_at_least(&t, K("abc"), 0, &fl) == VAL(6) && fl == 0);
    CHECK(art_prefix_at_least(&t, K("abc"), 1, &fl) == VAL(1) && fl == 1);
    art_tree_clear(&t, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Fuzzy search                                                        */
/* ------------------------------------------------------------------ */

static int fuzzy_expect(art_tree *t, const char *q, uint32_t d, int utf8,
                        const char *const *want, const uint32_t *dist)
{
    art_fuzzy f;
    size_t i;
    int ok = 1;
    if (!CHECK(art_fuzzy_init(&f, t, (const uint8_t *)q, strlen(q), d, utf8) ==
               ART_OK))
        return 0;
    for (i = 0; ok && want[i]; i++)
        ok = cursor_key_is(&f.cursor, art_fuzzy_next(&f), want[i]) &&
             CHECK(f.distance == dist[i]);
    ok = ok && CHECK(art_fuzzy_next(&f) == 0);
    if (!ok && verbose())
        fprintf(stderr, "    query \"%s\" d=%u utf8=%d\n", q, (unsigned)d,
                utf8);
    art_fuzzy_free(&f);
    return ok;
}

static void test_fuzzy_basics(void)
{
    static const char *const keys[] = {"", "a", "ab", "abc", "b", "ba", "xyz"};
    static const char *const w1[] = {"a", "ab", "abc", "b", NULL};
    static const uint32_t d1[] = {1, 0, 1, 1};
    static const char *const w0[] = {"ab", NULL};
    static const uint32_t d0[] = {0};
    static const char *const w2[] = {"", "a", "ab", "abc", "b", "ba", NULL};
    static const uint32_t d2[] = {2, 1, 0, 1, 1, 2};
    static const char *const we[] = {"", "a", "b", NULL};
    static const uint32_t de[] = {0, 1, 1};
    /* a < e < é < 日 < 日本 < 本 in byte order */
    static const char *const ukeys[] = {"a",
                                        "e",
                                        "\xc3\xa9",
                                        "\xc3\xa8",
                                        "\xe6\x97\xa5",
                                        "\xe6\x97\xa5\xe6\x9c\xac",
                                        "\xe6\x9c\xac"};
    static const char *const u1[] = {"\xe6\x97\xa5", "\xe6\x97\xa5\xe6\x9c\xac",
                                     "\xe6\x9c\xac", NULL};
    static const uint32_t ud1[] = {1, 0, 1};
    static const char *const b1[] = {"\xe6\x97\xa5\xe6\x9c\xac", NULL};
    static const uint32_t bd1[] = {0};
    static const char *const ue[] = {
        "a", "e", "\xc3\xa8", "\xc3\xa9", "\xe6\x97\xa5", "\xe6\x9c\xac", NULL};
    static const uint32_t ude[] = {1, 1, 1, 0, 1, 1};
    static const char *const be[] = {"\xc3\xa8", "\xc3\xa9", NULL};
    static const uint32_t bde[] = {1, 0};
    art_tree t;
    size_t i;

    art_tree_init(&t);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        art_insert(&t, (const uint8_t *)keys[i], strlen(keys[i]), VAL(i), NULL);
    CHECK(fuzzy_expect(&t, "ab", 1, 0, w1, d1));
    CHECK(fuzzy_expect(&t, "ab", 0, 0, w0, d0));
    CHECK(fuzzy_expect(&t, "ab", 2, 0, w2, d2));
    CHECK(fuzzy_expect(&t, "", 1, 0, we, de));
    art_tree_clear(&t, NULL, NULL);

    for (i = 0; i < sizeof ukeys / sizeof ukeys[0]; i++)
        art_insert(&t, (const uint8_t *)ukeys[i], strlen(ukeys[i]), VAL(i),
                   NULL);
    /* Code points in utf8 mode, bytes otherwise. */
    CHECK(fuzzy_expect(&t, "\xe6\x97\xa5\xe6\x9c\xac", 1, 1, u1, ud1));
    CHECK(fuzzy_expect(&t, "\xe6\x97\xa5\xe6\x9c\xac", 1, 0, b1, bd1));
    CHECK(fuzzy_expect(&t, "\xc3\xa9", 1, 1, ue, ude));
    CHECK(fuzzy_expect(&t, "\xc3\xa9", 1, 0, be, bde));
    art_tree_clear(&t, NULL, NULL);
}

/* Results after a change continue from the last key reported. */
/* Keys that are not valid UTF-8 can reach a UTF-8 search only from a
   damaged file; the search must stay in bounds and in order.  (The file
   fuzzer found a band write past the row with such keys and stale rows:
   core/fuzz/file_regressions/fuzzy_band_past_row replays it.) */
static void test_fuzzy_invalid_utf8(void)
{
    static const uint8_t alphabet[] = {0x41, 0x80, 0xBF, 0xC3,
                                       0xE0, 0xF0, 0xF8, 0xFF};
    art_tree t;
    uint8_t k[16], q[8], prev[16];
    size_t i, j, prev_len;
    int r, any;

    g_rng = 4242;
    art_tree_init(&t);
    for (i = 0; i < 3000; i++) {
        size_t len = rnd_below(13);
        for (j = 0; j < len; j++)
            k[j] = alphabet[rnd_below(sizeof alphabet)];
        REQUIRE(art_insert(&t, k, len, VAL(i + 1), NULL) >= 0);
    }
    for (i = 0; i < 300 && !g_test_failures; i++) {
        art_fuzzy f;
        size_t qlen = rnd_below(sizeof q + 1);
        uint32_t d = (uint32_t)rnd_below(4);
        for (j = 0; j < qlen; j++)
            q[j] = alphabet[rnd_below(sizeof alphabet)];
        REQUIRE(art_fuzzy_init(&f, &t, q, qlen, d, 1) == ART_OK);
        any = 0;
        prev_len = 0;
        while ((r = art_fuzzy_next(&f)) == 1) {
            CHECK(f.distance <= d);
            CHECK(!any || art_key_compare(prev, prev_len, f.cursor.key,
                                          f.cursor.key_len) < 0);
            prev_len = f.cursor.key_len;
            copy_key(prev, f.cursor.key, prev_len);
            any = 1;
        }
        CHECK(r == 0);
        art_fuzzy_free(&f);
    }
    art_tree_clear(&t, NULL, NULL);
}

static void test_fuzzy_weak_consistency(void)
{
    art_tree t;
    art_fuzzy f;

    art_tree_init(&t);
    art_insert(&t, K("aa"), VAL(1), NULL);
    art_insert(&t, K("ab"), VAL(2), NULL);
    art_insert(&t, K("ac"), VAL(3), NULL);
    art_insert(&t, K("ad"), VAL(4), NULL);
    art_insert(&t, K("zz"), VAL(5), NULL);
    REQUIRE(art_fuzzy_init(&f, &t, K("aa"), 1, 0) == ART_OK);
    CHECK(cursor_key_is(&f.cursor, art_fuzzy_next(&f), "aa"));
    art_delete(&t, K("ab"), NULL);
    art_insert(&t, K("aab"), VAL(6), NULL);
    art_insert(&t, K("a"), VAL(7), NULL); /* behind: not reported */
    art_insert(&t, K("ae"), VAL(8), NULL);
    CHECK(cursor_key_is(&f.cursor, art_fuzzy_next(&f), "aab"));
    CHECK(f.distance == 1);
    CHECK(cursor_key_is(&f.cursor, art_fuzzy_next(&f), "ac"));
    art_delete(&t, K("ac"), NULL);
    art_delete(&t, K("ad"), NULL);
    CHECK(cursor_key_is(&f.cursor, art_fuzzy_next(&f), "ae"));
    art_tree_clear(&t, NULL, NULL);
    CHECK(art_fuzzy_next(&f) == 0);
    art_fuzzy_free(&f);
    art_tree_clear(&t, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Allocation failures                                                 */
/* ------------------------------------------------------------------ */

/* A tree with a node of each kind, values in nodes, a leaf, a long
   prefix and a deep chain: the places where inserts and deletes
   allocate. */
static void build_landmarks(art_tree *t, model_t *m, uint8_t *lp)
{
    uint8_t k[400];
    size_t i;
    for (i = 0; i < 4; i++) {
        k[0] = 'A';
        k[1] = (uint8_t)(i * 50);
        tree_insert_both(t, m, k, 2, VAL(10 + i));
    }
    for (i = 0; i < 16; i++) {
        k[0] = 'B';
        k[1] = (uint8_t)(i * 13);
        tree_insert_both(t, m, k, 2, VAL(20 + i));
    }
    for (i = 0; i < 48; i++) {
        k[0] = 'C';
        k[1] = (uint8_t)(i * 5);
        tree_insert_both(t, m, k, 2, VAL(40 + i));
    }
    for (i = 0; i < 100; i++) {
        k[0] = 'D';
        k[1] = (uint8_t)(i * 2);
        tree_insert_both(t, m, k, 2, VAL(100 + i));
    }
    tree_insert_both(t, m, K("leafkey"), VAL(300));
    tree_insert_both(t, m, K("vnode"), VAL(301));
    tree_insert_both(t, m, K("vnode1"), VAL(302));
    tree_insert_both(t, m, K("vnode2"), VAL(303));
    for (i = 0; i < 300; i++)
        lp[i] = (uint8_t)(i * 7 + 1);
    memcpy(k, lp, 300);
    k[300] = '1';
    tree_insert_both(t, m, k, 301, VAL(304));
    k[300] = '2';
    tree_insert_both(t, m, k, 301, VAL(305));
    for (i = 1; i < 40; i += 3) {
        k[0] = 'd';
        memset(k + 1, 'a', i);
        tree_insert_both(t, m, k, i + 1, VAL(400 + i));
    }
}

typedef struct {
    uint8_t k[320];
    size_t len;
} kbuf_t;

static size_t landmark_inserts(const uint8_t *lp, kbuf_t *out)
{
    size_t n = 0;
#define ADD_LIT(s)                                                             \
    do {                                                                       \
        memcpy(out[n].k, s, sizeof(s) - 1);                                    \
        out[n++].len = sizeof(s) - 1;                                          \
    } while (0)
    ADD_LIT("A\x07");    /* Node4 -> Node16 */
    ADD_LIT("B\x05");    /* Node16 -> Node48 */
    ADD_LIT("C\x03");    /* Node48 -> Node256 */
    ADD_LIT("D\x03");    /* into a Node256 */
    ADD_LIT("leafke");   /* a prefix of a leaf */
    ADD_LIT("leafkey!"); /* a leaf's key extended */
    ADD_LIT("leafkez");  /* a leaf split */
    ADD_LIT("vnod");     /* a node's prefix split, with a value */
    ADD_LIT("vnode3");   /* a child beside a node value */
    ADD_LIT("");         /* the root's value slot */
    ADD_LIT("zzzz");     /* a new root child */
    ADD_LIT("\0\xff\0");
    ADD_LIT("daa"); /* splits a chain link's prefix */
    ADD_LIT("A");   /* an empty value slot in an inner node */
#undef ADD_LIT
    memcpy(out[n].k, lp, 150);
    out[n].k[150] = (uint8_t)(lp[150] ^ 0x40); /* long prefix split */
    out[n++].len = 151;
    memcpy(out[n].k, lp, 300);
    out[n].k[300] = '3';
    out[n++].len = 301;
    memcpy(out[n].k, lp, 200);
    out[n++].len = 200; /* a value inside a long prefix */
    out[n].k[0] = 'd';
    memset(out[n].k + 1, 'a', 100);
    out[n++].len = 101; /* extends the chain's last leaf */
    return n;
}

static void test_enomem_insert_delete(void)
{
    art_tree t;
    model_t m = {0};
    uint8_t lp[300];
    kbuf_t cases[32];
    size_t n, i;
    long fails = 0, total = 0;
    mut_t op;
    int r;

    /* An empty tree needs a leaf for its first key. */
    art_tree_init(&t);
    op.is_delete = 0;
    op.key = (const uint8_t *)"x";
    op.len = 1;
    op.val = VAL(1);
    CHECK(mutate_sweep(&t, &m, &op, 1, &fails) == 1);
    CHECK(fails >= 1);
    model_put(&m, K("x"), VAL(1));
    op.is_delete = 1;
    CHECK(mutate_sweep(&t, &m, &op, 1, &fails) == 1);
    model_del(&m, K("x"));
    CHECK(t.root == 0 && t.bytes == 0);

    build_landmarks(&t, &m, lp);
    REQUIRE(tree_matches(&t, &m));
    n = landmark_inserts(lp, cases);
    for (i = 0; i < n; i++) {
        void *want;
        snprintf(g_ctx, sizeof g_ctx, "insert case %zu", i);
        op.is_delete = 0;
        op.key = cases[i].k;
        op.len = cases[i].len;
        op.val = VAL(1000 + i);
        r = mutate_sweep(&t, &m, &op, 1, &fails);
        total += fails;
        want = model_put(&m, op.key, op.len, op.val);
        CHECK(r == (want ? 0 : 1));
        CHECK(op.old == want);
        if (!tree_matches(&t, &m))
            return;
    }
    op.key = cases[0].k;
    op.len = cases[0].len;
    op.val = VAL(2000);
    CHECK(mutate_sweep(&t, &m, &op, 1, &fails) == 0);
    model_put(&m, op.key, op.len, op.val);
    CHECK(total >= (long)n / 2);

    /* Take every case out again (merges), then everything else, which
       shrinks every node on the way down. */
    total = 0;
    for (i = n; i-- > 0;) {
        snprintf(g_ctx, sizeof g_ctx, "delete case %zu", i);
        op.is_delete = 1;
        op.key = cases[i].k;
        op.len = cases[i].len;
        r = mutate_sweep(&t, &m, &op, 1, &fails);
        total += fails;
        CHECK(r == 1);
        CHECK(op.old == model_del(&m, op.key, op.len));
        if (!tree_matches(&t, &m))
            return;
    }
    op.key = (const uint8_t *)"absent";
    op.len = 6;
    CHECK(mutate_sweep(&t, &m, &op, 1, &fails) == 0);
    g_ctx[0] = '\0';
    while (m.n) {
        kbuf_t kb;
        const kv_t *e = &m.a[rnd_below(m.n)];
        memcpy(kb.k, e->key, e->len);
        kb.len = e->len;
        op.key = kb.k;
        op.len = kb.len;
        r = mutate_sweep(&t, &m, &op, m.n < 40 || m.n % 8 == 0, &fails);
        total += fails;
        if (!CHECK(r == 1) || !CHECK(op.old == model_del(&m, kb.k, kb.len)))
            break;
        if (!CHECK(valid(&t)))
            break;
    }
    /* Node rebuilds and merges on the way down must have allocated. */
    CHECK(total > 0);
    CHECK(t.size == 0 && t.root == 0 && t.bytes == 0);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* All 256 children of one node deleted one by one, each deletion under
   a sweep, so every shrink meets a failed allocation. */
static void test_enomem_shrink(void)
{
    int with_value;
    for (with_value = 0; with_value < 2; with_value++) {
        art_tree t;
        model_t m = {0};
        size_t order[256], i;
        uint8_t key[3] = {'s', 'h', 0};
        long fails, total = 0;
        mut_t op;

        art_tree_init(&t);
        if (with_value)
            tree_insert_both(&t, &m, key, 2, VAL(999));
        for (i = 0; i < 256; i++) {
            order[i] = i;
            key[2] = (uint8_t)i;
            tree_insert_both(&t, &m, key, 3, VAL(i));
        }
        shuffle(order, 256);
        for (i = 0; i < 256; i++) {
            key[2] = (uint8_t)order[i];
            op.is_delete = 1;
            op.key = key;
            op.len = 3;
            if (!CHECK(mutate_sweep(&t, &m, &op, 1, &fails) == 1))
                break;
            total += fails;
            model_del(&m, key, 3);
            if (!tree_matches(&t, &m))
                break;
        }
        CHECK(total > 0);
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
        if (g_test_failures)
            return;
    }
}

static void test_enomem_copy(void)
{
    art_tree t;
    model_t m = {0};
    uint8_t lp[300];

    art_tree_init(&t);
    build_landmarks(&t, &m, lp);
    CHECK(copy_sweep(&t, &m) >= 1);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static void test_enomem_cursor(void)
{
    art_tree t;
    model_t m = {0};
    uint8_t lp[300], k[400];
    size_t bytes;
    uint64_t version;
    long kk, fails;
    int step;

    art_tree_init(&t);
    /* The first key is long and deep, so even `first` has to allocate. */
    memset(k, 0x01, 100);
    tree_insert_both(&t, &m, k, 100, VAL(1));
    tree_insert_both(&t, &m, k, 50, VAL(2));
    k[60] = 0x02;
    tree_insert_both(&t, &m, k, 100, VAL(3));
    build_landmarks(&t, &m, lp);
    REQUIRE(tree_matches(&t, &m));
    bytes = t.bytes;
    version = t.version;

    CHECK(seek_sweep(&t, &m, K(""), ART_SEEK_GE) >= 1);
    CHECK(seek_sweep(&t, &m, K("\xff"), ART_SEEK_LE) >= 1);
    memcpy(k, lp, 300);
    k[300] = '2';
    CHECK(seek_sweep(&t, &m, k, 301, ART_SEEK_GE) >= 1);
    CHECK(seek_sweep(&t, &m, k, 301, ART_SEEK_GT) >= 1);
    CHECK(seek_sweep(&t, &m, k, 301, ART_SEEK_LT) >= 1);
    CHECK(seek_sweep(&t, &m, K("C\x07"), ART_SEEK_LT) >= 0);
    CHECK(seek_sweep(&t, &m, K("vnode1"), ART_SEEK_GE) >= 0);

    /*
     * Steps that must grow the cursor's buffers: from short keys onto the
     * long ones, and a re-seek after a change.  `step` 0: next from the
     * key just before the long prefix, 1: prev from the key after it,
     * 2: next after the tree changed, 3: first, 4: last.
     */
    for (step = 0; step < 5; step++) {
        size_t from_i = 0, want;
        memcpy(k, lp, 300);
        k[300] = '1';
        want = model_lb(&m, k, 301);
        if (step == 0 || step == 2)
            from_i = want - 1;
        else if (step == 1)
            from_i = want + 2;
        if (step == 1)
            want = want + 1;
        if (step == 3)
            want = 0;
        if (step == 4)
            want = m.n - 1;
        fails = 0;
        for (kk = 1; kk <= SWEEP_LIMIT; kk++) {
            art_cursor c;
            int r;
            art_cursor_init(&c, &t);
            if (step < 3 &&
                !CHECK(cursor_on(&c,
                                 art_cursor_seek(&c, m.a[from_i].key,
                                                 m.a[from_i].len, ART_SEEK_GE),
                                 &m, from_i))) {
                art_cursor_free(&c);
                break;
            }
            if (step == 2) {
                /* A structural change forces a re-seek; undoing it keeps
                   the expected answer. */
                tree_insert_both(&t, &m, K("\x7e"), VAL(77));
                tree_delete_both(&t, &m, K("\x7e"));
                bytes = t.bytes;
                version = t.version;
            }
            t.fail_countdown = kk;
            r = step == 1   ? art_cursor_prev(&c)
                : step == 3 ? art_cursor_first(&c)
                : step == 4 ? art_cursor_last(&c)
                            : art_cursor_next(&c);
            t.fail_countdown = 0;
            if (r == ART_ENOMEM) {
                fails++;
                CHECK(c.at == 0);
                CHECK(t.bytes == bytes && t.version == version);
                CHECK(cursor_on(&c, art_cursor_prev(&c), &m, m.n - 1));
                art_cursor_free(&c);
                if (g_test_failures)
                    break;
                continue;
            }
            CHECK(cursor_on(&c, r, &m, want));
            art_cursor_free(&c);
            break;
        }
        if (step >= 3)
            CHECK(fails >= 1);
        if (g_test_failures)
            break;
    }
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static void test_enomem_fuzzy(void)
{
    art_tree t;
    model_t m = {0};
    const rconf_t cf = {.name = "utf8",
                        .syms = g_syms_utf8,
                        .nsyms = 7,
                        .max_syms = 4,
                        .utf8 = 1,
                        .max_d = 3};
    uint8_t q[RKEY_MAX];
    size_t qlen, bytes;
    uint64_t version;
    long k;
    int round;

    art_tree_init(&t);
    build_random(&t, &m, &cf, 300);
    bytes = t.bytes;
    version = t.version;
    for (round = 0; round < 8; round++) {
        int utf8 = round % 2;
        do
            qlen = gen_key(&cf, 4, q);
        while (qlen == 0);
        CHECK(fuzzy_init_sweep(&t, &m, q, qlen, (uint32_t)(round % 4), utf8) >=
              1);
        /* Failures while stepping: the tree stays untouched and the
           search can still be freed. */
        for (k = 1; k <= SWEEP_LIMIT; k++) {
            art_fuzzy f;
            int r;
            if (!CHECK(art_fuzzy_init(&f, &t, q, qlen, 2, utf8) == ART_OK))
                break;
            t.fail_countdown = k;
            do
                r = art_fuzzy_next(&f);
            while (r == 1);
            t.fail_countdown = 0;
            art_fuzzy_free(&f);
            CHECK(t.bytes == bytes && t.version == version);
            if (r != ART_ENOMEM) {
                CHECK(r == 0);
                break;
            }
        }
        if (g_test_failures)
            break;
    }
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* ------------------------------------------------------------------ */
/* Randomized differential test                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    const rconf_t *cf;
    art_tree t;
    model_t m;
    long step;
    uintptr_t vnext;
    int draining, cycles;
    /* A cursor that keeps stepping while the tree changes under it. */
    art_cursor pc;
    uint8_t pck[RKEY_MAX];
    size_t pclen;
    int pc_on;
    /* A cursor for seeks and skips. */
    art_cursor sc;
    /* A fuzzy search that keeps going while the tree changes. */
    art_fuzzy fz;
    int fz_on, fz_any, fz_utf8;
    uint32_t fz_d;
    uint32_t fzq[RKEY_MAX];
    size_t fzqn;
    uint8_t fzk[RKEY_MAX];
    size_t fzklen;
} rstate_t;

static void r_mutate(rstate_t *st)
{
    model_t *m = &st->m;
    uint8_t k[RKEY_MAX];
    size_t klen;
    int ins, r;
    void *old = VAL(777777), *want;
    const int fault = st->step % 7 == 6;

    if (!st->draining && m->n >= st->cf->fill_to) {
        st->draining = 1;
    } else if (st->draining &&
               m->n <= (st->cycles % 2 ? 0 : st->cf->fill_to / 10)) {
        st->draining = 0;
        st->cycles++;
    }
    ins = (int)rnd_below(100) < (st->draining ? 30 : 70);
    if (m->n && rnd_below(100) < (ins ? 20u : 80u)) {
        const kv_t *e = &m->a[rnd_below(m->n)];
        klen = e->len;
        memcpy(k, e->key, klen);
    } else {
        klen = gen_key(st->cf, st->cf->max_syms, k);
    }
    if (ins) {
        void *v = VAL(st->vnext++);
        if (fault) {
            mut_t op;
            op.is_delete = 0;
            op.key = k;
            op.len = klen;
            op.val = v;
            r = mutate_sweep(&st->t, m, &op, 1, NULL);
            old = op.old;
        } else {
            r = art_insert(&st->t, k, klen, v, &old);
        }
        want = model_put(m, k, klen, v);
        CHECK(r == (want ? 0 : 1));
        CHECK(old == want);
    } else {
        if (fault) {
            mut_t op;
            op.is_delete = 1;
            op.key = k;
            op.len = klen;
            op.val = NULL;
            r = mutate_sweep(&st->t, m, &op, 1, NULL);
            old = op.old;
        } else {
            r = art_delete(&st->t, k, klen, &old);
        }
        want = model_del(m, k, klen);
        CHECK(r == (want ? 1 : 0));
        if (want)
            CHECK(old == want);
    }
    if (g_test_failures)
        dump_key(ins ? "inserted" : "deleted", k, klen);
}

static void r_lookup(rstate_t *st)
{
    uint8_t k[RKEY_MAX];
    size_t klen = gen_key(st->cf, st->cf->max_syms + 1, k);
    kv_t *e;
    void **slot;

    if (st->m.n && rnd_below(2)) {
        e = &st->m.a[rnd_below(st->m.n)];
        klen = e->len;
        memcpy(k, e->key, klen);
    }
    e = model_find(&st->m, k, klen);
    CHECK(art_search(&st->t, k, klen) == (e ? e->val : NULL));
    slot = art_search_slot(&st->t, k, klen);
    if (!e) {
        CHECK(slot == NULL);
    } else if (CHECK(slot != NULL) && CHECK(*slot == e->val) &&
               rnd_below(8) == 0) {
        *slot = e->val = VAL(st->vnext++);
        CHECK(art_search(&st->t, k, klen) == e->val);
    }
}

static void r_seek(rstate_t *st)
{
    uint8_t k[RKEY_MAX];
    size_t klen = gen_target(st->cf, k), i;
    int mode, r;

    for (mode = ART_SEEK_GE; mode <= ART_SEEK_LT; mode++) {
        r = art_cursor_seek(&st->sc, k, klen, (art_seek_mode)mode);
        i = model_seek(&st->m, k, klen, (art_seek_mode)mode);
        if (!cursor_on(&st->sc, r, &st->m, i)) {
            dump_key("seek target", k, klen);
            return;
        }
        if (r != 1)
            continue;
        CHECK(st->sc.changed_from == 0);
        if (rnd_below(2))
            cursor_on(&st->sc, art_cursor_next(&st->sc), &st->m, i + 1);
        else
            cursor_on(&st->sc, art_cursor_prev(&st->sc), &st->m,
                      i ? i - 1 : st->m.n);
    }
}

static void r_skip(rstate_t *st)
{
    const model_t *m = &st->m;
    size_t i, j, n;
    int r;

    if (m->n == 0)
        return;
    i = rnd_below(m->n);
    if (i > 0 && rnd_below(2)) {
        /* arrive by a step rather than a seek */
        r = art_cursor_seek(&st->sc, m->a[i - 1].key, m->a[i - 1].len,
                            ART_SEEK_GE);
        if (!cursor_on(&st->sc, r, m, i - 1))
            return;
        r = art_cursor_next(&st->sc);
    } else {
        r = art_cursor_seek(&st->sc, m->a[i].key, m->a[i].len, ART_SEEK_GE);
    }
    if (!cursor_on(&st->sc, r, m, i))
        return;
    n = rnd_below(m->a[i].len + 1);
    r = art_cursor_skip(&st->sc, n);
    for (j = i + 1;
         j < m->n && starts_with(m->a[j].key, m->a[j].len, m->a[i].key, n); j++)
        ;
    if (!cursor_on(&st->sc, r, m, j)) {
        dump_key("skipped from", m->a[i].key, m->a[i].len);
        if (verbose())
            fprintf(stderr, "    n = %zu\n", n);
    }
}

static void r_prefix(rstate_t *st)
{
    uint8_t q[RKEY_MAX];
    size_t qlen = gen_key(st->cf, st->cf->max_syms + 2, q);
    size_t min_len = rnd_below(qlen + 2), l, fl = 12345;
    const kv_t *e = NULL;
    void *v;

    for (l = min_len; l <= qlen && !e; l++)
        e = model_find(&st->m, q, l);
    v = art_prefix_at_least(&st->t, q, qlen, min_len, &fl);
    if (e)
        CHECK(v == e->val && fl == e->len);
    else
        CHECK(v == NULL);

    e = NULL;
    for (l = qlen + 1; l-- > 0 && !e;)
        e = model_find(&st->m, q, l);
    fl = 12345;
    v = art_longest_prefix(&st->t, q, qlen, &fl);
    if (e)
        CHECK(v == e->val && fl == e->len);
    else
        CHECK(v == NULL);
    if (g_test_failures) {
        dump_key("prefix query", q, qlen);
        if (verbose())
            fprintf(stderr, "    min_len %zu\n", min_len);
    }
}

/* Weak consistency: whatever happened since, a step lands on the nearest
   key beyond the cursor's previous key. */
static void r_persistent_cursor(rstate_t *st)
{
    const model_t *m = &st->m;
    size_t want;
    int r, fwd = (int)rnd_below(2);

    if (rnd_below(40) == 0) {
        uint8_t k[RKEY_MAX];
        size_t klen = gen_target(st->cf, k);
        r = art_cursor_seek(&st->pc, k, klen, ART_SEEK_GE);
        want = model_seek(m, k, klen, ART_SEEK_GE);
    } else {
        if (!st->pc_on)
            want = fwd ? 0 : (m->n ? m->n - 1 : m->n);
        else
            want = model_seek(m, st->pck, st->pclen,
                              fwd ? ART_SEEK_GT : ART_SEEK_LT);
        r = fwd ? art_cursor_next(&st->pc) : art_cursor_prev(&st->pc);
    }
    if (!cursor_on(&st->pc, r, m, want)) {
        if (st->pc_on)
            dump_key(fwd ? "stepped forward from" : "stepped back from",
                     st->pck, st->pclen);
        return;
    }
    if (r == 1) {
        if (st->pc_on)
            CHECK(st->pc.changed_from <=
                  common_len(st->pck, st->pclen, st->pc.key, st->pc.key_len));
        st->pclen = st->pc.key_len;
        copy_key(st->pck, st->pc.key, st->pclen);
    }
    st->pc_on = r == 1;
}

static void r_persistent_fuzzy(rstate_t *st)
{
    const model_t *m = &st->m;
    uint32_t dist = 0;
    size_t want;
    int r;

    if (!st->fz_on) {
        uint8_t q[RKEY_MAX];
        size_t qlen;
        if (st->step % 11 != 0)
            return;
        qlen = gen_key(st->cf, st->cf->max_syms + 1, q);
        st->fz_d = (uint32_t)rnd_below(st->cf->max_d + 1);
        st->fz_utf8 = st->cf->utf8 && rnd_below(4) != 0;
        st->fzqn = to_symbols(q, qlen, st->fz_utf8, st->fzq);
        if (!CHECK(art_fuzzy_init(&st->fz, &st->t, q, qlen, st->fz_d,
                                  st->fz_utf8) == ART_OK))
            return;
        st->fz_on = 1;
        st->fz_any = 0;
        return;
    }
    want = st->fz_any ? model_seek(m, st->fzk, st->fzklen, ART_SEEK_GT) : 0;
    want = model_next_match(m, want, st->fzq, st->fzqn, st->fz_d, st->fz_utf8,
                            &dist);
    r = art_fuzzy_next(&st->fz);
    if (want == m->n) {
        CHECK(r == 0);
        art_fuzzy_free(&st->fz);
        st->fz_on = 0;
        return;
    }
    if (!CHECK(r == 1) ||
        !CHECK(key_eq(st->fz.cursor.key, st->fz.cursor.key_len, m->a[want].key,
                      m->a[want].len)) ||
        !CHECK(st->fz.distance == dist)) {
        if (r == 1)
            dump_key("fuzzy found", st->fz.cursor.key, st->fz.cursor.key_len);
        dump_key("expected", m->a[want].key, m->a[want].len);
        return;
    }
    st->fz_any = 1;
    st->fzklen = st->fz.cursor.key_len;
    copy_key(st->fzk, st->fz.cursor.key, st->fzklen);
}

static void r_fuzzy_full(rstate_t *st)
{
    uint8_t q[RKEY_MAX];
    size_t qlen = gen_key(st->cf, st->cf->max_syms + 1, q);
    int utf8 = st->cf->utf8 && rnd_below(4) != 0;
    /* Now and then a bound beyond any key: every key matches. */
    uint32_t d = rnd_below(16) == 0 ? UINT32_MAX
                                    : (uint32_t)rnd_below(st->cf->max_d + 1);
    fuzzy_matches(&st->t, &st->m, q, qlen, d, utf8);
}

/* Allocation failures in the operations that do not change the tree. */
static void r_fault_other(rstate_t *st)
{
    uint8_t k[RKEY_MAX];
    size_t klen;
    switch ((st->step / 7) % 3) {
    case 0:
        klen = gen_target(st->cf, k);
        seek_sweep(&st->t, &st->m, k, klen, (art_seek_mode)rnd_below(4));
        break;
    case 1:
        klen = gen_key(st->cf, st->cf->max_syms, k);
        fuzzy_init_sweep(&st->t, &st->m, k, klen,
                         (uint32_t)rnd_below(st->cf->max_d + 1),
                         st->cf->utf8 && rnd_below(2));
        break;
    default:
        if (st->m.n <= 60)
            copy_sweep(&st->t, &st->m);
        else
            copy_once(&st->t, &st->m, 1 + (long)rnd_below(st->m.n * 2));
        break;
    }
}

static void r_foreach(rstate_t *st)
{
    visit_t v;
    v.m = &st->m;
    v.seen = 0;
    v.stop_after = 0;
    v.in_order = 1;
    CHECK(art_foreach(&st->t, visit_in_order, &v) == 0);
    CHECK(v.seen == st->m.n && v.in_order);
}

static void random_test(const rconf_t *cf)
{
    rstate_t *st = xmalloc(sizeof *st);
    tally_t tc = {0, 0};

    memset(st, 0, sizeof *st);
    st->cf = cf;
    st->vnext = 1;
    art_tree_init(&st->t);
    art_cursor_init(&st->pc, &st->t);
    art_cursor_init(&st->sc, &st->t);
    for (st->step = 0; st->step < cf->steps && !g_test_failures; st->step++) {
        const long s = st->step;
        snprintf(g_ctx, sizeof g_ctx, "%s seed=%llu step=%ld", cf->name, g_seed,
                 s);
        r_mutate(st);
        if (!CHECK(valid(&st->t)) || !CHECK(st->t.size == st->m.n))
            break;
        r_lookup(st);
        r_seek(st);
        r_persistent_cursor(st);
        r_persistent_fuzzy(st);
        if (s % 3 == 0) {
            r_skip(st);
            r_prefix(st);
        }
        if (s % cf->fuzzy_every == 0)
            r_fuzzy_full(st);
        if (s % 7 == 3)
            r_fault_other(st);
        if (s % 97 == 0) {
            tree_matches(&st->t, &st->m);
            stats_consistent(&st->t);
        }
        if (s % 499 == 0)
            r_foreach(st);
        if (s % 1999 == 1000)
            copy_once(&st->t, &st->m, 0);
    }
    if (!g_test_failures) {
        g_ctx[0] = '\0';
        CHECK(tree_matches(&st->t, &st->m));
    }
    if (st->fz_on)
        art_fuzzy_free(&st->fz);
    art_cursor_free(&st->pc);
    art_cursor_free(&st->sc);
    art_tree_clear(&st->t, tally_value, &tc);
    CHECK(tc.calls == st->m.n);
    CHECK(tc.sum == model_value_sum(&st->m));
    model_free(&st->m);
    free(st);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

/* A file image growing in memory, 8-byte aligned. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    long fail_after; /* write calls before one fails; < 0: never */
    int encode_fails;
} image_t;

static int image_write(const void *p, size_t n, void *ctx)
{
    image_t *im = ctx;
    if (im->fail_after == 0)
        return -1;
    if (im->fail_after > 0)
        im->fail_after--;
    if (im->len + n > im->cap) {
        size_t cap = im->cap ? im->cap : 4096;
        while (cap < im->len + n)
            cap *= 2;
        im->data = xrealloc(im->data, cap);
        im->cap = cap;
    }
    memcpy(im->data + im->len, p, n);
    im->len += n;
    return 0;
}

/* Values in these tests are VAL(i): non-zero multiples of 8, stored as
   they are. */
static int identity_encode(void *value, uint64_t *ref, void *ctx)
{
    *ref = (uint64_t)(uintptr_t)value;
    return ((image_t *)ctx)->encode_fails;
}

static int check_multiple_of_8(uint64_t ref, void *ctx)
{
    (void)ctx;
    return ref % 8 != 0;
}

/* Writes t as a whole file (an empty values section) into *im. */
static int save_image(const art_tree *t, image_t *im)
{
    art_file_header h;
    uint8_t head[ART_FILE_HEADER_SIZE] = {0};
    int r;
    memset(im, 0, sizeof(*im));
    im->fail_after = -1;
    image_write(head, sizeof(head), im);
    memset(&h, 0, sizeof(h));
    r = art_file_write_nodes(t, image_write, identity_encode, im, &h);
    if (r != ART_OK)
        return r;
    h.version = ART_FILE_VERSION;
    h.flags = 0x5A;
    art_file_header_encode(&h, im->data);
    h.checksum = art_file_checksum(im->data, im->len);
    art_file_header_encode(&h, im->data);
    return ART_OK;
}

static int load_round_trip(const image_t *im, const model_t *m)
{
    art_tree dst;
    art_file_header h;
    const char *why = NULL;
    uint8_t *buf;
    size_t i;
    int ok = 1;
    if (!CHECK(art_file_read_header(im->data, im->len, &h, &why) == ART_OK))
        return 0;
    buf = art_file_buffer((size_t)h.nodes_size);
    if (h.nodes_size)
        memcpy(buf, im->data + ART_FILE_HEADER_SIZE, (size_t)h.nodes_size);
    art_tree_init(&dst);
    if (!CHECK(art_file_load(&dst, &h, buf, 0, NULL, NULL, &why) == ART_OK)) {
        art_file_buffer_free(buf);
        return 0;
    }
    ok = tree_matches(&dst, m) && CHECK(dst.reserved >= h.nodes_size);
    /* It changes like any tree: blocks of the arena are freed and
       reused, nodes outgrow it. */
    for (i = 0; ok && i < m->n; i += 2)
        ok = CHECK(art_delete(&dst, m->a[i].key, m->a[i].len, NULL) == 1);
    for (i = 0; ok && i < m->n; i += 2)
        ok = CHECK(
            art_insert(&dst, m->a[i].key, m->a[i].len, m->a[i].val, NULL) == 1);
    ok = ok && tree_matches(&dst, m);
    art_tree_clear(&dst, NULL, NULL);
    return ok;
}

/* Saves t, opens the image and checks it against the model. */
static int file_round_trip(art_tree *t, const model_t *m)
{
    image_t im, again;
    art_tree ft, cp;
    art_file_header h;
    const char *why = NULL;
    int ok = 1;
    if (!CHECK(save_image(t, &im) == ART_OK))
        return 0;
    /* The writer is deterministic: same tree, same bytes. */
    if (CHECK(save_image(t, &again) == ART_OK))
        ok &= CHECK(again.len == im.len &&
                    memcmp(again.data, im.data, im.len) == 0);
    free(again.data);
    if (!CHECK(art_file_open(&ft, im.data, im.len, ART_FILE_VERIFY_CHECKSUM,
                             check_multiple_of_8, NULL, &h, &why) == ART_OK)) {
        if (verbose())
            fprintf(stderr, "    art_file_open: %s\n", why);
        free(im.data);
        return 0;
    }
    ok &= CHECK(h.flags == 0x5A && h.count == m->n);
    ok &= CHECK(ft.bytes == h.nodes_size && h.nodes_size == t->bytes);
    ok = ok && tree_matches(&ft, m) && stats_consistent(&ft);
    /* A copy back into memory is an ordinary tree. */
    art_tree_init(&cp);
    if (CHECK(art_tree_copy(&cp, &ft) == ART_OK)) {
        ok = ok && tree_matches(&cp, m);
        ok = ok && CHECK(art_insert(&cp, K("zz-new"), VAL(77), NULL) >= 0);
    }
    art_tree_clear(&cp, NULL, NULL);
    /* Adopted: the nodes section becomes an ordinary tree's memory. */
    ok &= load_round_trip(&im, m);
    /* A read-only tree refuses to be changed. */
    ok &= CHECK(art_insert(&ft, K("x"), VAL(1), NULL) == ART_EINVAL);
    ok &= CHECK(art_delete(&ft, K("x"), NULL) == ART_EINVAL);
    art_file_close(&ft);
    free(im.data);
    return ok;
}

static void test_file_round_trips(void)
{
    art_tree t;
    model_t m = {0};
    uint8_t *big = xmalloc(70000);
    size_t i;

    /* Empty, one leaf, one node with values, then random trees. */
    art_tree_init(&t);
    CHECK(file_round_trip(&t, &m));
    tree_insert_both(&t, &m, K("only"), VAL(1));
    CHECK(file_round_trip(&t, &m));
    tree_insert_both(&t, &m, K(""), VAL(2));
    tree_insert_both(&t, &m, K("on"), VAL(3));
    tree_insert_both(&t, &m, K("onlyx"), VAL(4));
    CHECK(file_round_trip(&t, &m));
    /* A prefix and a suffix longer than the writer's 64 KiB buffer. */
    memset(big, 'p', 70000);
    tree_insert_both(&t, &m, big, 69990, VAL(5));
    tree_insert_both(&t, &m, big, 70000, VAL(6));
    big[69995] = 'q';
    tree_insert_both(&t, &m, big, 70000, VAL(7));
    CHECK(file_round_trip(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);

    /* Every node kind, values in nodes, wide and narrow fan-out. */
    build_random(&t, &m, &g_wide_conf, 4000);
    CHECK(file_round_trip(&t, &m));
    /* A chain: each key a prefix of the next. */
    for (i = 0; i < 3000; i++)
        tree_insert_both(&t, &m, big, i, VAL(10 + i));
    CHECK(file_round_trip(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
    free(big);
}

static void test_file_write_failures(void)
{
    art_tree t;
    model_t m = {0};
    image_t im;
    art_file_header h;
    long k;
    uint8_t *big = xmalloc(200000);
    memset(big, 'b', 200000);
    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 3000);
    /* Over 64 KiB of suffix: the section takes several writes. */
    tree_insert_both(&t, &m, big, 200000, VAL(5));
    free(big);
    /* A failing write, at each call in turn, and a failing encoder. */
    for (k = 0; k < 4; k++) {
        memset(&im, 0, sizeof(im));
        im.fail_after = k;
        CHECK(art_file_write_nodes(&t, image_write, identity_encode, &im, &h) ==
              ART_ECALLBACK);
        free(im.data);
    }
    memset(&im, 0, sizeof(im));
    im.fail_after = -1;
    im.encode_fails = 1;
    CHECK(art_file_write_nodes(&t, image_write, identity_encode, &im, &h) ==
          ART_ECALLBACK);
    free(im.data);
    /* Allocation failures, at each allocation in turn. */
    for (k = 1; k < 40; k++) {
        int r;
        memset(&im, 0, sizeof(im));
        im.fail_after = -1;
        t.fail_countdown = k;
        r = art_file_write_nodes(&t, image_write, identity_encode, &im, &h);
        t.fail_countdown = 0;
        free(im.data);
        if (r == ART_OK)
            break;
        CHECK(r == ART_ENOMEM);
    }
    CHECK(k > 1 && k < 40);
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* Loading: the value slots art_file_load hands out, recorded. */
typedef struct {
    long left; /* slots taken before one is refused */
    size_t n, cap;
    void ***slots;
    uint8_t *lo, *hi; /* the block loaded */
    int bad;          /* a slot outside the block or misaligned */
} loader_t;

#define TAKE_ALL 1000000000L

static int take_slot(void **slot, void *ctx)
{
    loader_t *ld = ctx;
    if (ld->left == 0)
        return 1;
    ld->left--;
    if ((uint8_t *)slot < ld->lo || (uint8_t *)slot + 8 > ld->hi ||
        (uintptr_t)slot % 8)
        ld->bad = 1;
    if (ld->n == ld->cap) {
        ld->cap = ld->cap ? 2 * ld->cap : 64;
        ld->slots = xrealloc(ld->slots, ld->cap * sizeof(*ld->slots));
    }
    ld->slots[ld->n++] = slot;
    *slot = (void *)((uintptr_t)*slot + 8); /* the value, "decoded" */
    return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a;
    uintptr_t y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* Slots all inside the block, aligned, each given once, at most count. */
static int slots_sound(loader_t *ld, uint64_t count)
{
    size_t i;
    if (ld->n > 1)
        qsort(ld->slots, ld->n, sizeof(*ld->slots), cmp_ptr);
    for (i = 1; i < ld->n; i++)
        if (ld->slots[i - 1] == ld->slots[i])
            return CHECK(!"a slot given twice");
    return CHECK(!ld->bad) && CHECK(ld->n <= count);
}

/* Loads im's nodes taking slots into ld; the result.  A refused load
   leaves dst empty and hands out only sound slots. */
static int load_image(const image_t *im, art_tree *dst, loader_t *ld,
                      long countdown, unsigned options)
{
    art_file_header h;
    uint8_t *buf;
    int r;
    ld->n = 0;
    ld->bad = 0;
    if (art_file_read_header(im->data, im->len, &h, NULL) != ART_OK)
        return ART_EFORMAT;
    buf = art_file_buffer((size_t)h.nodes_size);
    if (!CHECK(buf != NULL))
        return ART_ENOMEM;
    memcpy(buf, im->data + 64, (size_t)h.nodes_size);
    ld->lo = buf;
    ld->hi = buf + h.nodes_size;
    art_tree_init(dst);
    dst->fail_countdown = countdown;
    r = art_file_load(dst, &h, buf, options, take_slot, ld, NULL);
    if (r != ART_OK) {
        CHECK(dst->root == 0 && dst->size == 0 && dst->walk == NULL);
        slots_sound(ld, h.count);
        art_file_buffer_free(buf);
    }
    dst->fail_countdown = 0;
    return r;
}

static void test_file_load_failures(void)
{
    art_tree t, ft, dst;
    art_file_header h;
    model_t m = {0};
    image_t im;
    loader_t ld = {0};
    long k;
    size_t i;
    int r;
    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 1500);
    REQUIRE(save_image(&t, &im) == ART_OK);
    /* on_value refusing after k slots: the load stops there. */
    for (k = 0; k <= (long)m.n; k += 61) {
        ld.left = k;
        r = load_image(&im, &dst, &ld, 0, 0);
        if (k < (long)m.n) {
            CHECK(r == ART_ECALLBACK);
            CHECK(ld.n == (size_t)k);
        } else {
            /* Every value once: each reads as its reference plus 8. */
            CHECK(r == ART_OK && ld.n == m.n && slots_sound(&ld, m.n));
            for (i = 0; i < m.n; i++)
                CHECK(art_search(&dst, m.a[i].key, m.a[i].len) ==
                      (void *)((uintptr_t)m.a[i].val + 8));
            CHECK(valid(&dst));
            art_tree_clear(&dst, NULL, NULL);
        }
    }
    /* Every allocation failing in turn: the stack as it grows, and the
       walk stack at the end, after every slot is handed out. */
    for (k = 1;; k++) {
        ld.left = TAKE_ALL;
        r = load_image(&im, &dst, &ld, k, 0);
        if (r == ART_OK)
            break;
        CHECK(r == ART_ENOMEM);
    }
    CHECK(k > 1 && valid(&dst) && dst.size == m.n && ld.n == m.n);
    art_tree_clear(&dst, NULL, NULL);
    /* Faults found late: a header that counts one key too few (found when
       the pass meets one key more, before handing out its slot), one too
       many or a longest key that is wrong (found at the end). */
    for (k = 0; k < 3; k++) {
        image_t bad;
        bad.len = im.len;
        bad.data = xmalloc(im.len);
        memcpy(bad.data, im.data, im.len);
        REQUIRE(art_file_read_header(bad.data, bad.len, &h, NULL) == ART_OK);
        if (k == 0)
            h.count--;
        else if (k == 1)
            h.count++;
        else
            h.max_key_len--;
        art_file_header_encode(&h, bad.data);
        ld.left = TAKE_ALL;
        CHECK(load_image(&bad, &dst, &ld, 0, 0) == ART_EFORMAT);
        CHECK(ld.n == (k == 0 ? m.n - 1 : m.n));
        free(bad.data);
    }
    /* A key that is not UTF-8 is refused when asked. */
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
    free(im.data);
    art_tree_init(&t);
    tree_insert_both(&t, &m, K("caf\xc3\xa9"), VAL(1));
    tree_insert_both(&t, &m, K("\xed\xa0\x80"), VAL(2)); /* U+D800 */
    REQUIRE(save_image(&t, &im) == ART_OK);
    CHECK(art_file_open(&ft, im.data, im.len, ART_FILE_UTF8_KEYS, NULL, NULL,
                        &h, NULL) == ART_OK);
    art_file_close(&ft);
    tree_insert_both(&t, &m, K("caf\xc3"), VAL(3));
    free(im.data);
    REQUIRE(save_image(&t, &im) == ART_OK);
    CHECK(art_file_open(&ft, im.data, im.len, ART_FILE_UTF8_KEYS, NULL, NULL,
                        &h, NULL) == ART_EFORMAT);
    ld.left = TAKE_ALL;
    CHECK(load_image(&im, &dst, &ld, 0, ART_FILE_UTF8_KEYS) == ART_EFORMAT);
    CHECK(load_image(&im, &dst, &ld, 0, 0) == ART_OK && ld.n == 3);
    art_tree_clear(&dst, NULL, NULL);
    CHECK(art_file_open(&ft, im.data, im.len, 0, NULL, NULL, &h, NULL) ==
          ART_OK);
    art_file_close(&ft);
    free(im.data);
    free(ld.slots);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* Opens an image with the UTF-8 check and returns the result. */
static int open_utf8(const art_tree *t)
{
    image_t im;
    art_tree ft;
    art_file_header h;
    int r;
    if (save_image(t, &im) != ART_OK)
        return -100;
    r = art_file_open(&ft, im.data, im.len, ART_FILE_UTF8_KEYS, NULL, NULL, &h,
                      NULL);
    if (r == ART_OK)
        art_file_close(&ft);
    free(im.data);
    return r;
}

static void test_file_utf8_and_layout_checks(void)
{
    static const struct {
        const char *key;
        size_t len;
        int ok;
    } cases[] = {
        {"abcdefgh\xc3\xa9", 10, 1}, /* ASCII words, then é */
        {"\xc3\xa9"
         "abcdefgh",
         10, 1}, /* é, then a whole word */
        {"\xc3\xa9"
         "abcdefghijk",
         13, 1},                    /* é, then a word and a tail */
        {"\xf0\x9f\x98\x80", 4, 1}, /* U+1F600 */
        {"\xed\xa0\x80", 3, 1},     /* U+D800, surrogatepass */
        {"\xff", 1, 0},             /* never a lead byte */
        {"\xc0\x80", 2, 0},         /* overlong */
        {"\xe0\x80\x80", 3, 0},     /* overlong */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
        {"\xe6\x97", 2, 0},         /* cut short */
        {"a\x80", 2, 0},            /* stray continuation */
    };
    art_tree t, ft;
    image_t im;
    art_file_header h;
    const char *why;
    uint8_t *moved;
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(g_ctx, sizeof(g_ctx), "case %zu", i);
        /* Alone (a leaf at the root), and below a node that branches on
           the key's bytes (prefix, child byte, suffix). */
        art_tree_init(&t);
        art_insert(&t, (const uint8_t *)cases[i].key, cases[i].len, VAL(1),
                   NULL);
        CHECK((open_utf8(&t) == ART_OK) == cases[i].ok);
        art_insert(&t, K("zz"), VAL(2), NULL);
        art_insert(&t, (const uint8_t *)cases[i].key, 1, VAL(3), NULL);
        /* The one-byte key is valid only when ASCII. */
        CHECK((open_utf8(&t) == ART_OK) ==
              (cases[i].ok && (uint8_t)cases[i].key[0] < 0x80));
        art_tree_clear(&t, NULL, NULL);
    }
    g_ctx[0] = '\0';
    /* A child byte that cannot follow: "a" then 0x80 below one node. */
    art_tree_init(&t);
    art_insert(&t, K("a\x80x"), VAL(1), NULL);
    art_insert(&t, K("a\x81y"), VAL(2), NULL);
    CHECK(open_utf8(&t) == ART_EFORMAT);
    /* An object in the nodes section that the tree does not reach. */
    art_tree_clear(&t, NULL, NULL);
    art_tree_init(&t);
    art_insert(&t, K("only"), VAL(1), NULL);
    REQUIRE(save_image(&t, &im) == ART_OK);
    REQUIRE(art_file_read_header(im.data, im.len, &h, NULL) == ART_OK);
    moved = calloc(1, im.len + 16);
    REQUIRE(moved != NULL);
    memcpy(moved, im.data, 64);
    memcpy(moved + 64 + 16, im.data + 64, im.len - 64);
    h.nodes_size += 16;
    h.root += 16;
    art_file_header_encode(&h, moved);
    CHECK(art_file_open(&ft, moved, im.len + 16, 0, NULL, NULL, &h, &why) ==
          ART_EFORMAT);
    /* Misaligned memory is the caller's mistake, not the file's. */
    CHECK(art_file_open(&ft, moved + 4, im.len, 0, NULL, NULL, &h, &why) ==
          ART_EINVAL);
    REQUIRE(art_file_read_header(im.data, im.len, &h, NULL) == ART_OK);
    CHECK(art_file_open_nodes(&ft, &h, moved + 68, 0, NULL, NULL, &why) ==
          ART_EINVAL);
    /* A read-only tree cannot be written out again. */
    REQUIRE(art_file_open(&ft, im.data, im.len, 0, NULL, NULL, &h, &why) ==
            ART_OK);
    CHECK(art_file_write_nodes(&ft, image_write, identity_encode, &im, &h) ==
          ART_EINVAL);
    art_file_close(&ft);
    free(moved);
    free(im.data);
    art_tree_clear(&t, NULL, NULL);
}

/* Reads everything a reader can read; ASan reports any stray access. */
static void exercise(art_tree *t, const model_t *m)
{
    art_cursor c;
    art_fuzzy f;
    art_stats_t st;
    size_t i, steps = 0, fl;
    int r;
    art_validate(t, NULL);
    art_stats(t, &st);
    art_cursor_init(&c, t);
    for (r = art_cursor_first(&c); r > 0 && steps < 100000;
         r = art_cursor_next(&c), steps++)
        (void)art_cursor_value(&c);
    for (r = art_cursor_last(&c); r > 0 && steps < 200000;
         r = art_cursor_prev(&c), steps++)
        (void)art_cursor_value(&c);
    for (i = 0; i < m->n; i += 7) {
        (void)art_search(t, m->a[i].key, m->a[i].len);
        (void)art_longest_prefix(t, m->a[i].key, m->a[i].len, &fl);
        if (art_cursor_seek(&c, m->a[i].key, m->a[i].len, ART_SEEK_LE) > 0)
            (void)art_cursor_skip(&c, c.key_len / 2);
    }
    art_cursor_free(&c);
    if (m->n &&
        art_fuzzy_init(&f, t, m->a[0].key, m->a[0].len, 2, 1) == ART_OK) {
        for (steps = 0; art_fuzzy_next(&f) > 0 && steps < 100000; steps++)
            ;
        art_fuzzy_free(&f);
    }
}

/* A damaged file that still opens loads into a valid tree. */
static void load_survivor(const uint8_t *file, size_t len, const model_t *m)
{
    art_tree dst;
    art_file_header h;
    uint8_t *buf;
    REQUIRE(art_file_read_header(file, len, &h, NULL) == ART_OK);
    buf = art_file_buffer((size_t)h.nodes_size);
    memcpy(buf, file + 64, (size_t)h.nodes_size);
    art_tree_init(&dst);
    REQUIRE(art_file_load(&dst, &h, buf, 0, NULL, NULL, NULL) == ART_OK);
    CHECK(valid(&dst));
    exercise(&dst, m);
    art_tree_clear(&dst, NULL, NULL);
}

/* A damaged file that does not open does not load either (load_image
   checks the slots handed out before the fault was found). */
static void load_refused(const uint8_t *file, size_t len)
{
    image_t im = {(uint8_t *)(uintptr_t)file, len, 0, 0, 0};
    art_tree dst;
    loader_t ld = {0};
    ld.left = TAKE_ALL;
    CHECK(load_image(&im, &dst, &ld, 0, 0) != ART_OK);
    free(ld.slots);
}

static void test_file_hostile(void)
{
    art_tree t, ft;
    model_t m = {0};
    image_t im;
    art_file_header h;
    uint8_t *bad;
    size_t i, len, opened = 0;
    const char *why;
    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 120);
    tree_insert_both(&t, &m, K("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"),
                     VAL(999));
    REQUIRE(save_image(&t, &im) == ART_OK);
    len = im.len;
    /* Each copy is malloc'd at its exact length, so ASan catches any
       read past the end. */
    /* Truncations, with and without the checksum. */
    for (i = 0; i < len; i += 8) {
        bad = xmalloc(i ? i : 1);
        memcpy(bad, im.data, i);
        CHECK(art_file_open(&ft, bad, i, 0, NULL, NULL, &h, &why) ==
              ART_EFORMAT);
        CHECK(why != NULL);
        free(bad);
    }
    /* Every single bit flipped, checksum on: always refused. */
    for (i = 0; i < len * 8; i += 3) {
        bad = xmalloc(len);
        memcpy(bad, im.data, len);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        CHECK(art_file_open(&ft, bad, len, ART_FILE_VERIFY_CHECKSUM, NULL, NULL,
                            &h, &why) == ART_EFORMAT);
        free(bad);
    }
    /* Every bit flipped with the checksum bypassed: refused, or a tree
       every reader survives. */
    for (i = 0; i < len * 8; i++) {
        bad = xmalloc(len);
        memcpy(bad, im.data, len);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (art_file_open(&ft, bad, len, 0, NULL, NULL, &h, &why) == ART_OK) {
            opened++;
            exercise(&ft, &m);
            art_file_close(&ft);
            if (art_file_open(&ft, bad, len, ART_FILE_UTF8_KEYS, NULL, NULL, &h,
                              &why) == ART_OK)
                art_file_close(&ft);
            load_survivor(bad, len, &m);
        } else {
            load_refused(bad, len);
        }
        free(bad);
    }
    /* Flips in key bytes leave a valid tree: some must open. */
    CHECK(opened > 0);
    /* Random words written over the nodes section. */
    for (i = 0; i < 20000; i++) {
        size_t at = ART_FILE_HEADER_SIZE + 8 * rnd_below((len - 64) / 8);
        uint64_t w = rnd();
        if (rnd_below(2))
            w = (w % len) | (rnd_below(2) ? 1 : 0);
        bad = xmalloc(len);
        memcpy(bad, im.data, len);
        memcpy(bad + at, &w, rnd_below(2) ? 8 : 4);
        if (art_file_open(&ft, bad, len, 0, NULL, NULL, &h, &why) == ART_OK) {
            exercise(&ft, &m);
            art_file_close(&ft);
            if (i % 16 == 0)
                load_survivor(bad, len, &m);
        } else {
            load_refused(bad, len);
        }
        free(bad);
    }
    free(im.data);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

static void test_file_checksum(void)
{
    art_hash h;
    uint8_t data[200];
    size_t i, split;
    uint64_t whole;
    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 37 + 11);
    /* Incremental hashing matches one-shot hashing for every split. */
    art_hash_init(&h);
    art_hash_update(&h, data, sizeof(data));
    whole = art_hash_final(&h);
    for (split = 0; split <= sizeof(data); split++) {
        art_hash_init(&h);
        art_hash_update(&h, data, split);
        art_hash_update(&h, data + split, sizeof(data) - split);
        CHECK(art_hash_final(&h) == whole);
    }
    /* Length and every byte matter. */
    art_hash_init(&h);
    art_hash_update(&h, data, sizeof(data) - 1);
    CHECK(art_hash_final(&h) != whole);
    for (i = 0; i < sizeof(data); i++) {
        data[i] ^= 1;
        art_hash_init(&h);
        art_hash_update(&h, data, sizeof(data));
        CHECK(art_hash_final(&h) != whole);
        data[i] ^= 1;
    }
}

static void test_random_small_alphabet(void)
{
    /* Four symbols, keys up to six long: prefixes collide constantly. */
    const rconf_t cf = {.name = "small",
                        .syms = g_syms_small,
                        .nsyms = 4,
                        .max_syms = 6,
                        .steps = 80000,
                        .fill_to = 250,
                        .max_d = 3,
                        .fuzzy_every = 8};
    random_test(&cf);
}

static void test_random_wide_alphabet(void)
{
    /* 64 symbols with three favoured first bytes: every node kind, with
       growth and shrinkage as the tree fills and drains. */
    const rconf_t cf = {.name = "wide",
                        .syms = g_syms_wide,
                        .nsyms = 64,
                        .hot = g_hot_wide,
                        .nhot = 3,
                        .max_syms = 3,
                        .steps = 40000,
                        .fill_to = 1500,
                        .max_d = 2,
                        .fuzzy_every = 40};
    random_test(&cf);
}

static void test_random_utf8(void)
{
    const rconf_t cf = {.name = "utf8",
                        .syms = g_syms_utf8,
                        .nsyms = 7,
                        .max_syms = 4,
                        .utf8 = 1,
                        .steps = 50000,
                        .fill_to = 250,
                        .max_d = 3,
                        .fuzzy_every = 8};
    random_test(&cf);
}

/* ------------------------------------------------------------------ */

typedef void (*test_fn)(void);
static int g_passed, g_failed;
static const char *g_only;

static void run_test(const char *name, test_fn fn)
{
    uint64_t h = 1469598103934665603ULL;
    const char *p;
    size_t live;
    if (g_only && !strstr(name, g_only))
        return;
    /* Each test gets its own stream, so adding a test changes no other. */
    for (p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    g_rng = (uint64_t)g_seed ^ h;
    g_test = name;
    g_ctx[0] = '\0';
    g_test_failures = 0;
    live = art_live_allocations();
    fn();
    g_ctx[0] = '\0';
    /* Every test frees what it made; a test that already failed may have
       bailed out early, so only a passing test is held to this. */
    if (!g_test_failures && !CHECK(art_live_allocations() == live) && verbose())
        fprintf(stderr, "    %zu blocks still allocated by the library\n",
                art_live_allocations() - live);
    if (g_test_failures) {
        g_failed++;
        fprintf(stderr, "FAIL %s (%lu failed checks)\n", name, g_test_failures);
    } else {
        g_passed++;
    }
    fflush(stderr);
}

#define RUN(fn) run_test(#fn, fn)

int main(int argc, char **argv)
{
    if (argc > 1)
        g_seed = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        g_only = argv[2];
    init_wide_syms();

    RUN(test_empty_tree);
    RUN(test_insert_search_delete);
    RUN(test_keys_that_are_prefixes);
    RUN(test_empty_key_and_extreme_bytes);
    RUN(test_node_grow_and_shrink);
    RUN(test_node_sizes);
    RUN(test_node_oscillation);
    RUN(test_node256_all_bytes);
    RUN(test_stats_simple);
    RUN(test_merge_on_delete);
    RUN(test_long_shared_prefixes);
    RUN(test_huge_keys);
    RUN(test_deep_chain);
    RUN(test_foreach);
    RUN(test_clear_calls_back_once_per_value);
    RUN(test_copy);
    RUN(test_copy_into_emptied_tree);
    RUN(test_move);
    RUN(test_no_allocation);
    RUN(test_cursor_basics);
    RUN(test_cursor_guard);
    RUN(test_cursor_weak_consistency);
    RUN(test_cursor_after_move_or_copy_into);
    RUN(test_cursors_survive_bulk_changes);
    RUN(test_prefix_lookups);
    RUN(test_fuzzy_basics);
    RUN(test_fuzzy_invalid_utf8);
    RUN(test_fuzzy_weak_consistency);
    RUN(test_enomem_insert_delete);
    RUN(test_enomem_shrink);
    RUN(test_enomem_copy);
    RUN(test_enomem_cursor);
    RUN(test_enomem_fuzzy);
    RUN(test_file_checksum);
    RUN(test_file_round_trips);
    RUN(test_file_write_failures);
    RUN(test_file_load_failures);
    RUN(test_file_utf8_and_layout_checks);
    RUN(test_file_hostile);
    RUN(test_random_small_alphabet);
    RUN(test_random_wide_alphabet);
    RUN(test_random_utf8);

    scratch_free();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    fflush(stdout);
    return g_failed != 0;
}
