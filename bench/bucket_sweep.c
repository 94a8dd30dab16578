/*
 * bucket_sweep.c -- what bucket nodes (core/art_bucket.h) would make of
 * the tree, for a sweep of bucket sizes B and byte budgets, on the
 * benchmark's real keys.  Issue #17, step 1: the container is not in the
 * tree yet, so this builds the tree it would make.
 *
 *   cc -O2 -g -std=c11 -mbmi2 -fno-ipa-icf -Icore core/art*.c \
 *      bench/bucket_sweep.c -o bench/.build/bucket_sweep -lm -lpthread
 *   bench/.build/bucket_sweep -f bench/.cache/v3-urls-1000000.keys \
 *      [-B 16,32,64] [-K 1024,4096] [-q LOOKUPS] [-p PHASES] [-r REPS]
 *      [-I art|span|hot] [-S SPAN] [-C CAP] [-k K] [-a 0|1|3]
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
 * Inner nodes (-I, docs/buckets.md "Inner nodes"): the same buckets
 * under other inner layouts.  "art" is art.c's.  "span" builds, where
 * it can, a node that branches on the next 2..S key bytes at once (at
 * most C entries of sorted big-endian chunks; an entry may use fewer
 * bytes when a bucket or leaf starts inside the span), and art.c's
 * kinds elsewhere; the buckets are exactly the ART build's.  "hot"
 * builds the ART tree, takes its buckets and leaves in key order, makes
 * the binary Patricia trie over the bits that tell neighbours apart and
 * packs it bottom up into compound nodes of at most K entries (HOT,
 * Binna et al., SIGMOD 2018); compound nodes skip bytes, so each bucket
 * gets its key prefix in front (PBUCKET_TYPE) and a leaf holds its whole
 * key, both checked at the end of a lookup.
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
 * -a 1: buckets aligned to 64 bytes, as a slab could place them; -a 3:
 * inner nodes too).
 * Timing is CPU time per call, best of REPS.  Under callgrind run one B
 * and K with -r 1 and read Ir and D1mr per call of lookup, bucket_find,
 * miss_lookup, bucket_miss, prefix_check, prefix_miss and
 * bucket_reinsert (bench/bucket_sweep.sh does).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "art_bucket.h"
#include "art_layout.h"

#if defined(__BMI2__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/*
 * Inner-node layouts above the buckets (-I, see "Inner nodes" below):
 * INNER_ART is today's Node4/16/48/256; INNER_SPAN adds nodes that
 * branch on up to -S bytes at once (sorted chunks, -C entries at most);
 * INNER_HOT replaces every inner node by HOT-style compound nodes of up
 * to -k entries over discriminative bits (Binna et al., SIGMOD 2018).
 */
enum { INNER_ART, INNER_SPAN, INNER_HOT };
#define SPAN_TYPE    (ART_BUCKET_TYPE + 1) /* multi-byte-span node */
#define HOT_TYPE     (ART_BUCKET_TYPE + 2) /* compound node */
#define PBUCKET_TYPE (ART_BUCKET_TYPE + 3) /* bucket after its key prefix */

static int inner_kind = INNER_ART;
static int span_max = 2;  /* -S: bytes a span node branches on at most */
static int span_cap = 32; /* -C: entries of a span node at most */
static int hot_k = 32;    /* -k: entries of a compound node at most */
static int use_hash;      /* -H 1: point lookups through a hash index */

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
    size_t span_nodes, span_entries, span_bytes; /* INNER_SPAN */
    size_t hot_nodes, hot_entries, hot_width[5]; /* INNER_HOT, by key width */
    size_t prefix_bytes; /* INNER_HOT: the key prefixes before buckets */
    size_t parent_bytes; /* bytes of the inner node above each bucket or
                            leaf, summed: what a burst below rewrites */
    size_t units;        /* buckets + leaves */
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

static int fits(size_t lo, size_t hi, size_t d)
{
    size_t count = hi - lo, bytes = 0;
    for (size_t i = lo; i < hi && bytes <= lim_bytes; i++)
        bytes += keys[i].len - d;
    return count == 1 || (count <= lim_count && bytes <= lim_bytes);
}

/*
 * A span node.  The header is art_node's (shape: NODE_SLOT | span s);
 * then the prefix, padded to 8; then count chunks, each the next s key
 * bytes of an entry as one big-endian number (uint16 for s <= 2, else
 * uint32), sorted, padded to 16 bytes; then each entry's length in
 * bytes, used[i] <= s (an entry shorter than s stands for every chunk
 * starting with its first used[i] bytes: a bucket or a leaf that begins
 * inside the span), padded to 8; then count children; then the value
 * slot when the shape says so.  A lookup takes the last chunk <= the
 * query's (a SIMD compare and a count) and checks its used bytes.
 */
static inline int span_of(const art_node *n)
{
    return n->shape & 7;
}
static inline size_t span_w(const art_node *n)
{
    return span_of(n) <= 2 ? 2 : 4;
}
static inline size_t span_keys_bytes(size_t w, size_t count)
{
    return (w * count + 15) & ~(size_t)15;
}
static inline uint8_t *span_chunks(art_node *n)
{
    return node_prefix(n) + pad8(n->prefix_len);
}
static inline uint8_t *span_used(art_node *n)
{
    return span_chunks(n) + span_keys_bytes(span_w(n), n->num_children);
}
static inline uintptr_t *span_children(art_node *n)
{
    return (uintptr_t *)(span_used(n) + pad8(n->num_children));
}
static inline size_t span_size(int s, size_t count, size_t plen, int slot)
{
    return sizeof(art_node) + pad8(plen) +
           span_keys_bytes(s <= 2 ? 2 : 4, count) + pad8(count) + 8 * count +
           (slot ? 8 : 0);
}
static inline size_t span_bytes(const art_node *n)
{
    return span_size(span_of(n), n->num_children, n->prefix_len,
                     n->shape & NODE_SLOT);
}

typedef struct sentry {
    size_t lo, hi;
    uint32_t chunk;
    uint8_t used;
    uint8_t split; /* the range is a proper part of its parent's */
} sentry;

/*
 * The entries of a span node of span s at key offset e over keys [lo,
 * hi), which share key[e .. e + j): each range becomes an entry once it
 * is j == s bytes deep, or fits a bucket right after a split (where the
 * ART build would make it one, so that the buckets stay the same).
 * Returns the number of entries, or -1 when there would be more than
 * cap or a key ends inside the span (that key would need a value slot
 * in the middle of the node).
 */
static int expand(size_t lo, size_t hi, size_t e, int j, int s, int split,
                  sentry *out, int n, int cap)
{
    if (j == s || (j > 0 && split && fits(lo, hi, e + (size_t)j))) {
        if (n == cap)
            return -1;
        uint32_t c = 0;
        for (int t = 0; t < s; t++)
            c = (c << 8) | (t < j ? keys[lo].s[e + (size_t)t] : 0);
        out[n] = (sentry){lo, hi, c, (uint8_t)j, (uint8_t)split};
        return n + 1;
    }
    int parts = 0;
    for (size_t i = lo; i < hi; i++) {
        if (keys[i].len <= e + (size_t)j)
            return -1;
        if (i == lo || keys[i].s[e + j] != keys[i - 1].s[e + j])
            parts++;
    }
    for (size_t i = lo; i < hi;) {
        size_t k = i + 1;
        uint8_t c = keys[i].s[e + j];
        while (k < hi && keys[k].s[e + j] == c)
            k++;
        n = expand(i, k, e, j + 1, s, parts > 1 || j == 0, out, n, cap);
        if (n < 0)
            return -1;
        i = k;
    }
    return n;
}

static uintptr_t build(size_t lo, size_t hi, size_t d, size_t depth,
                       int may_bucket);

static int is_unit(uintptr_t p)
{
    return IS_LEAF(p) || AS_NODE(p)->type == ART_BUCKET_TYPE;
}

/* A span node for keys [lo, hi) past its prefix at e, or 0 when no span
   of 2 bytes or more fits span_cap entries. */
static uintptr_t build_span(size_t lo, size_t hi, size_t d, size_t e,
                            size_t first, void *value, size_t depth)
{
    sentry ent[256];
    int cap = span_cap < 256 ? span_cap : 256;
    for (int s = span_max; s >= 2; s--) {
        int n = expand(first, hi, e, 0, s, 1, ent, 0, cap);
        if (n < 0)
            continue;
        int deep = 0;
        for (int i = 0; i < n; i++)
            deep |= ent[i].used > 1;
        if (!deep)
            return 0;
        size_t plen = e - d;
        size_t size = span_size(s, (size_t)n, plen, value != NULL);
        art_node *node = block(size);
        memset(node, 0, size);
        node->type = SPAN_TYPE;
        node->shape = (uint8_t)(s | (value ? NODE_SLOT : 0));
        node->num_children = (uint16_t)n;
        node->prefix_len = (uint32_t)plen;
        memcpy(node_prefix(node), keys[lo].s + d, plen);
        if (value)
            *(void **)((uint8_t *)node + size - 8) = value;
        uint8_t *ck = span_chunks(node);
        for (int i = 0; i < n; i++) {
            if (s <= 2) {
                uint16_t c = (uint16_t)ent[i].chunk;
                memcpy(ck + 2 * i, &c, 2);
            } else {
                memcpy(ck + 4 * i, &ent[i].chunk, 4);
            }
            span_used(node)[i] = ent[i].used;
        }
        sh.span_nodes++;
        sh.span_entries += (size_t)n;
        sh.span_bytes += size;
        sh.node_bytes += size;
        for (int i = 0; i < n; i++) {
            uintptr_t c = build(ent[i].lo, ent[i].hi, e + ent[i].used,
                                depth + 1, ent[i].split);
            span_children(node)[i] = c;
            if (is_unit(c)) {
                sh.parent_bytes += size;
                sh.units++;
            }
        }
        return TAG_NODE(node);
    }
    return 0;
}

/* The tagged reference for keys [lo, hi), all sharing their first d
   bytes, at depth (inner nodes above).  may_bucket: whether the range may
   become a bucket (not when it is the whole of a range already found too
   big at a shallower offset, as the ART build never asks twice). */
static uintptr_t build(size_t lo, size_t hi, size_t d, size_t depth,
                       int may_bucket)
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
    if (may_bucket && count <= lim_count && bytes <= lim_bytes) {
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
    }
    if (inner_kind == INNER_SPAN && span_max >= 2) {
        uintptr_t r = build_span(lo, hi, d, e, first, value, depth);
        if (r) {
            if (value)
                sh.node_values++, sh.depth_sum += depth + 1;
            return r;
        }
    }
    if (value) {
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
        uintptr_t child = build(i, j, e + 1, depth + 1, 1);
        if (is_unit(child)) {
            sh.parent_bytes += size;
            sh.units++;
        }
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

/* ------------------------------------------------------------------ */
/* HOT-style compound nodes                                            */
/* ------------------------------------------------------------------ */

/*
 * A compound node stands for a binary Patricia subtree of up to hot_k
 * leaves (entries) over absolute bit positions of the key (bit 8i + b is
 * bit b, from the most significant, of key byte i; a key reads as zeros
 * past its end).  Layout, every part at a multiple of 8 bytes:
 *
 *   header (8)   type, width of a partial key (1, 2 or 4 bytes), count,
 *                nb (0: the bits lie in 8 consecutive bytes from off0,
 *                one load; else nb listed byte offsets), off0, groups
 *   masks        groups x uint64: which bits of each group of 8 bytes
 *                (read big-endian) are discriminative, for PEXT
 *   offsets      nb x uint16, padded (only when nb > 0)
 *   partial keys count x width, padded to 16: entry i's sparse key, the
 *                bits of its path (1 where the path goes right)
 *   children     count tagged references, in key order
 *
 * Search: the query's dense partial key d (its bits at the node's
 * positions), then the last entry i with (d & sparse[i]) == sparse[i],
 * by SIMD compare of all entries (the search of the HOT paper).  A
 * compound node does not check the bytes it skips: a bucket below it
 * carries its key prefix (PBUCKET_TYPE), a leaf its whole key.
 */
typedef struct hot_node {
    uint8_t type, width, count, nb;
    uint16_t off0;
    uint8_t groups, pad;
} hot_node;

static inline uint64_t *hot_masks(hot_node *h)
{
    return (uint64_t *)(h + 1);
}
static inline uint16_t *hot_offs(hot_node *h)
{
    return (uint16_t *)(hot_masks(h) + h->groups);
}
static inline uint8_t *hot_sparse(hot_node *h)
{
    return (uint8_t *)hot_offs(h) + pad8(2 * (size_t)h->nb);
}
static inline size_t hot_sparse_bytes(size_t width, size_t count)
{
    return (width * count + 15) & ~(size_t)15;
}
static inline uintptr_t *hot_children(hot_node *h)
{
    return (uintptr_t *)(hot_sparse(h) + hot_sparse_bytes(h->width, h->count));
}
static inline size_t hot_size(size_t width, size_t count, size_t nb,
                              size_t groups)
{
    return sizeof(hot_node) + 8 * groups + pad8(2 * nb) +
           hot_sparse_bytes(width, count) + 8 * count;
}
static inline size_t hot_bytes(hot_node *h)
{
    return hot_size(h->width, h->count, h->nb, h->groups);
}

static inline uint64_t pext64(uint64_t x, uint64_t m)
{
#if defined(__BMI2__)
    return _pext_u64(x, m);
#else
    uint64_t r = 0;
    for (uint64_t bit = 1; m; bit <<= 1) {
        if (x & m & -m)
            r |= bit;
        m &= m - 1;
    }
    return r;
#endif
}

/* The query's bits at the node's positions, most significant first. */
static inline uint32_t hot_dense(hot_node *h, const uint8_t *key, size_t len)
{
    const uint64_t *m = hot_masks(h);
    if (h->nb == 0) {
        size_t o = h->off0;
        uint64_t w = 0;
        if (o + 8 <= len) {
            memcpy(&w, key + o, 8);
            w = __builtin_bswap64(w);
        } else {
            for (size_t t = 0; t < 8; t++)
                w = (w << 8) | (o + t < len ? key[o + t] : 0);
        }
        return (uint32_t)pext64(w, m[0]);
    }
    const uint16_t *off = hot_offs(h);
    uint32_t r = 0;
    for (unsigned g = 0, i = 0; g < h->groups; g++) {
        uint64_t w = 0;
        for (unsigned t = 0; t < 8; t++, i++) {
            uint8_t b = i < h->nb && off[i] < len ? key[off[i]] : 0;
            w = (w << 8) | b;
        }
        r = (r << __builtin_popcountll(m[g])) | (uint32_t)pext64(w, m[g]);
    }
    return r;
}

/* The entry the query falls into. */
static inline uintptr_t hot_child(hot_node *h, const uint8_t *key, size_t len)
{
    uint32_t d = hot_dense(h, key, len);
    const uint8_t *sp = hot_sparse(h);
    unsigned n = h->count, w = h->width, lanes = 16 / w;
    int found = 0;
#if defined(ART_SSE2)
    __m128i q = w == 1   ? _mm_set1_epi8((char)d)
                : w == 2 ? _mm_set1_epi16((short)d)
                         : _mm_set1_epi32((int)d);
    for (unsigned base = 0; base < n; base += lanes) {
        __m128i v = _mm_loadu_si128((const __m128i *)(sp + base * w));
        __m128i t = _mm_and_si128(q, v);
        __m128i eq = w == 1   ? _mm_cmpeq_epi8(t, v)
                     : w == 2 ? _mm_cmpeq_epi16(t, v)
                              : _mm_cmpeq_epi32(t, v);
        uint32_t bits = (uint32_t)_mm_movemask_epi8(eq);
        unsigned valid = (n - base) < lanes ? (n - base) * w : 16;
        bits &= valid == 16 ? 0xffffu : ((1u << valid) - 1);
        if (bits)
            found = (int)(base + (31 - (unsigned)__builtin_clz(bits)) / w);
    }
#else
    for (unsigned i = 0; i < n; i++) {
        uint32_t v = w == 1   ? sp[i]
                     : w == 2 ? ((const uint16_t *)sp)[i]
                              : ((const uint32_t *)sp)[i];
        if ((d & v) == v)
            found = (int)i;
    }
#endif
    (void)lanes;
    return hot_children(h)[found];
}

/* A bucket after its key prefix: header, prefix padded to 8, bucket. */
typedef struct pbucket {
    uint8_t type, pad[3];
    uint32_t plen;
} pbucket;

static inline art_bucket *pbucket_bucket(pbucket *p)
{
    return (art_bucket *)((uint8_t *)(p + 1) + pad8(p->plen));
}
static inline size_t pbucket_bytes(pbucket *p)
{
    return sizeof(pbucket) + pad8(p->plen) +
           art_bucket_bytes(pbucket_bucket(p));
}

/* The conversion: the buckets and leaves of a burst trie (the units), in
   key order, become the leaves of a binary Patricia trie over the bits
   that tell neighbours apart, packed into compound nodes. */
typedef struct unit {
    uintptr_t ref; /* the new one: PBUCKET_TYPE or a leaf of the whole key */
    size_t lo, hi;
    size_t level; /* compound nodes above it */
} unit;

static unit *units;
static size_t nunits, units_cap;
/* The binary trie: node i splits unit i from unit i + 1 at bit pos[i];
   children >= 0 are nodes, < 0 are units (-1 - unit). */
static size_t *bpos;
static long *bleft, *bright;
/* Packing: the open compound node at the top of each subtree has height
   oh (0 for a unit) and on entries; joined: node i is in its parent's
   compound node. */
static int *oh, *on;
static uint8_t *joined;

static void collect_units(uintptr_t p, size_t d)
{
    if (IS_LEAF(p) || AS_NODE(p)->type == ART_BUCKET_TYPE) {
        if (nunits == units_cap) {
            units_cap = units_cap ? 2 * units_cap : 1024;
            units = realloc(units, units_cap * sizeof *units);
        }
        unit *u = &units[nunits++];
        u->level = 0;
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            size_t lo = (size_t)(uintptr_t)l->value / 8 - 1;
            const key *k = &keys[lo];
            art_leaf *n = xmalloc(leaf_size(k->len));
            n->value = l->value;
            n->len = k->len;
            memcpy(n->suffix, k->s, k->len);
            sh.leaf_bytes += leaf_size(k->len) - leaf_size(l->len);
            free(l);
            u->ref = TAG_LEAF(n);
            u->lo = lo;
            u->hi = lo + 1;
        } else {
            art_bucket *b = (art_bucket *)AS_NODE(p);
            size_t lo = (size_t)(uintptr_t)art_bucket_values(b)[0] / 8 - 1;
            size_t bb = art_bucket_bytes(b);
            pbucket *w = xmalloc(sizeof(pbucket) + pad8(d) + bb);
            memset(w, 0, sizeof(pbucket) + pad8(d));
            w->type = PBUCKET_TYPE;
            w->plen = (uint32_t)d;
            memcpy(w + 1, keys[lo].s, d);
            memcpy(pbucket_bucket(w), b, bb);
            sh.prefix_bytes += sizeof(pbucket) + pad8(d);
            u->ref = TAG_NODE(w);
            u->lo = lo;
            u->hi = lo + b->count;
            free(b);
        }
        return;
    }
    art_node *n = AS_NODE(p);
    if (node_value(n)) {
        fprintf(stderr, "the HOT model needs prefix-free keys\n");
        exit(2);
    }
    d += n->prefix_len;
    int pos = 0, b;
    uintptr_t *slot;
    while (next_child(n, &pos, &b, &slot))
        collect_units(*slot, d + 1);
    free(n);
}

/* The first bit at which a and b differ (keys read as zeros past their
   ends). */
static size_t diff_bit(const key *a, const key *b)
{
    size_t n = a->len > b->len ? a->len : b->len;
    for (size_t i = 0;; i++) {
        uint8_t x = i < a->len ? a->s[i] : 0, y = i < b->len ? b->s[i] : 0;
        if (x != y)
            return 8 * i + (size_t)__builtin_clz((unsigned)(x ^ y)) - 24;
        if (i >= n) {
            fprintf(stderr, "keys equal after zero padding\n");
            exit(2);
        }
    }
}

/* Bottom-up packing (post-order, as deep as the binary trie: at most 8
   bits per key byte). */
static void pack(long v)
{
    long c[2] = {bleft[v], bright[v]};
    int h[2], n[2];
    for (int i = 0; i < 2; i++) {
        if (c[i] >= 0) {
            pack(c[i]);
            h[i] = oh[c[i]];
            n[i] = on[c[i]];
        } else {
            h[i] = 0;
            n[i] = 1;
        }
    }
    int H = h[0] > h[1] ? h[0] : h[1];
    if (H == 0) {
        oh[v] = 1, on[v] = 2;
        return;
    }
    int take[2], total = 0;
    for (int i = 0; i < 2; i++) {
        take[i] = h[i] == H ? n[i] : 1;
        total += take[i];
    }
    if (total <= hot_k) {
        oh[v] = H, on[v] = total;
        for (int i = 0; i < 2; i++)
            if (c[i] >= 0 && h[i] == H)
                joined[c[i]] = 1;
    } else {
        oh[v] = H + 1, on[v] = 2;
    }
}

typedef struct hent {
    long ref; /* as bleft */
    size_t nbits;
    size_t bits[64]; /* positions where the path goes right */
} hent;

static void gather(long v, hent *ent, int *n, size_t *path, size_t np,
                   size_t *pos, int *npos)
{
    int seen = 0;
    for (int i = 0; i < *npos; i++)
        seen |= pos[i] == bpos[v];
    if (!seen)
        pos[(*npos)++] = bpos[v];
    long c[2] = {bleft[v], bright[v]};
    for (int i = 0; i < 2; i++) {
        if (i == 1)
            path[np] = bpos[v];
        size_t np2 = np + (size_t)i;
        if (c[i] >= 0 && joined[c[i]]) {
            gather(c[i], ent, n, path, np2, pos, npos);
        } else {
            hent *e = &ent[(*n)++];
            e->ref = c[i];
            e->nbits = np2;
            memcpy(e->bits, path, np2 * sizeof *path);
        }
    }
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static uintptr_t emit(long v, size_t level)
{
    hent ent[64];
    size_t path[64], pos[64];
    int n = 0, npos = 0;
    gather(v, ent, &n, path, 0, pos, &npos);
    qsort(pos, (size_t)npos, sizeof *pos, size_cmp);
    size_t offs[64] = {0};
    size_t nbytes = 0;
    uint64_t masks[8] = {0};
    for (int i = 0; i < npos; i++) {
        size_t o = pos[i] / 8;
        if (nbytes == 0 || offs[nbytes - 1] != o)
            offs[nbytes++] = o;
    }
    int contig = offs[nbytes - 1] - offs[0] < 8;
    size_t groups = contig ? 1 : (nbytes + 7) / 8;
    for (int i = 0; i < npos; i++) {
        size_t o = pos[i] / 8, slot;
        if (contig) {
            slot = o - offs[0];
        } else {
            slot = 0;
            while (offs[slot] != o)
                slot++;
        }
        masks[slot / 8] |= 1ull << (63 - 8 * (slot % 8) - pos[i] % 8);
    }
    size_t width = npos <= 8 ? 1 : npos <= 16 ? 2 : 4;
    size_t nb = contig ? 0 : nbytes;
    size_t size = hot_size(width, (size_t)n, nb, groups);
    hot_node *h = block(size);
    memset(h, 0, size);
    h->type = HOT_TYPE;
    h->width = (uint8_t)width;
    h->count = (uint8_t)n;
    h->nb = (uint8_t)nb;
    h->off0 = (uint16_t)offs[0];
    h->groups = (uint8_t)groups;
    memcpy(hot_masks(h), masks, 8 * groups);
    for (size_t i = 0; i < nb; i++)
        hot_offs(h)[i] = (uint16_t)offs[i];
    /* Each entry's sparse key: the node's extraction of a key whose only
       one bits are those of the path. */
    size_t klen = offs[nbytes - 1] + 8;
    uint8_t *buf = xmalloc(klen);
    for (int i = 0; i < n; i++) {
        memset(buf, 0, klen);
        for (size_t b = 0; b < ent[i].nbits; b++)
            buf[ent[i].bits[b] / 8] |= (uint8_t)(0x80 >> (ent[i].bits[b] % 8));
        uint32_t sp = hot_dense(h, buf, klen);
        memcpy(hot_sparse(h) + (size_t)i * width, &sp, width);
    }
    free(buf);
    sh.hot_nodes++;
    sh.hot_entries += (size_t)n;
    sh.hot_width[width]++;
    sh.node_bytes += size;
    for (int i = 0; i < n; i++) {
        uintptr_t c;
        if (ent[i].ref >= 0) {
            c = emit(ent[i].ref, level + 1);
        } else {
            unit *u = &units[-1 - ent[i].ref];
            u->level = level + 1;
            c = u->ref;
            sh.parent_bytes += size;
            sh.units++;
        }
        hot_children(h)[i] = c;
    }
    return (uintptr_t)h;
}

/* Replaces the inner nodes of the tree at root by compound nodes. */
static uintptr_t to_hot(uintptr_t root)
{
    nunits = 0;
    collect_units(root, 0);
    if (nunits == 1)
        return units[0].ref;
    size_t m = nunits - 1;
    bpos = xmalloc(m * sizeof *bpos);
    bleft = xmalloc(m * sizeof *bleft);
    bright = xmalloc(m * sizeof *bright);
    oh = xmalloc(m * sizeof *oh);
    on = xmalloc(m * sizeof *on);
    joined = calloc(m, 1);
    for (size_t i = 0; i < m; i++)
        bpos[i] = diff_bit(&keys[units[i].hi - 1], &keys[units[i + 1].lo]);
    /* The Cartesian tree of bpos, smallest at the root: node i's left
       subtree holds units .. i, its right units i + 1 ... */
    long *stack = xmalloc(m * sizeof *stack);
    size_t top = 0;
    for (size_t i = 0; i < m; i++) {
        long last = -1;
        while (top && bpos[stack[top - 1]] > bpos[i])
            last = stack[--top];
        bleft[i] = last >= 0 ? last : -1 - (long)i;
        bright[i] = -1 - (long)(i + 1);
        if (top)
            bright[stack[top - 1]] = (long)i;
        stack[top++] = (long)i;
    }
    long r = stack[0];
    free(stack);
    pack(r);
    for (int k = 0; k < ART_NODE_KINDS; k++)
        sh.nodes[k] = 0;
    sh.node_bytes = sh.parent_bytes = sh.units = 0;
    uintptr_t h = emit(r, 0);
    sh.depth_sum = 0;
    sh.max_depth = 0;
    for (size_t i = 0; i < nunits; i++) {
        sh.depth_sum += units[i].level * (units[i].hi - units[i].lo);
        if (units[i].level > sh.max_depth)
            sh.max_depth = units[i].level;
    }
    free(bpos), free(bleft), free(bright), free(oh), free(on), free(joined);
    return h;
}

/* The children of a node of any kind: count, and their slots in *slots
   (Node48/256: walked with next_child instead, returns -1). */
static int kids(art_node *n, uintptr_t **slots)
{
    switch (n->type) {
    case SPAN_TYPE:
        *slots = span_children(n);
        return n->num_children;
    case HOT_TYPE:
        *slots = hot_children((hot_node *)n);
        return ((hot_node *)n)->count;
    case ART_BUCKET_TYPE:
    case PBUCKET_TYPE:
        return 0;
    default:
        return -1;
    }
}

static void destroy(uintptr_t p)
{
    if (IS_LEAF(p)) {
        free(AS_LEAF(p));
        return;
    }
    art_node *n = AS_NODE(p);
    uintptr_t *slots;
    int k = kids(n, &slots);
    if (k >= 0) {
        for (int i = 0; i < k; i++)
            destroy(slots[i]);
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
    int bucket, inner;
} blk;

/* -a: bit 1, buckets on 64-byte boundaries; bit 2, inner nodes too (as
   slab size classes in steps of 64 bytes would place them) */
static int aligned;
static blk *blks;
static size_t nblks, blks_cap;

static size_t block_size(uintptr_t p)
{
    if (IS_LEAF(p))
        return leaf_size(AS_LEAF(p)->len);
    art_node *n = AS_NODE(p);
    switch (n->type) {
    case ART_BUCKET_TYPE:
        return art_bucket_bytes((art_bucket *)n);
    case PBUCKET_TYPE:
        return pbucket_bytes((pbucket *)n);
    case SPAN_TYPE:
        return span_bytes(n);
    case HOT_TYPE:
        return hot_bytes((hot_node *)n);
    default:
        return node_bytes(n);
    }
}

static void collect(uintptr_t p)
{
    if (nblks == blks_cap) {
        blks_cap = blks_cap ? 2 * blks_cap : 1024;
        blks = realloc(blks, blks_cap * sizeof *blks);
    }
    blks[nblks].p = (void *)(p & ~(uintptr_t)1);
    blks[nblks].bucket = !IS_LEAF(p) && (AS_NODE(p)->type == ART_BUCKET_TYPE ||
                                         AS_NODE(p)->type == PBUCKET_TYPE);
    blks[nblks].inner = !IS_LEAF(p) && !blks[nblks].bucket;
    blks[nblks++].size = block_size(p);
    if (IS_LEAF(p))
        return;
    uintptr_t *slots;
    int k = kids(AS_NODE(p), &slots);
    if (k >= 0) {
        for (int i = 0; i < k; i++)
            collect(slots[i]);
        return;
    }
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
    if (IS_LEAF(p))
        return;
    uintptr_t *slots;
    int k = kids(AS_NODE(p), &slots);
    if (k >= 0) {
        for (int i = 0; i < k; i++) {
            slots[i] = forwarded(slots[i]);
            redirect(slots[i]);
        }
        return;
    }
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
        int bucket = ((aligned & 1) && blks[i].bucket) ||
                     ((aligned & 2) && blks[i].inner);
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

/* The child of span node n for the key at offset *d (past the prefix),
 *d moved past the entry's bytes but one (the descent adds it). */
static inline uintptr_t *span_child(art_node *n, const uint8_t *key, size_t len,
                                    size_t *d)
{
    int s = span_of(n);
    uint32_t q = 0;
    for (int t = 0; t < s; t++)
        q = (q << 8) | (*d + (size_t)t < len ? key[*d + (size_t)t] : 0);
    const uint8_t *ck = span_chunks(n);
    unsigned cnt = n->num_children, le = 0;
#if defined(ART_SSE2)
    if (s <= 2) {
        __m128i qv = _mm_set1_epi16((short)(q ^ 0x8000));
        __m128i flip = _mm_set1_epi16((short)0x8000);
        for (unsigned base = 0; base < cnt; base += 8) {
            __m128i v = _mm_xor_si128(
                _mm_loadu_si128((const __m128i *)(ck + 2 * base)), flip);
            uint32_t gt = (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi16(v, qv));
            unsigned valid = cnt - base < 8 ? cnt - base : 8;
            uint32_t m = valid == 8 ? 0xffffu : (1u << (2 * valid)) - 1;
            le += valid - (unsigned)__builtin_popcount(gt & m) / 2;
        }
    } else {
        __m128i qv = _mm_set1_epi32((int)(q ^ 0x80000000u));
        __m128i flip = _mm_set1_epi32((int)0x80000000u);
        for (unsigned base = 0; base < cnt; base += 4) {
            __m128i v = _mm_xor_si128(
                _mm_loadu_si128((const __m128i *)(ck + 4 * base)), flip);
            uint32_t gt = (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi32(v, qv));
            unsigned valid = cnt - base < 4 ? cnt - base : 4;
            uint32_t m = valid == 4 ? 0xffffu : (1u << (4 * valid)) - 1;
            le += valid - (unsigned)__builtin_popcount(gt & m) / 4;
        }
    }
#else
    for (unsigned i = 0; i < cnt; i++) {
        uint32_t c;
        if (s <= 2) {
            uint16_t c16;
            memcpy(&c16, ck + 2 * i, 2);
            c = c16;
        } else {
            memcpy(&c, ck + 4 * i, 4);
        }
        le += c <= q;
    }
#endif
    if (le == 0)
        return NULL;
    unsigned i = le - 1;
    uint32_t c;
    if (s <= 2) {
        uint16_t c16;
        memcpy(&c16, ck + 2 * i, 2);
        c = c16;
    } else {
        memcpy(&c, ck + 4 * i, 4);
    }
    unsigned used = span_used(n)[i];
    if (((q ^ c) >> (8 * (unsigned)(s - (int)used))) != 0)
        return NULL;
    *d += used - 1;
    return &span_children(n)[i];
}

/* Under compound nodes: whether the key starts with the bucket's prefix
   (its own function, so that callgrind reports it apart). */
static NOINLINE int prefix_check(pbucket *w, const uint8_t *key, size_t len)
{
    return len >= w->plen && memcmp(w + 1, key, w->plen) == 0;
}

/* The same for lookups of absent keys. */
static NOINLINE int prefix_miss(pbucket *w, const uint8_t *key, size_t len)
{
    return len >= w->plen && memcmp(w + 1, key, w->plen) == 0;
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

/*
 * A hash index beside the tree (-H 1, with -I hot, whose buckets carry
 * their prefixes): one 8-byte entry per key, the top 16 bits a
 * fingerprint of the key's hash, the low 48 its bucket or leaf, linear
 * probing at a load of 0.8.  A point lookup hashes the key, probes, and
 * checks the prefix and finds the suffix in that bucket, as under
 * compound nodes; ordered operations still use the tree.
 */
static uint64_t *hidx;
static size_t hcap;

static inline uint64_t key_hash(const uint8_t *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ (len * 0xff51afd7ed558ccdu);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
        h ^= h >> 29;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, s + i, len - i);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
        h ^= h >> 29;
    }
    return h * 0x9e3779b97f4a7c15u;
}

static inline size_t hash_slot(uint64_t h)
{
    return (size_t)(((unsigned __int128)(h << 16) * hcap) >> 64);
}

static void hash_add(const key *k, uintptr_t unit)
{
    uint64_t h = key_hash(k->s, k->len);
    size_t i = hash_slot(h);
    while (hidx[i])
        i = i + 1 == hcap ? 0 : i + 1;
    hidx[i] = (h & 0xffff000000000000u) | (uint64_t)unit;
}

static void hash_units(uintptr_t p)
{
    if (IS_LEAF(p)) {
        size_t i = (size_t)(uintptr_t)AS_LEAF(p)->value / 8 - 1;
        hash_add(&keys[i], p);
        return;
    }
    art_node *n = AS_NODE(p);
    if (n->type == PBUCKET_TYPE) {
        art_bucket *b = pbucket_bucket((pbucket *)n);
        for (unsigned j = 0; j < b->count; j++) {
            size_t i = (size_t)(uintptr_t)art_bucket_values(b)[j] / 8 - 1;
            hash_add(&keys[i], p);
        }
        return;
    }
    uintptr_t *slots;
    int k = kids(n, &slots);
    for (int i = 0; i < k; i++)
        hash_units(slots[i]);
}

static void build_hash(uintptr_t root)
{
    hcap = (size_t)((double)nkeys / 0.8) + 1;
    hidx = calloc(hcap, sizeof *hidx);
    hash_units(root);
}

static inline void *hash_find(const uint8_t *key, size_t len, int miss);

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
        if (n->type >= ART_BUCKET_TYPE) {
            if (n->type == HOT_TYPE) {
                p = hot_child((hot_node *)n, key, len);
                continue;
            }
            art_bucket *b = (art_bucket *)n;
            if (n->type == PBUCKET_TYPE) {
                pbucket *w = (pbucket *)n;
                if (!(miss ? prefix_miss(w, key, len)
                           : prefix_check(w, key, len)))
                    return NULL;
                d = w->plen;
                b = pbucket_bucket(w);
            }
            if (n->type != SPAN_TYPE) {
                if (miss)
                    return bucket_miss(b, key + d, len - d);
                return bucket_find(b, key + d, len - d);
            }
        }
        size_t plen = n->prefix_len;
        if (len - d < plen || memcmp(node_prefix(n), key + d, plen) != 0)
            return NULL;
        d += plen;
        if (d == len)
            return node_value(n);
        uintptr_t *slot = n->type == SPAN_TYPE ? span_child(n, key, len, &d)
                                               : child_of(n, key[d]);
        if (slot == NULL)
            return NULL;
        p = *slot;
        d++;
    }
    return NULL;
}

static inline void *hash_find(const uint8_t *key, size_t len, int miss)
{
    uint64_t h = key_hash(key, len);
    uint64_t fp = h & 0xffff000000000000u;
    for (size_t i = hash_slot(h);; i = i + 1 == hcap ? 0 : i + 1) {
        uint64_t e = hidx[i];
        if (e == 0)
            return NULL;
        if ((e & 0xffff000000000000u) != fp)
            continue;
        /* descend() on the unit checks its prefix (or whole leaf key) */
        void *v = descend((uintptr_t)(e & 0xffffffffffffu), key, len, miss);
        if (v)
            return v;
    }
}

static NOINLINE void *lookup(uintptr_t root, const uint8_t *key, size_t len)
{
    if (hidx)
        return hash_find(key, len, 0);
    return descend(root, key, len, 0);
}

static NOINLINE void *miss_lookup(uintptr_t root, const uint8_t *key,
                                  size_t len)
{
    if (hidx)
        return hash_find(key, len, 1);
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
    uintptr_t root = build(0, nkeys, 0, 0, 1);
    if (inner_kind == INNER_HOT)
        root = to_hot(root);
    if (scattered)
        root = scatter(root);
    if (use_hash && inner_kind == INNER_HOT) {
        build_hash(root);
        printf("hash index: %.1f B/key (8-byte entries, load 0.8)\n",
               (double)(hcap * 8) / (double)nkeys);
        sh.prefix_bytes += hcap * 8; /* counted with the bytes per key */
    }
    size_t inner = 0;
    for (int k = 0; k < ART_NODE_KINDS; k++)
        inner += sh.nodes[k];
    inner += sh.span_nodes + sh.hot_nodes;
    size_t total =
        sh.node_bytes + sh.leaf_bytes + sh.bucket_bytes + sh.prefix_bytes;
    static const char *kind_name[] = {"art", "span", "hot"};
    printf("inner=%s S=%d C=%d k=%d: span nodes %zu (%.1f entries, %.0f B "
           "each), compound nodes %zu (%.1f entries; key width 1/2/4: "
           "%zu/%zu/%zu), bucket prefixes %.1f B/key, above a unit %.0f B\n",
           kind_name[inner_kind], span_max, span_cap, hot_k, sh.span_nodes,
           sh.span_nodes ? (double)sh.span_entries / (double)sh.span_nodes
                         : 0.0,
           sh.span_nodes ? (double)sh.span_bytes / (double)sh.span_nodes : 0.0,
           sh.hot_nodes,
           sh.hot_nodes ? (double)sh.hot_entries / (double)sh.hot_nodes : 0.0,
           sh.hot_width[1], sh.hot_width[2], sh.hot_width[4],
           (double)sh.prefix_bytes / (double)nkeys,
           sh.units ? (double)sh.parent_bytes / (double)sh.units : 0.0);
    printf("B=%u K=%zu: depth %.2f (max %zu), inner %zu (N4 %zu N16 %zu "
           "N48 %zu N256 %zu), buckets %zu (%.1f keys, %.0f B each), "
           "leaves %zu, node values %zu, big blocks %zu\n",
           B, B ? K : 0, (double)sh.depth_sum / (double)nkeys, sh.max_depth,
           inner, sh.nodes[0], sh.nodes[1], sh.nodes[2], sh.nodes[3],
           sh.buckets,
           sh.buckets ? (double)sh.in_buckets / (double)sh.buckets : 0.0,
           sh.buckets ? (double)sh.bucket_bytes / (double)sh.buckets : 0.0,
           sh.leaves, sh.node_values, sh.big_blocks);
    printf("  bytes/key %.1f = inner %.1f + buckets %.1f (prefixes %.1f) + "
           "leaves %.1f; "
           "keys in buckets %.1f%%, mean suffix %.1f B (%.1f shared with "
           "the one before); a bucket prefix would save %.1f B/key\n",
           (double)total / (double)nkeys, (double)sh.node_bytes / (double)nkeys,
           (double)sh.bucket_bytes / (double)nkeys,
           (double)sh.prefix_bytes / (double)nkeys,
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
    if (has_phase(phases, "reinsert") && B > 0 && inner_kind == INNER_ART) {
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
    free(hidx);
    hidx = NULL;
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
        else if (!strcmp(argv[i], "-I"))
            inner_kind = !strcmp(argv[i + 1], "hot")    ? INNER_HOT
                         : !strcmp(argv[i + 1], "span") ? INNER_SPAN
                                                        : INNER_ART;
        else if (!strcmp(argv[i], "-S"))
            span_max = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-C"))
            span_cap = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-H"))
            use_hash = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-k"))
            hot_k = atoi(argv[i + 1]);
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
