/*
 * test_enomem.c -- allocation failures: every injected ART_ENOMEM leaves
 * the tree exactly as it was.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

/* ------------------------------------------------------------------ */
/* Allocation failures                                                 */
/* ------------------------------------------------------------------ */

/* A tree with a node of each kind, values in nodes, a leaf, a long
   prefix and a deep chain: the places where inserts and deletes
   allocate. */
static void build_landmarks(art_tree *t, model *m, uint8_t *lp)
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

void test_enomem_insert_delete(void)
{
    art_tree t;
    model m = {0};
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
        const model_entry *e = &m.a[rnd_below(m.n)];
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
void test_enomem_shrink(void)
{
    int with_value;
    for (with_value = 0; with_value < 2; with_value++) {
        art_tree t;
        model m = {0};
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

void test_enomem_copy(void)
{
    art_tree t;
    model m = {0};
    uint8_t lp[300];

    art_tree_init(&t);
    build_landmarks(&t, &m, lp);
    CHECK(copy_sweep(&t, &m) >= 1);
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}

void test_enomem_cursor(void)
{
    art_tree t;
    model m = {0};
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
        want = model_lower(&m, k, 301, NULL);
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

void test_enomem_fuzzy(void)
{
    art_tree t;
    model m = {0};
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
        /* The n closest keys, in every variant: each allocation fails in
           turn (init, the levels' searches, the hits, the key buffers and
           their packing); the tree stays untouched, and once nothing
           fails the result is the same as without any failure. */
        int flags = utf8 | (round / 2) * ART_FUZZY_TRANSPOSE;
        art_closest ref;
        size_t pauses = 0;
        if (!CHECK(art_closest_init(&ref, &t, q, qlen, 1 + round * 9,
                                    UINT32_MAX, flags) == ART_OK))
            break;
        while (art_closest_run(&ref) == ART_EAGAIN)
            pauses++;
        for (k = 1; k <= SWEEP_LIMIT; k++) {
            art_closest c;
            t.fail_countdown = k;
            int r = art_closest_init(&c, &t, q, qlen, 1 + round * 9, UINT32_MAX,
                                     flags);
            if (r == ART_OK)
                while ((r = art_closest_run(&c)) == ART_EAGAIN)
                    pauses++;
            t.fail_countdown = 0;
            CHECK(t.bytes == bytes && t.version == version);
            if (r != ART_ENOMEM) {
                CHECK(r == ART_OK && c.nhits == ref.nhits);
                for (size_t i = 0; i < c.nhits && i < ref.nhits; i++) {
                    size_t la, lb;
                    const uint8_t *ka = art_closest_key(&c, i, &la);
                    const uint8_t *kb = art_closest_key(&ref, i, &lb);
                    CHECK(model_key_eq(ka, la, kb, lb) &&
                          c.hits[i].distance == ref.hits[i].distance &&
                          c.hits[i].value == ref.hits[i].value);
                }
                art_closest_free(&c);
                CHECK(k > 1);
                break;
            }
            art_closest_free(&c);
        }
        art_closest_free(&ref);
        if (g_test_failures)
            break;
    }
    CHECK(tree_matches(&t, &m));
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}
