/*
 * test_build.c -- trees built from sorted keys (art_build_*): the same
 * tree as inserts make, every edge of the key order, keys refused, and
 * every allocation failure.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

/* Builds t from m's keys in order; the first error, or ART_OK. */
static int build_from(art_tree *t, const model *m)
{
    art_builder b;
    int r = ART_OK;
    art_build_init(&b, t);
    for (size_t i = 0; i < m->n && r == ART_OK; i++)
        r = art_build_add(&b, m->a[i].key, m->a[i].len, m->a[i].val);
    if (r == ART_OK)
        r = art_build_finish(&b);
    if (r != ART_OK)
        art_build_abort(&b);
    return r;
}

/* Inserts m's keys in a random order. */
static void insert_shuffled(art_tree *t, const model *m)
{
    size_t *order = xmalloc((m->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < m->n; i++)
        order[i] = i;
    shuffle(order, m->n);
    for (size_t i = 0; i < m->n; i++) {
        const model_entry *e = &m->a[order[i]];
        CHECK(art_insert(t, e->key, e->len, e->val, NULL) == 1);
    }
    free(order);
}

/* Built from m: the keys and values of m, valid, and the shape inserts
   give (every kind of node as often, the same bytes and depths). */
static int built_like_inserted(const model *m)
{
    art_tree built, inserted;
    art_stats_t a, b;
    int ok;
    art_tree_init(&built);
    art_tree_init(&inserted);
    ok = CHECK(build_from(&built, m) == ART_OK) && CHECK(valid(&built)) &&
         tree_matches(&built, m) && stats_consistent(&built);
    insert_shuffled(&inserted, m);
    art_stats(&built, &a);
    art_stats(&inserted, &b);
    for (int kind = 0; ok && kind < ART_NODE_KINDS; kind++)
        ok = CHECK(a.nodes[kind] == b.nodes[kind]);
    ok = ok && CHECK(a.leaves == b.leaves) && CHECK(a.buckets == b.buckets) &&
         CHECK(a.bucket_keys == b.bucket_keys) &&
         CHECK(a.node_values == b.node_values) &&
         CHECK(a.max_depth == b.max_depth) &&
         CHECK(a.mean_depth == b.mean_depth) &&
         CHECK(a.bytes - a.bucket_spare == b.bytes - b.bucket_spare) &&
         CHECK(built.size == inserted.size) &&
         CHECK(built.max_key_len == inserted.max_key_len);
    art_tree_clear(&built, NULL, NULL);
    art_tree_clear(&inserted, NULL, NULL);
    return ok;
}

/* Random bytes, every value 0..255 likely: nodes of every kind. */
static size_t gen_bytes(uint8_t *out, size_t most, unsigned spread)
{
    size_t n = rnd_below(most + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(i < 2 ? rnd_below(spread) : rnd_below(256));
    return n;
}

void test_build_matches_inserts(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 5, 17, 100, 1000, 20000};
    const rconf_t small = {
        .name = "small", .syms = g_syms_small, .nsyms = 4, .max_syms = 10};
    uint8_t k[RKEY_MAX];
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int kind = 0; kind < 4; kind++) {
            model m = {0};
            for (size_t i = 0; i < sizes[s]; i++) {
                size_t len;
                if (kind == 0)
                    len = gen_key(&small, small.max_syms, k);
                else if (kind == 1)
                    len = gen_key(&g_wide_conf, 6, k);
                else
                    len =
                        gen_bytes(k, kind == 2 ? 4 : 24, kind == 2 ? 256 : 60);
                model_put(&m, k, len, VAL(i + 1));
            }
            snprintf(g_ctx, sizeof(g_ctx), "n=%zu kind=%d", sizes[s], kind);
            int ok = built_like_inserted(&m);
            model_free(&m);
            if (!ok)
                return;
        }
    }
    g_ctx[0] = 0;
}

void test_build_edge_keys(void)
{
    model m = {0};
    /* The empty key alone, then under a node. */
    model_put(&m, NULL, 0, VAL(1));
    REQUIRE(built_like_inserted(&m));
    model_put(&m, K("a"), VAL(2));
    REQUIRE(built_like_inserted(&m));
    /* Every single byte: a Node256 with the empty key's value. */
    for (int c = 0; c < 256; c++) {
        uint8_t b = (uint8_t)c;
        model_put(&m, &b, 1, VAL(c + 3));
    }
    REQUIRE(built_like_inserted(&m));
    model_free(&m);

    /* A chain of 3000 keys, each a prefix of the next: 3000 open levels,
       closed at once by the last key; then the same with one more key
       branching off at the root. */
    enum { DEEP = 3000 };
    uint8_t *chain = xmalloc(DEEP);
    memset(chain, 'x', DEEP);
    for (size_t i = 1; i <= DEEP; i++)
        model_put(&m, chain, i, VAL(i));
    REQUIRE(built_like_inserted(&m));
    model_put(&m, K("y"), VAL(DEEP + 1));
    REQUIRE(built_like_inserted(&m));
    model_free(&m);

    /* Long shared prefixes and long suffixes, 0x00 and 0xFF around them. */
    uint8_t *big = xmalloc(70000);
    memset(big, 0xFF, 70000);
    model_put(&m, big, 70000, VAL(1));
    model_put(&m, big, 69999, VAL(2));
    big[65536] = 0;
    model_put(&m, big, 70000, VAL(3));
    model_put(&m, big, 65537, VAL(4));
    memset(big, 0, 70000);
    model_put(&m, big, 3, VAL(5));
    model_put(&m, big, 70000, VAL(6));
    REQUIRE(built_like_inserted(&m));
    model_free(&m);
    free(big);
    free(chain);
}

void test_build_refusals(void)
{
    art_tree t;
    art_builder b;
    model m = {0};
    art_tree_init(&t);
    art_build_init(&b, &t);
    REQUIRE(art_build_add(&b, K("b"), VAL(1)) == ART_OK);
    model_put(&m, K("b"), VAL(1));
    /* Equal, smaller, a prefix of the previous key: refused, no change. */
    CHECK(art_build_add(&b, K("b"), VAL(2)) == ART_EINVAL);
    CHECK(art_build_add(&b, K("a"), VAL(2)) == ART_EINVAL);
    CHECK(art_build_add(&b, NULL, 0, VAL(2)) == ART_EINVAL);
    CHECK(art_build_add(&b, K("bb"), NULL) == ART_EINVAL);
    /* The builder goes on after a refusal. */
    CHECK(art_build_add(&b, K("ba"), VAL(3)) == ART_OK);
    model_put(&m, K("ba"), VAL(3));
    CHECK(art_build_add(&b, K("b"), VAL(4)) == ART_EINVAL);
    CHECK(art_build_add(&b, K("c"), VAL(5)) == ART_OK);
    model_put(&m, K("c"), VAL(5));
    CHECK(t.size == 0 && t.root == 0);
    REQUIRE(art_build_finish(&b) == ART_OK);
    CHECK(valid(&t));
    CHECK(tree_matches(&t, &m));
    /* A tree that is not empty takes no build. */
    art_build_init(&b, &t);
    CHECK(art_build_add(&b, K("d"), VAL(6)) == ART_EINVAL);
    CHECK(art_build_finish(&b) == ART_OK);
    CHECK(tree_matches(&t, &m));
    /* An emptied tree does, and keeps working as a tree afterwards. */
    CHECK(tree_delete_both(&t, &m, K("b")));
    CHECK(tree_delete_both(&t, &m, K("ba")));
    CHECK(tree_delete_both(&t, &m, K("c")));
    model_put(&m, K("x"), VAL(7));
    model_put(&m, K("xy"), VAL(8));
    CHECK(build_from(&t, &m) == ART_OK);
    CHECK(valid(&t));
    CHECK(tree_insert_both(&t, &m, K("xa"), VAL(9)));
    CHECK(tree_insert_both(&t, &m, K(""), VAL(10)));
    CHECK(tree_delete_both(&t, &m, K("xy")));
    CHECK(valid(&t));
    CHECK(tree_matches(&t, &m));
    /* An empty build leaves the tree empty. */
    art_tree_clear(&t, NULL, NULL);
    art_build_init(&b, &t);
    CHECK(art_build_finish(&b) == ART_OK);
    CHECK(t.root == 0 && t.size == 0 && valid(&t));
    model_free(&m);
}

void test_enomem_build(void)
{
    uint8_t k[RKEY_MAX];
    model m = {0};
    for (size_t i = 0; i < 600; i++) {
        size_t len = gen_key(&g_wide_conf, 4, k);
        model_put(&m, k, len, VAL(i + 1));
    }
    /* A long key, so that the key buffer grows too. */
    uint8_t longkey[300];
    memset(longkey, 0xFE, sizeof(longkey));
    model_put(&m, longkey, sizeof(longkey), VAL(1000));
    size_t live = art_live_allocations();
    long k_fail;
    for (k_fail = 1; k_fail <= SWEEP_LIMIT; k_fail++) {
        art_tree t;
        art_tree_init(&t);
        t.fail_countdown = k_fail;
        int r = build_from(&t, &m);
        t.fail_countdown = 0;
        if (r == ART_ENOMEM) {
            if (!CHECK(t.root == 0 && t.size == 0 && t.bytes == 0) ||
                !CHECK(valid(&t)) ||
                !CHECK(art_live_allocations() == live + (t.walk != NULL)))
                break;
            art_tree_clear(&t, NULL, NULL);
            CHECK(art_live_allocations() == live);
            continue;
        }
        CHECK(r == ART_OK);
        CHECK(valid(&t));
        CHECK(tree_matches(&t, &m));
        art_tree_clear(&t, NULL, NULL);
        break;
    }
    /* Failures were injected at every allocation the build makes. */
    CHECK(k_fail > 10 && k_fail <= SWEEP_LIMIT);
    model_free(&m);
}
