/*
 * art_bucket.h -- bucket nodes: up to B sorted key suffixes with their
 * values in one contiguous block, for the bottom levels of the tree.
 * Private to the core, like art_layout.h.  This is the container alone,
 * with its own tests (core/tests/test_bucket.c); art_burst.c and the
 * bucket cases of art.c, art_cursor.c and art_walk.c are the tree's use
 * of it, and docs/buckets.md the design.
 *
 * Design
 * ------
 * On 1M URL-like keys the tree is 10.6 inner nodes deep and a lookup hit
 * misses the L1 cache ~14 times, the lower levels in DRAM; most of those
 * levels are Node4s with two children, each a cache line or two for one
 * bit of information.  A burst trie (Heinz, Zobel and Williams, "Burst
 * Tries: A Fast, Efficient Data Structure for String Keys", ACM TOIS
 * 2002) keeps the top of the trie and replaces every small subtree by a
 * container of the suffixes below it; a container that grows too large
 * "bursts" into a trie node with containers below.  The HAT-trie
 * (Askitis and Sinha, "HAT-trie: A Cache-conscious Trie-based Data
 * Structure for Strings", ACSC 2007) showed that the containers pay off
 * when each is one contiguous block (no pointer per string) scanned
 * sequentially.  Wormhole (Wu, Ni and Jiang, EuroSys 2019) keeps up to
 * 128 sorted keys per leaf with an array of one-byte hash tags that a
 * point lookup scans first, so that only one key is compared.
 *
 * A bucket takes all three ideas: its suffixes are kept sorted in one
 * block (so cursors, range and prefix queries, fuzzy search and the
 * positional queries of a later issue step through it by index), next to
 * an array of one-byte tags, a hash of each suffix, that find() scans 16
 * at a time with SSE2 (8 at a time in a portable word-at-a-time fallback)
 * before it compares the one candidate.  Nothing in the block is a
 * pointer except the value slots, so the same bytes serve in memory and
 * in a file read in place (only value slots are rewritten on load).
 *
 * Layout (every region starts at a multiple of 8 bytes of the block):
 *
 *   0        8               8+T           8+T+E         8+T+E+V
 *   +--------+---------------+-------------+-------------+----------------+
 *   | header | tags[n]  pad  | ends[n] pad | values[n]   | suffix bytes   |
 *   +--------+---------------+-------------+-------------+----------------+
 *     type     1 byte each     uint16 each   void * each   concatenated,
 *     flags    T = pad8(n)     E = pad8(2n)  V = 8n        sorted, then pad
 *     count
 *     key_bytes
 *
 * Suffix i is keys[start(i) .. ends[i]) where start(0) = 0 and start(i) =
 * ends[i - 1]; its value is values[i]; tags[i] = art_bucket_tag() of it.
 * The header has the shape of an inner node's (the kind byte first), so a
 * tagged child pointer can be dispatched on it.  The tags and the ends,
 * which a find reads, come first: with 32 keys they and the header fill
 * 104 bytes, two cache lines.
 *
 * Invariants (art_bucket_check):
 *  - suffixes strictly ascending in the tree's order (bytewise, a prefix
 *    before its extensions), so at most one, the first, is empty;
 *  - ends non-decreasing, ends[n - 1] == key_bytes (0 when n == 0);
 *  - tags[i] is the tag of suffix i; every padding byte is 0;
 *  - values non-NULL;
 *  - count <= ART_BUCKET_MAX_COUNT, key_bytes <= ART_BUCKET_MAX_KEY_BYTES.
 * How many keys and bytes a bucket may hold below those hard limits is
 * the caller's policy (art_bucket_limits).
 *
 * Blocks are immutable in size: an insert or a delete builds a new block
 * (allocate first, link in last), so an allocation failure leaves the
 * bucket as it was, and a block's size always follows from its header
 * (art_bucket_bytes), which is what the tree's slab allocator needs.
 * Index positions are stable only until the next insert or delete.
 */
#ifndef BLART_ART_BUCKET_H
#define BLART_ART_BUCKET_H

#include "art.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The node kind byte of a bucket: the next after ART_NODE256. */
#define ART_BUCKET_TYPE ART_NODE_KINDS

/* Hard limits of the layout: counts and offsets are 16 bits. */
#define ART_BUCKET_MAX_COUNT     65535u
#define ART_BUCKET_MAX_KEY_BYTES 65535u

/* Returned by art_bucket_insert when the key does not fit the limits:
   the caller bursts the bucket (art_bucket_burst) and retries below. */
#define ART_BUCKET_FULL 2

typedef struct art_bucket {
    uint8_t type;       /* ART_BUCKET_TYPE */
    uint8_t flags;      /* 0: reserved for the tree */
    uint16_t count;     /* number of suffixes, n */
    uint32_t key_bytes; /* total length of the suffixes */
} art_bucket;

/*
 * Where blocks come from: the tree passes its slab allocator, tests a
 * failing one.  free is given the block's size (art_bucket_bytes).
 */
typedef struct art_bucket_alloc {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *p, size_t size);
    void *ctx;
} art_bucket_alloc;

/* When a bucket must burst: an insert that would make it hold more than
   max_count suffixes or more than max_key_bytes suffix bytes fails with
   ART_BUCKET_FULL. */
typedef struct art_bucket_limits {
    unsigned max_count;
    size_t max_key_bytes;
} art_bucket_limits;

/* A suffix given in two pieces, a then b (either may be empty), with its
   value: art_bucket_make's input, so that a merge can give a child's
   byte and its suffix without copying them together first. */
typedef struct art_bucket_entry {
    const uint8_t *a;
    size_t na;
    const uint8_t *b;
    size_t nb;
    void *value;
} art_bucket_entry;

/*
 * The tag of a suffix: the top byte of a multiplicative hash of its bytes
 * and length.  Stored in the block (and so in files): it must never
 * change without a new file format version.
 */
uint8_t art_bucket_tag(const uint8_t *s, size_t len);

/* Bytes of a block holding n suffixes of key_bytes bytes in all. */
static inline size_t art_bucket_size(size_t n, size_t key_bytes)
{
    return 8 + ((n + 7) & ~(size_t)7) + ((2 * n + 7) & ~(size_t)7) + 8 * n +
           ((key_bytes + 7) & ~(size_t)7);
}

static inline size_t art_bucket_bytes(const art_bucket *b)
{
    return art_bucket_size(b->count, b->key_bytes);
}

static inline const uint8_t *art_bucket_tags(const art_bucket *b)
{
    return (const uint8_t *)(b + 1);
}

static inline const uint16_t *art_bucket_ends(const art_bucket *b)
{
    return (const uint16_t *)((const uint8_t *)(b + 1) +
                              ((b->count + 7u) & ~7u));
}

/* The value slots, count of them, 8-byte aligned. */
static inline void **art_bucket_values(art_bucket *b)
{
    return (void **)((uint8_t *)(b + 1) + ((b->count + 7u) & ~7u) +
                     ((2u * b->count + 7u) & ~7u));
}

static inline const uint8_t *art_bucket_keys(const art_bucket *b)
{
    return (const uint8_t *)(b + 1) + ((b->count + 7u) & ~7u) +
           ((2u * b->count + 7u) & ~7u) + 8u * b->count;
}

/* Suffix i (i < count): its bytes, its length in *len.  Valid as long as
   the block lives. */
static inline const uint8_t *art_bucket_suffix(const art_bucket *b, unsigned i,
                                               size_t *len)
{
    const uint16_t *ends = art_bucket_ends(b);
    unsigned start = i ? ends[i - 1] : 0;
    *len = ends[i] - start;
    return art_bucket_keys(b) + start;
}

/*
 * The index of suffix s[0..len), or -1 when the bucket does not hold it.
 * Scans the tags (SSE2 where available, else 8 at a time in a 64-bit
 * word), then compares the length and bytes of each candidate, expected
 * count/256 false candidates.  Never allocates.
 */
int art_bucket_find(const art_bucket *b, const uint8_t *s, size_t len);

/*
 * The position of s[0..len) in key order: the index of the first suffix
 * >= s (count when there is none), by binary search; *exact (when not
 * NULL) is set to whether that suffix equals s.  A cursor's frame in a
 * bucket is (bucket, index): seeks start from here.
 */
unsigned art_bucket_lower_bound(const art_bucket *b, const uint8_t *s,
                                size_t len, int *exact);

/*
 * Length of the common prefix of suffixes i - 1 and i (0 < i < count):
 * the key offset below which a cursor step from i - 1 to i leaves the key
 * unchanged, and so how many edit-distance rows a fuzzy search keeps.
 */
size_t art_bucket_common(const art_bucket *b, unsigned i);

/*
 * The first index after i whose suffix does not start with the first m
 * bytes of suffix i (m <= its length), or count: how a cursor skips all
 * keys below a prefix, or a fuzzy search a prefix out of reach.  Binary
 * search over the sorted suffixes.
 */
unsigned art_bucket_skip(const art_bucket *b, unsigned i, size_t m);

/*
 * Maps s[0..len) to value (non-NULL) in the bucket *bp (NULL: none yet,
 * one is made).  When s is present its value is replaced in place (no
 * allocation), the old one stored in *old (when not NULL), and 0 is
 * returned.  Otherwise a new block with s at its place is allocated and
 * filled, *bp is set to it and the old block freed, and 1 is returned
 * (with *old NULL); the new index is in *index when not NULL.  Returns
 * ART_BUCKET_FULL, changing nothing, when the new block would exceed lim
 * or the hard limits (the caller bursts), and ART_ENOMEM, changing
 * nothing, when the allocation fails.
 */
int art_bucket_insert(const art_bucket_alloc *a, art_bucket **bp,
                      const uint8_t *s, size_t len, void *value,
                      const art_bucket_limits *lim, void **old,
                      unsigned *index);

/*
 * Removes suffix i (i < count) from *bp: a new block without it replaces
 * the old one (freed); removing the last suffix frees the block and sets
 * *bp to NULL.  The removed value is stored in *old when not NULL.
 * Returns ART_OK, or ART_ENOMEM with the bucket unchanged.
 */
int art_bucket_delete(const art_bucket_alloc *a, art_bucket **bp, unsigned i,
                      void **old);

/*
 * Makes a bucket of the n entries e[0..n), which must be in strictly
 * ascending order of their suffixes (a || b): the bulk build from sorted
 * input and the merge of an inner node's children back into one bucket.
 * Returns the block, or NULL when the allocation fails or the entries
 * exceed the hard limits (n == 0 gives an empty bucket).
 */
art_bucket *art_bucket_make(const art_bucket_alloc *a,
                            const art_bucket_entry *e, size_t n);

/* One child of a burst: the suffixes [first, first + count) of the old
   bucket, which all start with byte (after skip bytes), become bucket
   (NULL when count < min_count: the caller makes a leaf of that one). */
typedef struct art_bucket_group {
    uint8_t byte;
    uint16_t first, count;
    art_bucket *bucket;
} art_bucket_group;

/*
 * Splits b for an inner node whose prefix is the first skip bytes of
 * every suffix (skip <= art_bucket_common_all(b)).  The suffix that is
 * exactly skip long, if any, is the key ending at the node: its index is
 * stored in *end (else -1), for the node's value slot.  The others fall
 * into groups by their byte at offset skip, in order, at most 256: each
 * group with at least min_count suffixes gets a new bucket holding them
 * without their first skip + 1 bytes.  Fills groups[0 .. *ngroups).
 * All or nothing: on ART_ENOMEM no bucket is left allocated.  b is not
 * changed; the caller frees it once the new node is linked in (a group
 * without a bucket still reads its suffix from b until then).
 */
int art_bucket_burst(const art_bucket_alloc *a, const art_bucket *b,
                     size_t skip, unsigned min_count,
                     art_bucket_group groups[256], unsigned *ngroups, int *end);

/* Length of the prefix common to every suffix of b, which the sorted
   order makes that of the first and the last (with one suffix, its
   length; with none, 0): what a burst takes into the new node's prefix. */
size_t art_bucket_common_all(const art_bucket *b);

/* Frees b (NULL is ignored); the values are the caller's. */
void art_bucket_free(const art_bucket_alloc *a, art_bucket *b);

/*
 * Checks every invariant above of a block that may come from a file:
 * size is the number of bytes readable at b, and the block must fit in
 * it.  Returns NULL, or a static description of the first fault.  Never
 * allocates; O(size).
 */
const char *art_bucket_check(const art_bucket *b, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* BLART_ART_BUCKET_H */
