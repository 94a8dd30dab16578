/*
 * bucket_sweep.c -- what bucket nodes (core/art_bucket.h) would make of
 * the tree, for a sweep of bucket sizes B and byte budgets, on the
 * benchmark's real keys.  Issue #17, step 1: the container is not in the
 * tree yet, so this builds the tree it would make.
 *
 *   cc -O2 -g -std=c11 -fno-ipa-icf -Icore core/art.c core/art_bucket.c \
 *      bench/bucket_sweep.c -o bench/.build/bucket_sweep -lm
 *   bench/.build/bucket_sweep -f bench/.cache/v3-urls-1000000.keys \
 *      [-B 16,32,64] [-K 1024,4096] [-q LOOKUPS] [-p PHASES] [-r REPS]
 *
 * The shape of a burst trie built by inserts alone does not depend on
 * their order: a bucket bursts once its subtree holds more than B keys
 * or more than K suffix bytes, and both only grow.  So the tree is built
 * here from the sorted keys, top down: a range of keys that fits becomes
 * a bucket (art_bucket_make; a single key an ordinary leaf), one that
 * does not becomes an inner node holding the range's common prefix (and
 * the value of the key that ends there) with a child per next byte, in
 * the node kind and size an insert-built tree would have for that many
 * children (art_layout.h).  Inner nodes and leaves are laid out exactly
 * as art.c lays them out, buckets as art_bucket.c does; every block is
 * malloc'd on its own, in key order.  The recursion is as deep as the
 * tree (a few hundred at most on these keys): fine for a benchmark.
 *
 * B = 0 builds no bucket at all: today's tree (every key a leaf), the
 * same shape art_insert makes, measured by the same descent, so the
 * rows compare like with like; phase "art" also builds the real tree
 * with art_insert and looks it up with art_search.
 *
 * PHASES (comma list, default shape,lookup,miss,reinsert):
 *   shape     depth, counts and bytes per key (no timing)
 *   lookup    hits in random order: lookup() per call, bucket_find()
 *             per call (the part inside a bucket)
 *   miss      absent keys (one byte of a stored key changed)
 *   reinsert  per bucket key: delete it from its bucket and insert it
 *             again (two copy-on-write block rebuilds), bucket_reinsert()
 *             per call
 *   keys      touch_key(): reading the query keys alone (their misses
 *             are part of every lookup's)
 *   art       the real tree (art_insert, art_search), for reference
 * Blocks are then moved to random places (-s 0: left in key order;
 * -a 1: buckets aligned to 64 bytes, as a slab could place them).
 * Timing is CPU time per call, best of REPS.  Under callgrind run one B
 * and K with -r 1 and read Ir and D1mr per call of lookup, bucket_find,
 * miss_lookup, bucket_miss and bucket_reinsert (bench/bucket_sweep.sh does).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "art_bucket.h"
#include "art_layout.h"

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

typedef struct key {
    const uint8_t *s;
    uint32_t len;
} key;

static key *keys;    /* sorted, distinct */
static size_t nkeys; /* how many */

static int key_cmp(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void load_keys(const char *path, size_t limit)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = xmalloc((size_t)size + 1);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        exit(2);
    }
    fclose(f);
    size_t cap = 1024;
    keys = xmalloc(cap * sizeof *keys);
    for (size_t i = 0; i < (size_t)size && nkeys < limit;) {
        size_t j = i;
        while (j < (size_t)size && buf[j] != '\n')
            j++;
        if (nkeys == cap)
            keys = realloc(keys, (cap *= 2) * sizeof *keys);
        keys[nkeys].s = buf + i;
        keys[nkeys].len = (uint32_t)(j - i);
        nkeys++;
        i = j + 1;
    }
    qsort(keys, nkeys, sizeof *keys, key_cmp);
    size_t w = 0;
    for (size_t i = 0; i < nkeys; i++)
        if (w == 0 || key_cmp(&keys[w - 1], &keys[i]) != 0)
            keys[w++] = keys[i];
    nkeys = w;
}

static uint64_t rng = 88172645463325252u;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* Building the tree                                                   */
/* ------------------------------------------------------------------ */

typedef struct shape {
    size_t nodes[ART_NODE_KINDS], leaves, buckets, node_values;
    size_t in_buckets; /* keys held in buckets */
    size_t node_bytes, leaf_bytes, bucket_bytes;
    size_t big_blocks; /* blocks over 512 bytes: malloc'd in art.c */
    size_t depth_sum;  /* inner nodes above each key, summed */
    size_t max_depth;
    size_t suffix_bytes; /* suffix bytes held in buckets */
    size_t lcp_saving;   /* bytes a per-bucket common prefix would save */
    size_t shared;       /* bytes each bucket suffix shares with the one
                            before it, summed: rows a fuzzy step keeps */
} shape;

static shape sh;
static unsigned lim_count;
static size_t lim_bytes;

static void *block(size_t size)
{
    if (size > 512)
        sh.big_blocks++;
    return xmalloc(size);
}

static size_t lcp(const key *a, const key *b, size_t d)
{
    size_t n = a->len < b->len ? a->len : b->len, i = d;
    while (i < n && a->s[i] == b->s[i])
        i++;
    return i - d;
}

static const art_bucket_alloc bucket_alloc;

/* The tagged reference for keys [lo, hi), all sharing their first d
   bytes, at depth (inner nodes above). */
static uintptr_t build(size_t lo, size_t hi, size_t d, size_t depth)
{
    size_t count = hi - lo, bytes = 0;
    for (size_t i = lo; i < hi && bytes <= lim_bytes; i++)
        bytes += keys[i].len - d;
    if (count == 1) {
        size_t len = keys[lo].len - d;
        art_leaf *l = block(leaf_size(len));
        l->value = (void *)(uintptr_t)(lo * 8 + 8);
        l->len = (uint32_t)len;
        memcpy(l->suffix, keys[lo].s + d, len);
        sh.leaves++;
        sh.leaf_bytes += leaf_size(len);
        sh.depth_sum += depth;
        if (depth > sh.max_depth)
            sh.max_depth = depth;
        return TAG_LEAF(l);
    }
    if (count <= lim_count && bytes <= lim_bytes) {
        art_bucket_entry *e = xmalloc(count * sizeof *e);
        for (size_t i = 0; i < count; i++) {
            e[i].a = keys[lo + i].s + d;
            e[i].na = keys[lo + i].len - d;
            e[i].b = NULL;
            e[i].nb = 0;
            e[i].value = (void *)(uintptr_t)((lo + i) * 8 + 8);
        }
        art_bucket *b = art_bucket_make(&bucket_alloc, e, count);
        free(e);
        sh.buckets++;
        sh.in_buckets += count;
        sh.bucket_bytes += art_bucket_bytes(b);
        sh.suffix_bytes += bytes;
        sh.lcp_saving += (count - 1) * art_bucket_common_all(b);
        for (unsigned i = 1; i < count; i++)
            sh.shared += art_bucket_common(b, i);
        sh.depth_sum += depth * count;
        if (depth > sh.max_depth)
            sh.max_depth = depth;
        return (uintptr_t)b;
    }
    /* An inner node: the common prefix, the key ending at it, a child
       per next byte. */
    size_t plen = lcp(&keys[lo], &keys[hi - 1], d), e = d + plen;
    size_t first = lo;
    void *value = NULL;
    if (keys[lo].len == e) {
        value = (void *)(uintptr_t)(lo * 8 + 8);
        first++;
        sh.node_values++;
        sh.depth_sum += depth + 1;
    }
    int nchild = 0;
    for (size_t i = first; i < hi; i++)
        if (i == first || keys[i].s[e] != keys[i - 1].s[e])
            nchild++;
    int type, cap;
    if (nchild <= 4)
        type = ART_NODE4, cap = nchild <= 2 ? 2 : 4;
    else if (nchild <= 16)
        type = ART_NODE16, cap = nchild <= 8 ? 8 : 16;
    else if (nchild <= 48)
        type = ART_NODE48, cap = 0;
    else
        type = ART_NODE256, cap = 0;
    int shp = cap | (value ? NODE_SLOT : 0);
    size_t size = node_size(type, shp, plen);
    art_node *n = block(size);
    memset(n, 0, size);
    n->type = (uint8_t)type;
    n->shape = (uint8_t)shp;
    n->prefix_len = (uint32_t)plen;
    memcpy(node_prefix(n), keys[lo].s + d, plen);
    if (value)
        *node_slot(n) = value;
    sh.nodes[type]++;
    sh.node_bytes += size;
    for (size_t i = first; i < hi;) {
        size_t j = i + 1;
        uint8_t c = keys[i].s[e];
        while (j < hi && keys[j].s[e] == c)
            j++;
        uintptr_t child = build(i, j, e + 1, depth + 1);
        int k = n->num_children++;
        switch (type) {
        case ART_NODE4:
        case ART_NODE16:
            small_keys(n)[k] = c;
            small_children(n)[k] = child;
            break;
        case ART_NODE48:
            n48_index(n)[c] = (uint8_t)(k + 1);
            n48_children(n)[k] = child;
            break;
        default:
            n256_children(n)[c] = child;
        }
        i = j;
    }
    return TAG_NODE(n);
}

static void destroy(uintptr_t p)
{
    if (IS_LEAF(p)) {
        free(AS_LEAF(p));
        return;
    }
    art_node *n = AS_NODE(p);
    if (n->type == ART_BUCKET_TYPE) {
        free(n);
        return;
    }
    int pos = 0, b;
    uintptr_t *slot;
    while (next_child(n, &pos, &b, &slot))
        destroy(*slot);
    free(n);
}

/*
 * Moves every block of the tree to a new place, in random order, as a
 * tree built by random inserts has them (the build above allocates in
 * key order, which puts a node next to its first child).  Each block is
 * copied, and the old copy's first word forwards to the new one; then
 * the child references of the new nodes are redirected.
 */
typedef struct blk {
    void *p;
    size_t size;
    int bucket;
} blk;

static int aligned; /* -a 1: buckets on 64-byte boundaries */
static blk *blks;
static size_t nblks, blks_cap;

static size_t block_size(uintptr_t p)
{
    if (IS_LEAF(p))
        return leaf_size(AS_LEAF(p)->len);
    art_node *n = AS_NODE(p);
    if (n->type == ART_BUCKET_TYPE)
        return art_bucket_bytes((art_bucket *)n);
    return node_bytes(n);
}

static void collect(uintptr_t p)
{
    if (nblks == blks_cap) {
        blks_cap = blks_cap ? 2 * blks_cap : 1024;
        blks = realloc(blks, blks_cap * sizeof *blks);
    }
    blks[nblks].p = (void *)(p & ~(uintptr_t)1);
    blks[nblks].bucket = !IS_LEAF(p) && AS_NODE(p)->type == ART_BUCKET_TYPE;
    blks[nblks++].size = block_size(p);
    if (IS_LEAF(p) || AS_NODE(p)->type == ART_BUCKET_TYPE)
        return;
    int pos = 0, b;
    uintptr_t *slot;
    while (next_child(AS_NODE(p), &pos, &b, &slot))
        collect(*slot);
}

static uintptr_t forwarded(uintptr_t p)
{
    uintptr_t to;
    memcpy(&to, (void *)(p & ~(uintptr_t)1), sizeof to);
    return to | (p & 1);
}

static void redirect(uintptr_t p)
{
    if (IS_LEAF(p) || AS_NODE(p)->type == ART_BUCKET_TYPE)
        return;
    int pos = 0, b;
    uintptr_t *slot;
    while (next_child(AS_NODE(p), &pos, &b, &slot)) {
        *slot = forwarded(*slot);
        redirect(*slot);
    }
}

static uintptr_t scatter(uintptr_t root)
{
    nblks = 0;
    collect(root);
    for (size_t i = nblks; i > 1; i--) {
        size_t j = rnd() % i;
        blk t = blks[i - 1];
        blks[i - 1] = blks[j];
        blks[j] = t;
    }
    for (size_t i = 0; i < nblks; i++) {
        int bucket = aligned && blks[i].bucket;
        void *q = bucket ? aligned_alloc(64, (blks[i].size + 63) & ~(size_t)63)
                         : xmalloc(blks[i].size);
        memcpy(q, blks[i].p, blks[i].size);
        uintptr_t to = (uintptr_t)q;
        memcpy(blks[i].p, &to, sizeof to);
    }
    root = forwarded(root);
    redirect(root);
    for (size_t i = 0; i < nblks; i++)
        free(blks[i].p);
    return root;
}

static void *bucket_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return block(size);
}

static void bucket_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    free(p);
}

static const art_bucket_alloc bucket_alloc = {bucket_malloc, bucket_free, NULL};

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

static inline uintptr_t *child_of(art_node *n, uint8_t c)
{
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        const uint8_t *k = small_keys(n);
        for (int i = 0; i < n->num_children; i++)
            if (k[i] == c)
                return &small_children(n)[i];
        return NULL;
    }
    case ART_NODE48: {
        uint8_t i = n48_index(n)[c];
        return i ? &n48_children(n)[i - 1] : NULL;
    }
    default: {
        uintptr_t *s = &n256_children(n)[c];
        return *s ? s : NULL;
    }
    }
}

/* The part of a lookup inside a bucket (its own function, so that
   callgrind reports it apart). */
static NOINLINE void *bucket_find(art_bucket *b, const uint8_t *s, size_t len)
{
    int i = art_bucket_find(b, s, len);
    return i < 0 ? NULL : art_bucket_values(b)[i];
}

/* The same for lookups of absent keys. */
static NOINLINE void *bucket_miss(art_bucket *b, const uint8_t *s, size_t len)
{
    int i = art_bucket_find(b, s, len);
    return i < 0 ? NULL : art_bucket_values(b)[i];
}

/* The descent of art_search, with buckets (miss: which bucket function
   to call, so that callgrind tells hits from misses). */
static inline void *descend(uintptr_t p, const uint8_t *key, size_t len,
                            int miss)
{
    size_t d = 0;
    while (p) {
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            if (l->len == len - d && memcmp(l->suffix, key + d, l->len) == 0)
                return l->value;
            return NULL;
        }
        art_node *n = AS_NODE(p);
        if (n->type == ART_BUCKET_TYPE) {
            if (miss)
                return bucket_miss((art_bucket *)n, key + d, len - d);
            return bucket_find((art_bucket *)n, key + d, len - d);
        }
        size_t plen = n->prefix_len;
        if (len - d < plen || memcmp(node_prefix(n), key + d, plen) != 0)
            return NULL;
        d += plen;
        if (d == len)
            return node_value(n);
        uintptr_t *slot = child_of(n, key[d]);
        if (slot == NULL)
            return NULL;
        p = *slot;
        d++;
    }
    return NULL;
}

static NOINLINE void *lookup(uintptr_t root, const uint8_t *key, size_t len)
{
    return descend(root, key, len, 0);
}

static NOINLINE void *miss_lookup(uintptr_t root, const uint8_t *key,
                                  size_t len)
{
    return descend(root, key, len, 1);
}

/* Reads the key's bytes and nothing else: the part of every lookup's
   misses that is the query itself. */
static NOINLINE size_t touch_key(const uint8_t *key, size_t len)
{
    size_t x = len;
    for (size_t i = 0; i < len; i += 8)
        x += key[i];
    return x + (len ? key[len - 1] : 0);
}

/* Finds the bucket holding key and the slot referring to it, or NULL. */
static uintptr_t *bucket_slot(uintptr_t *ref, const uint8_t *key, size_t len,
                              size_t *depth)
{
    size_t d = 0;
    while (*ref && !IS_LEAF(*ref)) {
        art_node *n = AS_NODE(*ref);
        if (n->type == ART_BUCKET_TYPE) {
            *depth = d;
            return ref;
        }
        d += n->prefix_len;
        if (d == len)
            return NULL;
        ref = child_of(n, key[d]);
        d++;
    }
    return NULL;
}

/* One delete and one insert of a key in its bucket: the copy-on-write
   cost of a mutation, at this bucket size. */
static NOINLINE int bucket_reinsert(art_bucket **bp, const uint8_t *s,
                                    size_t len)
{
    static const art_bucket_limits any = {ART_BUCKET_MAX_COUNT,
                                          ART_BUCKET_MAX_KEY_BYTES};
    int i = art_bucket_find(*bp, s, len);
    void *v;
    if (i < 0 || art_bucket_delete(&bucket_alloc, bp, (unsigned)i, &v) < 0)
        return -1;
    return art_bucket_insert(&bucket_alloc, bp, s, len, v, &any, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* The sweep                                                           */
/* ------------------------------------------------------------------ */

static int has_phase(const char *phases, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = phases; (p = strstr(p, name)) != NULL; p += n)
        if ((p == phases || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

static int scattered = 1; /* -s 0: leave blocks in key order */
static size_t *order;     /* a random permutation of the keys */
static size_t nq;         /* lookups per phase */
static uint8_t *miss_buf;
static size_t *miss_off, *miss_len;

static void make_queries(void)
{
    order = xmalloc(nkeys * sizeof *order);
    for (size_t i = 0; i < nkeys; i++)
        order[i] = i;
    for (size_t i = nkeys; i > 1; i--) {
        size_t j = rnd() % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    /* Misses: a stored key with one byte changed to its neighbour, kept
       only when absent (binary search of the sorted keys). */
    size_t total = 0;
    for (size_t i = 0; i < nq; i++)
        total += keys[order[i % nkeys]].len;
    miss_buf = xmalloc(total);
    miss_off = xmalloc(nq * sizeof *miss_off);
    miss_len = xmalloc(nq * sizeof *miss_len);
    size_t at = 0;
    for (size_t i = 0; i < nq; i++) {
        const key *k = &keys[order[(i * 7919) % nkeys]];
        uint8_t *s = miss_buf + at;
        memcpy(s, k->s, k->len);
        if (k->len)
            s[rnd() % k->len] ^= 1;
        key probe = {s, k->len};
        if (bsearch(&probe, keys, nkeys, sizeof *keys, key_cmp)) {
            i--;
            continue;
        }
        miss_off[i] = at;
        miss_len[i] = k->len;
        at += k->len;
    }
}

static void run(unsigned B, size_t K, const char *phases, int reps)
{
    memset(&sh, 0, sizeof sh);
    lim_count = B ? B : 1;
    lim_bytes = B ? K : 0;
    uintptr_t root = build(0, nkeys, 0, 0);
    if (scattered)
        root = scatter(root);
    size_t inner = 0;
    for (int k = 0; k < ART_NODE_KINDS; k++)
        inner += sh.nodes[k];
    size_t total = sh.node_bytes + sh.leaf_bytes + sh.bucket_bytes;
    printf("B=%u K=%zu: depth %.2f (max %zu), inner %zu (N4 %zu N16 %zu "
           "N48 %zu N256 %zu), buckets %zu (%.1f keys, %.0f B each), "
           "leaves %zu, node values %zu, big blocks %zu\n",
           B, B ? K : 0, (double)sh.depth_sum / (double)nkeys, sh.max_depth,
           inner, sh.nodes[0], sh.nodes[1], sh.nodes[2], sh.nodes[3],
           sh.buckets,
           sh.buckets ? (double)sh.in_buckets / (double)sh.buckets : 0.0,
           sh.buckets ? (double)sh.bucket_bytes / (double)sh.buckets : 0.0,
           sh.leaves, sh.node_values, sh.big_blocks);
    printf("  bytes/key %.1f = inner %.1f + buckets %.1f + leaves %.1f; "
           "keys in buckets %.1f%%, mean suffix %.1f B (%.1f shared with "
           "the one before); a bucket prefix would save %.1f B/key\n",
           (double)total / (double)nkeys, (double)sh.node_bytes / (double)nkeys,
           (double)sh.bucket_bytes / (double)nkeys,
           (double)sh.leaf_bytes / (double)nkeys,
           100.0 * (double)sh.in_buckets / (double)nkeys,
           sh.in_buckets ? (double)sh.suffix_bytes / (double)sh.in_buckets
                         : 0.0,
           sh.in_buckets ? (double)sh.shared / (double)sh.in_buckets : 0.0,
           (double)sh.lcp_saving / (double)nkeys);
    size_t q = nq < nkeys ? nq : nkeys;
    if (has_phase(phases, "lookup")) {
        double best = 1e9;
        size_t found = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            found = 0;
            for (size_t i = 0; i < q; i++) {
                const key *k = &keys[order[i]];
                found += lookup(root, k->s, k->len) != NULL;
            }
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        if (found != q)
            printf("  LOOKUP FAILED: %zu of %zu found\n", found, q);
        printf("  lookup hit %.0f ns\n", best * 1e9 / (double)q);
    }
    if (has_phase(phases, "keys")) {
        size_t x = 0;
        for (size_t i = 0; i < q; i++) {
            const key *k = &keys[order[i]];
            x += touch_key(k->s, k->len);
        }
        printf("  (keys read: %zu)\n", x & 1);
    }
    if (has_phase(phases, "miss")) {
        double best = 1e9;
        size_t found = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            found = 0;
            for (size_t i = 0; i < nq; i++)
                found += miss_lookup(root, miss_buf + miss_off[i],
                                     miss_len[i]) != NULL;
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        if (found)
            printf("  MISS FAILED: %zu found\n", found);
        printf("  lookup miss %.0f ns\n", best * 1e9 / (double)nq);
    }
    if (has_phase(phases, "reinsert") && B > 0) {
        double t0 = now();
        size_t done = 0;
        for (size_t i = 0; i < q; i++) {
            const key *k = &keys[order[i]];
            size_t d;
            uintptr_t *ref = bucket_slot(&root, k->s, k->len, &d);
            if (ref == NULL)
                continue;
            art_bucket *b = (art_bucket *)*ref;
            if (bucket_reinsert(&b, k->s + d, k->len - d) != 1)
                printf("  REINSERT FAILED\n");
            *ref = (uintptr_t)b;
            done++;
        }
        double t = now() - t0;
        printf("  bucket delete+insert %.0f ns (%zu keys)\n",
               done ? t * 1e9 / (double)done : 0.0, done);
    }
    destroy(root);
    fflush(stdout);
}

static void run_art(const char *phases, int reps)
{
    art_tree t;
    art_tree_init(&t);
    for (size_t i = 0; i < nkeys; i++) {
        const key *k = &keys[order[i]];
        art_insert(&t, k->s, k->len, (void *)(uintptr_t)(i * 8 + 8), NULL);
    }
    art_stats_t st;
    art_stats(&t, &st);
    printf("art (random insert order): depth %.2f, bytes/key %.1f, N4 %zu "
           "N16 %zu N48 %zu N256 %zu leaves %zu\n",
           st.mean_depth, (double)st.bytes / (double)nkeys, st.nodes[0],
           st.nodes[1], st.nodes[2], st.nodes[3], st.leaves);
    size_t q = nq < nkeys ? nq : nkeys;
    (void)phases;
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        size_t found = 0;
        for (size_t i = 0; i < q; i++) {
            const key *k = &keys[order[i]];
            found += art_search(&t, k->s, k->len) != NULL;
        }
        double el = now() - t0;
        if (el < best)
            best = el;
        if (found != q)
            printf("  ART LOOKUP FAILED\n");
    }
    printf("  art_search hit %.0f ns\n", best * 1e9 / (double)q);
    art_tree_clear(&t, NULL, NULL);
}

static size_t parse_list(const char *s, size_t *out, size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        out[n++] = strtoull(s, NULL, 10);
        const char *c = strchr(s, ',');
        if (!c)
            break;
        s = c + 1;
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *path = "bench/.cache/v3-urls-1000000.keys";
    const char *phases = "shape,lookup,miss,reinsert";
    size_t Bs[16] = {0, 16, 32, 48, 64, 96, 128}, nB = 7;
    size_t Ks[16] = {1024, 2048, 4096, 8192}, nK = 4;
    size_t limit = SIZE_MAX;
    int reps = 3;
    nq = 1000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-f"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "-B"))
            nB = parse_list(argv[i + 1], Bs, 16);
        else if (!strcmp(argv[i], "-K"))
            nK = parse_list(argv[i + 1], Ks, 16);
        else if (!strcmp(argv[i], "-q"))
            nq = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-n"))
            limit = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-p"))
            phases = argv[i + 1];
        else if (!strcmp(argv[i], "-a"))
            aligned = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s"))
            scattered = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    load_keys(path, limit);
    printf("%s: %zu keys\n", path, nkeys);
    make_queries();
    if (has_phase(phases, "art"))
        run_art(phases, reps);
    for (size_t b = 0; b < nB; b++) {
        if (Bs[b] == 0) {
            run(0, 0, phases, reps);
            continue;
        }
        for (size_t k = 0; k < nK; k++)
            run((unsigned)Bs[b], Ks[k], phases, reps);
    }
    return 0;
}
