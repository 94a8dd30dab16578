/*
 * test_buckets.c -- bucket nodes in the tree (art_burst.c and every
 * file's bucket case): the limits, bursts, the suffixes that stay leaves,
 * merges on delete, stats, copies and cursors, each against the model.
 * The rest of the suite runs on bucket trees too: `make test-c` builds
 * this binary a second time with small default limits (test_art_buckets).
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

static size_t inner_nodes(const art_stats_t *s)
{
    size_t n = 0;
    for (int k = 0; k < ART_NODE_KINDS; k++)
        n += s->nodes[k];
    return n;
}

void test_bucket_limits(void)
{
    art_tree t;
    art_tree_init(&t);
    CHECK(art_tree_set_buckets(&t, 1, 256) == ART_EINVAL);
    CHECK(art_tree_set_buckets(&t, 65536, 256) == ART_EINVAL);
    CHECK(art_tree_set_buckets(&t, 8, 15) == ART_EINVAL);
    CHECK(art_tree_set_buckets(&t, 8, 65536) == ART_EINVAL);
    CHECK(art_tree_set_buckets(&t, 2, 16) == ART_OK);
    CHECK(art_tree_set_buckets(&t, 65535, 65535) == ART_OK);
    CHECK(art_tree_set_buckets(&t, 4, 64) == ART_OK);
    CHECK(art_insert(&t, K("a"), VAL(1), NULL) == 1);
    /* Not on a tree with keys: its buckets would break the new limits. */
    CHECK(art_tree_set_buckets(&t, 8, 256) == ART_EINVAL);
    CHECK(t.bucket_keys == 4 && t.bucket_bytes == 64);
    /* Cleared and moved trees keep their limits, copies take them. */
    art_tree_clear(&t, NULL, NULL);
    CHECK(t.bucket_keys == 4 && t.bucket_bytes == 64);
    CHECK(art_insert(&t, K("a"), VAL(1), NULL) == 1);
    CHECK(art_insert(&t, K("b"), VAL(2), NULL) == 1);
    art_tree u, v;
    art_tree_init(&u);
    art_tree_move(&u, &t);
    CHECK(u.bucket_keys == 4 && t.bucket_keys == 4);
    plain_tree_init(&v);
    CHECK(art_tree_copy(&v, &u) == ART_OK);
    CHECK(v.bucket_keys == 4 && v.bucket_bytes == 64 && valid(&v));
    CHECK(art_search(&v, K("b")) == VAL(2));
    art_tree_clear(&u, NULL, NULL);
    art_tree_clear(&v, NULL, NULL);
    art_tree_clear(&t, NULL, NULL);
}

/* The shapes of a burst, step by step, with B = 4 and K = 64 (suffixes
   over 16 bytes stay leaves). */
void test_bucket_bursts(void)
{
    art_tree t;
    model m = {0};
    art_stats_t s;
    art_tree_init(&t);
    CHECK(art_tree_set_buckets(&t, 4, 64) == ART_OK);
    CHECK(tree_insert_both(&t, &m, K("car"), VAL(1)));
    art_stats(&t, &s);
    CHECK(s.leaves == 1 && s.buckets == 0);
    /* A leaf meeting a key makes a bucket of two, no inner node. */
    CHECK(tree_insert_both(&t, &m, K("cat"), VAL(2)));
    art_stats(&t, &s);
    CHECK(s.leaves == 0 && s.buckets == 1 && s.bucket_keys == 2);
    CHECK(inner_nodes(&s) == 0 && s.mean_depth == 0.0);
    CHECK(tree_insert_both(&t, &m, K("ca"), VAL(3)));
    CHECK(tree_insert_both(&t, &m, K(""), VAL(4)));
    art_stats(&t, &s);
    CHECK(s.buckets == 1 && s.bucket_keys == 4 && inner_nodes(&s) == 0);
    /* The replacement of a value changes no block. */
    uint64_t version = t.version;
    size_t bytes = t.bytes;
    CHECK(tree_insert_both(&t, &m, K("cat"), VAL(5)));
    CHECK(t.version == version && t.bytes == bytes);
    /* The fifth key bursts it: the common prefix "" has the empty key in
       its slot... a Node4 over "ca"'s bucket. */
    CHECK(tree_insert_both(&t, &m, K("cb"), VAL(6)));
    art_stats(&t, &s);
    CHECK(valid(&t) && tree_matches(&t, &m));
    CHECK(inner_nodes(&s) >= 1 &&
          s.node_values + s.bucket_keys + s.leaves == 5);
    /* A suffix longer than K / 4 never enters a bucket. */
    CHECK(tree_insert_both(&t, &m, K("cab-a-very-long-suffix"), VAL(7)));
    CHECK(tree_insert_both(&t, &m, K("cab-a-very-long-suffiy"), VAL(8)));
    art_stats(&t, &s);
    CHECK(valid(&t) && tree_matches(&t, &m) && stats_consistent(&t));
    CHECK(s.leaves >= 2);
    /* Down to nothing: every delete leaves a valid tree. */
    static const char *const order[] = {
        "",   "cab-a-very-long-suffix", "car", "cb",
        "ca", "cab-a-very-long-suffiy", "cat"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        CHECK(tree_delete_both(&t, &m, (const uint8_t *)order[i],
                               strlen(order[i])));
        CHECK(valid(&t) && tree_matches(&t, &m) && stats_consistent(&t));
    }
    CHECK(t.size == 0 && t.root == 0 && t.bytes == 0);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

/* A node left with one bucket below it becomes one bucket again, or,
   when the suffixes with its prefix in front are too long for one, the
   subtree they make. */
void test_bucket_merges(void)
{
    for (int longp = 0; longp < 2; longp++) {
        art_tree t;
        model m = {0};
        art_stats_t s;
        uint8_t k[64];
        art_tree_init(&t);
        CHECK(art_tree_set_buckets(&t, 4, 128) == ART_OK);
        /* "w", "y", "z", then "x" + P + a..c, which land in a bucket
           below the root's byte 'x'.  With a 31-byte P each of its
           suffixes is 32 bytes, the longest a bucket takes at K = 128,
           and 33 with the 'x' in front. */
        size_t plen = longp ? 32 : 2;
        CHECK(tree_insert_both(&t, &m, K("y"), VAL(9)));
        CHECK(tree_insert_both(&t, &m, K("z"), VAL(10)));
        CHECK(tree_insert_both(&t, &m, K("w"), VAL(11)));
        memset(k, 'p', sizeof k);
        k[0] = 'x';
        for (int i = 0; i < 3; i++) {
            k[plen] = (uint8_t)('a' + i);
            CHECK(tree_insert_both(&t, &m, k, plen + 1, VAL(i + 1)));
        }
        art_stats(&t, &s);
        CHECK(valid(&t) && inner_nodes(&s) >= 1);
        CHECK(tree_delete_both(&t, &m, K("y")));
        CHECK(tree_delete_both(&t, &m, K("z")));
        CHECK(valid(&t) && tree_matches(&t, &m));
        CHECK(tree_delete_both(&t, &m, K("w")));
        CHECK(valid(&t) && tree_matches(&t, &m) && stats_consistent(&t));
        art_stats(&t, &s);
        if (longp) {
            /* 33 bytes > 128 / 4: the leaves under a node of prefix
               "x" + P. */
            CHECK(s.buckets == 0 && s.leaves == 3 && inner_nodes(&s) == 1);
        } else {
            CHECK(s.buckets == 1 && s.bucket_keys == 3 && inner_nodes(&s) == 0);
        }
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
    }
}

/* Random keys over a small alphabet against the model, for several
   limits, with every cursor move checked at each step of the way. */
void test_bucket_random(void)
{
    static const unsigned limits[][2] = {
        {2, 16}, {3, 40}, {8, 256}, {64, 2048}};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        art_tree t;
        model m = {0};
        art_cursor c;
        art_tree_init(&t);
        CHECK(art_tree_set_buckets(&t, limits[li][0], limits[li][1]) == ART_OK);
        art_cursor_init(&c, &t);
        for (int step = 0; step < 3000; step++) {
            uint8_t k[24];
            size_t len = rnd_below(step % 5 == 0 ? 24 : 6);
            for (size_t i = 0; i < len; i++)
                k[i] = (uint8_t)("abc\0\xff"[rnd_below(5)]);
            if (rnd_below(100) < 65)
                CHECK(tree_insert_both(&t, &m, k, len, VAL(step + 1)));
            else
                CHECK(tree_delete_both(&t, &m, k, len));
            if (step % 50 == 0) {
                CHECK(valid(&t) && tree_matches(&t, &m) &&
                      stats_consistent(&t));
                /* A seek of each kind around a random key. */
                int found;
                size_t at = model_lower(&m, k, len, &found);
                int r = art_cursor_seek(&c, k, len, ART_SEEK_GE);
                CHECK(cursor_on(&c, r, &m, at));
                r = art_cursor_seek(&c, k, len, ART_SEEK_LT);
                CHECK(cursor_on(&c, r, &m, at - 1));
            }
        }
        CHECK(valid(&t) && tree_matches(&t, &m));
        /* Inserts left room in buckets; a copy has none, and is the
           same tree in fewer bytes. */
        art_stats_t s, cs;
        art_tree cp;
        art_stats(&t, &s);
        CHECK(limits[li][0] < 8 || s.bucket_spare > 0);
        art_tree_init(&cp);
        CHECK(art_tree_copy(&cp, &t) == ART_OK);
        art_stats(&cp, &cs);
        CHECK(cs.bucket_spare == 0 && cs.buckets == s.buckets &&
              cs.bytes == s.bytes - s.bucket_spare);
        CHECK(valid(&cp) && tree_matches(&cp, &m));
        art_tree_clear(&cp, NULL, NULL);
        art_cursor_free(&c);
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
    }
}
