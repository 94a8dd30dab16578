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
 *   | header | tags[s]  pad  | ends[s] pad | values[s]   | suffix bytes   |
 *   +--------+---------------+-------------+-------------+----------------+
 *     type     1 byte each     uint16 each   void * each   concatenated,
 *     flags    T = pad8(s)     E = pad8(2s)  V = 8s        sorted, then
 *     count                                                room: R bytes
 *     key_bytes
 *     spare, spare_words
 *
 * The block has s = count + spare slots and R = pad8(key_bytes) +
 * 8 * spare_words bytes for suffixes.  Suffix i (i < count) is
 * keys[start(i) .. ends[i]) where start(0) = 0 and start(i) = ends[i - 1];
 * its value is values[i]; tags[i] = art_bucket_tag() of it.  The header
 * has the shape of an inner node's (the kind byte first), so a tagged
 * child pointer can be dispatched on it.  The tags and the ends, which a
 * find reads, come first: with 32 slots they and the header fill 104
 * bytes, two cache lines.
 *
 * Room to grow: an insert into a block with a spare slot and room for
 * the suffix shifts the entries after it in place, with no allocation; a
 * block without room is copied into a new one with room for about an
 * eighth more (capped by the limits), so n random inserts into a bucket
 * copy it O(log n) times, not n times.  A delete shifts down in place and
 * gives its slot back, until less than half the slots are in use: then
 * the block is copied into one of its size.  Blocks made whole
 * (art_bucket_make, a burst, art_bucket_copy) and blocks in files have
 * no spare room.
 *
 * Invariants (art_bucket_check):
 *  - suffixes strictly ascending in the tree's order (bytewise, a prefix
 *    before its extensions), so at most one, the first, is empty;
 *  - ends non-decreasing, ends[count - 1] == key_bytes (0 when empty);
 *  - tags[i] is the tag of suffix i; every byte past the entries in use
 *    (padding and spare room) is 0, so equal contents are equal bytes;
 *  - values non-NULL;
 *  - count <= ART_BUCKET_MAX_COUNT, key_bytes <= ART_BUCKET_MAX_KEY_BYTES.
 * How many keys and bytes a bucket may hold below those hard limits is
 * the caller's policy (art_bucket_limits).
 *
 * An insert or delete that changes the block's size builds a new block
 * (allocate first, link in last), so an allocation failure leaves the
 * bucket as it was; a block's size always follows from its header
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
    uint8_t type;        /* ART_BUCKET_TYPE */
    uint8_t flags;       /* 0: reserved for the tree */
    uint16_t count;      /* number of suffixes */
    uint16_t key_bytes;  /* total length of the suffixes */
    uint8_t spare;       /* slots past count */
    uint8_t spare_words; /* 8-byte words of suffix room past key_bytes */
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

/* Bytes of a block with n slots and key_bytes bytes of suffix room. */
static inline size_t art_bucket_size(size_t n, size_t key_bytes)
{
    return 8 + ((n + 7) & ~(size_t)7) + ((2 * n + 7) & ~(size_t)7) + 8 * n +
           ((key_bytes + 7) & ~(size_t)7);
}

/* The slots of b: count in use, spare free. */
static inline unsigned art_bucket_slots(const art_bucket *b)
{
    return (unsigned)b->count + b->spare;
}

/* The bytes of suffix room of b: key_bytes in use, the rest free. */
static inline size_t art_bucket_room(const art_bucket *b)
{
    return (((size_t)b->key_bytes + 7) & ~(size_t)7) +
           8 * (size_t)b->spare_words;
}

static inline size_t art_bucket_bytes(const art_bucket *b)
{
    return art_bucket_size(art_bucket_slots(b), art_bucket_room(b));
}

static inline const uint8_t *art_bucket_tags(const art_bucket *b)
{
    return (const uint8_t *)(b + 1);
}

static inline const uint16_t *art_bucket_ends(const art_bucket *b)
{
    return (const uint16_t *)((const uint8_t *)(b + 1) +
                              ((art_bucket_slots(b) + 7u) & ~7u));
}

/* The value slots, count of them in use, 8-byte aligned. */
static inline void **art_bucket_values(art_bucket *b)
{
    unsigned s = art_bucket_slots(b);
    return (void **)((uint8_t *)(b + 1) + ((s + 7u) & ~7u) +
                     ((2u * s + 7u) & ~7u));
}

static inline const uint8_t *art_bucket_keys(const art_bucket *b)
{
    unsigned s = art_bucket_slots(b);
    return (const uint8_t *)(b + 1) + ((s + 7u) & ~7u) + ((2u * s + 7u) & ~7u) +
           8u * s;
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
 * returned.  Otherwise s is added at its place and 1 returned (with *old
 * NULL), the new index in *index when not NULL: in place when the block
 * has room, else in a new block with room to spare that replaces *bp
 * (the old one freed).  Returns ART_BUCKET_FULL, changing nothing, when
 * the bucket would exceed lim or the hard limits (the caller bursts), and
 * ART_ENOMEM, changing nothing, when the allocation fails.
 */
int art_bucket_insert(const art_bucket_alloc *a, art_bucket **bp,
                      const uint8_t *s, size_t len, void *value,
                      const art_bucket_limits *lim, void **old,
                      unsigned *index);

/*
 * art_bucket_insert of a suffix known to be absent whose place, i, the
 * caller has found (art_bucket_lower_bound with no exact match): the
 * tree's insert, which looks first so that a replacement never allocates,
 * searches once.  *bp is not NULL.  Returns 1, ART_BUCKET_FULL or
 * ART_ENOMEM as art_bucket_insert does.
 */
int art_bucket_insert_at(const art_bucket_alloc *a, art_bucket **bp, unsigned i,
                         const uint8_t *s, size_t len, void *value,
                         const art_bucket_limits *lim);

/*
 * Removes suffix i (i < count) from *bp, in place, or, when that would
 * leave less than half the slots in use, into a new block of its size
 * that replaces the old one (freed); removing the last suffix frees the
 * block and sets *bp to NULL.  The removed value is stored in *old when
 * not NULL.  Returns ART_OK, or ART_ENOMEM with the bucket unchanged.
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

/*
 * A copy of b without its spare room: the same entries in a block of
 * their size (a tree's copy, laid out like a built one).  NULL when the
 * allocation fails.
 */
art_bucket *art_bucket_copy(const art_bucket_alloc *a, const art_bucket *b);

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
