/*
 * _blart.h -- what the files of the CPython binding share (private).
 *
 * The extension blart._blart is built from the tree in core/ and these
 * files, the only place where Python meets the tree:
 *
 *   module.c   module init and state, the helpers every file uses
 *   keys.c     keys: a Python key's bytes (key_get, below), a key object
 *              for a key's bytes
 *   map.c      TreeMap and BytesTreeMap: the type, the mapping protocol,
 *              the methods that change a map
 *   update.c   update(), the constructor's arguments, | and |=
 *   queries.c  the methods that only read, FrozenTreeMap's too: get, the
 *              views' constructors, first/last, floor..., prefix_iter,
 *              range, prefixes, stats
 *   fuzzy.c    fuzzy_search and closest: keys near a query
 *   iter.c     TreeMapIterator, the one iterator behind every iteration
 *   scan.c     finditer and FindIterator: the stored keys inside a text
 *   views.c    TreeMapKeys, TreeMapValues, TreeMapItems
 *   values.c   the values of files: how each is encoded and decoded
 *   save.c     writing a map to a file object (_dump)
 *   load.c     reading a file object into a map, on two threads (_load)
 *   frozen.c   FrozenTreeMap, a read-only map over a mapped file (_open)
 *   subclass.c what subclasses get as dict's do: their attributes copied
 *              and pickled (__dict__ and __slots__), __missing__
 *
 * Files are opened, created, synced, renamed and mapped by Python
 * (_persist.py, whose save, load and FrozenTreeMap.__new__ the types
 * get), which calls _dump, _load or _open once; nothing here calls back
 * into blart's Python.
 *
 * Here: the module state, the object layouts, the key buffer and the
 * small helpers that run on every access (key_get, value_get), inline in
 * each file that uses them.  Everything else a file defines is static to
 * it, apart from the functions declared below, named blart_*.
 *
 * Rules followed throughout (see CPython's dictobject.c for the origin):
 *  - The tree owns one reference per value.  A reference is released only
 *    after the tree is consistent again, because Py_DECREF can run any
 *    Python code, including code that mutates this map.  clear() and
 *    tp_clear move the whole tree out first, then release it.
 *  - Key bytes and value pointers are copied out of the tree before any
 *    Python object is created: an allocation can run the GC, and the GC
 *    can run finalizers that mutate the map.
 *  - Iterators hold a cursor, which is weakly consistent by itself (see
 *    art.h): after the map changed, the next step re-seeks past the last
 *    key yielded.  Nothing here ever holds a tree pointer across a call
 *    into Python.
 */
#ifndef BLART_H
#define BLART_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <string.h>

#include "art.h"

/* Shared between the binding's files, not exported from the extension:
   calls between the files are direct, and no name can collide with
   another library's. */
#if defined(__GNUC__) || defined(__clang__)
#define BLART_INTERNAL __attribute__((visibility("hidden")))
#else
#define BLART_INTERNAL
#endif

/* ------------------------------------------------------------------ */
/* Module state and object layouts                                     */
/* ------------------------------------------------------------------ */

typedef struct {
    PyTypeObject *TreeMap_Type;
    PyTypeObject *BytesTreeMap_Type;
    PyTypeObject *Iter_Type;
    PyTypeObject *KeysView_Type;
    PyTypeObject *ValuesView_Type;
    PyTypeObject *ItemsView_Type;
    PyTypeObject *FrozenTreeMap_Type;
    PyTypeObject *Scan_Type;
    PyObject *FormatError;
    PyObject *mapping_abc; /* collections.abc.Mapping, imported lazily */
    PyObject *pickle;      /* the standard library's pickle, imported lazily */
    PyObject *UnpicklingError; /* pickle.UnpicklingError, with pickle */
    size_t builds; /* maps filled by blart_map_build (tests ask: _builds) */
    /* Bucket limits of new maps (art_tree_set_buckets): the core's
       defaults; tests of the inner nodes' shapes turn buckets off with
       _set_bucket_limits. */
    unsigned bucket_keys;
    size_t bucket_bytes;
} blart_state;

struct frozen_file; /* a FrozenTreeMap's file: values.c */

typedef struct {
    PyObject_HEAD
    art_tree tree;
    blart_state *state;
    int bytes_keys; /* 0: str keys (TreeMap), 1: bytes keys */
    /* Non-zero while save() walks the tree: every change is refused, as
       the values it pickles (or the GC, or another thread) may run code
       that would otherwise change the tree under the walk. */
    int saving;
    /* NULL for TreeMap and BytesTreeMap.  For a FrozenTreeMap, the mapped
       file: the tree (read-only, t->base set) lives in it, and its values
       are references into it, decoded by value_get(). */
    struct frozen_file *file;
    PyObject *weakreflist;
} MapObject;

enum { YIELD_KEYS, YIELD_VALUES, YIELD_ITEMS, YIELD_FUZZY, YIELD_PREFIXES };
enum { ITER_FRESH, ITER_RUNNING, ITER_DONE };

/* Where an iteration starts. */
enum { START_EDGE, START_SEEK };
/* When it stops (checked on every key reached). */
enum { STOP_NONE, STOP_PREFIX, STOP_BOUND };

typedef struct {
    PyObject_HEAD
    MapObject *map;
    art_fuzzy walk; /* .cursor is the cursor of every iterator; the rest
                       is used by fuzzy searches only */
    int yield;
    int reverse;
    int state;
    int busy; /* set while a step runs; guards re-entrant next() */
    int start;
    art_seek_mode start_mode;
    int stop;
    int stop_inclusive;
    uint8_t *start_key, *stop_key; /* PyMem buffers or NULL */
    size_t start_len, stop_len;
    /* prefixes(): the stored prefixes of start_key are found by walking
       down from the root, shortest first; the walk resumes at the next
       length, so it is weakly consistent without a cursor. */
    size_t prefix_min, prefix_len;
    void *prefix_value;
    PyObject *pair; /* the last (key, value) yielded, reused when free */
} IterObject;

/* ------------------------------------------------------------------ */
/* module.c                                                            */
/* ------------------------------------------------------------------ */

/* The module state reached from one of our types or a subclass, or NULL
   (no exception set) when type is not ours. */
BLART_INTERNAL blart_state *blart_find_state(PyTypeObject *type);
/* The same, or NULL with TypeError. */
BLART_INTERNAL blart_state *blart_state_of_type(PyTypeObject *type);
/* The class name without its module, for messages and repr. */
BLART_INTERNAL const char *blart_short_name(PyTypeObject *t);
/* A flag argument: a bool, or an int as sorted(reverse=...) accepts; any
   other type is refused (TypeError naming what) rather than judged by its
   truth value.  0, or -1 with an exception. */
BLART_INTERNAL int blart_as_flag(PyObject *o, const char *what, int *out);

static inline const char *map_kind_name(MapObject *m)
{
    return m->bytes_keys ? "BytesTreeMap" : "TreeMap";
}

static inline int is_map(blart_state *st, PyObject *o)
{
    return PyObject_TypeCheck(o, st->TreeMap_Type) ||
           PyObject_TypeCheck(o, st->BytesTreeMap_Type);
}

/* A failed art_insert or art_delete (code < 0) as an exception: -1. */
static inline int set_error(int code)
{
    if (code == ART_EINVAL)
        PyErr_SetString(PyExc_OverflowError, "key too long for blart");
    else
        PyErr_NoMemory();
    return -1;
}

/* Refuses a change while save() walks the tree; 0 when changes are
   allowed. */
static inline int refuse_change(MapObject *m)
{
    if (!m->saving)
        return 0;
    PyErr_Format(PyExc_RuntimeError, "%s changed while it was being saved",
                 blart_short_name(Py_TYPE(m)));
    return -1;
}

/* ------------------------------------------------------------------ */
/* Keys (keys.c)                                                       */
/* ------------------------------------------------------------------ */

#define KEYBUF_INLINE 256

/* A key's bytes, borrowed from the object or encoded into a buffer. */
typedef struct {
    const uint8_t *p;
    size_t n;
    Py_buffer view;
    int has_view;
    uint8_t *heap;
    uint8_t inline_buf[KEYBUF_INLINE];
} keybuf;

/* TypeError for a key of the wrong type for m: -1. */
BLART_INTERNAL int blart_key_type_error(MapObject *m, PyObject *key);
/* Whether key has a type this map's keys can have. */
BLART_INTERNAL int blart_key_type_ok(MapObject *m, PyObject *key);
/* A new key object for the bytes p[0..n), or NULL with an exception
   (FormatError for a FrozenTreeMap's key that is not UTF-8). */
BLART_INTERNAL PyObject *blart_key_new(MapObject *m, const uint8_t *p,
                                       size_t n);

/*
 * UTF-8 of a str's code points, surrogates encoded like any other code
 * point (as Python's "surrogatepass" does), so every str has an encoding
 * and byte order equals code point order.
 */
static inline size_t encode_utf8(int kind, const void *data, Py_ssize_t len,
                                 uint8_t *out)
{
    uint8_t *o = out;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < 0x80) {
            *o++ = (uint8_t)ch;
        } else if (ch < 0x800) {
            *o++ = (uint8_t)(0xC0 | (ch >> 6));
            *o++ = (uint8_t)(0x80 | (ch & 0x3F));
        } else if (ch < 0x10000) {
            *o++ = (uint8_t)(0xE0 | (ch >> 12));
            *o++ = (uint8_t)(0x80 | ((ch >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (ch & 0x3F));
        } else {
            *o++ = (uint8_t)(0xF0 | (ch >> 18));
            *o++ = (uint8_t)(0x80 | ((ch >> 12) & 0x3F));
            *o++ = (uint8_t)(0x80 | ((ch >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (ch & 0x3F));
        }
    }
    return (size_t)(o - out);
}

/* Fills kb with the bytes of key; 0 on success, -1 with an exception.
   Every successful call is paired with key_release(kb). */
static inline int key_get(MapObject *m, PyObject *key, keybuf *kb)
{
    kb->p = NULL;
    kb->n = 0;
    kb->has_view = 0;
    kb->heap = NULL;
    if (!m->bytes_keys) {
        if (!PyUnicode_Check(key))
            return blart_key_type_error(m, key);
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(key) < 0)
            return -1;
#endif
        Py_ssize_t len = PyUnicode_GET_LENGTH(key);
        if (PyUnicode_IS_ASCII(key)) {
            /* Fast path: an ASCII str's bytes are its UTF-8. */
            kb->p = (const uint8_t *)PyUnicode_DATA(key);
            kb->n = (size_t)len;
            return 0;
        }
        int kind = PyUnicode_KIND(key);
        size_t per = kind == PyUnicode_1BYTE_KIND   ? 2
                     : kind == PyUnicode_2BYTE_KIND ? 3
                                                    : 4;
        if ((size_t)len > PY_SSIZE_T_MAX / per) {
            PyErr_NoMemory();
            return -1;
        }
        size_t need = (size_t)len * per;
        uint8_t *out = kb->inline_buf;
        if (need > KEYBUF_INLINE) {
            out = kb->heap = PyMem_Malloc(need);
            if (out == NULL) {
                PyErr_NoMemory();
                return -1;
            }
        }
        kb->n = encode_utf8(kind, PyUnicode_DATA(key), len, out);
        kb->p = out;
        return 0;
    }
    if (PyBytes_Check(key)) {
        kb->p = (const uint8_t *)PyBytes_AS_STRING(key);
        kb->n = (size_t)PyBytes_GET_SIZE(key);
        return 0;
    }
    if (PyUnicode_Check(key) || !PyObject_CheckBuffer(key))
        return blart_key_type_error(m, key);
    if (PyObject_GetBuffer(key, &kb->view, PyBUF_SIMPLE) < 0)
        return -1;
    kb->has_view = 1;
    kb->p = (const uint8_t *)kb->view.buf;
    kb->n = (size_t)kb->view.len;
    return 0;
}

/* Releasing a buffer can run Python code (__release_buffer__, 3.12+):
   take what is needed from the tree first. */
static inline void key_release(keybuf *kb)
{
    if (kb->has_view)
        PyBuffer_Release(&kb->view);
    if (kb->heap)
        PyMem_Free(kb->heap);
}

/* ------------------------------------------------------------------ */
/* TreeMap and BytesTreeMap (map.c)                                    */
/* ------------------------------------------------------------------ */

BLART_INTERNAL extern PyType_Spec blart_treemap_spec;
BLART_INTERNAL extern PyType_Spec blart_bytestreemap_spec;

/* A new empty map of type (any map type), not yet initialised. */
BLART_INTERNAL MapObject *blart_map_alloc(PyTypeObject *type, blart_state *st,
                                          int bytes_keys);
/* The value for key as a new reference, or NULL (with an exception only
   on error). */
BLART_INTERNAL PyObject *blart_map_lookup(MapObject *m, PyObject *key);
/* Whether key is in m: 1, 0, or -1 with an exception. */
BLART_INTERNAL int blart_map_has(MapObject *m, PyObject *key);
/* The first or last pair, removed if pop, or None when m is empty. */
BLART_INTERNAL PyObject *blart_edge_or_none(MapObject *m, int last, int pop);
/* Sets key to value: 0, or -1 with an exception. */
BLART_INTERNAL int blart_map_set(MapObject *m, PyObject *key, PyObject *value);
/* A map of m's type holding the same items, without calling __init__. */
BLART_INTERNAL PyObject *blart_map_copy_of(MapObject *m);
/* Makes the empty dst hold src's items (nodes in key order): 0, or -1
   with MemoryError and dst still empty. */
BLART_INTERNAL int blart_map_copy_tree(MapObject *dst, MapObject *src);
/* Fills the empty m from a batch whose keys are in ascending order, at
   once (update.c): 1 when it did, 0 when the batch does not allow it (m
   unchanged, no exception), -1 with an exception. */
BLART_INTERNAL int blart_map_build(MapObject *m, PyObject *src,
                                   PyObject *value);
/* Whether o is a mapping (a dict, a map, a collections.abc.Mapping):
   1, 0, or -1 with an exception. */
BLART_INTERNAL int blart_is_mapping(blart_state *st, PyObject *o);
/* Parses (key[, default]), the arguments of get, setdefault and pop. */
BLART_INTERNAL int blart_parse_key_default(const char *fname,
                                           PyObject *const *args,
                                           Py_ssize_t nargs, PyObject *kwnames,
                                           PyObject **key, PyObject **dflt);
/* Py_DECREF as a callback of art_tree_clear. */
BLART_INTERNAL void blart_release_value(void *value, void *ctx);
/* Slots FrozenTreeMap shares. */
BLART_INTERNAL Py_ssize_t blart_map_length(MapObject *m);
BLART_INTERNAL PyObject *blart_map_subscript(MapObject *m, PyObject *key);
BLART_INTERNAL int blart_map_contains(MapObject *m, PyObject *key);
BLART_INTERNAL PyObject *blart_map_iter(MapObject *m);
BLART_INTERNAL PyObject *blart_map_richcompare(MapObject *m, PyObject *other,
                                               int op);
BLART_INTERNAL extern PyMemberDef blart_map_members[];

/* update.c: update(m, *args, **kwds) as dict.update (the constructor's
   too, fname naming it in errors); m | other and m |= other. */
BLART_INTERNAL int blart_map_update_common(MapObject *m, PyObject *args,
                                           PyObject *kwds, const char *fname);
BLART_INTERNAL PyObject *blart_map_or(PyObject *a, PyObject *b);
BLART_INTERNAL PyObject *blart_map_ior(PyObject *a, PyObject *b);
BLART_INTERNAL extern const char blart_sizeof_doc[];

/* ------------------------------------------------------------------ */
/* Queries (queries.c), the iterator (iter.c), views (views.c)         */
/* ------------------------------------------------------------------ */

/* The methods that only read, which every map type has: added to each
   type's dictionary when the module is made (module.c). */
BLART_INTERNAL extern PyMethodDef blart_read_methods[];

BLART_INTERNAL extern PyType_Spec blart_iter_spec;
/* A fresh iterator over m (from its first or, if reverse, its last key
   unless the caller sets a start and a stop). */
BLART_INTERNAL IterObject *blart_iter_new(MapObject *m, int yield, int reverse);
BLART_INTERNAL PyObject *blart_iter_next(IterObject *it);

/* subclass.c: a subclass instance's attributes as copies and pickles carry
   them (None, its __dict__, or (__dict__ or None, {slot: value})), given to
   another instance; a subclass's __missing__ bound to m, or NULL (with no
   exception when it has none). */
BLART_INTERNAL PyObject *blart_instance_state(PyObject *self);
BLART_INTERNAL int blart_set_instance_state(PyObject *self, PyObject *state);
BLART_INTERNAL PyObject *blart_find_missing(MapObject *m);

/* fuzzy.c: fuzzy_search(key, max_distance, *, transpositions, prefix) and
   closest(key, n, *, max_distance, transpositions). */
BLART_INTERNAL PyObject *blart_map_fuzzy_search(MapObject *m, PyObject *args,
                                                PyObject *kwds);
BLART_INTERNAL extern const char blart_fuzzy_search_doc[];
BLART_INTERNAL PyObject *blart_map_closest(MapObject *m, PyObject *args,
                                           PyObject *kwds);
BLART_INTERNAL extern const char blart_closest_doc[];

/* scan.c: finditer(text, *, overlapping, whole_words), the method and the
   type of its iterator. */
BLART_INTERNAL PyObject *blart_map_finditer(MapObject *m, PyObject *args,
                                            PyObject *kwds);
BLART_INTERNAL extern const char blart_finditer_doc[];
BLART_INTERNAL extern PyType_Spec blart_scan_spec;

BLART_INTERNAL extern PyType_Spec blart_keys_spec;
BLART_INTERNAL extern PyType_Spec blart_values_spec;
BLART_INTERNAL extern PyType_Spec blart_items_spec;
/* A new view of m of the given view type. */
BLART_INTERNAL PyObject *blart_view_new(MapObject *m, PyTypeObject *type);

/* ------------------------------------------------------------------ */
/* Files: values (values.c), save.c, load.c, frozen.c                  */
/* ------------------------------------------------------------------ */

/* Header flags (docs/format.md). */
#define FLAG_STR_KEYS 1u
#define FLAG_PICKLED  2u
#define KNOWN_FLAGS   (FLAG_STR_KEYS | FLAG_PICKLED)

/* A file being read: its values section, and how its values decode. */
struct frozen_file {
    PyObject *mmap; /* FrozenTreeMap: the mmap.mmap, view exported from it */
    Py_buffer view;
    PyObject *path; /* absolute path, as opened */
    const uint8_t *values;
    uint64_t values_size;
    int allow_pickle;
    int has_pickle;
};

/* The values section of a file being written, built in memory. */
typedef struct {
    blart_state *st;
    uint8_t *values;
    size_t values_len, values_cap;
    int allow_pickle, has_pickle;
} blart_values_out;

/* Starts out's section with its magic: 0, or -1 with MemoryError. */
BLART_INTERNAL int blart_values_begin(blart_values_out *out);
/* Value's reference in *ref, its record appended to out when it needs
   one: 0, or -1 with an exception (ValueError for a value that cannot be
   saved). */
BLART_INTERNAL int blart_encode_value(void *value, uint64_t *ref,
                                      blart_values_out *out);
/* Checks a value reference of f and, for a record, its header; returns
   the record kind (0 for an inline value) or -1 with *why set. */
BLART_INTERNAL int blart_check_ref(const struct frozen_file *f, uint64_t ref,
                                   uint64_t *len, const char **why);
/* The Python value of reference ref in file f: a new reference, or NULL
   with an exception (FormatError naming the file when ref is damaged). */
BLART_INTERNAL PyObject *
blart_decode_value(blart_state *st, const struct frozen_file *f, uint64_t ref);
/* The flags and the values section of a file whose header is parsed and
   checksum verified: 0, or -1 with FormatError or ValueError. */
BLART_INTERNAL int blart_check_sections(blart_state *st, struct frozen_file *f,
                                        const art_file_header *h,
                                        const uint8_t *values, PyObject *path);
/* A failed art_file_* call (code r) as an exception naming path. */
BLART_INTERNAL void blart_file_error(blart_state *st, int r, const char *why,
                                     PyObject *path);
/* FormatError naming f's file, for a value or key found damaged: NULL. */
BLART_INTERNAL PyObject *blart_format_error(blart_state *st,
                                            const struct frozen_file *f,
                                            const char *why);

BLART_INTERNAL PyObject *blart_map_dump(MapObject *m, PyObject *const *args,
                                        Py_ssize_t nargs);
BLART_INTERNAL extern const char blart_dump_doc[];
BLART_INTERNAL PyObject *
blart_map_load(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs);
BLART_INTERNAL extern const char blart_load_doc[];

BLART_INTERNAL extern PyType_Spec blart_frozen_spec;

/* A map's value as a new reference: the object itself, or decoded from a
   FrozenTreeMap's file. */
static inline PyObject *value_get(MapObject *m, void *value)
{
    if (m->file == NULL) {
        Py_INCREF((PyObject *)value);
        return (PyObject *)value;
    }
    return blart_decode_value(m->state, m->file, (uint64_t)(uintptr_t)value);
}

#endif /* BLART_H */
