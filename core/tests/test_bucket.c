/*
 * test_bucket.c -- differential tests of the bucket container
 * (core/art_bucket.c) against a sorted array of keys, with allocation
 * failure injected at every allocation an operation makes.
 *
 * Build and run from the repository root, once with the SSE2 tag scan and
 * once with the portable one:
 *
 *   for simd in "" -DART_BUCKET_NO_SIMD; do
 *     cc -std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror $simd \
 *        -fsanitize=address,undefined -fno-sanitize-recover=all -Icore \
 *        core/art_bucket.c core/tests/test_bucket.c -o /tmp/test_bucket &&
 *     /tmp/test_bucket || break
 *   done
 *
 * An optional argument is the number of random rounds (default 300).
 */
#include "art_bucket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
            if (failures > 20)                                                 \
                exit(1);                                                       \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------------------ */
/* An allocator that counts blocks and can fail                        */
/* ------------------------------------------------------------------ */

/*
 * Each block is malloc'd with its size in front of it, so that free can
 * check the size it is given, and ends exactly where the bucket does, so
 * that AddressSanitizer catches a read past the block (the tag scan reads
 * up to 15 bytes past the tags, which must stay inside).
 */
typedef struct test_heap {
    long live;      /* blocks not yet freed */
    long countdown; /* > 0: the allocation bringing it to 0 fails */
    long made;      /* allocations attempted */
} test_heap;

static void *heap_alloc(void *ctx, size_t size)
{
    test_heap *h = ctx;
    h->made++;
    if (h->countdown > 0 && --h->countdown == 0)
        return NULL;
    uint8_t *p = malloc(16 + size);
    if (p == NULL)
        return NULL;
    memcpy(p, &size, sizeof size);
    /* Garbage, so that a field the code forgets to set shows. */
    memset(p + 16, 0xA5, size);
    h->live++;
    return p + 16;
}

static void heap_free(void *ctx, void *q, size_t size)
{
    test_heap *h = ctx;
    uint8_t *p = (uint8_t *)q - 16;
    size_t had;
    memcpy(&had, p, sizeof had);
    CHECK(had == size);
    h->live--;
    free(p);
}

static test_heap heap;
static const art_bucket_alloc alloc = {heap_alloc, heap_free, &heap};

/* ------------------------------------------------------------------ */
/* The model: a sorted array of distinct keys with values              */
/* ------------------------------------------------------------------ */

typedef struct mkey {
    uint8_t *s;
    size_t len;
    void *value;
} mkey;

typedef struct model {
    mkey *k;
    size_t n, cap, bytes;
} model;

static int cmp_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (na > nb) - (na < nb);
}

/* Index of the first key >= s. */
static size_t model_lb(const model *m, const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < m->n && cmp_bytes(m->k[i].s, m->k[i].len, s, len) < 0)
        i++;
    return i;
}

static int model_has(const model *m, const uint8_t *s, size_t len, size_t *at)
{
    size_t i = model_lb(m, s, len);
    *at = i;
    return i < m->n && cmp_bytes(m->k[i].s, m->k[i].len, s, len) == 0;
}

static void model_insert(model *m, size_t i, const uint8_t *s, size_t len,
                         void *value)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->k = realloc(m->k, m->cap * sizeof *m->k);
    }
    memmove(m->k + i + 1, m->k + i, (m->n - i) * sizeof *m->k);
    m->k[i].s = malloc(len ? len : 1);
    if (len)
        memcpy(m->k[i].s, s, len);
    m->k[i].len = len;
    m->k[i].value = value;
    m->n++;
    m->bytes += len;
}

static void model_delete(model *m, size_t i)
{
    m->bytes -= m->k[i].len;
    free(m->k[i].s);
    memmove(m->k + i, m->k + i + 1, (m->n - i - 1) * sizeof *m->k);
    m->n--;
}

static void model_free(model *m)
{
    while (m->n)
        model_delete(m, m->n - 1);
    free(m->k);
    m->k = NULL;
    m->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Random keys from a small alphabet                                   */
/* ------------------------------------------------------------------ */

static uint64_t rng = 0x1234567u;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static uint32_t below(uint32_t n)
{
    return rnd() % n;
}

/*
 * Keys over "ab\0\xff" mostly (shared prefixes, the extreme bytes), of
 * length 0 to 12, with now and then a long one (up to 300 bytes) made of
 * a short key repeated, so that long keys share long prefixes too.
 */
static size_t random_key(uint8_t *buf)
{
    static const uint8_t alphabet[] = {'a', 'b', 0, 0xff, 'c'};
    size_t len;
    uint32_t r = below(100);
    if (r < 5)
        len = 0;
    else if (r < 90)
        len = 1 + below(12);
    else
        len = 20 + below(280);
    int width = below(4) == 0 ? 5 : 2 + (int)below(2);
    for (size_t i = 0; i < len; i++)
        buf[i] = i >= 8 && r >= 90 ? buf[i % 8] : alphabet[below(width)];
    return len;
}

static void *value_of(uint32_t x)
{
    return (void *)(uintptr_t)(2 * (uintptr_t)x + 2); /* never NULL */
}

/* ------------------------------------------------------------------ */
/* Comparing a bucket with the model                                   */
/* ------------------------------------------------------------------ */

static void check_bucket(const art_bucket *b, const model *m)
{
    if (b == NULL) {
        CHECK(m->n == 0);
        return;
    }
    const char *why = art_bucket_check(b, art_bucket_bytes(b));
    if (why)
        fprintf(stderr, "check: %s\n", why);
    CHECK(why == NULL);
    CHECK(b->count == m->n);
    CHECK(b->key_bytes == m->bytes);
    void **values = art_bucket_values((art_bucket *)(uintptr_t)b);
    for (size_t i = 0; i < m->n && i < b->count; i++) {
        size_t len;
        const uint8_t *s = art_bucket_suffix(b, (unsigned)i, &len);
        CHECK(cmp_bytes(s, len, m->k[i].s, m->k[i].len) == 0);
        CHECK(values[i] == m->k[i].value);
    }
}

/* Whether a and b hold the same entries, whatever room each has to spare:
   the same bytes in every region, up to the entries in use. */
static int same_contents(const art_bucket *a, const art_bucket *b)
{
    size_t n = a->count, kb = a->key_bytes;
    return a->type == b->type && a->flags == b->flags && b->count == n &&
           b->key_bytes == kb &&
           memcmp(art_bucket_tags(a), art_bucket_tags(b), n) == 0 &&
           memcmp(art_bucket_ends(a), art_bucket_ends(b), 2 * n) == 0 &&
           memcmp(art_bucket_values((art_bucket *)(uintptr_t)a),
                  art_bucket_values((art_bucket *)(uintptr_t)b),
                  n * sizeof(void *)) == 0 &&
           memcmp(art_bucket_keys(a), art_bucket_keys(b), kb) == 0;
}

/* A copy of the block, to prove that a failed operation changed nothing. */
typedef struct snapshot {
    const art_bucket *b;
    uint8_t *bytes;
    size_t size;
} snapshot;

static void snap(snapshot *s, const art_bucket *b)
{
    s->b = b;
    s->size = b ? art_bucket_bytes(b) : 0;
    s->bytes = malloc(s->size ? s->size : 1);
    if (b)
        memcpy(s->bytes, b, s->size);
}

static int unchanged(snapshot *s, const art_bucket *b)
{
    int same = b == s->b && (b == NULL || (art_bucket_bytes(b) == s->size &&
                                           memcmp(b, s->bytes, s->size) == 0));
    free(s->bytes);
    s->bytes = NULL;
    return same;
}

/* Makes the bucket of m from scratch, each entry split in two pieces at a
   random point, as a merge gives them. */
static art_bucket *make_from_model(const model *m)
{
    art_bucket_entry *e = malloc((m->n + 1) * sizeof *e);
    for (size_t i = 0; i < m->n; i++) {
        size_t cut = below((uint32_t)m->k[i].len + 1);
        e[i].a = m->k[i].s;
        e[i].na = cut;
        e[i].b = m->k[i].s + cut;
        e[i].nb = m->k[i].len - cut;
        e[i].value = m->k[i].value;
    }
    art_bucket *b = art_bucket_make(&alloc, e, m->n);
    free(e);
    return b;
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

static void check_queries(const art_bucket *b, const model *m)
{
    uint8_t key[400];
    if (b == NULL)
        return;
    /* Every key is found at its index; random keys as the model says. */
    for (size_t i = 0; i < m->n; i++) {
        CHECK(art_bucket_find(b, m->k[i].s, m->k[i].len) == (int)i);
        int exact = 0;
        CHECK(art_bucket_lower_bound(b, m->k[i].s, m->k[i].len, &exact) == i);
        CHECK(exact);
    }
    for (int r = 0; r < 40; r++) {
        size_t len = random_key(key), at;
        int has = model_has(m, key, len, &at), exact = -1;
        CHECK(art_bucket_find(b, key, len) == (has ? (int)at : -1));
        CHECK(art_bucket_lower_bound(b, key, len, &exact) == at);
        CHECK(exact == has);
    }
    /* Common prefixes of neighbours, of all, and skips. */
    for (size_t i = 1; i < m->n; i++) {
        const mkey *x = &m->k[i - 1], *y = &m->k[i];
        size_t c = 0;
        while (c < x->len && c < y->len && x->s[c] == y->s[c])
            c++;
        CHECK(art_bucket_common(b, (unsigned)i) == c);
    }
    if (m->n > 0) {
        const mkey *x = &m->k[0], *y = &m->k[m->n - 1];
        size_t c = 0;
        while (c < x->len && c < y->len && x->s[c] == y->s[c])
            c++;
        CHECK(art_bucket_common_all(b) == c);
        for (int r = 0; r < 10; r++) {
            size_t i = below((uint32_t)m->n);
            size_t pm = below((uint32_t)m->k[i].len + 1), j = i + 1;
            while (j < m->n && m->k[j].len >= pm &&
                   memcmp(m->k[j].s, m->k[i].s, pm) == 0)
                j++;
            CHECK(art_bucket_skip(b, (unsigned)i, pm) == j);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Burst                                                               */
/* ------------------------------------------------------------------ */

/* Bursts b at every allocation failure, then for real; checks the groups
   against the model and frees them. */
static void check_burst(const art_bucket *b, const model *m)
{
    art_bucket_group groups[256];
    unsigned ng;
    int end;
    if (b == NULL)
        return;
    size_t skip = art_bucket_common_all(b);
    if (m->n > 1 && below(3) == 0)
        skip = below((uint32_t)skip + 1); /* a shorter prefix is allowed */
    unsigned min_count = below(3); /* 0, 1: always a bucket; 2: not for 1 */
    for (long fail = 1;; fail++) {
        snapshot s;
        long live = heap.live;
        snap(&s, b);
        heap.countdown = fail;
        int r = art_bucket_burst(&alloc, b, skip, min_count, groups, &ng, &end);
        heap.countdown = 0;
        CHECK(unchanged(&s, b));
        if (r == ART_OK)
            break;
        CHECK(r == ART_ENOMEM);
        CHECK(heap.live == live);
        CHECK(ng == 0);
    }
    /* The groups, in order, with the end key, are the model. */
    size_t i = 0;
    if (end >= 0) {
        CHECK(end == 0);
        CHECK(m->k[0].len == skip);
        i = 1;
    } else {
        CHECK(m->n == 0 || m->k[0].len != skip);
    }
    for (unsigned g = 0; g < ng; g++) {
        CHECK(g == 0 || groups[g].byte > groups[g - 1].byte);
        CHECK(groups[g].first == i);
        CHECK((groups[g].bucket != NULL) == (groups[g].count >= min_count));
        for (unsigned j = 0; j < groups[g].count; j++, i++) {
            const mkey *k = &m->k[i];
            CHECK(k->len > skip && k->s[skip] == groups[g].byte);
            if (memcmp(k->s, m->k[0].s, skip) != 0)
                CHECK(0);
            const art_bucket *c = groups[g].bucket;
            if (c == NULL)
                continue;
            size_t len;
            const uint8_t *s = art_bucket_suffix(c, j, &len);
            CHECK(cmp_bytes(s, len, k->s + skip + 1, k->len - skip - 1) == 0);
            CHECK(art_bucket_values((art_bucket *)(uintptr_t)c)[j] == k->value);
        }
        if (groups[g].bucket) {
            CHECK(art_bucket_check(groups[g].bucket,
                                   art_bucket_bytes(groups[g].bucket)) == NULL);
            CHECK(groups[g].bucket->count == groups[g].count);
            art_bucket_free(&alloc, groups[g].bucket);
        }
    }
    CHECK(i == m->n);
}

/* ------------------------------------------------------------------ */
/* The random differential run                                         */
/* ------------------------------------------------------------------ */

static void one_round(unsigned max_count, size_t max_bytes, int steps)
{
    model m = {0};
    art_bucket *b = NULL;
    art_bucket_limits lim = {max_count, max_bytes};
    uint8_t key[400];
    long live0 = heap.live;
    for (int step = 0; step < steps; step++) {
        uint32_t op = below(100);
        if (op < 60 || m.n == 0) {
            /* Insert a random key, or a present one (replace). */
            size_t len, at;
            if (m.n > 0 && below(5) == 0) {
                size_t i = below((uint32_t)m.n);
                len = m.k[i].len;
                memcpy(key, m.k[i].s, len);
            } else {
                len = random_key(key);
            }
            void *v = value_of(rnd()), *old = (void *)1;
            int has = model_has(&m, key, len, &at);
            int fits = m.n + 1 <= max_count && m.bytes + len <= max_bytes;
            /* With a spare slot and room for the bytes, in place. */
            int room = b && b->spare && m.bytes + len <= art_bucket_room(b);
            /* Else fail the allocation first: nothing may change. */
            if (!has && fits && !room) {
                snapshot s;
                snap(&s, b);
                heap.countdown = 1;
                int r = art_bucket_insert(&alloc, &b, key, len, v, &lim, &old,
                                          NULL);
                heap.countdown = 0;
                CHECK(r == ART_ENOMEM);
                CHECK(old == NULL);
                CHECK(unchanged(&s, b));
            }
            unsigned index = 9999;
            long made = heap.made;
            const art_bucket *before = b;
            int r =
                art_bucket_insert(&alloc, &b, key, len, v, &lim, &old, &index);
            if (!has && fits) {
                CHECK((heap.made == made) == room);
                CHECK((b == before) == room);
                /* A new block leaves room for more, within the limits. */
                if (!room && m.n + 1 < max_count && m.n >= 8)
                    CHECK(b->spare > 0);
                CHECK(art_bucket_slots(b) <= max_count);
            }
            if (has) {
                CHECK(r == 0);
                CHECK(heap.made == made); /* in place */
                CHECK(old == m.k[at].value);
                CHECK(index == at);
                m.k[at].value = v;
            } else if (!fits) {
                CHECK(r == ART_BUCKET_FULL);
                CHECK(old == NULL);
                CHECK(heap.made == made);
            } else {
                CHECK(r == 1);
                CHECK(old == NULL);
                CHECK(index == at);
                model_insert(&m, at, key, len, v);
            }
        } else if (op < 85) {
            /* Delete a random key, failing the allocation first. */
            size_t i = below((uint32_t)m.n);
            void *old = NULL;
            /* In place while at least half the slots stay in use; else
               fail the allocation of the smaller block first. */
            size_t left = (m.bytes - m.k[i].len + 7) & ~(size_t)7;
            int shrink = m.n > 1 && (2 * (m.n - 1) < art_bucket_slots(b) ||
                                     (art_bucket_room(b) - left) / 8 > 255);
            if (shrink) {
                snapshot s;
                snap(&s, b);
                heap.countdown = 1;
                CHECK(art_bucket_delete(&alloc, &b, (unsigned)i, &old) ==
                      ART_ENOMEM);
                heap.countdown = 0;
                CHECK(unchanged(&s, b));
            }
            long made = heap.made;
            const art_bucket *before = b;
            CHECK(art_bucket_delete(&alloc, &b, (unsigned)i, &old) == ART_OK);
            if (m.n > 1) {
                CHECK((heap.made == made) == !shrink);
                CHECK((b == before) == !shrink);
                if (shrink)
                    CHECK(b->spare == 0 && b->spare_words == 0);
            }
            CHECK(old == m.k[i].value);
            model_delete(&m, i);
            CHECK((b == NULL) == (m.n == 0));
        } else if (op < 92) {
            /* Make from the model (split entries): the same bytes. */
            heap.countdown = 1;
            CHECK(make_from_model(&m) == NULL);
            heap.countdown = 0;
            art_bucket *c = make_from_model(&m);
            CHECK(c != NULL);
            CHECK(c->spare == 0 && c->spare_words == 0);
            if (b) {
                CHECK(same_contents(c, b));
                /* A copy drops the room: the made block's very bytes. */
                heap.countdown = 1;
                CHECK(art_bucket_copy(&alloc, b) == NULL);
                heap.countdown = 0;
                art_bucket *d = art_bucket_copy(&alloc, b);
                CHECK(d != NULL && art_bucket_bytes(d) == art_bucket_bytes(c) &&
                      memcmp(d, c, art_bucket_bytes(c)) == 0);
                art_bucket_free(&alloc, d);
            } else
                CHECK(c->count == 0 && art_bucket_bytes(c) == 8);
            if (below(2)) { /* carry on with the made one */
                art_bucket_free(&alloc, b);
                b = c->count ? c : NULL;
                if (b == NULL)
                    art_bucket_free(&alloc, c);
            } else {
                art_bucket_free(&alloc, c);
            }
        } else {
            check_burst(b, &m);
        }
        check_bucket(b, &m);
        if (step % 8 == 0)
            check_queries(b, &m);
    }
    check_queries(b, &m);
    art_bucket_free(&alloc, b);
    model_free(&m);
    CHECK(heap.live == live0);
}

/* ------------------------------------------------------------------ */
/* Fixed cases                                                         */
/* ------------------------------------------------------------------ */

static void test_fixed(void)
{
    art_bucket_limits lim = {4, 16};
    art_bucket *b = NULL;
    void *old;
    /* The empty suffix sorts first and bursts into the node's value. */
    CHECK(art_bucket_insert(&alloc, &b, (const uint8_t *)"b", 1, value_of(1),
                            &lim, &old, NULL) == 1);
    CHECK(art_bucket_insert(&alloc, &b, NULL, 0, value_of(2), &lim, &old,
                            NULL) == 1);
    CHECK(art_bucket_insert(&alloc, &b, (const uint8_t *)"ab", 2, value_of(3),
                            &lim, &old, NULL) == 1);
    CHECK(art_bucket_find(b, NULL, 0) == 0);
    CHECK(art_bucket_find(b, (const uint8_t *)"ab", 2) == 1);
    CHECK(art_bucket_find(b, (const uint8_t *)"a", 1) == -1);
    /* Over the byte budget, then over the count. */
    CHECK(art_bucket_insert(&alloc, &b, (const uint8_t *)"0123456789abcd", 14,
                            value_of(4), &lim, &old, NULL) == ART_BUCKET_FULL);
    CHECK(art_bucket_insert(&alloc, &b, (const uint8_t *)"c", 1, value_of(5),
                            &lim, &old, NULL) == 1);
    CHECK(art_bucket_insert(&alloc, &b, (const uint8_t *)"d", 1, value_of(6),
                            &lim, &old, NULL) == ART_BUCKET_FULL);
    CHECK(art_bucket_check(b, art_bucket_bytes(b)) == NULL);
    /* A block must fit the bytes it is given (a file's section). */
    CHECK(art_bucket_check(b, art_bucket_bytes(b) - 8) != NULL);
    /* Damage is found. */
    art_bucket *c = make_from_model(&(model){0});
    CHECK(art_bucket_check(c, 8) == NULL);
    c->flags = 1;
    CHECK(art_bucket_check(c, 8) != NULL);
    art_bucket_free(&alloc, c);
    size_t size = art_bucket_bytes(b);
    uint8_t *copy = malloc(size);
    memcpy(copy, b, size);
    ((uint8_t *)(copy + 8))[0] ^= 1; /* a tag */
    CHECK(art_bucket_check((art_bucket *)(void *)copy, size) != NULL);
    memcpy(copy, b, size);
    copy[8 + 3] = 7; /* tag padding */
    CHECK(art_bucket_check((art_bucket *)(void *)copy, size) != NULL);
    /* An end past the key bytes in the middle (the last one right): the
       check must not read past the block (found by test_file_hostile). */
    memcpy(copy, b, size);
    {
        uint16_t far = 0xFFFF;
        memcpy(copy + 8 + 8 + 2, &far, 2); /* ends[1] */
    }
    CHECK(art_bucket_check((art_bucket *)(void *)copy, size) != NULL);
    free(copy);
    /* Tags are a fixed function (they are stored in files). */
    CHECK(art_bucket_tag(NULL, 0) == art_bucket_tag((const uint8_t *)"", 0));
    CHECK(art_bucket_tag((const uint8_t *)"ab", 2) !=
              art_bucket_tag((const uint8_t *)"ba", 2) ||
          art_bucket_tag((const uint8_t *)"abc", 3) !=
              art_bucket_tag((const uint8_t *)"acb", 3));
    while (b) {
        CHECK(art_bucket_delete(&alloc, &b, 0, &old) == ART_OK);
        if (b)
            CHECK(art_bucket_check(b, art_bucket_bytes(b)) == NULL);
    }
    CHECK(heap.live == 0);
}

/* Tag scans across every count up to 200, with colliding tags: find must
   check every candidate, not the first. */
static void test_scan_widths(void)
{
    model m = {0};
    art_bucket *b = NULL;
    art_bucket_limits lim = {1000, 60000};
    uint8_t key[8];
    for (uint32_t x = 0; x < 200; x++) {
        size_t at;
        for (int i = 0; i < 4; i++)
            key[i] = (uint8_t)(x >> (8 * (3 - i)));
        (void)model_has(&m, key, 4, &at);
        CHECK(art_bucket_insert(&alloc, &b, key, 4, value_of(x), &lim, NULL,
                                NULL) == 1);
        model_insert(&m, at, key, 4, value_of(x));
        for (size_t i = 0; i < m.n; i++)
            CHECK(art_bucket_find(b, m.k[i].s, 4) == (int)i);
    }
    unsigned tagged[256] = {0};
    for (size_t i = 0; i < m.n; i++)
        tagged[art_bucket_tags(b)[i]]++;
    int collide = 0;
    for (int t = 0; t < 256; t++)
        collide |= tagged[t] > 1;
    CHECK(collide); /* 200 keys in 256 tags: birthday */
    art_bucket_free(&alloc, b);
    model_free(&m);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 300;
    test_fixed();
    test_scan_widths();
    for (int r = 0; r < rounds; r++) {
        unsigned max_count = 1 + below(r % 3 ? 40 : 140);
        size_t max_bytes = r % 4 == 0 ? 60000 : 8 + below(2000);
        one_round(max_count, max_bytes, 200 + (int)below(400));
    }
    CHECK(heap.live == 0);
    if (failures) {
        fprintf(stderr, "test_bucket: %d failures\n", failures);
        return 1;
    }
    printf("test_bucket: ok (%d rounds%s)\n", rounds,
#ifdef ART_BUCKET_NO_SIMD
           ", portable scan"
#else
           ""
#endif
    );
    return 0;
}
