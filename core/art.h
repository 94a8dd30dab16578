/*
 * art.h -- an adaptive radix tree over byte-string keys, in plain C11.
 *
 * Design
 * ------
 * The tree follows Leis, Kemper and Neumann, "The Adaptive Radix Tree:
 * ARTful Indexing for Main-Memory Databases" (ICDE 2013): inner nodes come
 * in four sizes (4, 16, 48 and 256 children) and grow or shrink as children
 * come and go; a chain of single-child nodes is collapsed into a prefix
 * stored in the node (path compression, kept "pessimistically": every
 * prefix byte is stored, so no key is ever re-read from a leaf); and a key
 * whose subtree holds only itself is a leaf hung directly below the node
 * where it branches off (lazy expansion).
 *
 * Three departures from the paper, for memory and for keys that are
 * prefixes of other keys:
 *
 *  - A leaf stores only the part of its key below its parent (the
 *    "suffix"), never the whole key.  The full key is the concatenation of
 *    the prefixes and child bytes on the path from the root, then the
 *    leaf's suffix.  Lookups compare as they descend; cursors rebuild keys
 *    in their own buffer as they walk.
 *  - An inner node can hold a value for the key that ends exactly at that
 *    node (after its prefix), in a slot it gets when such a key is first
 *    inserted.  "key", "key1" and "key123" are three independent keys; no
 *    terminator byte is reserved, so every byte value, 0x00 and 0xFF
 *    included, may appear anywhere in a key, and the empty key is an
 *    ordinary key.
 *  - Node4 and Node16 come in two sizes each, with room for 2 or 4 and 8
 *    or 16 children: most inner nodes of a large tree branch two ways.
 *
 * Keys are ordered bytewise (unsigned, shorter before longer on a common
 * prefix), which is the order of memcmp and, for UTF-8, of code points.
 *
 * Nothing in the library recurses on the shape of the data: insert, delete,
 * search, copy, destroy, validation and cursors all use loops with
 * explicit stacks, so a key of a million bytes, each a prefix of the next,
 * is handled like any other.
 *
 * Ownership and errors
 * --------------------
 * Values are opaque non-NULL pointers owned by the caller; the tree stores
 * and returns them and never dereferences them.  Keys are copied into the
 * tree; the caller's key buffer is never retained.
 *
 * Functions that can allocate return ART_OK (0) or a positive result on
 * success and a negative ART_E* code on failure.  On ART_ENOMEM the tree is
 * exactly as it was before the call: every allocation an operation needs is
 * made before anything is linked in or unlinked.
 *
 * Not thread-safe: callers serialise all access to one tree (the Python
 * binding relies on the GIL).
 */
#ifndef BLART_ART_H
#define BLART_ART_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Return codes.  ART_EINVAL is a call the tree cannot take: a NULL value,
 * a key longer than ART_MAX_KEY_LEN, a change to a tree opened from a file
 * (read-only), or a file this machine cannot use (not 8-byte aligned in
 * memory, or the format not supported here: ART_FILE_SUPPORTED is 0).
 */
#define ART_OK        0
#define ART_ENOMEM    (-1) /* an allocation failed; the tree is unchanged */
#define ART_EINVAL    (-2) /* a call the tree cannot take (above) */
#define ART_EFORMAT   (-3) /* a file is malformed (art_file_open) */
#define ART_ECALLBACK (-4) /* a caller's callback reported a failure */
#define ART_EAGAIN    (-5) /* not finished yet: call again (art_fuzzy_next) */

/* Longest key the tree accepts: lengths are stored in 32 bits. */
#define ART_MAX_KEY_LEN ((size_t)UINT32_MAX)

/* Node kinds, as reported by art_stats(). */
enum { ART_NODE4 = 0, ART_NODE16, ART_NODE48, ART_NODE256, ART_NODE_KINDS };

/* One level of a walk over the tree (used by foreach, copy, validate). */
typedef struct art_walk_frame {
    uintptr_t node; /* tagged child pointer */
    int next;       /* next child position to visit */
} art_walk_frame;

/*
 * The allocator's state: free lists and pages of the slabs that nodes and
 * leaves are carved from, and the block a loaded file handed over.  Its
 * layout is art_alloc.c's alone; this only reserves room for it, so that
 * a tree stays a plain value: embedded by its owner, emptied by
 * art_tree_init() and moved by art_tree_move() without calls into the
 * allocator, and never allocated apart.
 */
typedef union art_alloc {
    void *align_pointer;
    uint64_t align_integer;
    unsigned char space[72 * sizeof(void *)];
} art_alloc;

/*
 * The tree.  Treat every field as read-only outside the core, except
 * fail_countdown, which tests may set.
 */
typedef struct art_tree {
    uintptr_t root; /* tagged pointer: 0 (empty), a leaf or an inner node */
    /* Added to every child reference stored in a node to make it a
       pointer: 0 for a tree in memory, the address of the file for a
       read-only tree opened with art_file_open(), whose nodes hold file
       offsets.  root is always a pointer. */
    uintptr_t base;
    size_t size;  /* number of keys */
    size_t bytes; /* bytes in live nodes and leaves */
    /* Incremented by every change of structure (a key added or removed,
       the tree cleared or moved).  Replacing the value of an existing key
       does not count: positions stay valid across it. */
    uint64_t version;
    /* A walk stack deep enough for the deepest path the tree has ever had,
       so that art_foreach() never allocates. */
    art_walk_frame *walk;
    size_t walk_cap;
    size_t max_key_len; /* longest key ever inserted since the last clear */
    art_alloc alloc;    /* where nodes and leaves come from */
    size_t reserved;    /* bytes of pages, of large blocks and of the arena */
    /* Testing: when > 0, counts down on every allocation made for this
       tree or for a cursor on it; the allocation that brings it to 0
       fails.  0 disables injection. */
    long fail_countdown;
    /* Bucket nodes (art_tree_set_buckets): at most bucket_keys suffixes
       and bucket_bytes bytes of them in one; 0 keys: no buckets. */
    uint32_t bucket_keys, bucket_bytes;
} art_tree;

/* Called once for each value when a tree is destroyed. */
typedef void (*art_value_fn)(void *value, void *ctx);
/* Called for each value by art_foreach(); a non-zero return stops the
   walk and is returned by art_foreach(). */
typedef int (*art_visit_fn)(void *value, void *ctx);

/*
 * Number of blocks allocated by the library and not yet freed, over all
 * trees, cursors and searches: a leak check for tests.
 */
size_t art_live_allocations(void);

/*
 * The tree's key order: negative, 0 or positive as a[0..na) sorts before,
 * equal to or after b[0..nb) (bytewise, a prefix before its extensions).
 */
int art_key_compare(const uint8_t *a, size_t na, const uint8_t *b, size_t nb);

/* Makes an empty tree.  Never fails.  It holds buckets of up to
   ART_DEFAULT_BUCKET_KEYS (64) suffixes and ART_DEFAULT_BUCKET_BYTES (2048)
   bytes of them, the limits the sweep in docs/buckets.md chose; a core
   built with ART_DEFAULT_BUCKET_KEYS=0 makes the plain ART by default. */
void art_tree_init(art_tree *t);

/*
 * Bucket nodes (docs/buckets.md): the bottom of the tree as blocks of up
 * to max_keys sorted key suffixes with their values and one-byte hash
 * tags, burst into an inner node with buckets below when an insert would
 * pass max_keys or max_bytes bytes of suffixes.  Suffixes longer than
 * max_bytes / 4 stay leaves.  max_keys 0 turns buckets off (the plain
 * ART); else it must be 2 .. 65535 and max_bytes 16 .. 65535.  The tree
 * must be empty and not opened from a file: ART_EINVAL otherwise.
 * Cleared and moved trees keep their limits; a copy takes its source's.
 */
int art_tree_set_buckets(art_tree *t, unsigned max_keys, size_t max_bytes);

/*
 * Frees every node and leaf, calling free_value(value, ctx) for each value
 * first if free_value is not NULL, and leaves t empty (its version bumped)
 * and reusable.  Does not allocate.  t is emptied before the first
 * callback, so a callback may use t (insert into it, clear it again): it
 * sees an empty tree, and the nodes being freed are out of its reach.
 * Uses a small, fixed amount of stack.
 */
void art_tree_clear(art_tree *t, art_value_fn free_value, void *ctx);

/*
 * Moves the contents of src into dst, which must be freshly initialised or
 * cleared.  src is left empty and its version is bumped, so cursors on it
 * re-seek (and find nothing) instead of touching the moved nodes.
 */
void art_tree_move(art_tree *dst, art_tree *src);

/*
 * Makes dst a structural copy of src (the same keys mapped to the same
 * value pointers).  dst must be empty.  src may be a tree opened with
 * art_file_open(): the copy is then an ordinary tree (art_file_load() is
 * the faster way to load a whole file).  Returns ART_OK or ART_ENOMEM, in
 * which case dst is left empty.
 */
int art_tree_copy(art_tree *dst, art_tree *src);

/*
 * Building a tree from keys in ascending order.  art_build_add() takes
 * keys in strictly ascending order and builds the tree bottom up in one
 * pass: every node is made once, at its final kind and size, when the
 * keys below it are all known, and blocks are laid out in key order, as
 * art_tree_copy() lays them out; nothing is grown, split or freed on the
 * way.  The tree is the one inserting the same keys would make.
 *
 *   art_builder b;
 *   art_build_init(&b, t);                 t empty, not from a file
 *   art_build_add(&b, key, len, value);    for each key, in order
 *   art_build_finish(&b);                  t now holds them all
 *   art_build_abort(&b);                   after an error: t as before
 *
 * Until art_build_finish() succeeds t stays empty (the blocks made so far
 * are out of its reach) and the values stay the caller's: the tree owns
 * them only once finish returns ART_OK, and abort frees blocks, never
 * values.  Errors of art_build_add(): ART_EINVAL for a NULL value, a key
 * longer than ART_MAX_KEY_LEN, a key not greater than the previous one
 * (nothing changes: the builder goes on with the next key), or a tree
 * that was not empty; ART_ENOMEM.  After ART_ENOMEM from add or finish,
 * only art_build_abort() may follow.  The fields are private.
 */
typedef struct art_build_level {
    size_t depth; /* its keys share their first depth bytes, then branch */
    size_t first; /* its first child in children[] */
    void *value;  /* of the key of length depth, or NULL */
} art_build_level;
typedef struct art_build_child {
    uintptr_t ref; /* tagged, as in a node */
    uint8_t byte;
} art_build_child;
typedef struct art_builder {
    art_tree *tree;
    uint8_t *key; /* the previous key */
    size_t key_len, key_cap;
    void *value;    /* its value */
    size_t count;   /* keys added */
    size_t longest; /* the longest of them */
    /* The subtree the next key closes, not made yet: the previous key's
       leaf, or when up_is_node a node whose children are the last ones in
       children[]. */
    art_build_level up;
    int up_is_node;
    art_build_level *levels; /* the open nodes on the previous key's path */
    size_t nlevels, levels_cap;
    art_build_child *children; /* made subtrees below them, in key order */
    size_t nchildren, children_cap;
    uintptr_t root; /* made by finish, linked once nothing can fail */
    int failed;
} art_builder;

void art_build_init(art_builder *b, art_tree *t);
int art_build_add(art_builder *b, const uint8_t *key, size_t len, void *value);
int art_build_finish(art_builder *b);
void art_build_abort(art_builder *b);

/*
 * Maps key[0..len) to value (non-NULL).  If the key was present, its old
 * value is stored in *old (when old is not NULL) and 0 is returned; the
 * structure is untouched and version is not bumped.  If the key is new,
 * *old is set to NULL and 1 is returned.  Errors: ART_EINVAL, ART_ENOMEM.
 */
int art_insert(art_tree *t, const uint8_t *key, size_t len, void *value,
               void **old);

/*
 * Returns the value stored for key[0..len), or NULL.  Never allocates.
 */
void *art_search(const art_tree *t, const uint8_t *key, size_t len);

/*
 * Returns the address of the value slot for key[0..len), or NULL when the
 * key is absent.  The slot may be overwritten with another non-NULL value;
 * the address stays valid until the next change of structure.
 */
void **art_search_slot(const art_tree *t, const uint8_t *key, size_t len);

/*
 * Removes key[0..len).  Returns 1 and stores the removed value in *old
 * (when old is not NULL) if the key was present, 0 if it was absent, or
 * ART_ENOMEM if a node had to be rebuilt smaller and the allocation failed
 * (the key then stays in the tree).
 */
int art_delete(art_tree *t, const uint8_t *key, size_t len, void **old);

/*
 * Calls visit(value, ctx) for every value in key order, without
 * allocating.  Stops early and returns the callback's result when it is
 * non-zero; returns 0 otherwise.  The callback must not modify t.
 */
int art_foreach(const art_tree *t, art_visit_fn visit, void *ctx);

/*
 * Looks for keys of t that are prefixes of key[0..len) (key itself
 * included).  Returns the value of the shortest such key whose length is
 * at least min_len and stores its length in *found_len, or returns NULL.
 * O(len); never allocates.
 */
void *art_prefix_at_least(const art_tree *t, const uint8_t *key, size_t len,
                          size_t min_len, size_t *found_len);

/*
 * Returns the value of the longest key of t that is a prefix of
 * key[0..len) and stores its length in *found_len, or returns NULL.
 */
void *art_longest_prefix(const art_tree *t, const uint8_t *key, size_t len,
                         size_t *found_len);

/*
 * Whether a key of length len that is a prefix of the text being matched
 * counts (art_prefix_match): non-zero to take it.
 */
typedef int (*art_accept_fn)(void *ctx, size_t len);

/*
 * The general form of the two above: the shortest (longest == 0) or the
 * longest key of t that is a prefix of key[0..len), at least min_len bytes
 * long and, when accept is not NULL, accepted by accept(ctx, its length).
 * Returns its value and stores its length in *found_len, or returns NULL.
 * One descent, O(len); never allocates; accept must not modify t.
 */
void *art_prefix_match(const art_tree *t, const uint8_t *key, size_t len,
                       size_t min_len, int longest, art_accept_fn accept,
                       void *ctx, size_t *found_len);

/* ------------------------------------------------------------------ */
/* Text scanning (art_scan.c)                                          */
/* ------------------------------------------------------------------ */
/*
 * Finds the keys of a tree inside a text: every occurrence of a stored key
 * as a substring, reported as byte offsets [start, end) into the text.  A
 * scan holds no pointer into the tree: each art_scan_next is given the
 * tree and descends it from the root at the scan's position, so the tree
 * may change between two calls and the scan goes on over the tree as it
 * is then.  Each start position costs one descent (O(longest match)); the
 * scan never allocates.
 *
 * Modes (flags):
 *  - default: leftmost-longest, non-overlapping.  From offset 0, at each
 *    start the longest key starting there is reported and the scan goes on
 *    at its end; where no key starts, it moves one character on.
 *  - ART_SCAN_OVERLAPPING: every occurrence: for each start in order, each
 *    key starting there, shortest first.
 *  - ART_SCAN_WHOLE_WORDS: a match counts only when the character before
 *    it and the one after it (where there are such) are not word
 *    characters; with leftmost-longest, the longest key that ends on such
 *    a boundary is taken.
 *  - ART_SCAN_UTF8: the text is UTF-8 (lone surrogates allowed, encoded
 *    as any code point) and a character is a code point: matches start only
 *    on code point boundaries, and word characters are judged by
 *    is_word(code point).  Without it a character is a byte.
 * is_word NULL means ASCII letters, digits and '_'.  The empty key never
 * matches.
 */
enum {
    ART_SCAN_OVERLAPPING = 1u,
    ART_SCAN_WHOLE_WORDS = 2u,
    ART_SCAN_UTF8 = 4u,
};

typedef int (*art_word_fn)(uint32_t cp);

typedef struct art_scan {
    const uint8_t *text;
    size_t len;
    size_t pos;     /* the next start to try */
    size_t min_len; /* overlapping: the next key at pos is this long or more */
    unsigned flags;
    art_word_fn is_word;
} art_scan;

/* Starts a scan of text[0..len) (the caller keeps the text alive). */
void art_scan_init(art_scan *s, const uint8_t *text, size_t len, unsigned flags,
                   art_word_fn is_word);

/*
 * The next match in t: returns 1 and stores its offsets in *start and
 * *end and its value in *value, or returns 0 when the text is exhausted
 * (and on every later call).  Starts never go backwards.
 */
int art_scan_next(art_scan *s, const art_tree *t, size_t *start, size_t *end,
                  void **value);

/* Shape of the tree, for art_stats(). */
typedef struct art_stats_t {
    size_t nodes[ART_NODE_KINDS]; /* inner nodes by kind */
    size_t leaves;                /* leaf objects */
    size_t buckets;               /* bucket nodes */
    size_t bucket_keys;           /* keys held in them */
    size_t bucket_spare;          /* bytes of their room not in use */
    size_t node_values;           /* keys stored in inner-node value slots */
    size_t max_depth;             /* inner nodes on the longest path */
    double mean_depth;            /* mean inner nodes above a key */
    size_t bytes;                 /* equals t->bytes */
} art_stats_t;

/* Fills *out.  Never allocates. */
void art_stats(const art_tree *t, art_stats_t *out);

/*
 * Checks every invariant of the tree: node kinds and child counts, sorted
 * keys in Node4/16, a consistent Node48 index, no inner node that should
 * have been merged or removed, the key count and the byte count.  Returns
 * ART_OK, or -1 with a static description in *why (when why is not NULL).
 * Never allocates.
 */
int art_validate(const art_tree *t, const char **why);

/* ------------------------------------------------------------------ */
/* Cursors                                                             */
/* ------------------------------------------------------------------ */

/*
 * A cursor is a position in key order with a stack of the inner nodes
 * above it.  It rebuilds the key at that position in its own buffer, so
 * the key stays readable whatever happens to the tree.  One cursor serves
 * forward and backward iteration, lower/upper-bound seeks and pruned walks
 * (art_cursor_skip), which is what every query of the binding is made of.
 *
 * Cursors are weakly consistent.  A step (next, prev) taken after the tree
 * changed structure re-seeks from the cursor's key: next goes to the
 * smallest key greater than it, prev to the largest smaller one, among the
 * keys present at that moment.  Only art_cursor_value() and the `at`
 * field depend on the tree being unchanged since the last move.
 *
 * A cursor's buffers come from the tree's allocator; its moves return
 * ART_ENOMEM when they cannot grow, leaving it unpositioned.
 */
typedef struct art_cursor_frame {
    void *node;   /* an inner node on the path */
    size_t depth; /* key offset where the node's prefix starts */
    int byte;     /* child byte taken below it, or -1: its own value slot */
    int pos;      /* a Node4/16's position of that child, or -1: unknown */
} art_cursor_frame;

typedef struct art_cursor {
    art_tree *tree;
    art_cursor_frame *frames;
    size_t depth, frames_cap;
    uint8_t *key; /* key at the current position: key[0..key_len) */
    size_t key_len, key_cap;
    /* Lowest key offset at which the key may differ from what it was when
       this was last reset: every move resets it to the key length before
       changing anything (a seek to 0), and a walker that has caught up may
       reset it to key_len (a guard does).  Lets a walker keep state per key
       offset, as the fuzzy search keeps its edit-distance rows. */
    size_t changed_from;
    uintptr_t at;     /* tagged: the leaf or the node (value slot) at the
                         position, or 0 when unpositioned */
    uint64_t version; /* t->version when the position was taken */
    uint8_t *scratch; /* copy of the key while re-seeking */
    size_t scratch_cap;
    /* Optional filter for pruned forward walks (NULL: none).  A forward
       move (first, next, a forward seek once off its target's path) calls
       it after appending the byte of a child it is about to step into,
       before it touches the child.  It returns 1 to step in, 0 to pass
       over the child and every key below it, or an error code <0 that
       fails the move.  When it returns 0 it may also raise *next (b + 1
       on entry, for the child's byte b) to the smallest byte of the next
       sibling worth asking about; 256 passes over all the rest.  Backward
       moves ignore it. */
    int (*guard)(void *ctx, struct art_cursor *c, int *next);
    void *guard_ctx;
} art_cursor;

/* Seek modes. */
typedef enum {
    ART_SEEK_GE, /* smallest key >= target (lower bound) */
    ART_SEEK_GT, /* smallest key >  target */
    ART_SEEK_LE, /* largest key <= target */
    ART_SEEK_LT  /* largest key <  target */
} art_seek_mode;

/* Makes an unpositioned cursor on t.  Never fails. */
void art_cursor_init(art_cursor *c, art_tree *t);
/* Frees the cursor's buffers.  The tree is untouched. */
void art_cursor_free(art_cursor *c);

/*
 * Moves.  Each returns 1 when the cursor is on a key, 0 when there is no
 * such key (the cursor is then unpositioned), or ART_ENOMEM.
 */
int art_cursor_first(art_cursor *c);
int art_cursor_last(art_cursor *c);
int art_cursor_seek(art_cursor *c, const uint8_t *key, size_t len,
                    art_seek_mode mode);
/* From an unpositioned cursor, next/prev act as first/last. */
int art_cursor_next(art_cursor *c);
int art_cursor_prev(art_cursor *c);

/*
 * Moves to the first key, in forward order, that does not start with
 * key[0..n) of the current key, where n <= key_len: all keys sharing that
 * prefix are skipped in O(1) amortised.  The cursor must be positioned on
 * an unchanged tree.
 */
int art_cursor_skip(art_cursor *c, size_t n);

/* The value at the position; the tree must be unchanged since the move. */
void *art_cursor_value(const art_cursor *c);

/* ------------------------------------------------------------------ */
/* Fuzzy search                                                        */
/* ------------------------------------------------------------------ */

/*
 * Finds, in key order, the keys within Levenshtein distance max_distance
 * (d below) of a query, or within two variants of it (flags below).  It walks a
 * cursor over the tree computing the edit-distance matrix of the query against
 * the cursor's key one row per key symbol, and skips every subtree whose row
 * minimum exceeds d, so it visits only the part of the tree near the query.
 *
 * Only a band of each row is kept: the row after i key symbols can hold a
 * value <= d only for query positions i - d .. i + d, so a row is
 * min(2d + 1, qlen + 1) counters whatever the lengths of key and query.
 * Rows are kept only where the walk may come back to: after the key
 * offsets where the cursor branched (one per inner node on its path) and
 * the newest; the rows across a long prefix or leaf suffix are computed
 * and dropped.  Memory is O(depth x band) and time O(bytes visited x
 * band), so max_distance bounds both, whatever the key and query lengths.
 *
 * Long walks are cut into slices: art_fuzzy_next() stops with ART_EAGAIN
 * after about f->slice units of work (a unit is one counter of a row, or
 * one child judged), keeping its place, so that a caller can check for
 * interrupts and call it again.
 *
 * Flags:
 *  - ART_FUZZY_UTF8: the query and the keys are UTF-8 (surrogates allowed)
 *    and distance counts code points; otherwise it counts bytes.
 *  - ART_FUZZY_TRANSPOSE: optimal string alignment distance (restricted
 *    Damerau-Levenshtein): swapping two adjacent symbols costs 1, and no
 *    substring is edited twice.  A cell may then also come from the row
 *    two symbols back, so the row before each kept row is kept as well.
 *  - ART_FUZZY_PREFIX: a key matches when some prefix of it (the empty one
 *    and the whole key included) is within d of the query, and its
 *    distance is the least over its prefixes: the least cell of the
 *    query's last column over the key's rows.  Once that is no more than
 *    the row's minimum, no row further on can lower it, so every key below
 *    is yielded without computing more rows.
 * Every variant keeps the pruning: a row's minimum never falls further
 * along the key, and a subtree is skipped once it exceeds d (and, with a
 * prefix, no prefix so far is within d).
 */
typedef struct art_fuzzy {
    art_cursor cursor;
    uint32_t *query; /* query symbols (bytes or code points) */
    size_t qlen;
    uint32_t max_distance;
    int utf8, transpose, prefix; /* the flags (ART_FUZZY_*) */
    /*
     * Rows, nrows of them at increasing key offsets (the first: the empty
     * key), row_size counters each: the key offset, the symbol count i,
     * the row's minimum, whether the row is kept when the next one is
     * computed, the key symbol it took, the least last-column cell over
     * it and the rows before it (prefix mode), then the band: the cells of
     * query positions base .. base + band - 1, base = i - d clamped to [0, qlen
     * + 1 - band].
     */
    uint32_t *rows;
    size_t row_size, band;
    size_t nrows, rows_cap; /* rows in use, rows allocated */
    /* The bytes a child below key offset next_at may start with and still
       come within reach (one bit per byte), or next_at SIZE_MAX. */
    size_t next_at;
    int narrow; /* 0: every byte may (next_bytes unused) */
    uint32_t next_bytes[8];
    int started;
    int pending;  /* the cursor is on a key not judged yet (ART_EAGAIN) */
    size_t slice; /* work per art_fuzzy_next() call; 0: no limit */
    size_t work;  /* work left in the current call */
    /* Length of the key last yielded, kept in cursor.scratch while a call
       may pause (SIZE_MAX: none). */
    size_t last_len;
    uint32_t distance; /* distance of the key at the position */
} art_fuzzy;

/* Bounds above this one act as it (only keys over a billion symbols long
   could tell them apart). */
#define ART_FUZZY_MAX_DISTANCE (UINT32_MAX / 4)

/* The default slice: about a millisecond of work. */
#define ART_FUZZY_SLICE ((size_t)1 << 20)

/* art_fuzzy_init()'s flags. */
#define ART_FUZZY_UTF8      1
#define ART_FUZZY_TRANSPOSE 2
#define ART_FUZZY_PREFIX    4

/* Prepares a search; query is copied.  f->slice is ART_FUZZY_SLICE; the
   caller may change it before any art_fuzzy_next().  Returns ART_OK or
   ART_ENOMEM; art_fuzzy_free() is safe on f either way. */
int art_fuzzy_init(art_fuzzy *f, art_tree *t, const uint8_t *query, size_t len,
                   uint32_t max_distance, int flags);
/*
 * Advances to the next match: 1 (key in f->cursor, distance in
 * f->distance), 0 when done, ART_ENOMEM, or ART_EAGAIN when the slice of
 * work ran out first: f keeps its place, and the next call goes on from
 * there.  The tree may change between calls, paused or not: the next
 * match is then the first one after the key last yielded among the keys
 * present, as a cursor's step (weakly consistent).  Calls yield the same
 * keys whatever the slice.
 */
int art_fuzzy_next(art_fuzzy *f);
void art_fuzzy_free(art_fuzzy *f);

/*
 * The n keys closest to a query, ordered by distance and then key (the
 * spelling suggestions of a dictionary): fuzzy searches of growing bound,
 * 0, 1, 2, ... up to 8 and doubling after, each keeping only the keys
 * nearer than the levels before could find, until n are certain or the
 * bound reaches max_distance.  A level of one distance stops at its first
 * keys in key order that complete the n; so a query whose n-th best key
 * is at distance k costs about the fuzzy searches up to k, the last one
 * cut short.  Memory is O(n) besides the searches'.  flags are
 * art_fuzzy_init()'s (ART_FUZZY_PREFIX too).
 */
typedef struct art_closest_hit {
    size_t key_at, key_len; /* the key: keys[key_at .. key_at + key_len) */
    void *value;            /* set when the search is done */
    uint32_t distance;
} art_closest_hit;

typedef struct art_closest {
    art_fuzzy walk; /* the current level (walking) */
    art_tree *tree;
    uint8_t *query;
    size_t qlen, n;
    uint32_t max_distance;
    int flags;
    size_t slice; /* work per art_closest_run() call (art_fuzzy's) */
    /* The current level: keys at distances lo..hi, hi its bound; before
       hits came from the levels before it, found keys it found so far. */
    uint32_t lo, hi;
    size_t before, found;
    int walking, started, done;
    uint64_t version;      /* the tree's when the hits were found */
    art_closest_hit *hits; /* in order once done: nhits <= n of them */
    size_t nhits, hits_cap;
    uint8_t *keys;
    size_t keys_len, keys_cap;
} art_closest;

/* Prepares a search (query copied; c->slice is ART_FUZZY_SLICE).  ART_OK
   or ART_ENOMEM; art_closest_free() is safe on c either way. */
int art_closest_init(art_closest *c, art_tree *t, const uint8_t *query,
                     size_t len, size_t n, uint32_t max_distance, int flags);
/*
 * Runs the search: ART_OK when done (c->hits[0 .. c->nhits) in order,
 * their values as the tree holds them at this return), ART_EAGAIN when a
 * slice of work ran out first (call again; if the tree changed in between,
 * the search starts over on the tree as it is), or ART_ENOMEM (then only
 * art_closest_free() may follow).  Once done, it returns ART_OK again.
 */
int art_closest_run(art_closest *c);
/* The key of hit i. */
const uint8_t *art_closest_key(const art_closest *c, size_t i, size_t *len);
void art_closest_free(art_closest *c);

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

/*
 * A tree can be written to a file (docs/format.md) whose nodes section
 * holds the nodes and leaves in their in-memory layout, child pointers
 * replaced by file offsets, in post-order.  art_file_open() checks such a
 * file and presents it as a read-only tree (t->base set to the file's
 * address) on which search, prefix lookups, cursors, fuzzy search,
 * foreach, stats, validate and copies work unchanged, straight from the
 * file's bytes: nothing is built.  Values are 64-bit references whose
 * meaning belongs to the caller (the binding encodes Python values).
 *
 * The format needs 64-bit little-endian pointers; ART_FILE_SUPPORTED is 0
 * elsewhere, and the functions below then return ART_EINVAL.
 */
#define ART_FILE_HEADER_SIZE 64
#define ART_FILE_VERSION     3
#define ART_FILE_MAGIC       "BLARTMAP"

#if UINTPTR_MAX == UINT64_MAX && defined(__BYTE_ORDER__) &&                    \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ART_FILE_SUPPORTED 1
#elif UINTPTR_MAX == UINT64_MAX && defined(_WIN64)
#define ART_FILE_SUPPORTED 1
#else
#define ART_FILE_SUPPORTED 0
#endif

/* The header fields after the magic. */
typedef struct art_file_header {
    uint32_t version;
    uint32_t flags; /* the caller's: stored and returned, never read */
    uint64_t count, max_key_len, root, nodes_size, values_size, checksum;
} art_file_header;

/*
 * The 64-bit checksum of the format (xxHash64-style rounds over 32-byte
 * stripes), computed incrementally: the hash of the concatenation of
 * every piece given to art_hash_update().
 */
typedef struct art_hash {
    uint64_t acc[4];
    uint8_t buf[32]; /* a partial stripe */
    size_t buffered;
    uint64_t total;
} art_hash;

void art_hash_init(art_hash *h);
void art_hash_update(art_hash *h, const void *data, size_t n);
uint64_t art_hash_final(const art_hash *h);

/* The checksum of a whole file: file[64:] then file[0:56]. */
uint64_t art_file_checksum(const uint8_t *file, size_t len);

/* Writes the 64-byte header (magic and all fields) into out. */
void art_file_header_encode(const art_file_header *h, uint8_t *out);

/* Receives the next n bytes of the nodes section; non-zero fails. */
typedef int (*art_write_fn)(const void *data, size_t n, void *ctx);
/* Stores the non-zero 64-bit reference for value in *ref; non-zero
   fails. */
typedef int (*art_encode_fn)(void *value, uint64_t *ref, void *ctx);

/*
 * Writes the nodes section of t through write, in pieces of up to 64 KiB,
 * asking encode for each value's reference, and fills hdr's count,
 * max_key_len, root and nodes_size (the caller sets the rest).  Returns
 * ART_OK, ART_ENOMEM or ART_ECALLBACK.  Never changes t; the callbacks
 * must not change it either.
 */
int art_file_write_nodes(const art_tree *t, art_write_fn write,
                         art_encode_fn encode, void *ctx, art_file_header *hdr);

/* Checks one value reference found in the file; non-zero rejects it. */
typedef int (*art_check_fn)(uint64_t ref, void *ctx);

/*
 * Options of art_file_open, art_file_open_nodes and art_file_load.
 * ART_FILE_VERIFY_CHECKSUM: check the whole file's checksum first
 * (art_file_open only).  ART_FILE_UTF8_KEYS: every key must be UTF-8,
 * surrogates allowed (as Python's "surrogatepass").
 */
#define ART_FILE_VERIFY_CHECKSUM 1u
#define ART_FILE_UTF8_KEYS       2u

/*
 * Parses the header head[0..64) of a file of file_len bytes into *h and
 * checks the magic, the version and the section sizes against file_len.
 * Returns ART_OK or ART_EFORMAT with a static description in *why.
 */
int art_file_read_header(const uint8_t *head, uint64_t file_len,
                         art_file_header *h, const char **why);

/*
 * Makes t a read-only tree over the nodes section described by h, at
 * nodes (8-byte aligned, h->nodes_size bytes, which must stay unchanged
 * until art_file_close(t)).  Checks all of it: bounds, the post-order
 * layout (so no cycles and no sharing), every node's invariants, the key
 * count and the longest key against h, each value reference through
 * check_value (when not NULL), and with ART_FILE_UTF8_KEYS the UTF-8 of
 * every key.  Linear in the section's size, one pass; allocates only a
 * stack.  Returns ART_OK, ART_ENOMEM, ART_EINVAL (format not supported on
 * this machine) or ART_EFORMAT with a static description in *why.
 *
 * On success t must not be given to art_insert, art_delete,
 * art_tree_clear or art_tree_move; art_file_close() releases it.
 */
int art_file_open_nodes(art_tree *t, const art_file_header *h,
                        const uint8_t *nodes, unsigned options,
                        art_check_fn check_value, void *ctx, const char **why);

/*
 * The whole file file[0..len), 8-byte aligned and mapped until
 * art_file_close(t): art_file_read_header(), the checksum (with
 * ART_FILE_VERIFY_CHECKSUM), then art_file_open_nodes().
 */
int art_file_open(art_tree *t, const uint8_t *file, size_t len,
                  unsigned options, art_check_fn check_value, void *ctx,
                  art_file_header *h, const char **why);

/* Releases what opening allocated; t becomes an empty tree. */
void art_file_close(art_tree *t);

/*
 * Loading.  The fastest way from a file to an ordinary tree is to read the
 * nodes section into one block and make that block the tree's memory.
 * art_file_buffer() makes the block (n bytes, 8-byte aligned; large ones
 * on huge pages where the system has them).  art_file_load() then checks
 * it as art_file_open_nodes() does and, in the same pass, rewrites each
 * child reference into a pointer.  Once a node or leaf has passed every
 * check, the address of its value slot, which holds the file's 64-bit
 * value reference, goes to on_value (when not NULL): in the order the
 * pass finishes them, at most h->count of them, each once.  on_value (or
 * the caller, later) replaces the reference with the value's pointer; a
 * non-zero return stops the load.  The pass never reads a slot again
 * once it has handed it out, so another thread may fill the slots while
 * the pass goes on.
 *
 * On success dst, which must be freshly initialised, is an ordinary tree
 * that owns the block (freed when dst is cleared).  On failure
 * (ART_EFORMAT with *why set, ART_ENOMEM, ART_ECALLBACK when on_value
 * returned non-zero, or ART_EINVAL as for art_file_open_nodes) dst is
 * empty, and the block is still the caller's to free with
 * art_file_buffer_free(), with whatever the caller stored in the slots it
 * was given.  Allocations count against dst->fail_countdown.
 */
typedef int (*art_slot_fn)(void **slot, void *ctx);
void *art_file_buffer(size_t n);
void art_file_buffer_free(void *buffer);
int art_file_load(art_tree *dst, const art_file_header *h, void *buffer,
                  unsigned options, art_slot_fn on_value, void *ctx,
                  const char **why);

#ifdef __cplusplus
}
#endif

#endif /* BLART_ART_H */
