/*
 * test_nodes.c -- node kinds: growth and shrinkage, sizes, oscillation
 * at the boundaries, merges on delete, long prefixes, huge keys and deep
 * chains.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

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
    model m = {0};
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
    plain_tree_init(&t);
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

void test_node_grow_and_shrink(void)
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

void test_node_sizes(void)
{
    art_tree t;
    model m = {0};
    art_stats_t s;
    uint8_t k;
    size_t n;

    plain_tree_init(&t);
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
void test_node_oscillation(void)
{
    static const size_t bands[][2] = {{1, 7},   {2, 20},  {12, 22}, {40, 56},
                                      {10, 60}, {3, 256}, {44, 256}};
    art_tree t;
    model m = {0};
    uint8_t key[3] = {'o', 's', 0};
    size_t b, round;

    plain_tree_init(&t);
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
void test_node256_all_bytes(void)
{
    art_tree t;
    model m = {0};
    art_stats_t s;
    art_cursor c;
    size_t order[256 * 3], i;
    int r;
    uint8_t key[2];

    plain_tree_init(&t);
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
        model keys = {0};
        for (i = 1; i < m.n; i++)
            model_put(&keys, m.a[i].key, m.a[i].len, NULL);
        for (i = 0; i < n; i++)
            order[i] = i;
        shuffle(order, n);
        for (i = 0; i < n; i++) {
            const model_entry *e = &keys.a[order[i]];
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

void test_stats_simple(void)
{
    art_tree t;
    art_stats_t s;

    plain_tree_init(&t);
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
void test_merge_on_delete(void)
{
    art_tree t;
    model m = {0};
    art_stats_t s;
    uint8_t *a = xmalloc(700), *key = xmalloc(720);
    size_t i;

    plain_tree_init(&t);
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
void test_long_shared_prefixes(void)
{
    enum { L = 700, NK = 160 };
    static uint8_t base[L];
    uint8_t key[L + 8];
    art_tree t;
    art_cursor c;
    model m = {0};
    size_t i, order[NK];
    int fill;

    for (fill = 0; fill < 2; fill++) {
        for (i = 0; i < L; i++)
            base[i] =
                fill ? (uint8_t)(i * 37 + 11) : (uint8_t)(i % 2 ? 0xFF : 0);
        plain_tree_init(&t);
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
            model keys = {0};
            for (i = 0; i < m.n; i++) {
                model_put(&keys, m.a[i].key, m.a[i].len, NULL);
                order[i] = i;
            }
            shuffle(order, keys.n);
            for (i = 0; i < keys.n; i++) {
                const model_entry *e = &keys.a[order[i]];
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
void test_huge_keys(void)
{
    enum { HUGE_LEN = 1 << 20 };
    uint8_t *k = xmalloc(HUGE_LEN);
    art_tree t, cp;
    art_cursor c;
    model m = {0};
    size_t i;

    for (i = 0; i < HUGE_LEN; i++)
        k[i] = (uint8_t)(i ^ (i >> 8));
    plain_tree_init(&t);
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
    plain_tree_init(&cp);
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

void test_deep_chain(void)
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
    plain_tree_init(&t);
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

    plain_tree_init(&cp);
    if (CHECK(art_tree_copy(&cp, &t) == ART_OK) && CHECK(valid(&cp))) {
        art_cursor_init(&c2, &cp);
        for (r = art_cursor_first(&c), r2 = art_cursor_first(&c2);
             r == 1 && r2 == 1;
             r = art_cursor_next(&c), r2 = art_cursor_next(&c2))
            if (!CHECK(model_key_eq(c.key, c.key_len, c2.key, c2.key_len)) ||
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
