/*
 * test_tree.c -- the basics (insert, search, delete, prefixes of keys,
 * the empty key, extreme bytes) and whole-tree operations (foreach, clear,
 * copy, move).
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

/* ------------------------------------------------------------------ */
/* Basics                                                              */
/* ------------------------------------------------------------------ */

void test_empty_tree(void)
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

void test_insert_search_delete(void)
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
void test_keys_that_are_prefixes(void)
{
    static const char *const keys[3] = {"key", "key1", "key123"};
    int p, q, j;

    for (p = 0; p < 6; p++) {
        for (q = 0; q < 6; q++) {
            art_tree t;
            art_stats_t s;
            int present[3] = {0, 0, 0};
            plain_tree_init(&t);
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

/* The empty key, NUL and 0xFF bytes anywhere: no byte is reserved. */
void test_empty_key_and_extreme_bytes(void)
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
            if (!CHECK(model_key_eq(c.key, c.key_len,
                                    (const uint8_t *)keys[i].s, keys[i].len)))
                break;
            CHECK(art_cursor_value(&c) == VAL(i));
        }
        CHECK(i == NKEYS && r == 0);
        for (i = NKEYS, r = art_cursor_last(&c); r == 1 && i > 0;
             r = art_cursor_prev(&c), i--)
            if (!CHECK(model_key_eq(c.key, c.key_len,
                                    (const uint8_t *)keys[i - 1].s,
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
/* Whole-tree operations                                               */
/* ------------------------------------------------------------------ */

void test_foreach(void)
{
    art_tree t;
    model m = {0};
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

void test_clear_calls_back_once_per_value(void)
{
    art_tree t;
    model m = {0};
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
void test_copy_into_emptied_tree(void)
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

void test_copy(void)
{
    art_tree t, cp, empty;
    model m = {0}, mc = {0};
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
            model_entry *e = &mc.a[rnd_below(mc.n)];
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

void test_move(void)
{
    art_tree src, dst;
    model m = {0}, m2 = {0};
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
void test_no_allocation(void)
{
    art_tree t;
    model m = {0};
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
