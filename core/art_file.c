/*
 * art_file.c -- writing a tree to a file and opening a file as a
 * read-only tree; see art.h ("Files") and docs/format.md.
 *
 * The nodes section is the tree's own nodes and leaves, in post-order,
 * with child pointers replaced by file offsets.  Post-order lets the
 * writer stream: a node is written after its children, when their
 * offsets are known.  It also lets the reader prove the section is a tree
 * with one walk from the root: visiting children last-first, every object
 * must end exactly where the previously visited one begins, so the
 * objects tile the section once each, in bounds, and no reference can
 * point back up, sideways or twice.
 */
#include "art.h"

#include <stdlib.h>
#include <string.h>

#include "art_internal.h"

/* ------------------------------------------------------------------ */
/* Checksum                                                            */
/* ------------------------------------------------------------------ */

#define P1 UINT64_C(0x9E3779B185EBCA87)
#define P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define P3 UINT64_C(0x165667B19E3779F9)

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* A little-endian 64-bit word, on any host. */
static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void hash_stripe(uint64_t acc[4], const uint8_t *p)
{
    for (int i = 0; i < 4; i++)
        acc[i] =
            rotl64(acc[i] + load_le64(p + (size_t)8 * (size_t)i) * P2, 31) * P1;
}

void art_hash_init(art_hash *h)
{
    h->acc[0] = P1 + P2;
    h->acc[1] = P2;
    h->acc[2] = 0;
    h->acc[3] = (uint64_t)0 - P1;
    h->buffered = 0;
    h->total = 0;
}

void art_hash_update(art_hash *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    h->total += n;
    if (h->buffered) {
        size_t take = 32 - h->buffered;
        if (take > n)
            take = n;
        memcpy(h->buf + h->buffered, p, take);
        h->buffered += take;
        p += take;
        n -= take;
        if (h->buffered < 32)
            return;
        hash_stripe(h->acc, h->buf);
        h->buffered = 0;
    }
    for (; n >= 32; p += 32, n -= 32)
        hash_stripe(h->acc, p);
    if (n) {
        memcpy(h->buf, p, n);
        h->buffered = n;
    }
}

uint64_t art_hash_final(const art_hash *h)
{
    uint64_t acc[4];
    memcpy(acc, h->acc, sizeof(acc));
    if (h->buffered) {
        uint8_t last[32] = {0};
        memcpy(last, h->buf, h->buffered);
        hash_stripe(acc, last);
    }
    uint64_t x = rotl64(acc[0], 1) + rotl64(acc[1], 7) + rotl64(acc[2], 12) +
                 rotl64(acc[3], 18);
    x ^= h->total;
    x ^= x >> 33;
    x *= P2;
    x ^= x >> 29;
    x *= P3;
    x ^= x >> 32;
    return x;
}

uint64_t art_file_checksum(const uint8_t *file, size_t len)
{
    art_hash h;
    art_hash_init(&h);
    if (len > ART_FILE_HEADER_SIZE)
        art_hash_update(&h, file + ART_FILE_HEADER_SIZE,
                        len - ART_FILE_HEADER_SIZE);
    art_hash_update(&h, file, len < 56 ? len : 56);
    return art_hash_final(&h);
}

static const uint8_t file_magic[8] = {'B', 'L', 'A', 'R', 'T', 'M', 'A', 'P'};

void art_file_header_encode(const art_file_header *h, uint8_t *out)
{
    memcpy(out, file_magic, sizeof(file_magic));
    store_le32(out + 8, h->version);
    store_le32(out + 12, h->flags);
    store_le64(out + 16, h->count);
    store_le64(out + 24, h->max_key_len);
    store_le64(out + 32, h->root);
    store_le64(out + 40, h->nodes_size);
    store_le64(out + 48, h->values_size);
    store_le64(out + 56, h->checksum);
}

/* A growable array of fixed-size elements, counted by the tree. */
typedef struct stack {
    void *items;
    size_t len, cap, elem;
} stack;

static void *stack_push(art_tree *t, stack *s)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        if (cap > SIZE_MAX / s->elem)
            return NULL;
        void *p = art__malloc(t, cap * s->elem);
        if (p == NULL)
            return NULL;
        if (s->len)
            memcpy(p, s->items, s->len * s->elem);
        art__free(s->items);
        s->items = p;
        s->cap = cap;
    }
    return (uint8_t *)s->items + s->len++ * s->elem;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

#if ART_FILE_SUPPORTED

#define OUT_CHUNK ((size_t)64 * 1024)

typedef struct writer {
    art_tree *t; /* for allocation only */
    art_write_fn write;
    art_encode_fn encode;
    void *ctx;
    uint8_t *buf;
    size_t used;
    uint64_t pos; /* file offset of the next byte */
    int failed;
} writer;

static int out_flush(writer *w)
{
    if (w->used && w->write(w->buf, w->used, w->ctx) != 0) {
        w->failed = ART_ECALLBACK;
        return -1;
    }
    w->used = 0;
    return 0;
}

/* Room for n <= OUT_CHUNK more bytes, zeroed; NULL after a failure. */
static uint8_t *out_reserve(writer *w, size_t n)
{
    if (n > OUT_CHUNK - w->used && out_flush(w) < 0)
        return NULL;
    uint8_t *p = w->buf + w->used;
    memset(p, 0, n);
    w->used += n;
    w->pos += n;
    return p;
}

/* Appends n bytes of any length. */
static int out_bytes(writer *w, const uint8_t *p, size_t n)
{
    while (n) {
        if (w->used == OUT_CHUNK && out_flush(w) < 0)
            return -1;
        size_t k = OUT_CHUNK - w->used;
        if (k > n)
            k = n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        w->pos += k;
        p += k;
        n -= k;
    }
    return 0;
}

/* Appends zeros up to the next multiple of 8 of the file offset. */
static int out_align(writer *w)
{
    size_t pad = (size_t)(pad8(w->pos) - w->pos);
    return pad && out_reserve(w, pad) == NULL ? -1 : 0;
}

static int encode_value(writer *w, void *value, uint64_t *ref)
{
    *ref = 0;
    if (value == NULL)
        return 0;
    if (w->encode(value, ref, w->ctx) != 0 || *ref == 0) {
        w->failed = ART_ECALLBACK;
        return -1;
    }
    return 0;
}

/* Writes a leaf; its reference in *ref. */
static int write_leaf(writer *w, art_leaf *l, uint64_t *ref)
{
    uint64_t value;
    if (encode_value(w, l->value, &value) < 0)
        return -1;
    *ref = w->pos | 1;
    uint8_t *p = out_reserve(w, 12);
    if (p == NULL)
        return -1;
    store_le64(p, value);
    store_le32(p + 8, l->len);
    if (out_bytes(w, l->suffix, l->len) < 0)
        return -1;
    return out_align(w);
}

/*
 * Writes inner node n, whose children's references are kids[0..count) in
 * key order; its reference in *ref.
 */
static int write_node(writer *w, art_node *n, const uint64_t *kids,
                      uint64_t *ref)
{
    uint64_t value;
    void *v = node_value(n);
    if (encode_value(w, v, &value) < 0)
        return -1;
    /* A slot is written only when it holds a value (a deletion may have
       left an empty one in memory), so equal maps give equal files. */
    int shape = (n->shape & ~NODE_SLOT) | (v ? NODE_SLOT : 0);
    *ref = w->pos;
    uint8_t *p = out_reserve(w, sizeof(art_node));
    if (p == NULL)
        return -1;
    p[0] = n->type;
    p[1] = (uint8_t)shape;
    store_le32(p + 4, n->prefix_len);
    p[2] = (uint8_t)(n->num_children & 0xFF);
    p[3] = (uint8_t)(n->num_children >> 8);
    if (out_bytes(w, node_prefix(n), n->prefix_len) < 0 || out_align(w) < 0)
        return -1;
    /* The body, then the slot when there is a value. */
    size_t body = node_size(n->type, shape & ~NODE_SLOT, n->prefix_len) -
                  sizeof(art_node) - pad8(n->prefix_len);
    uint8_t *b = out_reserve(w, body + (v ? 8 : 0));
    if (b == NULL)
        return -1;
    if (v)
        store_le64(b + body, value);
    /* The body as in memory, each child pointer replaced by the next
       reference in kids (children come in key order). */
    int pos = 0, c, i = 0;
    uintptr_t *slot;
    if (n->type == ART_NODE48)
        memcpy(b, n48_index(n), 256);
    while (next_child(n, &pos, &c, &slot)) {
        size_t at;
        switch (n->type) {
        case ART_NODE4:
        case ART_NODE16:
            b[i] = (uint8_t)c;
            at = (size_t)((uint8_t *)&small_children(n)[i] - node_body(n));
            break;
        case ART_NODE48:
            at = 256 + 8 * (size_t)(n48_index(n)[c] - 1);
            break;
        default:
            at = 8 * (size_t)c;
            break;
        }
        store_le64(b + at, kids[i++]);
    }
    return 0;
}

/*
 * Writes bucket b as it would be without spare room (art_bucket.h), each
 * value replaced by its reference: a file holds one layout per tree.  Its
 * reference (untagged, like an inner node's) in *ref, the length of its
 * longest suffix in *longest.
 */
static int write_bucket(writer *w, art_bucket *b, uint64_t *ref,
                        uint64_t *longest)
{
    static const uint8_t zero[8];
    size_t n = b->count, kb = b->key_bytes, len;
    void **values = art_bucket_values(b);
    *longest = 0;
    for (unsigned i = 0; i < n; i++) {
        art_bucket_suffix(b, i, &len);
        if (len > *longest)
            *longest = len;
    }
    *ref = w->pos;
    art_bucket head = *b;
    head.spare = 0;
    head.spare_words = 0;
    if (out_bytes(w, (const uint8_t *)&head, sizeof head) < 0 ||
        out_bytes(w, art_bucket_tags(b), n) < 0 ||
        out_bytes(w, zero, (8 - n % 8) % 8) < 0 ||
        out_bytes(w, (const uint8_t *)art_bucket_ends(b), 2 * n) < 0 ||
        out_bytes(w, zero, (8 - 2 * n % 8) % 8) < 0)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t value;
        uint8_t *p;
        if (encode_value(w, values[i], &value) < 0 ||
            (p = out_reserve(w, 8)) == NULL)
            return -1;
        store_le64(p, value);
    }
    if (out_bytes(w, art_bucket_keys(b), kb) < 0 ||
        out_bytes(w, zero, (8 - kb % 8) % 8) < 0)
        return -1;
    return 0;
}

typedef struct wframe {
    art_node *node;
    int next;       /* next_child position */
    size_t kids;    /* index in the result stack of its first child */
    uint64_t depth; /* key length where its prefix starts */
} wframe;

int art_file_write_nodes(const art_tree *t, art_write_fn write,
                         art_encode_fn encode, void *ctx, art_file_header *hdr)
{
    art_tree *mt = (art_tree *)t; /* allocation counters only */
    writer w = {mt, write, encode, ctx, NULL, 0, ART_FILE_HEADER_SIZE, 0};
    stack frames = {NULL, 0, 0, sizeof(wframe)};
    stack results = {NULL, 0, 0, sizeof(uint64_t)};
    uint64_t root = 0, longest = 0;
    int err = ART_ENOMEM;
    if (t->base != 0)
        return ART_EINVAL;
    w.buf = art__malloc(mt, OUT_CHUNK);
    if (w.buf == NULL)
        return ART_ENOMEM;
    if (t->root && is_bucket(t->root)) {
        if (write_bucket(&w, AS_BUCKET(t->root), &root, &longest) < 0)
            goto fail;
    } else if (t->root && IS_LEAF(t->root)) {
        if (write_leaf(&w, AS_LEAF(t->root), &root) < 0)
            goto fail;
        longest = AS_LEAF(t->root)->len;
    } else if (t->root) {
        wframe *f = stack_push(mt, &frames);
        if (f == NULL)
            goto fail;
        *f = (wframe){AS_NODE(t->root), 0, 0, 0};
        while (frames.len) {
            f = (wframe *)frames.items + frames.len - 1;
            art_node *n = f->node;
            uint64_t below = f->depth + n->prefix_len;
            int b;
            uintptr_t *slot;
            if (next_child(n, &f->next, &b, &slot)) {
                uintptr_t child = *slot;
                if (IS_LEAF(child)) {
                    uint64_t *r = stack_push(mt, &results);
                    if (r == NULL || write_leaf(&w, AS_LEAF(child), r) < 0)
                        goto fail;
                    if (below + 1 + AS_LEAF(child)->len > longest)
                        longest = below + 1 + AS_LEAF(child)->len;
                } else if (is_bucket(child)) {
                    uint64_t *r = stack_push(mt, &results), most;
                    if (r == NULL ||
                        write_bucket(&w, AS_BUCKET(child), r, &most) < 0)
                        goto fail;
                    if (below + 1 + most > longest)
                        longest = below + 1 + most;
                } else {
                    size_t first = results.len;
                    wframe *g = stack_push(mt, &frames);
                    if (g == NULL)
                        goto fail;
                    *g = (wframe){AS_NODE(child), 0, first, below + 1};
                }
                continue;
            }
            /* All children written: the node follows them. */
            if (node_value(n) && below > longest)
                longest = below;
            uint64_t ref;
            if (results.items == NULL)
                goto fail; /* not reached: every node has a child */
            const uint64_t *kids = (const uint64_t *)results.items + f->kids;
            if (write_node(&w, n, kids, &ref) < 0)
                goto fail;
            results.len = f->kids;
            frames.len--;
            if (frames.len == 0) {
                root = ref;
            } else {
                uint64_t *r = stack_push(mt, &results);
                if (r == NULL)
                    goto fail;
                *r = ref;
            }
        }
    }
    if (out_flush(&w) < 0)
        goto fail;
    hdr->count = t->size;
    hdr->max_key_len = longest;
    hdr->root = root;
    hdr->nodes_size = w.pos - ART_FILE_HEADER_SIZE;
    err = ART_OK;
fail:
    if (err != ART_OK && w.failed)
        err = w.failed;
    art__free(w.buf);
    art__free(frames.items);
    art__free(results.items);
    return err;
}

#else /* !ART_FILE_SUPPORTED */

int art_file_write_nodes(const art_tree *t, art_write_fn write,
                         art_encode_fn encode, void *ctx, art_file_header *hdr)
{
    (void)t, (void)write, (void)encode, (void)ctx, (void)hdr;
    return ART_EINVAL;
}

#endif

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

#define BAD(msg)                                                               \
    do {                                                                       \
        *why = (msg);                                                          \
        err = ART_EFORMAT;                                                     \
        goto done;                                                             \
    } while (0)

/*
 * UTF-8 checking as the key bytes stream past, one state per pending
 * object: 0 between characters; otherwise the continuation bytes still
 * expected (bits 16..) and the range allowed for the next one (lo in bits
 * 8..15, hi in bits 0..7).  Encoded surrogates (ED A0..BF xx) are allowed,
 * as Python's "surrogatepass" allows them.
 */
#define UTF8_BAD UINT32_MAX

static inline uint32_t utf8_expect(uint32_t need, uint32_t lo, uint32_t hi)
{
    return need << 16 | lo << 8 | hi;
}

static uint32_t utf8_step(uint32_t st, uint8_t b)
{
    if (st == 0) {
        if (b < 0x80)
            return 0;
        if (b >= 0xC2 && b <= 0xDF)
            return utf8_expect(1, 0x80, 0xBF);
        if (b >= 0xE0 && b <= 0xEF)
            return utf8_expect(2, b == 0xE0 ? 0xA0 : 0x80, 0xBF);
        if (b >= 0xF0 && b <= 0xF4)
            return utf8_expect(3, b == 0xF0 ? 0x90 : 0x80,
                               b == 0xF4 ? 0x8F : 0xBF);
        return UTF8_BAD;
    }
    if (b < ((st >> 8) & 0xFF) || b > (st & 0xFF))
        return UTF8_BAD;
    uint32_t need = (st >> 16) - 1;
    return need ? utf8_expect(need, 0x80, 0xBF) : 0;
}

/*
 * Whether the words w[0..n) have no byte >= 0x80, ignoring the bytes
 * masked out of the first: a quick test over a whole padded object, whose
 * padding a well-made file leaves zero.  Nonzero padding only costs the
 * exact check.
 */
static inline int words_ascii(const uint8_t *w, size_t n, uint64_t first)
{
    uint64_t acc = 0, x;
    if (n == 0)
        return 1;
    memcpy(&x, w, 8);
    acc = x & first;
    for (size_t i = 1; i < n; i++) {
        memcpy(&x, w + 8 * i, 8);
        acc |= x;
    }
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

static uint32_t utf8_run(uint32_t st, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && st != UTF8_BAD) {
        if (st == 0) {
            /* ASCII runs a word at a time. */
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == n)
                break;
        }
        st = utf8_step(st, p[i++]);
    }
    return st;
}

int art_file_read_header(const uint8_t *head, uint64_t file_len,
                         art_file_header *h, const char **why)
{
    const char *ignored;
    int err = ART_OK;
    if (why == NULL)
        why = &ignored;
    *why = NULL;
    if (file_len < ART_FILE_HEADER_SIZE)
        BAD("file shorter than its header");
    if (memcmp(head, file_magic, sizeof(file_magic)) != 0)
        BAD("not a blart file (bad magic)");
    h->version = load_le32(head + 8);
    h->flags = load_le32(head + 12);
    h->count = load_le64(head + 16);
    h->max_key_len = load_le64(head + 24);
    h->root = load_le64(head + 32);
    h->nodes_size = load_le64(head + 40);
    h->values_size = load_le64(head + 48);
    h->checksum = load_le64(head + 56);
    if (h->version != ART_FILE_VERSION && h->version != 2)
        BAD("unsupported format version");
    if (h->nodes_size % 8 || h->values_size % 8 || file_len % 8)
        BAD("section sizes not multiples of 8");
    uint64_t body = file_len - ART_FILE_HEADER_SIZE;
    if (h->nodes_size > body || h->values_size != body - h->nodes_size)
        BAD("section sizes do not match the file size");
    if (h->max_key_len > ART_MAX_KEY_LEN)
        BAD("longest key too long");
    if (h->count > h->nodes_size / 8) /* a value reference each at least */
        BAD("more keys than the nodes section can hold");
done:
    return err;
}

/* An object still to be checked. */
typedef struct rframe {
    uint64_t ref;
    uint64_t key_len; /* where its bytes start in its keys */
    uint64_t depth;   /* inner nodes above it */
    uint32_t utf8;    /* UTF-8 state at that point */
} rframe;

/*
 * The pass behind art_file_open_nodes and art_file_load.  It checks every
 * object from the root down, popping the last child first: the reverse of
 * the order the writer laid them out in, so each object must end where
 * the one checked before it starts, and the section is read backwards,
 * once, in order.  Loading (load set) also turns each child reference into
 * a pointer as the child is queued, and hands each value slot to on_value
 * once the object holding it has passed every check.
 */
static int open_nodes(art_tree *t, const art_file_header *h, uint8_t *nodes,
                      unsigned options, int load, art_check_fn check_value,
                      art_slot_fn on_value, void *ctx, const char **why)
{
    const char *ignored;
    stack todo = {NULL, 0, 0, sizeof(rframe)};
    int err = ART_OK;
    uint64_t keys = 0, longest = 0, depth = 0;
    /* The largest bucket's count and bytes, and the longest suffix in a
       bucket: the limits the tree takes (art_tree_set_buckets). */
    uint64_t bucket_count = 0, bucket_bytes = 0, bucket_suffix = 0;
    const int utf8 = (options & ART_FILE_UTF8_KEYS) != 0;
    if (why == NULL)
        why = &ignored;
    *why = NULL;
#if !ART_FILE_SUPPORTED
    (void)h, (void)nodes, (void)utf8, (void)load, (void)check_value;
    (void)on_value, (void)ctx;
    *why = "the file format needs a 64-bit little-endian machine";
    return ART_EINVAL;
#else
    if ((uintptr_t)nodes % 8) {
        *why = "nodes not 8-byte aligned in memory";
        return ART_EINVAL;
    }
    /* Offsets count from the start of the file, nodes from its byte 64. */
    uint8_t *file = nodes - ART_FILE_HEADER_SIZE;
    const uintptr_t base = (uintptr_t)file;
    const uint64_t start = ART_FILE_HEADER_SIZE;
    uint64_t end = start + h->nodes_size; /* where the next object ends */
    if (h->root == 0) {
        if (h->count != 0 || h->nodes_size != 0)
            BAD("empty tree with keys or nodes");
    } else {
        rframe *f = stack_push(t, &todo);
        if (f == NULL)
            goto nomem;
        *f = (rframe){h->root, 0, 0, 0};
    }
    while (todo.len) {
        rframe fr = ((rframe *)todo.items)[--todo.len];
        uint64_t off = fr.ref & ~(uint64_t)1;
        if (off % 8 || off < start || off >= end || end - off < 16)
            BAD("reference out of place");
        uint8_t *p = file + off;
        if (fr.ref & 1) {
            uint32_t n = load_le32(p + 8);
            uint64_t value = load_le64(p);
            if (pad8(12 + (uint64_t)n) != end - off)
                BAD("leaf size does not match the layout");
            if (value == 0)
                BAD("leaf without a value");
            if (!load && check_value && check_value(value, ctx) != 0)
                BAD("bad value reference");
            /* The suffix starts in the second word, after the length. */
            if (utf8 &&
                (fr.utf8 || !words_ascii(p + 8, (end - off) / 8 - 1,
                                         ~(uint64_t)0 << 32)) &&
                utf8_run(fr.utf8, p + 12, n) != 0)
                BAD("a key is not valid UTF-8");
            if (++keys > h->count)
                BAD("more keys than the header says");
            if (fr.key_len + n > longest)
                longest = fr.key_len + n;
            end = off;
            if (load && on_value && on_value((void **)(void *)p, ctx) != 0) {
                err = ART_ECALLBACK;
                goto done;
            }
            continue;
        }
        uint8_t type = p[0];
        uint32_t plen = load_le32(p + 4);
        if (type == ART_BUCKET_TYPE) {
            art_bucket *b = (art_bucket *)(void *)p;
            if (h->version < 3)
                BAD("bucket in a version 2 file");
            if (b->spare || b->spare_words)
                BAD("bucket with spare room");
            if (art_bucket_bytes(b) != end - off)
                BAD("bucket size does not match the layout");
            const char *msg = art_bucket_check(b, (size_t)(end - off));
            if (msg)
                BAD(msg);
            if (b->count == 0)
                BAD("empty bucket");
            void **values = art_bucket_values(b);
            /* Suffixes all ASCII below a character boundary need no
               check each (the padding after them is zero). */
            const int check_utf8 =
                utf8 &&
                (fr.utf8 || !words_ascii(art_bucket_keys(b),
                                         pad8(b->key_bytes) / 8, ~(uint64_t)0));
            for (unsigned i = 0; i < b->count; i++) {
                size_t n;
                const uint8_t *sfx = art_bucket_suffix(b, i, &n);
                if (n > ART_BUCKET_MAX_KEY_BYTES / 4)
                    BAD("suffix too long for a bucket");
                if (n > bucket_suffix)
                    bucket_suffix = n;
                if (fr.key_len + n > longest)
                    longest = fr.key_len + n;
                if (check_utf8 && utf8_run(fr.utf8, sfx, n) != 0)
                    BAD("a key is not valid UTF-8");
                uint64_t value;
                memcpy(&value, &values[i], 8);
                if (!load && check_value && check_value(value, ctx) != 0)
                    BAD("bad value reference");
            }
            if (b->count > bucket_count)
                bucket_count = b->count;
            if (b->key_bytes > bucket_bytes)
                bucket_bytes = b->key_bytes;
            end = off;
            /* Each slot once the whole bucket has passed, counted as a
               leaf's is. */
            for (unsigned i = 0; i < b->count; i++) {
                if (++keys > h->count)
                    BAD("more keys than the header says");
                if (load && on_value && on_value(&values[i], ctx) != 0) {
                    err = ART_ECALLBACK;
                    goto done;
                }
            }
            continue;
        }
        if (type >= ART_NODE_KINDS || !valid_shape(type, p[1]))
            BAD("inner node of unknown kind or size");
        if (node_size(type, p[1], plen) != end - off)
            BAD("node size does not match the layout");
        art_node *n = (art_node *)(void *)p;
        /* The slot, when there is one, is the node's last 8 bytes. */
        uint8_t *slot_at = p + (end - off) - 8;
        uint64_t value = (p[1] & NODE_SLOT) ? load_le64(slot_at) : 0;
        if ((p[1] & NODE_SLOT) && value == 0)
            BAD("empty value slot");
        const char *msg = art__check_node(n);
        if (msg)
            BAD(msg);
        uint64_t at = fr.key_len + plen;
        const uint8_t *prefix = node_prefix(n);
        uint32_t st = utf8 && (fr.utf8 || !words_ascii(prefix, pad8(plen) / 8,
                                                       ~(uint64_t)0))
                          ? utf8_run(fr.utf8, prefix, plen)
                          : 0;
        if (st == UTF8_BAD)
            BAD("a key is not valid UTF-8");
        if (value) {
            if (!load && check_value && check_value(value, ctx) != 0)
                BAD("bad value reference");
            if (st != 0)
                BAD("a key is not valid UTF-8");
            keys++;
            if (at > longest)
                longest = at;
        }
        if (fr.depth + 1 > depth)
            depth = fr.depth + 1;
        if (keys > h->count)
            BAD("more keys than the header says");
        end = off;
        /* Children in key order: the last one is checked first. */
        int pos = 0, b;
        uintptr_t *slot;
        while (next_child(n, &pos, &b, &slot)) {
            uint32_t cst = 0;
            if (utf8 && (st != 0 || b >= 0x80) &&
                (cst = utf8_step(st, (uint8_t)b)) == UTF8_BAD)
                BAD("a key is not valid UTF-8");
            rframe *c = todo.len < todo.cap ? (rframe *)todo.items + todo.len++
                                            : stack_push(t, &todo);
            if (c == NULL)
                goto nomem;
            *c = (rframe){*slot, at + 1, fr.depth + 1, cst};
            if (load)
                *slot += base;
        }
        if (load && value && on_value &&
            on_value((void **)(void *)slot_at, ctx) != 0) {
            err = ART_ECALLBACK;
            goto done;
        }
    }
    if (end != start)
        BAD("nodes section holds objects outside the tree");
    if (keys != h->count)
        BAD("key count does not match the header");
    if (longest != h->max_key_len)
        BAD("longest key does not match the header");

    /* A walk stack for foreach, stats, validate and copies. */
    size_t cap = (size_t)depth + 1;
    size_t bound = h->count < h->max_key_len + 1 ? (size_t)h->count
                                                 : (size_t)h->max_key_len + 1;
    if (bound > cap)
        cap = bound;
    t->walk = art__malloc(t, cap * sizeof(art_walk_frame));
    if (t->walk == NULL)
        goto nomem;
    t->walk_cap = cap;
    if (bucket_count) {
        /* Limits that every bucket of the file keeps to, and no lower
           than the tree's own: they decide only when inserts burst. */
        uint64_t keys_at = t->bucket_keys, bytes_at = t->bucket_bytes;
        if (keys_at < bucket_count)
            keys_at = bucket_count < 2 ? 2 : bucket_count;
        if (bytes_at < bucket_bytes)
            bytes_at = bucket_bytes;
        if (bytes_at < 4 * bucket_suffix)
            bytes_at = 4 * bucket_suffix;
        if (bytes_at < 16)
            bytes_at = 16;
        if (bytes_at > ART_BUCKET_MAX_KEY_BYTES)
            bytes_at = ART_BUCKET_MAX_KEY_BYTES;
        t->bucket_keys = (uint32_t)keys_at;
        t->bucket_bytes = (uint32_t)bytes_at;
    }
    t->root = h->root ? (uintptr_t)h->root + base : 0;
    t->size = (size_t)h->count;
    t->bytes = (size_t)h->nodes_size;
    t->max_key_len = (size_t)h->max_key_len;
    if (load) {
        /* Pointers throughout now: an ordinary tree, owning the block. */
        art__alloc_adopt(t, nodes, t->bytes);
        t->version = 1;
    } else {
        t->base = base;
    }
    goto done;
nomem:
    err = ART_ENOMEM;
done:
    art__free(todo.items);
    if (err != ART_OK) {
        art__free(t->walk);
        long countdown = t->fail_countdown;
        art_tree_init(t);
        t->fail_countdown = countdown;
    }
    return err;
#endif
}

int art_file_open_nodes(art_tree *t, const art_file_header *h,
                        const uint8_t *nodes, unsigned options,
                        art_check_fn check_value, void *ctx, const char **why)
{
    art_tree_init(t);
    /* Only read: the cast serves the pass that loading shares. */
    return open_nodes(t, h, (uint8_t *)(uintptr_t)nodes, options, 0,
                      check_value, NULL, ctx, why);
}

int art_file_open(art_tree *t, const uint8_t *file, size_t len,
                  unsigned options, art_check_fn check_value, void *ctx,
                  art_file_header *h, const char **why)
{
    const char *ignored;
    if (why == NULL)
        why = &ignored;
    art_tree_init(t);
    if ((uintptr_t)file % 8) {
        *why = "file not 8-byte aligned in memory";
        return ART_EINVAL;
    }
    int err = art_file_read_header(file, len, h, why);
    if (err != ART_OK)
        return err;
    if ((options & ART_FILE_VERIFY_CHECKSUM) &&
        art_file_checksum(file, len) != h->checksum) {
        *why = "checksum mismatch: the file is damaged";
        return ART_EFORMAT;
    }
    return art_file_open_nodes(t, h, file + ART_FILE_HEADER_SIZE, options,
                               check_value, ctx, why);
}

void art_file_close(art_tree *t)
{
    art__free(t->walk);
    art_tree_init(t);
}

/* ------------------------------------------------------------------ */
/* Loading a nodes section as an in-memory tree                        */
/* ------------------------------------------------------------------ */

void *art_file_buffer(size_t n)
{
    art_tree scratch;
    art_tree_init(&scratch);
    return art__malloc_big(&scratch, n ? n : 8);
}

void art_file_buffer_free(void *buffer)
{
    art__free(buffer);
}

int art_file_load(art_tree *dst, const art_file_header *h, void *buffer,
                  unsigned options, art_slot_fn on_value, void *ctx,
                  const char **why)
{
    return open_nodes(dst, h, buffer, options, 1, NULL, on_value, ctx, why);
}
