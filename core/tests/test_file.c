/*
 * test_file.c -- files: writing, opening, loading, checksums, and
 * hostile or damaged images.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

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

static int load_round_trip(const image_t *im, const model *m)
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
static int file_round_trip(art_tree *t, const model *m)
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
    art_stats_t st;
    art_stats(t, &st);
    ok &= CHECK(ft.bytes == h.nodes_size &&
                h.nodes_size == t->bytes - st.bucket_spare);
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

void test_file_round_trips(void)
{
    art_tree t;
    model m = {0};
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

void test_file_write_failures(void)
{
    art_tree t;
    model m = {0};
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

void test_file_load_failures(void)
{
    art_tree t, ft, dst;
    art_file_header h;
    model m = {0};
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

void test_file_utf8_and_layout_checks(void)
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
    /* Buckets below a node that branches on a lead byte: their suffixes
       must go on with continuation bytes, so all-ASCII ones are refused
       (the check that skips ASCII buckets applies only at a character
       boundary). */
    art_tree_clear(&t, NULL, NULL);
    for (int valid = 0; valid < 2; valid++) {
        /* Octal escapes: a hex one would take the letters after it. */
        static const char *const keys[2][4] = {
            {"\303ab", "\303ac", "\304ab", "\304ac"},
            {"\303\251b", "\303\251c", "\304\200b", "\304\200c"}};
        art_stats_t st;
        art_tree_init(&t);
        REQUIRE(art_tree_set_buckets(&t, 2, 64) == ART_OK);
        for (int k = 0; k < 4; k++)
            art_insert(&t, (const uint8_t *)keys[valid][k],
                       strlen(keys[valid][k]), VAL(k + 1), NULL);
        art_stats(&t, &st);
        CHECK(st.buckets == 2 && st.bucket_keys == 4);
        CHECK((open_utf8(&t) == ART_OK) == valid);
        art_tree_clear(&t, NULL, NULL);
    }
    /* An object in the nodes section that the tree does not reach. */
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
static void exercise(art_tree *t, const model *m)
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
static void load_survivor(const uint8_t *file, size_t len, const model *m)
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

void test_file_hostile(void)
{
    art_tree t, ft;
    model m = {0};
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

void test_file_checksum(void)
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

/* Version 3 adds buckets (kind 4) to version 2, which stays readable; a
   bucket in a file that says version 2 is refused.  An opened tree takes
   limits that its buckets keep to. */
void test_file_versions(void)
{
    for (int buckets = 0; buckets < 2; buckets++) {
        art_tree t, ft;
        art_file_header h;
        model m = {0};
        image_t im;
        art_tree_init(&t);
        CHECK(art_tree_set_buckets(&t, buckets ? 6 : 0, 64) == ART_OK);
        build_random(&t, &m, &g_wide_conf, 300);
        art_stats_t s;
        art_stats(&t, &s);
        CHECK((s.buckets > 0) == buckets);
        REQUIRE(save_image(&t, &im) == ART_OK);
        art_file_header saved;
        REQUIRE(art_file_read_header(im.data, im.len, &saved, NULL) == ART_OK);
        for (uint32_t v = 1; v <= 4; v++) {
            h = saved;
            h.version = v;
            art_file_header_encode(&h, im.data);
            int want = v == 3 || (v == 2 && !buckets) ? ART_OK : ART_EFORMAT;
            CHECK(art_file_open(&ft, im.data, im.len, 0, NULL, NULL, &h,
                                NULL) == want);
            if (want == ART_OK) {
                CHECK(valid(&ft) && ft.size == m.n);
                for (size_t i = 0; i < m.n; i += 7)
                    CHECK(art_search(&ft, m.a[i].key, m.a[i].len) ==
                          m.a[i].val);
                if (buckets)
                    CHECK(ft.bucket_keys >= 2 && ft.bucket_bytes >= 16);
                art_file_close(&ft);
            }
        }
        free(im.data);
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
    }
}
