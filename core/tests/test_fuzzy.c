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
                         int utf8, size_t slice, match_t *out, size_t cap,
                         size_t *pauses)
{
    art_fuzzy f;
    long n = 0;
    int r;
    if (!CHECK(art_fuzzy_init(&f, t, q, qlen, d, utf8) == ART_OK))
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
               promise order and membership, not exact results. */
            int utf8 = cf->utf8;
            snprintf(g_ctx, sizeof g_ctx, "%s round %d", cf->name, round);
            if (!CHECK(fuzzy_matches(&t, &m, q, qlen, d, utf8)))
                break;
            size_t none = 0;
            long n = drain_sliced(&t, q, qlen, d, utf8, 0, want, CAP, &none);
            CHECK(none == 0);
            for (size_t si = 0; n >= 0 && si < sizeof slices / sizeof *slices;
                 si++) {
                long k = drain_sliced(&t, q, qlen, d, utf8, slices[si], got,
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
        int has_last = 0, r;
        snprintf(g_ctx, sizeof g_ctx, "round %d", round);
        REQUIRE(art_fuzzy_init(&f, &t, q, qlen, d, 0) == ART_OK);
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
            i = model_next_match(&m, i, qs, qn, d, 0, &dist);
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
