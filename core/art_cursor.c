/*
 * art_cursor.c -- cursors (art.h): positions in key order with a stack of
 * the inner nodes above them, moved by seeks and steps, optionally
 * guarded (the fuzzy search prunes its walk that way).
 */
#include "art.h"

#include <string.h>

#include "art_internal.h"

/* ------------------------------------------------------------------ */
/* Cursors                                                             */
/* ------------------------------------------------------------------ */

void art_cursor_init(art_cursor *c, art_tree *t)
{
    memset(c, 0, sizeof(*c));
    c->tree = t;
    c->version = t->version;
}

void art_cursor_free(art_cursor *c)
{
    art__free(c->frames);
    art__free(c->key);
    art__free(c->scratch);
    c->frames = NULL;
    c->key = c->scratch = NULL;
    c->frames_cap = c->key_cap = c->scratch_cap = 0;
    c->depth = c->key_len = 0;
    c->at = 0;
}

/*
 * Cursor walks visit siblings one after another, and in a tree built in
 * random order each sibling is a cache miss somewhere else in memory.
 * The children of a small node are all fetched when the walk enters it
 * (push_node); in a wide node, stepping to child b fetches the next
 * PREFETCH_AHEAD children in the walk's direction, which overlaps those
 * misses with the caller's work on the current key.
 */
#define PREFETCH_AHEAD 4

static void prefetch_siblings(art_node *n, int b, int forward, uintptr_t base)
{
    int step = forward ? 1 : -1, found = 0;
    if (n->type == ART_NODE48) {
        uint8_t *index = n48_index(n);
        for (int j = b + step; j >= 0 && j < 256 && found < PREFETCH_AHEAD &&
                               (j - b) * step <= 32;
             j += step)
            if (index[j]) {
                ART_PREFETCH((n48_children(n)[index[j] - 1] & ~(uintptr_t)1) +
                             base);
                found++;
            }
    } else if (n->type == ART_NODE256) {
        uintptr_t *ch = n256_children(n);
        for (int j = b + step; j >= 0 && j < 256 && found < PREFETCH_AHEAD &&
                               (j - b) * step <= 32;
             j += step)
            if (ch[j]) {
                ART_PREFETCH((ch[j] & ~(uintptr_t)1) + base);
                found++;
            }
    }
}

static int cursor_fail(art_cursor *c)
{
    c->at = 0;
    c->depth = 0;
    return ART_ENOMEM;
}

static int key_append(art_cursor *c, const uint8_t *p, size_t n)
{
    if (c->key_len + n > c->key_cap &&
        art__grow(c->tree, (void **)&c->key, &c->key_cap, c->key_len + n, 1) <
            0)
        return ART_ENOMEM;
    if (n)
        memcpy(c->key + c->key_len, p, n);
    c->key_len += n;
    return ART_OK;
}

/* Appends one byte: a child's, on every step. */
static inline int key_push(art_cursor *c, uint8_t byte)
{
    if (c->key_len < c->key_cap) {
        c->key[c->key_len++] = byte;
        return ART_OK;
    }
    return key_append(c, &byte, 1);
}

static void key_truncate(art_cursor *c, size_t n)
{
    c->key_len = n;
    if (n < c->changed_from)
        c->changed_from = n;
}

/* A new frame on top of the stack for node (an inner node or a bucket)
   whose bytes start at the key's current length, or NULL. */
static art_cursor_frame *push_frame(art_cursor *c, void *node, int pos)
{
    if (c->depth == c->frames_cap &&
        art__grow(c->tree, (void **)&c->frames, &c->frames_cap, c->depth + 1,
                  sizeof(art_cursor_frame)) < 0)
        return NULL;
    art_cursor_frame *f = &c->frames[c->depth++];
    f->node = node;
    f->depth = c->key_len;
    f->byte = -1;
    f->pos = pos;
    return f;
}

/* Pushes inner node n and appends its prefix to the key. */
static int push_node(art_cursor *c, art_node *n)
{
    if (push_frame(c, n, -1) == NULL)
        return ART_ENOMEM;
    if (n->type <= ART_NODE16) {
        /* A walk visits a small node's children one after another, each
           likely a cache miss somewhere else in memory (more so in a tree
           built in random order): start fetching them all at once. */
        uintptr_t *ch = small_children(n);
        for (int i = 0; i < n->num_children; i++)
            ART_PREFETCH((ch[i] & ~(uintptr_t)1) + c->tree->base);
    }
    return key_append(c, node_prefix(n), n->prefix_len);
}

/* What settle() returns when a guard passed over everything below the
   node it started from: the caller goes on stepping from there. */
#define PASSED_OVER 2

/*
 * Buckets.  A bucket on the path is a frame too: its depth is the key
 * offset where its suffixes start, its pos the entry the cursor is on
 * (the position is then TAG_NODE(bucket)).  Neighbouring suffixes share
 * art_bucket_common() bytes, which a guarded step keeps in the key, so
 * that changed_from tells a fuzzy search how many of its rows still hold;
 * an unguarded step rewrites the whole suffix (changed_from then says
 * only that the key may differ from the bucket's depth on).
 */
static inline int frame_is_bucket(const art_cursor_frame *f)
{
    return ((const art_node *)f->node)->type == ART_BUCKET_TYPE;
}

static int push_bucket(art_cursor *c, art_bucket *b)
{
    return push_frame(c, b, 0) ? ART_OK : ART_ENOMEM;
}

/* Puts the cursor on entry i of the bucket on top, whose first keep bytes
   the key already holds (after the frame's depth). */
static int bucket_at(art_cursor *c, unsigned i, size_t keep)
{
    art_cursor_frame *f = &c->frames[c->depth - 1];
    art_bucket *b = f->node;
    size_t len;
    const uint8_t *s = art_bucket_suffix(b, i, &len);
    key_truncate(c, f->depth + keep);
    if (key_append(c, s + keep, len - keep) < 0)
        return cursor_fail(c);
    f->pos = (int)i;
    c->at = TAG_NODE(b);
    return 1;
}

/*
 * The first entry after i whose suffix does not start with the first m
 * bytes of suffix i followed, when limit < 256, by a byte below limit.
 * The entries passed over are contiguous (the suffixes are sorted), and a
 * fuzzy search's runs are short, so a scan of neighbours that compares m
 * bytes each beats a binary search that compares whole suffixes.
 */
static unsigned bucket_run_end(const art_bucket *b, unsigned i, size_t m,
                               int limit)
{
    const uint16_t *ends = art_bucket_ends(b);
    const uint8_t *keys = art_bucket_keys(b);
    const uint8_t *s = keys + (i ? ends[i - 1] : 0);
    unsigned j = i + 1, n = b->count;
    /* Entry j runs from the end of entry j - 1 to ends[j]. */
    for (size_t start = ends[i]; j < n; start = ends[j++]) {
        size_t lj = (size_t)ends[j] - start;
        const uint8_t *sj = keys + start;
        if (lj < m || (limit < 256 && (lj == m || sj[m] >= limit)) ||
            !same_bytes(sj, s, m))
            break;
    }
    return j;
}

/*
 * Moves forward to the first entry from i on, in the bucket on top, that
 * the guard accepts (keep as for bucket_at).  The guard is asked about
 * the first byte in which an entry differs from the one before it; a
 * refusal passes over every entry sharing that byte, and a raised *next
 * over those whose byte there is below it (bucket_run_end).  Returns 1,
 * PASSED_OVER with the bucket's frame popped when it refuses them all,
 * or an error code.
 */
static int bucket_forward(art_cursor *c, unsigned i, size_t keep)
{
    art_cursor_frame *f = &c->frames[c->depth - 1];
    art_bucket *b = f->node;
    unsigned n = b->count;
    while (c->guard && i < n) {
        size_t len;
        const uint8_t *s = art_bucket_suffix(b, i, &len);
        if (len == keep)
            break; /* the empty suffix first: no new byte to ask about */
        key_truncate(c, f->depth + keep);
        if (key_push(c, s[keep]) < 0)
            return cursor_fail(c);
        int next = s[keep] + 1;
        int g = c->guard(c->guard_ctx, c, &next);
        if (g == 1) {
            /* The key holds the byte the guard judged: the rest follows,
               and changed_from stays where the guard left it. */
            if (key_append(c, s + keep + 1, len - keep - 1) < 0)
                return cursor_fail(c);
            f->pos = (int)i;
            c->at = TAG_NODE(b);
            return 1;
        }
        if (g < 0) {
            cursor_fail(c);
            return g;
        }
        /* next >= s[keep] + 1: every entry sharing s[0..keep] goes too. */
        unsigned j = bucket_run_end(b, i, keep, next > 255 ? 256 : next);
        key_truncate(c, f->depth + keep);
        if (j >= n) {
            i = n;
            break;
        }
        keep = art_bucket_common(b, j);
        i = j;
    }
    if (i >= n) {
        c->depth--;
        return PASSED_OVER;
    }
    return bucket_at(c, i, keep);
}

/*
 * Steps into child p, whose byte is already appended: a leaf becomes the
 * position (1); a bucket is pushed and its first entry the guard accepts
 * (forward) or its last becomes the position (1, or PASSED_OVER); an
 * inner node is pushed with its prefix (0), for the caller to settle in.
 * ART_ENOMEM leaves the cursor unpositioned.
 */
static int enter_child(art_cursor *c, uintptr_t p, int forward)
{
    if (IS_LEAF(p)) {
        art_leaf *l = AS_LEAF(p);
        if (key_append(c, l->suffix, l->len) < 0)
            return cursor_fail(c);
        c->at = p;
        return 1;
    }
    if (is_bucket(p)) {
        art_bucket *b = AS_BUCKET(p);
        if (push_bucket(c, b) < 0)
            return cursor_fail(c);
        return forward ? bucket_forward(c, 0, 0)
                       : bucket_at(c, b->count - 1u, 0);
    }
    if (push_node(c, AS_NODE(p)) < 0)
        return cursor_fail(c);
    return 0;
}

/*
 * Finds the first child of n at byte >= from that the cursor's guard
 * accepts, and appends its byte to the key (base bytes long before).  The
 * guard may tell it to jump ahead past bytes it would refuse.
 * Returns 1 with *b and *child set, 0 when there is none (the key is back
 * to base bytes), or an error code.
 */
static int child_accepted(art_cursor *c, art_node *n, int from, size_t base,
                          int *b, uintptr_t *child)
{
    if (c->guard == NULL) {
        if ((*b = child_ge(n, from, child)) < 0)
            return 0;
        return key_push(c, (uint8_t)*b) < 0 ? ART_ENOMEM : 1;
    }
    while ((*b = child_ge(n, from, child)) >= 0) {
        if (key_push(c, (uint8_t)*b) < 0)
            return ART_ENOMEM;
        from = *b + 1;
        int g = c->guard(c->guard_ctx, c, &from);
        if (g == 1)
            return 1;
        key_truncate(c, base);
        if (g < 0)
            return g;
        if (from <= *b)
            from = *b + 1;
    }
    *b = -1;
    return 0;
}

/*
 * From the node on top of the stack (pushed, prefix appended), goes down
 * to its smallest key (forward) or its largest (backward).  Returns 1, an
 * error code (the cursor unpositioned), or PASSED_OVER when the guard
 * refused every key below the node (its frame is left with byte 255, so
 * that step() moves on past it).
 */
static int settle(art_cursor *c, int forward)
{
    while (1) {
        art_cursor_frame *f = &c->frames[c->depth - 1];
        art_node *n = f->node;
        uintptr_t child;
        int b;
        if (forward && node_value(n)) {
            f->byte = -1;
            c->at = TAG_NODE(n);
            return 1;
        }
        if (forward) {
            int r = child_accepted(c, n, 0, c->key_len, &b, &child);
            if (r < 0) {
                cursor_fail(c);
                return r;
            }
            if (r == 0) {
                f->byte = 255;
                return PASSED_OVER;
            }
        } else {
            b = child_le(n, 255, &child);
            if (b < 0) {
                f->byte = -1;
                c->at = TAG_NODE(n);
                return 1;
            }
            if (key_push(c, (uint8_t)b) < 0)
                return cursor_fail(c);
        }
        child += c->tree->base;
        f->byte = b;
        /* Unguarded, a small node's first child is at position 0. */
        f->pos = forward && c->guard == NULL && n->type <= ART_NODE16 ? 0 : -1;
        int r = enter_child(c, child, forward);
        if (r != 0)
            return r;
    }
}

/* Goes down from child p (its byte already appended) to an extreme key. */
static int descend(art_cursor *c, uintptr_t p, int forward)
{
    int r = enter_child(c, p, forward);
    return r != 0 ? r : settle(c, forward);
}

/*
 * The position in Node4/16 n of the child after the one frame f is on,
 * when an unguarded forward step can go by position (-1 when it cannot):
 * the common step, without a search of the keys.
 */
static inline int next_pos(const art_cursor *c, const art_cursor_frame *f,
                           art_node *n)
{
    if (c->guard || n->type > ART_NODE16)
        return -1;
    if (f->byte < 0)
        return 0;
    if (f->pos >= 0 && f->pos < n->num_children &&
        small_keys(n)[f->pos] == f->byte)
        return f->pos + 1;
    return -1;
}

/*
 * Moves to the next key (forward) or the previous one from the position
 * recorded in the stack: the top frame's byte says which child (or -1,
 * the value slot) the cursor is in.
 */
static int step(art_cursor *c, int forward)
{
    while (c->depth > 0) {
        art_cursor_frame *f = &c->frames[c->depth - 1];
        if (frame_is_bucket(f)) {
            art_bucket *bk = f->node;
            unsigned i = (unsigned)f->pos;
            /* Finding the shared bytes costs more than copying them:
               only a guarded walk, which reads changed_from, pays it. */
            if (forward && i + 1 < bk->count) {
                int r = bucket_forward(
                    c, i + 1, c->guard ? art_bucket_common(bk, i + 1) : 0);
                if (r != PASSED_OVER)
                    return r;
                continue; /* popped: on in the parent */
            }
            if (!forward && i > 0)
                return bucket_at(c, i - 1,
                                 c->guard ? art_bucket_common(bk, i) : 0);
            c->depth--;
            continue;
        }
        art_node *n = f->node;
        size_t base = f->depth + n->prefix_len;
        uintptr_t child;
        int b, pos = -1;
        key_truncate(c, base);
        if (forward && (pos = next_pos(c, f, n)) >= 0) {
            b = -1;
            if (pos < n->num_children) {
                b = small_keys(n)[pos];
                child = small_children(n)[pos];
                if (key_push(c, (uint8_t)b) < 0)
                    return cursor_fail(c);
            }
        } else if (forward) {
            int r = child_accepted(c, n, f->byte + 1, base, &b, &child);
            if (r < 0) {
                cursor_fail(c);
                return r;
            }
        } else {
            if (f->byte < 0) {
                c->depth--;
                continue;
            }
            b = child_le(n, f->byte - 1, &child);
            if (b < 0 && node_value(n)) {
                f->byte = -1;
                c->at = TAG_NODE(n);
                return 1;
            }
            if (b >= 0) {
                if (key_push(c, (uint8_t)b) < 0)
                    return cursor_fail(c);
            }
        }
        if (b >= 0) {
            f->byte = b;
            f->pos = pos;
            child += c->tree->base;
            prefetch_siblings(n, b, forward, c->tree->base);
            int r = descend(c, child, forward);
            if (r != PASSED_OVER)
                return r;
            continue; /* the guard refused all below the child */
        }
        c->depth--;
    }
    c->at = 0;
    return 0;
}

/* Finishes a move that went down with descend() or settle(). */
static int go_on(art_cursor *c, int r, int forward)
{
    return r == PASSED_OVER ? step(c, forward) : r;
}

static void cursor_reset(art_cursor *c)
{
    c->depth = 0;
    c->key_len = 0;
    c->changed_from = 0;
    c->at = 0;
    c->version = c->tree->version;
}

int art_cursor_first(art_cursor *c)
{
    cursor_reset(c);
    if (c->tree->root == 0)
        return 0;
    return go_on(c, descend(c, c->tree->root, 1), 1);
}

int art_cursor_last(art_cursor *c)
{
    cursor_reset(c);
    if (c->tree->root == 0)
        return 0;
    return descend(c, c->tree->root, 0);
}

int art_cursor_seek(art_cursor *c, const uint8_t *key, size_t len,
                    art_seek_mode mode)
{
    int forward = mode == ART_SEEK_GE || mode == ART_SEEK_GT;
    int strict = mode == ART_SEEK_GT || mode == ART_SEEK_LT;
    key = NONNULL_KEY(key);
    uintptr_t p = c->tree->root;
    size_t d = 0;
    cursor_reset(c);
    if (p == 0)
        return 0;
    while (1) {
        if (is_bucket(p)) {
            art_bucket *bk = AS_BUCKET(p);
            int exact;
            if (push_bucket(c, bk) < 0)
                return cursor_fail(c);
            long i = art_bucket_lower_bound(bk, key + d, len - d, &exact);
            if (mode == ART_SEEK_GT)
                i += exact;
            else if (mode == ART_SEEK_LT || (mode == ART_SEEK_LE && !exact))
                i--;
            if (i >= 0 && i < (long)bk->count)
                return bucket_at(c, (unsigned)i, 0);
            c->depth--;
            return step(c, forward);
        }
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            int cmp = art_key_compare(l->suffix, l->len, key + d, len - d);
            if (key_append(c, l->suffix, l->len) < 0)
                return cursor_fail(c);
            c->at = p;
            if (cmp == 0 ? !strict : (forward ? cmp > 0 : cmp < 0))
                return 1;
            return step(c, forward);
        }
        art_node *n = AS_NODE(p);
        size_t plen = n->prefix_len, rem = len - d;
        size_t m = common_len(node_prefix(n), plen, key + d, rem);
        if (push_node(c, n) < 0)
            return cursor_fail(c);
        art_cursor_frame *f = &c->frames[c->depth - 1];
        if (m < plen) {
            /* The target leaves the prefix, or ends inside it (and is
               then smaller than every key below n). */
            int below = m < rem && key[d + m] < node_prefix(n)[m];
            if (m == rem || below) {
                if (forward)
                    return go_on(c, settle(c, 1), 1);
            } else if (!forward) {
                return settle(c, 0);
            }
            c->depth--;
            return step(c, forward);
        }
        d += plen;
        if (d == len) {
            /* The target is n's own key; all else below n is greater. */
            if (node_value(n) && !strict) {
                c->at = TAG_NODE(n);
                return 1;
            }
            if (forward)
                return step(c, 1); /* frame byte -1: first child */
            c->depth--;
            return step(c, 0);
        }
        uint8_t want = key[d];
        uintptr_t child;
        int b = forward ? child_ge(n, want, &child) : child_le(n, want, &child);
        if (b < 0) {
            if (!forward && node_value(n)) {
                c->at = TAG_NODE(n);
                return 1;
            }
            c->depth--;
            return step(c, forward);
        }
        uint8_t byte = (uint8_t)b;
        f->byte = b;
        child += c->tree->base;
        if (key_append(c, &byte, 1) < 0)
            return cursor_fail(c);
        if (b != want)
            return go_on(c, descend(c, child, forward), forward);
        p = child;
        d++;
    }
}

/* Re-seeks from the cursor's own key after the tree changed. */
static int reseek(art_cursor *c, art_seek_mode mode)
{
    size_t len = c->key_len;
    if (art__grow(c->tree, (void **)&c->scratch, &c->scratch_cap, len ? len : 1,
                  1) < 0)
        return cursor_fail(c);
    if (len)
        memcpy(c->scratch, c->key, len);
    return art_cursor_seek(c, c->scratch, len, mode);
}

int art_cursor_next(art_cursor *c)
{
    if (c->at == 0)
        return art_cursor_first(c);
    if (c->version != c->tree->version)
        return reseek(c, ART_SEEK_GT);
    c->changed_from = c->key_len;
    return step(c, 1);
}

int art_cursor_prev(art_cursor *c)
{
    if (c->at == 0)
        return art_cursor_last(c);
    if (c->version != c->tree->version)
        return reseek(c, ART_SEEK_LT);
    c->changed_from = c->key_len;
    return step(c, 0);
}

int art_cursor_skip(art_cursor *c, size_t n)
{
    if (c->at == 0)
        return 0;
    c->changed_from = c->key_len;
    while (c->depth > 0) {
        art_cursor_frame *f = &c->frames[c->depth - 1];
        if (frame_is_bucket(f)) {
            art_bucket *bk = f->node;
            if (f->depth >= n) {
                c->depth--;
                continue;
            }
            unsigned j =
                bucket_run_end(bk, (unsigned)f->pos, n - f->depth, 256);
            if (j < bk->count) {
                int r = bucket_forward(c, j, art_bucket_common(bk, j));
                if (r != PASSED_OVER)
                    return r;
            } else {
                c->depth--;
            }
            return step(c, 1);
        }
        art_node *node = f->node;
        /* A node whose prefix reaches offset n lies wholly inside the
           skipped range; otherwise the range is the child we are in. */
        if (f->depth + node->prefix_len >= n) {
            c->depth--;
            continue;
        }
        return step(c, 1);
    }
    c->at = 0;
    return 0;
}

void *art_cursor_value(const art_cursor *c)
{
    if (c->at == 0)
        return NULL;
    if (IS_LEAF(c->at))
        return AS_LEAF(c->at)->value;
    if (is_bucket(c->at))
        return art_bucket_values(AS_BUCKET(c->at))[c->frames[c->depth - 1].pos];
    return node_value(AS_NODE(c->at));
}
