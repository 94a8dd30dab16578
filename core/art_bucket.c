/*
 * art_bucket.c -- the bucket container of art_bucket.h: tags, find,
 * ordered positions, insert and delete (in place while the block has
 * room), make, burst and the invariant check.  Nothing here knows about
 * inner nodes or cursors.
 */
#include "art_bucket.h"

#include <string.h>

/* ART_BUCKET_NO_SIMD builds the portable scan (the tests build both). */
#if !defined(ART_BUCKET_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64) ||   \
                                     (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define BUCKET_SSE2 1
#endif

static inline size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static inline unsigned lowest_bit(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned i = 0;
    while (!(x & 1u)) {
        x >>= 1;
        i++;
    }
    return i;
#endif
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

#define TAG_MUL 0x9E3779B97F4A7C15u /* 2^64 / golden ratio, odd */

uint8_t art_bucket_tag(const uint8_t *s, size_t len)
{
    uint64_t h = (uint64_t)len * TAG_MUL, w;
    size_t i = 0;
    /* Whole words, then the tail as the last 8 bytes (overlapping) or, in
       a short suffix, from two overlapping 4-byte loads or the first,
       middle and last byte: every byte counts, no loop per byte. */
    for (; i + 8 <= len; i += 8)
        h = (h ^ load64(s + i)) * TAG_MUL;
    if (i == len && len > 0)
        return (uint8_t)(h >> 56);
    if (len >= 8)
        w = load64(s + len - 8);
    else if (len >= 4)
        w = (uint64_t)load32(s) | (uint64_t)load32(s + len - 4) << 32;
    else if (len > 0)
        w = (uint64_t)s[0] | (uint64_t)s[len / 2] << 8 |
            (uint64_t)s[len - 1] << 16;
    else
        w = 0;
    h = (h ^ w) * TAG_MUL;
    h ^= h >> 29;
    h *= TAG_MUL;
    return (uint8_t)(h >> 56);
}

/* memcmp(a, b, n) == 0 for the short suffixes a find compares. */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (; n >= 8; a += 8, b += 8, n -= 8)
        if (load64(a) != load64(b))
            return 0;
    return n == 0 || memcmp(a, b, n) == 0;
}

/* A word loaded from memory with its first byte most significant, so that
   words compare as their bytes do; 0 where the byte order is unknown. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BUCKET_WORD_ORDER 1
static inline uint64_t word_order(uint64_t x)
{
    return __builtin_bswap64(x);
}
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) &&                          \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BUCKET_WORD_ORDER 1
static inline uint64_t word_order(uint64_t x)
{
    return x;
}
#else
#define BUCKET_WORD_ORDER 0
#endif

/* The tree's order of a[0..na) against b[0..nb): -1, 0 or 1.  Inline and a
   word at a time, not a call to memcmp: the suffixes a bucket's search and
   the file check compare are a few dozen bytes. */
static inline int compare(const uint8_t *a, size_t na, const uint8_t *b,
                          size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
#if BUCKET_WORD_ORDER
    for (; i + 8 <= n; i += 8) {
        uint64_t x = load64(a + i), y = load64(b + i);
        if (x != y)
            return word_order(x) < word_order(y) ? -1 : 1;
    }
#endif
    for (; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

static inline size_t common_len(const uint8_t *a, size_t na, const uint8_t *b,
                                size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
    while (i + 8 <= n && load64(a + i) == load64(b + i))
        i += 8;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Bit j of the result is set when tags[base + j] == tag, for the 16 (or
   8) tags from base; bits past count are garbage for the caller to mask.
   Reads up to 15 bytes past the last tag, which stay inside the block:
   the ends and the values follow (at least 16 bytes whenever count > 0). */
#ifdef BUCKET_SSE2
#define SCAN_WIDTH 16u
static inline uint64_t tag_matches(const uint8_t *tags, uint8_t tag)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)tags);
    return (uint64_t)(unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(v, _mm_set1_epi8((char)tag)));
}
#else
#define SCAN_WIDTH 8u
static inline uint64_t tag_matches(const uint8_t *tags, uint8_t tag)
{
    /* Exact zero-byte detection on x = tags ^ tag: the high bit of each
       byte of y is set iff that byte of x is 0 (no carries between
       bytes, unlike the shorter (x - 0x01..) & ~x test).  Then one bit
       per byte, in byte order (little-endian load). */
    const uint64_t lo7 = 0x7F7F7F7F7F7F7F7Fu;
    uint64_t x = load64(tags) ^ (0x0101010101010101u * tag);
    uint64_t y = ~(((x & lo7) + lo7) | x | lo7);
    uint64_t bits = 0;
    while (y) {
        unsigned k = lowest_bit(y) >> 3;
        bits |= (uint64_t)1 << k;
        y &= y - 1;
    }
    return bits;
}
#endif

int art_bucket_find(const art_bucket *b, const uint8_t *s, size_t len)
{
    unsigned n = b->count;
    if (n == 0)
        return -1;
    uint8_t tag = art_bucket_tag(s, len);
    const uint8_t *tags = art_bucket_tags(b);
    const uint16_t *ends = art_bucket_ends(b);
    const uint8_t *keys = art_bucket_keys(b);
    for (unsigned base = 0; base < n; base += SCAN_WIDTH) {
        uint64_t m = tag_matches(tags + base, tag);
        if (n - base < SCAN_WIDTH)
            m &= ((uint64_t)1 << (n - base)) - 1;
        while (m) {
            unsigned i = base + lowest_bit(m);
            unsigned start = i ? ends[i - 1] : 0;
            if (ends[i] - start == len && same_bytes(keys + start, s, len))
                return (int)i;
            m &= m - 1;
        }
    }
    return -1;
}

unsigned art_bucket_lower_bound(const art_bucket *b, const uint8_t *s,
                                size_t len, int *exact)
{
    unsigned lo = 0, hi = b->count;
    /* Invariant: suffixes [0, lo) < s <= suffixes [hi, count). */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        size_t ml;
        const uint8_t *m = art_bucket_suffix(b, mid, &ml);
        if (compare(m, ml, s, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (exact) {
        size_t ml = 0;
        const uint8_t *m = lo < b->count ? art_bucket_suffix(b, lo, &ml) : NULL;
        *exact = m != NULL && compare(m, ml, s, len) == 0;
    }
    return lo;
}

size_t art_bucket_common(const art_bucket *b, unsigned i)
{
    size_t na, nb;
    const uint8_t *x = art_bucket_suffix(b, i - 1, &na);
    const uint8_t *y = art_bucket_suffix(b, i, &nb);
    return common_len(x, na, y, nb);
}

size_t art_bucket_common_all(const art_bucket *b)
{
    size_t na, nb;
    if (b->count == 0)
        return 0;
    const uint8_t *x = art_bucket_suffix(b, 0, &na);
    const uint8_t *y = art_bucket_suffix(b, b->count - 1u, &nb);
    return common_len(x, na, y, nb);
}

unsigned art_bucket_skip(const art_bucket *b, unsigned i, size_t m)
{
    size_t pl;
    const uint8_t *p = art_bucket_suffix(b, i, &pl);
    unsigned lo = i + 1, hi = b->count;
    /* The suffixes starting with p[0..m) are a run from i: find its end.
       Invariant: [i, lo) start with it, [hi, count) do not. */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        size_t ml;
        const uint8_t *x = art_bucket_suffix(b, mid, &ml);
        if (ml >= m && (m == 0 || memcmp(x, p, m) == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sets the header of a fresh block for n suffixes of kb bytes with spare
   more slots and spare_words more words of suffix room, and zeroes every
   byte past the entries; the caller fills tags, ends, values and keys. */
static void block_init(art_bucket *nb, size_t n, size_t kb, unsigned spare,
                       unsigned spare_words)
{
    nb->type = ART_BUCKET_TYPE;
    nb->flags = 0;
    nb->count = (uint16_t)n;
    nb->key_bytes = (uint16_t)kb;
    nb->spare = (uint8_t)spare;
    nb->spare_words = (uint8_t)spare_words;
    size_t slots = n + spare;
    uint8_t *tags = (uint8_t *)(nb + 1);
    memset(tags + n, 0, pad8(slots) - n);
    uint8_t *ends = tags + pad8(slots);
    memset(ends + 2 * n, 0, pad8(2 * slots) - 2 * n);
    memset(art_bucket_values(nb) + n, 0, spare * sizeof(void *));
    uint8_t *keys = (uint8_t *)art_bucket_keys(nb);
    memset(keys + kb, 0, art_bucket_room(nb) - kb);
}

/* The most spare slots or words a header can say. */
#define SPARE_MAX 255u

/* Adds s at index i of b, which has a spare slot and room for len more
   bytes: the entries from i on move up by one, their bytes by len. */
static void insert_in_place(art_bucket *b, unsigned i, const uint8_t *s,
                            size_t len, void *value)
{
    size_t n = b->count, kb = b->key_bytes, room = art_bucket_room(b);
    uint8_t *tags = (uint8_t *)(b + 1);
    uint16_t *ends = (uint16_t *)(uintptr_t)art_bucket_ends(b);
    void **values = art_bucket_values(b);
    uint8_t *keys = (uint8_t *)(uintptr_t)art_bucket_keys(b);
    size_t at = i ? ends[i - 1] : 0;
    memmove(tags + i + 1, tags + i, n - i);
    tags[i] = art_bucket_tag(s, len);
    for (size_t j = n; j > i; j--)
        ends[j] = (uint16_t)(ends[j - 1] + len);
    ends[i] = (uint16_t)(at + len);
    memmove(values + i + 1, values + i, (n - i) * sizeof *values);
    values[i] = value;
    memmove(keys + at + len, keys + at, kb - at);
    if (len)
        memcpy(keys + at, s, len);
    b->count = (uint16_t)(n + 1);
    b->key_bytes = (uint16_t)(kb + len);
    b->spare--;
    b->spare_words = (uint8_t)((room - pad8(kb + len)) / 8);
}

int art_bucket_insert_at(const art_bucket_alloc *a, art_bucket **bp, unsigned i,
                         const uint8_t *s, size_t len, void *value,
                         const art_bucket_limits *lim)
{
    art_bucket *b = *bp;
    size_t n = b ? b->count : 0, kb = b ? b->key_bytes : 0;
    if (n + 1 > lim->max_count || n + 1 > ART_BUCKET_MAX_COUNT ||
        kb > lim->max_key_bytes || len > lim->max_key_bytes - kb ||
        len > ART_BUCKET_MAX_KEY_BYTES - kb)
        return ART_BUCKET_FULL;
    if (b && b->spare && kb + len <= art_bucket_room(b)) {
        insert_in_place(b, i, s, len, value);
        return 1;
    }
    /* A new block with room for about an eighth more entries of the mean
       suffix length, no more than the limits let the bucket hold. */
    size_t most = lim->max_count < ART_BUCKET_MAX_COUNT ? lim->max_count
                                                        : ART_BUCKET_MAX_COUNT;
    size_t spare = (n + 1) / 8 + 1, nkb = kb + len;
    if (spare > most - (n + 1))
        spare = most - (n + 1);
    if (spare > SPARE_MAX)
        spare = SPARE_MAX;
    size_t words = (spare * nkb / (n + 1) + 7) / 8;
    size_t cap = lim->max_key_bytes < ART_BUCKET_MAX_KEY_BYTES
                     ? lim->max_key_bytes
                     : ART_BUCKET_MAX_KEY_BYTES;
    if (words > (pad8(cap) - pad8(nkb)) / 8)
        words = (pad8(cap) - pad8(nkb)) / 8;
    if (words > SPARE_MAX)
        words = SPARE_MAX;
    art_bucket *nb =
        a->alloc(a->ctx, art_bucket_size(n + 1 + spare, pad8(nkb) + 8 * words));
    if (nb == NULL)
        return ART_ENOMEM;
    block_init(nb, n + 1, nkb, (unsigned)spare, (unsigned)words);
    uint8_t *tags = (uint8_t *)(nb + 1);
    uint16_t *ends = (uint16_t *)(uintptr_t)art_bucket_ends(nb);
    void **values = art_bucket_values(nb);
    uint8_t *keys = (uint8_t *)(uintptr_t)art_bucket_keys(nb);
    size_t at = 0; /* where suffix i starts */
    if (b) {
        const uint8_t *ot = art_bucket_tags(b);
        const uint16_t *oe = art_bucket_ends(b);
        void **ov = art_bucket_values(b);
        const uint8_t *ok = art_bucket_keys(b);
        at = i ? oe[i - 1] : 0;
        memcpy(tags, ot, i);
        memcpy(tags + i + 1, ot + i, n - i);
        memcpy(ends, oe, i * sizeof *ends);
        for (size_t j = i; j < n; j++)
            ends[j + 1] = (uint16_t)(oe[j] + len);
        memcpy(values, ov, i * sizeof *values);
        memcpy(values + i + 1, ov + i, (n - i) * sizeof *values);
        memcpy(keys, ok, at);
        memcpy(keys + at + len, ok + at, kb - at);
    }
    tags[i] = art_bucket_tag(s, len);
    ends[i] = (uint16_t)(at + len);
    values[i] = value;
    if (len)
        memcpy(keys + at, s, len);
    *bp = nb;
    if (b)
        a->free(a->ctx, b, art_bucket_bytes(b));
    return 1;
}

int art_bucket_insert(const art_bucket_alloc *a, art_bucket **bp,
                      const uint8_t *s, size_t len, void *value,
                      const art_bucket_limits *lim, void **old, unsigned *index)
{
    art_bucket *b = *bp;
    unsigned i = 0;
    if (old)
        *old = NULL;
    if (b) {
        int exact;
        i = art_bucket_lower_bound(b, s, len, &exact);
        if (exact) {
            void **slot = &art_bucket_values(b)[i];
            if (old)
                *old = *slot;
            *slot = value;
            if (index)
                *index = i;
            return 0;
        }
    }
    int r = art_bucket_insert_at(a, bp, i, s, len, value, lim);
    if (r == 1 && index)
        *index = i;
    return r;
}

/* Removes entry i of b (count > 1) in place: the entries after it move
   down, and the bytes left free are zeroed. */
static void delete_in_place(art_bucket *b, unsigned i)
{
    size_t n = b->count, kb = b->key_bytes, room = art_bucket_room(b);
    uint8_t *tags = (uint8_t *)(b + 1);
    uint16_t *ends = (uint16_t *)(uintptr_t)art_bucket_ends(b);
    void **values = art_bucket_values(b);
    uint8_t *keys = (uint8_t *)(uintptr_t)art_bucket_keys(b);
    size_t at = i ? ends[i - 1] : 0, len = ends[i] - at;
    memmove(tags + i, tags + i + 1, n - i - 1);
    tags[n - 1] = 0;
    for (size_t j = i; j + 1 < n; j++)
        ends[j] = (uint16_t)(ends[j + 1] - len);
    ends[n - 1] = 0;
    memmove(values + i, values + i + 1, (n - i - 1) * sizeof *values);
    values[n - 1] = NULL;
    memmove(keys + at, keys + at + len, kb - at - len);
    memset(keys + kb - len, 0, len);
    b->count = (uint16_t)(n - 1);
    b->key_bytes = (uint16_t)(kb - len);
    b->spare++;
    b->spare_words = (uint8_t)((room - pad8(kb - len)) / 8);
}

int art_bucket_delete(const art_bucket_alloc *a, art_bucket **bp, unsigned i,
                      void **old)
{
    art_bucket *b = *bp;
    size_t n = b->count, kb = b->key_bytes, slots = art_bucket_slots(b);
    const uint16_t *oe = art_bucket_ends(b);
    void **ov = art_bucket_values(b);
    size_t at = i ? oe[i - 1] : 0, len = oe[i] - at;
    void *value = ov[i];
    if (n == 1) {
        a->free(a->ctx, b, art_bucket_bytes(b));
        *bp = NULL;
        if (old)
            *old = value;
        return ART_OK;
    }
    if (2 * (n - 1) >= slots && b->spare < SPARE_MAX &&
        (art_bucket_room(b) - pad8(kb - len)) / 8 <= SPARE_MAX) {
        delete_in_place(b, i);
        if (old)
            *old = value;
        return ART_OK;
    }
    /* Less than half in use, or more room than the header can say: copy
       the others into a block of their size. */
    art_bucket *nb = a->alloc(a->ctx, art_bucket_size(n - 1, kb - len));
    if (nb == NULL)
        return ART_ENOMEM;
    block_init(nb, n - 1, kb - len, 0, 0);
    uint8_t *tags = (uint8_t *)(nb + 1);
    uint16_t *ends = (uint16_t *)(uintptr_t)art_bucket_ends(nb);
    void **values = art_bucket_values(nb);
    uint8_t *keys = (uint8_t *)(uintptr_t)art_bucket_keys(nb);
    const uint8_t *ot = art_bucket_tags(b);
    const uint8_t *ok = art_bucket_keys(b);
    memcpy(tags, ot, i);
    memcpy(tags + i, ot + i + 1, n - i - 1);
    memcpy(ends, oe, i * sizeof *ends);
    for (size_t j = i + 1; j < n; j++)
        ends[j - 1] = (uint16_t)(oe[j] - len);
    memcpy(values, ov, i * sizeof *values);
    memcpy(values + i, ov + i + 1, (n - i - 1) * sizeof *values);
    memcpy(keys, ok, at);
    memcpy(keys + at, ok + at + len, kb - at - len);
    *bp = nb;
    a->free(a->ctx, b, art_bucket_bytes(b));
    if (old)
        *old = value;
    return ART_OK;
}

art_bucket *art_bucket_make(const art_bucket_alloc *a,
                            const art_bucket_entry *e, size_t n)
{
    size_t kb = 0;
    if (n > ART_BUCKET_MAX_COUNT)
        return NULL;
    for (size_t j = 0; j < n; j++) {
        if (e[j].na > ART_BUCKET_MAX_KEY_BYTES - kb)
            return NULL;
        kb += e[j].na;
        if (e[j].nb > ART_BUCKET_MAX_KEY_BYTES - kb)
            return NULL;
        kb += e[j].nb;
    }
    art_bucket *nb = a->alloc(a->ctx, art_bucket_size(n, kb));
    if (nb == NULL)
        return NULL;
    block_init(nb, n, kb, 0, 0);
    uint8_t *tags = (uint8_t *)(nb + 1);
    uint16_t *ends = (uint16_t *)(void *)(tags + pad8(n));
    void **values = art_bucket_values(nb);
    uint8_t *keys = (uint8_t *)art_bucket_keys(nb);
    size_t at = 0;
    for (size_t j = 0; j < n; j++) {
        uint8_t *k = keys + at;
        if (e[j].na)
            memcpy(k, e[j].a, e[j].na);
        if (e[j].nb)
            memcpy(k + e[j].na, e[j].b, e[j].nb);
        at += e[j].na + e[j].nb;
        tags[j] = art_bucket_tag(k, e[j].na + e[j].nb);
        ends[j] = (uint16_t)at;
        values[j] = e[j].value;
    }
    return nb;
}

art_bucket *art_bucket_copy(const art_bucket_alloc *a, const art_bucket *b)
{
    size_t n = b->count, kb = b->key_bytes;
    art_bucket *nb = a->alloc(a->ctx, art_bucket_size(n, kb));
    if (nb == NULL)
        return NULL;
    block_init(nb, n, kb, 0, 0);
    memcpy(nb + 1, art_bucket_tags(b), n);
    memcpy((uint8_t *)(uintptr_t)art_bucket_ends(nb), art_bucket_ends(b),
           n * sizeof(uint16_t));
    memcpy(art_bucket_values(nb), art_bucket_values((art_bucket *)(uintptr_t)b),
           n * sizeof(void *));
    memcpy((uint8_t *)(uintptr_t)art_bucket_keys(nb), art_bucket_keys(b), kb);
    return nb;
}

/* A bucket of b's suffixes [first, first + count), each without its
   first cut bytes (every one is at least cut long). */
static art_bucket *make_range(const art_bucket_alloc *a, const art_bucket *b,
                              unsigned first, unsigned count, size_t cut)
{
    const uint16_t *oe = art_bucket_ends(b);
    const uint8_t *ok = art_bucket_keys(b);
    void **ov = art_bucket_values((art_bucket *)(uintptr_t)b);
    size_t from = first ? oe[first - 1] : 0;
    size_t kb = oe[first + count - 1] - from - (size_t)count * cut;
    art_bucket *nb = a->alloc(a->ctx, art_bucket_size(count, kb));
    if (nb == NULL)
        return NULL;
    block_init(nb, count, kb, 0, 0);
    uint8_t *tags = (uint8_t *)(nb + 1);
    uint16_t *ends = (uint16_t *)(void *)(tags + pad8(count));
    void **values = art_bucket_values(nb);
    uint8_t *keys = (uint8_t *)art_bucket_keys(nb);
    size_t at = 0;
    for (unsigned j = 0; j < count; j++) {
        size_t start = first + j ? oe[first + j - 1] : 0;
        size_t len = oe[first + j] - start - cut;
        memcpy(keys + at, ok + start + cut, len);
        tags[j] = art_bucket_tag(keys + at, len);
        at += len;
        ends[j] = (uint16_t)at;
        values[j] = ov[first + j];
    }
    return nb;
}

int art_bucket_burst(const art_bucket_alloc *a, const art_bucket *b,
                     size_t skip, unsigned min_count,
                     art_bucket_group groups[256], unsigned *ngroups, int *end)
{
    unsigned n = b->count, i = 0, g = 0;
    size_t len;
    *end = -1;
    *ngroups = 0;
    if (n > 0) {
        (void)art_bucket_suffix(b, 0, &len);
        if (len == skip) {
            *end = 0; /* the smallest: nothing sorts before a prefix */
            i = 1;
        }
    }
    while (i < n) {
        const uint8_t *s = art_bucket_suffix(b, i, &len);
        uint8_t byte = s[skip];
        unsigned j = i + 1;
        /* The group's run ends at the first suffix with another byte at
           skip (all are longer than skip: only suffix 0 could be equal). */
        while (j < n && art_bucket_suffix(b, j, &len)[skip] == byte)
            j++;
        groups[g].byte = byte;
        groups[g].first = (uint16_t)i;
        groups[g].count = (uint16_t)(j - i);
        groups[g].bucket = NULL;
        g++;
        i = j;
    }
    for (unsigned k = 0; k < g; k++) {
        if (groups[k].count < min_count)
            continue;
        groups[k].bucket =
            make_range(a, b, groups[k].first, groups[k].count, skip + 1);
        if (groups[k].bucket == NULL) {
            while (k-- > 0)
                if (groups[k].bucket) {
                    art_bucket_free(a, groups[k].bucket);
                    groups[k].bucket = NULL;
                }
            return ART_ENOMEM;
        }
    }
    *ngroups = g;
    return ART_OK;
}

void art_bucket_free(const art_bucket_alloc *a, art_bucket *b)
{
    if (b)
        a->free(a->ctx, b, art_bucket_bytes(b));
}

static int zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

const char *art_bucket_check(const art_bucket *b, size_t size)
{
    if (size < sizeof(art_bucket))
        return "bucket: header out of bounds";
    if (b->type != ART_BUCKET_TYPE)
        return "bucket: wrong node kind";
    if (b->flags != 0)
        return "bucket: unknown flags";
    size_t n = b->count, kb = b->key_bytes;
    if (kb > ART_BUCKET_MAX_KEY_BYTES)
        return "bucket: too many key bytes";
    if (art_bucket_bytes(b) > size)
        return "bucket: block out of bounds";
    const uint8_t *tags = art_bucket_tags(b);
    const uint16_t *ends = art_bucket_ends(b);
    const uint8_t *keys = art_bucket_keys(b);
    void **values = art_bucket_values((art_bucket *)(uintptr_t)b);
    size_t slots = art_bucket_slots(b);
    if (!zeros(tags + n, pad8(slots) - n) ||
        !zeros((const uint8_t *)ends + 2 * n, pad8(2 * slots) - 2 * n) ||
        !zeros((const uint8_t *)(values + n), 8 * (slots - n)) ||
        !zeros(keys + kb, art_bucket_room(b) - kb))
        return "bucket: padding or spare room not zero";
    if ((n == 0 && kb != 0) || (n > 0 && ends[n - 1] != kb))
        return "bucket: key bytes do not match the ends";
    const uint8_t *prev = NULL;
    size_t prev_len = 0, start = 0;
    for (size_t i = 0; i < n; i++) {
        if (ends[i] < start || ends[i] > kb)
            return "bucket: ends decrease or pass the key bytes";
        size_t len = ends[i] - start;
        const uint8_t *s = keys + start;
        if (prev && compare(prev, prev_len, s, len) >= 0)
            return "bucket: suffixes not strictly ascending";
        if (tags[i] != art_bucket_tag(s, len))
            return "bucket: wrong tag";
        if (values[i] == NULL)
            return "bucket: empty value slot";
        prev = s;
        prev_len = len;
        start = ends[i];
    }
    return NULL;
}
