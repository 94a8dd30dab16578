/*
 * test_fuzzy.c -- the fuzzy search's bounds: banded rows whose memory and
 * work do not grow with the lengths of key and query, and slices of work
 * (ART_EAGAIN) that resume to the same results, also across changes of
 * the tree.  Part of the test_art binary (test_art.c runs it); see
 * test_art.h.
 */
#include "test_art.h"

/* Bytes the search holds for its rows. */
static size_t rows_bytes(const art_fuzzy *f)
{
    return f->rows_cap * f->row_size * sizeof(uint32_t);
}

/* Drains a search whose slice is set, going on after every ART_EAGAIN;
 *pauses counts them.  Returns the last result (0 at the end). */
static int fuzzy_next_all(art_fuzzy *f, size_t *pauses)
{
    int r;
    while ((r = art_fuzzy_next(f)) == ART_EAGAIN)
        (*pauses)++;
    return r;
}

/*
 * issue #21: a key and a query of 30,000 bytes each.  Rows of the whole
 * query per key byte would be 30,000 x 30,000 counters (3.6 GB); the band
 * of a bound of 0 or 2 is 1 or 5 counters, and only a few rows are kept:
 * the first allocation of 32 rows (under 2 KiB) is never outgrown.
 */
void test_fuzzy_long_key(void)
{
    enum { N = 30000 };
    art_tree t;
    art_fuzzy f;
    uint8_t *key = xmalloc(N + 2), *query = xmalloc(N + 1);
    size_t pauses = 0;
    memset(key, 'x', N);
    key[N] = 'a';
    key[N + 1] = 'b';
    memcpy(query, key, N + 1);
    art_tree_init(&t);
    REQUIRE(art_insert(&t, key, N + 2, VAL(1), NULL) == 1);

    /* "x" * 30000 + "a" is one deletion away: not within 0. */
    REQUIRE(art_fuzzy_init(&f, &t, query, N + 1, 0, 0) == ART_OK);
    CHECK(f.band == 1);
    CHECK(fuzzy_next_all(&f, &pauses) == 0);
    CHECK(rows_bytes(&f) <= 2048);
    art_fuzzy_free(&f);

    /* Within 1 and 2 it is found, at distance 1. */
    for (uint32_t d = 1; d <= 2; d++) {
        REQUIRE(art_fuzzy_init(&f, &t, query, N + 1, d, 1) == ART_OK);
        CHECK(f.band == 2 * d + 1);
        CHECK(fuzzy_next_all(&f, &pauses) == 1 && f.distance == 1 &&
              f.cursor.key_len == N + 2);
        CHECK(fuzzy_next_all(&f, &pauses) == 0);
        CHECK(rows_bytes(&f) <= 2048);
        art_fuzzy_free(&f);
    }

    /* Near keys in a tree of long keys branching late: the rows kept are
       those of the offsets the walk branched at, not of every byte. */
    for (size_t i = 0; i < 64; i++) {
        key[N - 1] = (uint8_t)('A' + i % 26);
        key[N] = (uint8_t)('a' + i / 26);
        REQUIRE(art_insert(&t, key, N + 1, VAL(i + 2), NULL) >= 0);
    }
    query[N - 1] = 'C';
    query[N] = 'a';
    REQUIRE(art_fuzzy_init(&f, &t, query, N + 1, 1, 0) == ART_OK);
    size_t found = 0;
    int r;
    while ((r = fuzzy_next_all(&f, &pauses)) == 1) {
        CHECK(f.distance <= 1);
        found++;
    }
    CHECK(r == 0);
    /* "...Ca" itself, "...?a" for the other 25 letters, "...Cb", "...Cc". */
    CHECK(found == 28);
    CHECK(rows_bytes(&f) <= 2048);
    art_fuzzy_free(&f);

    /* A long query against short keys: a band of 5, not a row of 30,001. */
    REQUIRE(art_insert(&t, K("xx"), VAL(99), NULL) == 1);
    REQUIRE(art_fuzzy_init(&f, &t, query, N, 2, 0) == ART_OK);
    CHECK(f.band == 5);
    while ((r = fuzzy_next_all(&f, &pauses)) == 1)
        CHECK(f.cursor.key_len > 2);
    CHECK(r == 0);
    CHECK(rows_bytes(&f) <= 2048);
    art_fuzzy_free(&f);

    /* A bound as large as any: the band is the whole query, 3 cells. */
    REQUIRE(art_fuzzy_init(&f, &t, K("xy"), UINT32_MAX, 0) == ART_OK);
    CHECK(f.band == 3);
    found = 0;
    while ((r = fuzzy_next_all(&f, &pauses)) == 1)
        found++;
    CHECK(r == 0 && found == t.size);
    art_fuzzy_free(&f);

    free(key);
    free(query);
    art_tree_clear(&t, NULL, NULL);
}

typedef struct {
    uint8_t key[RKEY_MAX];
    size_t len;
    uint32_t distance;
} match_t;

/* Every match of a search with the given slice; returns how many (at
   most cap), -1 on a failure. */
static long drain_sliced(art_tree *t, const uint8_t *q, size_t qlen, uint32_t d,
                         int flags, size_t slice, match_t *out, size_t cap,
                         size_t *pauses)
{
    art_fuzzy f;
    long n = 0;
    int r;
    if (!CHECK(art_fuzzy_init(&f, t, q, qlen, d, flags) == ART_OK))
        return -1;
    f.slice = slice;
    while ((r = fuzzy_next_all(&f, pauses)) == 1) {
        if (!CHECK((size_t)n < cap) || !CHECK(f.cursor.key_len <= RKEY_MAX))
            break;
        out[n].len = f.cursor.key_len;
        copy_key(out[n].key, f.cursor.key, f.cursor.key_len);
        out[n].distance = f.distance;
        n++;
    }
    art_fuzzy_free(&f);
    return CHECK(r == 0) ? n : -1;
}

/*
 * The same searches with slices from 1 unit of work up and without any:
 * the same keys and distances, which fuzzy_matches() holds to the model.
 */
void test_fuzzy_slices(void)
{
    static const size_t slices[] = {1, 2, 3, 7, 64, 1000};
    const rconf_t confs[] = {
        {.name = "small", .syms = g_syms_small, .nsyms = 4, .max_syms = 6},
        {.name = "utf8",
         .syms = g_syms_utf8,
         .nsyms = 7,
         .max_syms = 5,
         .utf8 = 1},
        g_wide_conf,
    };
    enum { CAP = 4000 };
    match_t *want = xmalloc(CAP * sizeof *want);
    match_t *got = xmalloc(CAP * sizeof *got);
    size_t pauses = 0;
    for (size_t ci = 0; ci < sizeof confs / sizeof *confs; ci++) {
        const rconf_t *cf = &confs[ci];
        art_tree t;
        model m = {0};
        art_tree_init(&t);
        build_random(&t, &m, cf, 1200);
        for (int round = 0; round < 30 && !g_test_failures; round++) {
            uint8_t q[RKEY_MAX];
            size_t qlen = gen_key(cf, cf->max_syms, q);
            uint32_t d = (uint32_t)rnd_below(4);
            /* UTF-8 distances only on valid UTF-8: on other keys they
               promise order and membership, not exact results.  Every
               fourth round of each variant (transpositions, prefixes,
               both). */
            int flags = cf->utf8 | (round % 4) * ART_FUZZY_TRANSPOSE;
            snprintf(g_ctx, sizeof g_ctx, "%s round %d", cf->name, round);
            if (!CHECK(fuzzy_matches(&t, &m, q, qlen, d, flags)))
                break;
            size_t none = 0;
            long n = drain_sliced(&t, q, qlen, d, flags, 0, want, CAP, &none);
            CHECK(none == 0);
            for (size_t si = 0; n >= 0 && si < sizeof slices / sizeof *slices;
                 si++) {
                long k = drain_sliced(&t, q, qlen, d, flags, slices[si], got,
                                      CAP, &pauses);
                if (!CHECK(k == n))
                    break;
                for (long i = 0; i < n; i++)
                    if (!CHECK(model_key_eq(got[i].key, got[i].len, want[i].key,
                                            want[i].len)) ||
                        !CHECK(got[i].distance == want[i].distance))
                        break;
            }
        }
        g_ctx[0] = '\0';
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
    }
    CHECK(pauses > 1000); /* the small slices did pause */
    free(want);
    free(got);
}

/*
 * Changes of the tree while a search is paused: the next match is the
 * first one after the key last yielded among the keys present then, as
 * for a search that was never paused.
 */
void test_fuzzy_pause_and_change(void)
{
    const rconf_t *cf = &g_wide_conf;
    art_tree t;
    model m = {0};
    size_t pauses = 0;
    art_tree_init(&t);
    build_random(&t, &m, cf, 1500);
    for (int round = 0; round < 40 && !g_test_failures; round++) {
        art_fuzzy f;
        uint8_t q[RKEY_MAX], last[RKEY_MAX];
        size_t qlen = gen_key(cf, cf->max_syms, q), last_len = 0;
        uint32_t qs[RKEY_MAX], d = (uint32_t)rnd_below(3), dist;
        size_t qn = model_symbols(q, qlen, 0, qs);
        int has_last = 0, r, flags = (round % 4) * ART_FUZZY_TRANSPOSE;
        snprintf(g_ctx, sizeof g_ctx, "round %d", round);
        REQUIRE(art_fuzzy_init(&f, &t, q, qlen, d, flags) == ART_OK);
        f.slice = 1 + rnd_below(20);
        do {
            /* Pause a few times, changing the tree in between. */
            while ((r = art_fuzzy_next(&f)) == ART_EAGAIN) {
                pauses++;
                if (rnd_below(8))
                    continue;
                uint8_t k[RKEY_MAX];
                size_t len = gen_key(cf, cf->max_syms, k);
                if (rnd_below(2)) {
                    tree_insert_both(&t, &m, k, len, VAL(round + 7));
                } else if (m.n) {
                    const model_entry *e = &m.a[rnd_below(m.n)];
                    len = e->len;
                    copy_key(k, e->key, len);
                    tree_delete_both(&t, &m, k, len);
                }
            }
            size_t i =
                has_last ? model_seek(&m, last, last_len, ART_SEEK_GT) : 0;
            i = model_next_match(&m, i, qs, qn, d, flags, &dist);
            if (i == m.n) {
                CHECK(r == 0);
                break;
            }
            if (!CHECK(r == 1) ||
                !CHECK(model_key_eq(f.cursor.key, f.cursor.key_len, m.a[i].key,
                                    m.a[i].len)) ||
                !CHECK(f.distance == dist))
                break;
            last_len = f.cursor.key_len;
            copy_key(last, f.cursor.key, last_len);
            has_last = 1;
        } while (1);
        art_fuzzy_free(&f);
    }
    g_ctx[0] = '\0';
    CHECK(pauses > 100);
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* Drains a search over t for query q and checks its keys and distances
   against want[] / dist[] (NULL-terminated). */
static int variant_expect(art_tree *t, const char *q, uint32_t d, int flags,
                          const char *const *want, const uint32_t *dist)
{
    art_fuzzy f;
    size_t i = 0;
    int r, ok = 1;
    if (!CHECK(art_fuzzy_init(&f, t, (const uint8_t *)q, strlen(q), d, flags) ==
               ART_OK))
        return 0;
    while (ok && (r = art_fuzzy_next(&f)) == 1) {
        ok = CHECK(want[i] != NULL) &&
             CHECK(model_key_eq(f.cursor.key, f.cursor.key_len,
                                (const uint8_t *)want[i], strlen(want[i]))) &&
             CHECK(f.distance == dist[i]);
        i++;
    }
    ok = ok && CHECK(r == 0) && CHECK(want[i] == NULL);
    art_fuzzy_free(&f);
    return ok;
}

/*
 * Worked examples of the variants: a swap of two neighbours is one edit
 * with transpositions and two without, but a swapped pair is not edited
 * again (optimal string alignment: "ca" -> "abc" is 3, not 2); a prefix
 * match takes the least distance over the key's prefixes.
 */
void test_fuzzy_variants(void)
{
    static const char *const words[] = {"abc",     "ac",      "ca",
                                        "receive", "recieve", "relieve",
                                        "reuse",   "rec",     "receipt"};
    art_tree t;
    art_tree_init(&t);
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        REQUIRE(art_insert(&t, (const uint8_t *)words[i], strlen(words[i]),
                           VAL(i), NULL) == 1);

    const char *w1[] = {"receive", "recieve", "relieve", NULL};
    const uint32_t d1[] = {1, 0, 1};
    CHECK(variant_expect(&t, "recieve", 1, ART_FUZZY_TRANSPOSE, w1, d1));
    const char *w1p[] = {"recieve", "relieve", NULL};
    const uint32_t d1p[] = {0, 1};
    CHECK(variant_expect(&t, "recieve", 1, 0, w1p, d1p));
    const char *w2[] = {"abc", "ac", "ca", NULL};
    const uint32_t d2[] = {1, 0, 1};
    CHECK(variant_expect(&t, "ac", 1, ART_FUZZY_TRANSPOSE, w2, d2));
    const char *w3[] = {"ac", "ca", NULL};
    const uint32_t d3[] = {2, 0};
    CHECK(variant_expect(&t, "ca", 2, 0, w3, d3));
    /* OSA: "ca" -> "abc" is 3 (Damerau-Levenshtein proper: 2, by
       swapping and then inserting between the swapped pair). */
    const char *w4[] = {"abc", "ac", "ca", "rec", NULL};
    const uint32_t d4[] = {3, 1, 0, 3};
    CHECK(variant_expect(&t, "ca", 3, ART_FUZZY_TRANSPOSE, w4, d4));

    /* Prefixes: "rec" and every key starting with it at distance 0;
       "relieve" within 1 by its prefix "rel", "reuse" by "re". */
    const char *w5[] = {"rec",     "receipt", "receive", "recieve",
                        "relieve", "reuse",   NULL};
    const uint32_t d5[] = {0, 0, 0, 0, 1, 1};
    CHECK(variant_expect(&t, "rec", 1, ART_FUZZY_PREFIX, w5, d5));
    const char *w6[] = {"rec", "receipt", "receive", "recieve", NULL};
    const uint32_t d6[] = {1, 0, 0, 1};
    CHECK(variant_expect(&t, "rece", 1, ART_FUZZY_PREFIX, w6, d6));
    const char *w7[] = {"rec",     "receipt", "receive",
                        "recieve", "relieve", NULL};
    const uint32_t d7[] = {1, 1, 1, 0, 1};
    CHECK(variant_expect(&t, "reci", 1, ART_FUZZY_PREFIX | ART_FUZZY_TRANSPOSE,
                         w7, d7));
    /* The empty prefix: a query of length <= d matches every key. */
    const char *w8[] = {"abc",     "ac",      "ca",      "rec",   "receipt",
                        "receive", "recieve", "relieve", "reuse", NULL};
    const uint32_t d8[] = {0, 0, 1, 1, 1, 1, 1, 1, 1};
    CHECK(variant_expect(&t, "a", 1, ART_FUZZY_PREFIX, w8, d8));
    art_tree_clear(&t, NULL, NULL);
}

/* The reference of art_closest: every entry within maxd, sorted by
   (distance, key), the first n.  Returns their count; idx gets the
   entries' indices and dist their distances. */
static size_t closest_model(const model *m, const uint32_t *qs, size_t qn,
                            size_t n, uint32_t maxd, int flags, size_t *idx,
                            uint32_t *dist)
{
    size_t k = 0;
    /* One pass per distance, in key order: (distance, key) order. */
    for (uint32_t d = 0; k < n && d <= maxd; d++) {
        size_t left = 0;
        for (size_t i = 0; i < m->n && k < n; i++) {
            uint32_t dd = key_distance(m->a[i].key, m->a[i].len, qs, qn, flags);
            if (dd > d)
                left++;
            else if (dd == d) {
                idx[k] = i;
                dist[k++] = d;
            }
        }
        if (left == 0)
            break;
        if (d == UINT32_MAX)
            break;
    }
    return k;
}

/* Runs c to its end, pausing as its slice says; *pauses counts. */
static int closest_all(art_closest *c, size_t *pauses)
{
    int r;
    while ((r = art_closest_run(c)) == ART_EAGAIN)
        (*pauses)++;
    return r;
}

static int closest_matches(const art_closest *c, const model *m,
                           const size_t *idx, const uint32_t *dist, size_t k)
{
    if (!CHECK(c->nhits == k))
        return 0;
    for (size_t i = 0; i < k; i++) {
        size_t len;
        const uint8_t *key = art_closest_key(c, i, &len);
        const model_entry *e = &m->a[idx[i]];
        if (!CHECK(model_key_eq(key, len, e->key, e->len)) ||
            !CHECK(c->hits[i].distance == dist[i]) ||
            !CHECK(c->hits[i].value == e->val))
            return 0;
    }
    return 1;
}

/*
 * art_closest against the reference on random trees: every n from 0 to
 * past the tree's size, bounds from 0 to none, every variant, slices
 * down to one unit, and the tree changed while a search is paused (it
 * starts over: the result is the reference's on the tree at its end).
 */
void test_closest(void)
{
    const rconf_t confs[] = {
        {.name = "small", .syms = g_syms_small, .nsyms = 4, .max_syms = 6},
        {.name = "utf8",
         .syms = g_syms_utf8,
         .nsyms = 7,
         .max_syms = 5,
         .utf8 = 1},
        g_wide_conf,
    };
    static const uint32_t bounds[] = {0, 1, 2, 3, 12, UINT32_MAX};
    static const size_t slices[] = {0, 1, 5, 100};
    size_t pauses = 0, *idx = NULL;
    uint32_t *dist = NULL;
    for (size_t ci = 0; ci < sizeof confs / sizeof *confs; ci++) {
        const rconf_t *cf = &confs[ci];
        art_tree t;
        model m = {0};
        art_tree_init(&t);
        size_t size = ci == 1 ? 40 : 400;
        build_random(&t, &m, cf, size);
        idx = xrealloc(idx, (m.n + 2000) * sizeof *idx);
        dist = xrealloc(dist, (m.n + 2000) * sizeof *dist);
        for (int round = 0; round < 120 && !g_test_failures; round++) {
            uint8_t q[RKEY_MAX];
            size_t qlen = gen_key(cf, cf->max_syms + 2, q);
            uint32_t qs[RKEY_MAX + 2];
            int flags = cf->utf8 | (round % 4) * ART_FUZZY_TRANSPOSE;
            size_t qn = model_symbols(q, qlen, cf->utf8, qs);
            size_t n = round % 7 == 6 ? m.n + 3 : (size_t)rnd_below(12);
            uint32_t maxd = bounds[rnd_below(6)];
            snprintf(g_ctx, sizeof g_ctx, "%s round %d n %zu maxd %u", cf->name,
                     round, n, (unsigned)maxd);
            art_closest c;
            REQUIRE(art_closest_init(&c, &t, q, qlen, n, maxd, flags) ==
                    ART_OK);
            c.slice = slices[round % 4];
            int changed = 0;
            int r;
            while ((r = art_closest_run(&c)) == ART_EAGAIN) {
                pauses++;
                if (changed < 2 && rnd_below(16) == 0) {
                    uint8_t k[RKEY_MAX];
                    size_t len = gen_key(cf, cf->max_syms, k);
                    tree_insert_both(&t, &m, k, len, VAL(round + 9));
                    changed++;
                }
            }
            if (!CHECK(r == ART_OK)) {
                art_closest_free(&c);
                break;
            }
            idx = xrealloc(idx, (m.n + 2000) * sizeof *idx);
            dist = xrealloc(dist, (m.n + 2000) * sizeof *dist);
            size_t k = closest_model(&m, qs, qn, n, maxd, flags, idx, dist);
            if (!CHECK(closest_matches(&c, &m, idx, dist, k)))
                dump_key("query", q, qlen);
            CHECK(art_closest_run(&c) == ART_OK); /* done stays done */
            art_closest_free(&c);
        }
        g_ctx[0] = '\0';
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
    }
    CHECK(pauses > 100);
    free(idx);
    free(dist);
}

/* A query far from every key: the bound doubles past 8, so a few levels
   find the n best whatever the distance, and they are the reference's. */
void test_closest_far_query(void)
{
    art_tree t;
    model m = {0};
    art_tree_init(&t);
    uint8_t k[64];
    /* 300 distinct keys, enough that a doubled level keeps only the best
       as it goes (once it holds 64 more than n): i's base-5 digits, 1 to 4 of
       them, over "abcde". */
    for (size_t i = 0; i < 300; i++) {
        size_t len = 0;
        for (size_t v = i; len == 0 || v; v /= 5)
            k[len++] = (uint8_t)('a' + v % 5);
        tree_insert_both(&t, &m, k, len, VAL(i));
    }
    REQUIRE(m.n == 300);
    uint8_t q[600];
    uint32_t qs[600];
    memset(q, 'z', sizeof q);
    size_t qn = model_symbols(q, sizeof q, 0, qs);
    size_t idx[8], pauses = 0;
    uint32_t dist[8];
    art_closest c;
    REQUIRE(art_closest_init(&c, &t, q, sizeof q, 5, UINT32_MAX, 0) == ART_OK);
    CHECK(closest_all(&c, &pauses) == ART_OK);
    size_t n = closest_model(&m, qs, qn, 5, UINT32_MAX, 0, idx, dist);
    CHECK(n == 5 && dist[0] == 600 &&
          dist[4] == 600); /* 600 inserts, 7 of them substitutions */
    CHECK(closest_matches(&c, &m, idx, dist, n));
    CHECK(c.hi == 1150); /* levels 0..7, then 8-16, 17-34, ..., 575-1150 */
    art_closest_free(&c);
    /* Every allocation failing in turn, the packing of the kept keys
       included: ART_ENOMEM and the tree untouched, then the same result. */
    size_t bytes = t.bytes;
    long k_fail;
    for (k_fail = 1; k_fail <= SWEEP_LIMIT; k_fail++) {
        t.fail_countdown = k_fail;
        int r = art_closest_init(&c, &t, q, sizeof q, 5, UINT32_MAX, 0);
        if (r == ART_OK)
            while ((r = art_closest_run(&c)) == ART_EAGAIN)
                pauses++;
        t.fail_countdown = 0;
        CHECK(t.bytes == bytes);
        if (r != ART_ENOMEM) {
            CHECK(r == ART_OK && closest_matches(&c, &m, idx, dist, n));
            art_closest_free(&c);
            break;
        }
        art_closest_free(&c);
    }
    CHECK(k_fail > 20); /* the levels' searches, hits and keys did fail */
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}
