/*
 * model.h -- the trusted model the C tests and the fuzzer check the tree
 * against: a sorted array of (key, value), the tree's key order done the
 * obvious way, and a plain Levenshtein distance over symbols.  Shared by
 * core/tests/ and core/fuzz/fuzz_art.c; only art.h's types are used.
 * Allocation failures abort: the model must never be what fails.
 */
#ifndef BLART_TESTS_MODEL_H
#define BLART_TESTS_MODEL_H

#include "art.h"

#include <stddef.h>
#include <stdint.h>

typedef struct model_entry {
    uint8_t *key; /* owned copy, key[0..len) */
    size_t len;
    void *val;
} model_entry;

/* Entries sorted by key, distinct; {0} is an empty model. */
typedef struct model {
    model_entry *a;
    size_t n, cap;
} model;

/* Bytewise order, shorter first on a common prefix: -1, 0 or 1.  Safe
   for empty keys given as NULL. */
int model_key_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb);
int model_key_eq(const uint8_t *a, size_t na, const uint8_t *b, size_t nb);
int model_starts_with(const uint8_t *k, size_t len, const uint8_t *p,
                      size_t plen);

/* Index of the first entry >= key; *found (when not NULL) tells whether
   it is equal. */
size_t model_lower(const model *m, const uint8_t *k, size_t len, int *found);
/* The entry for key, or NULL. */
model_entry *model_find(const model *m, const uint8_t *k, size_t len);
/* Where a seek lands: an index, or m->n for "no key". */
size_t model_seek(const model *m, const uint8_t *k, size_t len,
                  art_seek_mode mode);

/* Inserts a copy of the key at index i (model_lower's answer). */
void model_insert_at(model *m, size_t i, const uint8_t *k, size_t len,
                     void *val);
void model_remove_at(model *m, size_t i);
/* Maps key to val; returns the replaced value, or NULL when new. */
void *model_put(model *m, const uint8_t *k, size_t len, void *val);
/* Removes key; returns its value, or NULL when absent. */
void *model_del(model *m, const uint8_t *k, size_t len);
/* Empties m, keeping its array. */
void model_clear(model *m);
/* Frees everything; m becomes {0}. */
void model_free(model *m);
/* Gives src's entries to dst (freed first); src becomes empty. */
void model_move(model *dst, model *src);

/*
 * Splits key[0..len) into symbols: bytes, or (utf8) code points.  The
 * decoding is lenient as the tree's is (art_fuzzy.c): a lead byte takes
 * its continuation bytes whatever they are, up to the end of the key; a
 * stray byte is one symbol.  On valid UTF-8 it is ordinary decoding.
 * out needs room for len symbols.  Returns the count.
 */
size_t model_symbols(const uint8_t *k, size_t len, int utf8, uint32_t *out);

/* Levenshtein distance of a[0..na) and b[0..nb) (one row of dynamic
   programming); row is scratch room for nb + 1 counters. */
uint32_t model_levenshtein(const uint32_t *a, size_t na, const uint32_t *b,
                           size_t nb, uint32_t *row);

/*
 * The distance art_fuzzy computes (art.h), from whole rows of dynamic
 * programming over key a[0..na) against query b[0..nb): Levenshtein, or
 * with ART_FUZZY_TRANSPOSE in flags optimal string alignment; with
 * ART_FUZZY_PREFIX the least over a's prefixes (the empty one included).
 * rows is scratch room for 3 * (nb + 1) counters.
 */
uint32_t model_distance(const uint32_t *a, size_t na, const uint32_t *b,
                        size_t nb, int flags, uint32_t *rows);

/*
 * The reference of art_scan_next (art.h) over the model, by brute force:
 * at each start, every entry is compared with the text there.  s is an
 * art_scan started by art_scan_init and advanced only by this function;
 * words are ASCII letters, digits and '_' (is_word is ignored).
 */
int model_scan_next(const model *m, art_scan *s, size_t *start, size_t *end,
                    void **value);

#endif /* BLART_TESTS_MODEL_H */
