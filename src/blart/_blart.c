/*
 * _blart.c -- the CPython binding of the adaptive radix tree in core/art.h.
 *
 * This file is the only place where Python meets the tree.  It defines:
 *
 *   TreeMap, BytesTreeMap   one C type layout (MapObject), two heap types;
 *                           they differ only in how keys are converted
 *                           (str <-> UTF-8 with surrogates passed through,
 *                           or bytes-like -> bytes).
 *   TreeMapIterator         one iterator type over an art_cursor; every
 *                           iteration (keys, values, items, reversed,
 *                           prefix, range, fuzzy) is this type with a
 *                           different start, stop test and yield kind.
 *   TreeMapKeys/Values/Items  live views.
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
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <string.h>
#if !defined(_WIN32) && !defined(__STDC_NO_ATOMICS__)
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#define BLART_THREADS 1
#endif

#include "art.h"

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
    PyObject *FormatError;
    PyObject *mapping_abc; /* collections.abc.Mapping, imported lazily */
    PyObject *persist;     /* the blart._persist module, imported lazily */
} blart_state;

struct frozen_file; /* a FrozenTreeMap's file: see "Files" below */
static PyObject *format_error(blart_state *st, const struct frozen_file *f,
                              const char *why);
static void file_error(blart_state *st, int r, const char *why, PyObject *path);

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

typedef struct {
    PyObject_HEAD
    MapObject *map;
} ViewObject;

static struct PyModuleDef blart_module;

/*
 * The module state reached from one of our types or a subclass: the first
 * of our heap types in the MRO.  Returns NULL without setting an error
 * when type is not ours (no exception is built just to be discarded).
 */
static blart_state *find_state(PyTypeObject *type)
{
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *mod = ((PyHeapTypeObject *)t)->ht_module;
        if (mod && PyModule_GetDef(mod) == &blart_module)
            return (blart_state *)PyModule_GetState(mod);
    }
    return NULL;
}

static blart_state *state_of_type(PyTypeObject *type)
{
    blart_state *st = find_state(type);
    if (st == NULL)
        PyErr_Format(PyExc_TypeError, "%.200s is not a blart type",
                     type->tp_name);
    return st;
}

static int is_map(blart_state *st, PyObject *o)
{
    return PyObject_TypeCheck(o, st->TreeMap_Type) ||
           PyObject_TypeCheck(o, st->BytesTreeMap_Type);
}

/* The class name without its module, for messages and repr. */
static const char *short_name(PyTypeObject *t)
{
    const char *dot = strrchr(t->tp_name, '.');
    return dot ? dot + 1 : t->tp_name;
}

static const char *map_kind_name(MapObject *m)
{
    return m->bytes_keys ? "BytesTreeMap" : "TreeMap";
}

static int set_error(int code)
{
    if (code == ART_EINVAL)
        PyErr_SetString(PyExc_OverflowError, "key too long for blart");
    else
        PyErr_NoMemory();
    return -1;
}

static void set_key_error(PyObject *key)
{
    PyObject *tup = PyTuple_Pack(1, key);
    if (tup) {
        PyErr_SetObject(PyExc_KeyError, tup);
        Py_DECREF(tup);
    }
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
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

/*
 * UTF-8 of a str's code points, surrogates encoded like any other code
 * point (as Python's "surrogatepass" does), so every str has an encoding
 * and byte order equals code point order.
 */
static size_t encode_utf8(int kind, const void *data, Py_ssize_t len,
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

static int key_type_error(MapObject *m, PyObject *key)
{
    PyErr_Format(PyExc_TypeError,
                 m->bytes_keys
                     ? "%s keys must be bytes-like (bytes, bytearray, "
                       "memoryview), not %.200s"
                     : "%s keys must be str, not %.200s",
                 map_kind_name(m), Py_TYPE(key)->tp_name);
    return -1;
}

/* Whether key has a type this map's keys can have. */
static int key_type_ok(MapObject *m, PyObject *key)
{
    if (!m->bytes_keys)
        return PyUnicode_Check(key);
    return !PyUnicode_Check(key) && PyObject_CheckBuffer(key);
}

/* Fills kb with the bytes of key; 0 on success, -1 with an exception. */
static inline int key_get(MapObject *m, PyObject *key, keybuf *kb)
{
    kb->p = NULL;
    kb->n = 0;
    kb->has_view = 0;
    kb->heap = NULL;
    if (!m->bytes_keys) {
        if (!PyUnicode_Check(key))
            return key_type_error(m, key);
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
        return key_type_error(m, key);
    if (PyObject_GetBuffer(key, &kb->view, PyBUF_SIMPLE) < 0)
        return -1;
    kb->has_view = 1;
    kb->p = (const uint8_t *)kb->view.buf;
    kb->n = (size_t)kb->view.len;
    return 0;
}

static inline void key_release(keybuf *kb)
{
    if (kb->has_view)
        PyBuffer_Release(&kb->view);
    if (kb->heap)
        PyMem_Free(kb->heap);
}

/* Whether p[0..n) is all ASCII: the words or-ed together, the last one
   overlapping the one before, with no branch per word. */
static int is_ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            acc |= p[i];
        return !(acc & 0x80);
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    memcpy(&w, p + n - 8, 8);
    acc |= w;
    return !(acc & UINT64_C(0x8080808080808080));
}

/* A new key object for the bytes p[0..n). */
static PyObject *key_new(MapObject *m, const uint8_t *p, size_t n)
{
    if (m->bytes_keys)
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    if (n > 0 && is_ascii(p, n)) {
        /* The common case, without the decoder's generic machinery. */
        PyObject *s = PyUnicode_New((Py_ssize_t)n, 127);
        if (s)
            memcpy(PyUnicode_DATA(s), p, n);
        return s;
    }
    PyObject *s =
        PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "surrogatepass");
    if (s == NULL && m->file && PyErr_ExceptionMatches(PyExc_UnicodeError)) {
        PyErr_Clear();
        format_error(m->state, m->file, "a key is not valid UTF-8");
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* Core operations shared by methods and slots                         */
/* ------------------------------------------------------------------ */

/* Refuses a change while save() walks the tree; 0 when changes are allowed. */
static int refuse_change(MapObject *m)
{
    if (!m->saving)
        return 0;
    PyErr_Format(PyExc_RuntimeError, "%s changed while it was being saved",
                 short_name(Py_TYPE(m)));
    return -1;
}

static int map_set(MapObject *m, PyObject *key, PyObject *value)
{
    keybuf kb;
    void *old;
    if (refuse_change(m) < 0)
        return -1;
    if (key_get(m, key, &kb) < 0)
        return -1;
    Py_INCREF(value);
    int r = art_insert(&m->tree, kb.p, kb.n, value, &old);
    key_release(&kb);
    if (r < 0) {
        Py_DECREF(value);
        return set_error(r);
    }
    Py_XDECREF((PyObject *)old); /* may re-enter: the tree is consistent */
    return 0;
}

/* Removes key; returns the value (a new reference), or NULL with KeyError
   (when missing) or another exception set. */
static PyObject *map_take(MapObject *m, PyObject *key)
{
    keybuf kb;
    void *old;
    if (refuse_change(m) < 0)
        return NULL;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    int r = art_delete(&m->tree, kb.p, kb.n, &old);
    key_release(&kb);
    if (r < 0) {
        set_error(r);
        return NULL;
    }
    if (r == 0) {
        set_key_error(key);
        return NULL;
    }
    return (PyObject *)old; /* the tree's reference passes to the caller */
}

/*
 * The value for key as a new reference, or NULL (with an exception only on
 * error).  The reference is taken before the key's buffer is released:
 * releasing a buffer can run Python code (__release_buffer__, 3.12+).
 */
static PyObject *value_get(MapObject *m, void *value);

static PyObject *map_lookup(MapObject *m, PyObject *key)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    void *raw = art_search(&m->tree, kb.p, kb.n);
    PyObject *v = raw ? value_get(m, raw) : NULL;
    key_release(&kb);
    return v;
}

/* Whether key is in m: 1, 0, or -1 with an exception. */
static int map_has(MapObject *m, PyObject *key)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return -1;
    int found = art_search(&m->tree, kb.p, kb.n) != NULL;
    key_release(&kb);
    return found;
}

static void release_value(void *value, void *ctx)
{
    (void)ctx;
    Py_DECREF((PyObject *)value);
}

/*
 * Empties the map; values are released after the map is already empty
 * (art_tree_clear detaches the tree before its first callback), and with
 * little stack: a deallocator nests this once per level of nested maps.
 */
static void map_clear_tree(MapObject *m)
{
    art_tree_clear(&m->tree, release_value, NULL);
}

static int incref_value(void *value, void *ctx)
{
    (void)ctx;
    Py_INCREF((PyObject *)value);
    return 0;
}

static MapObject *map_alloc(PyTypeObject *type, blart_state *st, int bytes_keys)
{
    MapObject *m = (MapObject *)type->tp_alloc(type, 0);
    if (m == NULL)
        return NULL;
    art_tree_init(&m->tree);
    m->state = st;
    m->bytes_keys = bytes_keys;
    m->saving = 0;
    m->file = NULL;
    m->weakreflist = NULL;
    return m;
}

/* A map of m's type holding the same items, without calling __init__. */
static PyObject *map_copy_of(MapObject *m)
{
    MapObject *c = map_alloc(Py_TYPE(m), m->state, m->bytes_keys);
    if (c == NULL)
        return NULL;
    /* An injected failure (tests) counts the copy's allocations. */
    c->tree.fail_countdown = m->tree.fail_countdown;
    int r = art_tree_copy(&c->tree, &m->tree);
    m->tree.fail_countdown = c->tree.fail_countdown;
    c->tree.fail_countdown = 0;
    if (r < 0) {
        Py_DECREF(c);
        return PyErr_NoMemory();
    }
    art_foreach(&c->tree, incref_value, NULL);
    return (PyObject *)c;
}

static int is_mapping(blart_state *st, PyObject *o)
{
    if (PyDict_Check(o) || is_map(st, o))
        return 1;
    if (st->mapping_abc == NULL) {
        PyObject *abc = PyImport_ImportModule("collections.abc");
        if (abc == NULL)
            return -1;
        st->mapping_abc = PyObject_GetAttrString(abc, "Mapping");
        Py_DECREF(abc);
        if (st->mapping_abc == NULL)
            return -1;
    }
    return PyObject_IsInstance(o, st->mapping_abc);
}

/* ------------------------------------------------------------------ */
/* update() and the constructor                                        */
/* ------------------------------------------------------------------ */

static int update_from_pairs(MapObject *m, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq);
    if (it == NULL)
        return -1;
    PyObject *item;
    Py_ssize_t i = 0;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *fast = PySequence_Fast(item, "");
        if (fast == NULL) {
            if (PyErr_ExceptionMatches(PyExc_TypeError))
                PyErr_Format(PyExc_TypeError,
                             "cannot convert %s update sequence element "
                             "#%zd to a sequence",
                             map_kind_name(m), i);
            Py_DECREF(item);
            goto error;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
        if (n != 2) {
            PyErr_Format(PyExc_ValueError,
                         "%s update sequence element #%zd has length %zd; "
                         "2 is required",
                         map_kind_name(m), i, n);
            Py_DECREF(fast);
            Py_DECREF(item);
            goto error;
        }
        PyObject *k = PySequence_Fast_GET_ITEM(fast, 0);
        PyObject *v = PySequence_Fast_GET_ITEM(fast, 1);
        Py_INCREF(k);
        Py_INCREF(v);
        int r = map_set(m, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        Py_DECREF(fast);
        Py_DECREF(item);
        if (r < 0)
            goto error;
        i++;
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(it);
    return 0;
error:
    Py_DECREF(it);
    return -1;
}

/* From another map with the same key kind: no key objects at all. */
static int update_from_map(MapObject *m, MapObject *src)
{
    if (refuse_change(m) < 0)
        return -1;
    art_cursor c;
    art_cursor_init(&c, &src->tree);
    int r;
    while ((r = art_cursor_next(&c)) > 0) {
        PyObject *v = (PyObject *)art_cursor_value(&c);
        void *old;
        Py_INCREF(v);
        int ir = art_insert(&m->tree, c.key, c.key_len, v, &old);
        if (ir < 0) {
            Py_DECREF(v);
            art_cursor_free(&c);
            return set_error(ir);
        }
        Py_XDECREF((PyObject *)old);
    }
    art_cursor_free(&c);
    return r < 0 ? set_error(r) : 0;
}

static int update_from_dict(MapObject *m, PyObject *d)
{
    Py_ssize_t pos = 0, size = PyDict_GET_SIZE(d);
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        Py_INCREF(k);
        Py_INCREF(v);
        int r = map_set(m, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0)
            return -1;
        if (PyDict_GET_SIZE(d) != size) {
            PyErr_SetString(PyExc_RuntimeError,
                            "dictionary changed size during update");
            return -1;
        }
    }
    return 0;
}

static int update_from_keys(MapObject *m, PyObject *src)
{
    PyObject *keys = PyObject_CallMethod(src, "keys", NULL);
    if (keys == NULL)
        return -1;
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    if (it == NULL)
        return -1;
    PyObject *k;
    while ((k = PyIter_Next(it)) != NULL) {
        PyObject *v = PyObject_GetItem(src, k);
        int r = v ? map_set(m, k, v) : -1;
        Py_XDECREF(v);
        Py_DECREF(k);
        if (r < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int map_update_arg(MapObject *m, PyObject *arg)
{
    if (PyDict_CheckExact(arg))
        return update_from_dict(m, arg);
    if (is_map(m->state, arg) &&
        ((MapObject *)arg)->bytes_keys == m->bytes_keys)
        return update_from_map(m, (MapObject *)arg);
    /* Like dict.update: anything with keys() is a mapping. */
    PyObject *keys_attr = PyObject_GetAttrString(arg, "keys");
    if (keys_attr) {
        Py_DECREF(keys_attr);
        return update_from_keys(m, arg);
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    return update_from_pairs(m, arg);
}

static int map_update_common(MapObject *m, PyObject *args, PyObject *kwds,
                             const char *fname)
{
    PyObject *arg = Py_None;
    if (!PyArg_UnpackTuple(args, fname, 0, 1, &arg))
        return -1;
    if (arg != Py_None && map_update_arg(m, arg) < 0)
        return -1;
    if (kwds && PyDict_GET_SIZE(kwds) && update_from_dict(m, kwds) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The iterator: one cursor behind every iteration                     */
/* ------------------------------------------------------------------ */

static IterObject *iter_new(MapObject *m, int yield, int reverse)
{
    IterObject *it = PyObject_GC_New(IterObject, m->state->Iter_Type);
    if (it == NULL)
        return NULL;
    Py_INCREF(m);
    it->map = m;
    memset(&it->walk, 0, sizeof(it->walk));
    art_cursor_init(&it->walk.cursor, &m->tree);
    it->yield = yield;
    it->reverse = reverse;
    it->state = ITER_FRESH;
    it->busy = 0;
    it->start = START_EDGE;
    it->start_mode = ART_SEEK_GE;
    it->stop = STOP_NONE;
    it->stop_inclusive = 0;
    it->start_key = it->stop_key = NULL;
    it->start_len = it->stop_len = 0;
    it->prefix_min = it->prefix_len = 0;
    it->prefix_value = NULL;
    it->pair = NULL;
    PyObject_GC_Track(it);
    return it;
}

/* Whether the key the cursor reached lies beyond the iteration's end. */
static int past_stop(IterObject *it)
{
    const art_cursor *c = &it->walk.cursor;
    if (it->stop == STOP_PREFIX)
        return c->key_len < it->stop_len ||
               /* The key before had the prefix; changed_from says whether
                  this one may differ from it within the prefix. */
               (c->changed_from < it->stop_len &&
                memcmp(c->key, it->stop_key, it->stop_len) != 0);
    int cmp = art_key_compare(c->key, c->key_len, it->stop_key, it->stop_len);
    if (cmp == 0)
        return !it->stop_inclusive;
    return it->reverse ? cmp < 0 : cmp > 0;
}

static void iter_finish(IterObject *it)
{
    it->state = ITER_DONE;
    art_fuzzy_free(&it->walk);
}

/* Moves to the next key to yield: 1, 0 when exhausted, -1 on error. */
static int iter_step(IterObject *it)
{
    art_cursor *c = &it->walk.cursor;
    int r;
    if (it->state == ITER_DONE)
        return 0;
    if (it->yield == YIELD_PREFIXES) {
        it->prefix_value =
            art_prefix_at_least(&it->map->tree, it->start_key, it->start_len,
                                it->prefix_min, &it->prefix_len);
        if (it->prefix_value == NULL) {
            iter_finish(it);
            return 0;
        }
        it->state = ITER_RUNNING;
        it->prefix_min = it->prefix_len + 1;
        return 1;
    }
    if (it->yield == YIELD_FUZZY) {
        /* A long walk comes back in slices: signals are seen in between
           (a KeyboardInterrupt leaves the map and the iterator as they
           were, and the walk can go on). */
        while ((r = art_fuzzy_next(&it->walk)) == ART_EAGAIN)
            if (PyErr_CheckSignals() < 0)
                return -1;
    } else if (it->state == ITER_RUNNING)
        r = it->reverse ? art_cursor_prev(c) : art_cursor_next(c);
    else if (it->start == START_SEEK)
        r = art_cursor_seek(c, it->start_key, it->start_len, it->start_mode);
    else
        r = it->reverse ? art_cursor_last(c) : art_cursor_first(c);
    it->state = ITER_RUNNING;
    if (r > 0 && it->stop != STOP_NONE && past_stop(it))
        r = 0;
    if (r <= 0) {
        iter_finish(it);
        if (r < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return r;
}

static PyObject *iter_next(IterObject *it)
{
    if (it->busy) {
        PyErr_SetString(PyExc_RuntimeError, "iterator already executing");
        return NULL;
    }
    it->busy = 1;
    PyObject *res = NULL;
    if (iter_step(it) <= 0)
        goto done;
    art_cursor *c = &it->walk.cursor;
    MapObject *m = it->map;
    const uint8_t *kp = c->key;
    size_t kn = c->key_len;
    void *raw;
    if (it->yield == YIELD_PREFIXES) {
        kp = it->start_key;
        kn = it->prefix_len;
        raw = it->prefix_value;
    } else {
        raw = art_cursor_value(c);
    }
    if (it->yield == YIELD_KEYS) {
        res = key_new(m, kp, kn);
        goto done;
    }
    /* Own the value before making objects: the GC may run finalizers. */
    PyObject *v = value_get(m, raw);
    if (v == NULL)
        goto done;
    if (it->yield == YIELD_VALUES) {
        res = v;
        goto done;
    }
    unsigned long distance = it->walk.distance;
    PyObject *k = key_new(m, kp, kn);
    if (k == NULL) {
        Py_DECREF(v);
        goto done;
    }
    if (it->yield != YIELD_FUZZY) {
        res = it->pair;
        if (res && Py_REFCNT(res) == 1) {
            /* Nobody kept the last pair: reuse it, as dict's items
               iterator does, instead of allocating a tuple per item. */
            PyObject *old_k = PyTuple_GET_ITEM(res, 0);
            PyObject *old_v = PyTuple_GET_ITEM(res, 1);
            PyTuple_SET_ITEM(res, 0, k);
            PyTuple_SET_ITEM(res, 1, v);
            Py_INCREF(res);
            /* The GC may have untracked it while it held only atoms. */
            if (!PyObject_GC_IsTracked(res))
                PyObject_GC_Track(res);
            Py_DECREF(old_k);
            Py_DECREF(old_v);
            goto done;
        }
        res = PyTuple_New(2);
        if (res) {
            PyTuple_SET_ITEM(res, 0, k);
            PyTuple_SET_ITEM(res, 1, v);
            Py_INCREF(res);
            Py_XSETREF(it->pair, res);
            goto done;
        }
    } else {
        PyObject *d = PyLong_FromUnsignedLong(distance);
        res = d ? PyTuple_New(3) : NULL;
        if (res) {
            PyTuple_SET_ITEM(res, 0, k);
            PyTuple_SET_ITEM(res, 1, v);
            PyTuple_SET_ITEM(res, 2, d);
            goto done;
        }
        Py_XDECREF(d);
    }
    Py_DECREF(k);
    Py_DECREF(v);
done:
    it->busy = 0;
    return res;
}

/*
 * Iterators and views never drop their map in tp_clear: every reference
 * cycle through the map runs through a map, whose tp_clear breaks it, so
 * their map pointer is never NULL while they live.  An iterator's cached
 * pair can close a cycle of its own (pair -> value -> iterator), which
 * iter_clear breaks.
 */
static int iter_clear(IterObject *it)
{
    Py_CLEAR(it->pair);
    return 0;
}

static int iter_traverse(IterObject *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->map);
    Py_VISIT(it->pair);
    return 0;
}

static void iter_dealloc(IterObject *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    art_fuzzy_free(&it->walk);
    PyMem_Free(it->start_key);
    PyMem_Free(it->stop_key);
    Py_CLEAR(it->pair);
    Py_CLEAR(it->map);
    PyObject_GC_Del(it);
    Py_DECREF(tp);
}

static PyType_Slot iter_slots[] = {
    {Py_tp_doc, "Iterator over a TreeMap or BytesTreeMap, in key order.\n\n"
                "Weakly consistent: after the map changes, it continues with "
                "the\nsmallest key greater than the last one yielded (the "
                "largest\nsmaller one when reversed)."},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, iter_next},
    {Py_tp_traverse, iter_traverse},
    {Py_tp_clear, iter_clear},
    {Py_tp_dealloc, iter_dealloc},
    {0, NULL},
};

static PyType_Spec iter_spec = {
    .name = "blart.TreeMapIterator",
    .basicsize = sizeof(IterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
#ifdef Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_IMMUTABLETYPE
#endif
    ,
    .slots = iter_slots,
};

/* ------------------------------------------------------------------ */
/* Views                                                               */
/* ------------------------------------------------------------------ */

static PyObject *view_new(MapObject *m, PyTypeObject *type)
{
    ViewObject *v = PyObject_GC_New(ViewObject, type);
    if (v == NULL)
        return NULL;
    Py_INCREF(m);
    v->map = m;
    PyObject_GC_Track(v);
    return (PyObject *)v;
}

static int view_yield(ViewObject *v)
{
    blart_state *st = v->map->state;
    PyTypeObject *t = Py_TYPE(v);
    return t == st->KeysView_Type     ? YIELD_KEYS
           : t == st->ValuesView_Type ? YIELD_VALUES
                                      : YIELD_ITEMS;
}

static Py_ssize_t view_len(ViewObject *v)
{
    return (Py_ssize_t)v->map->tree.size;
}

static PyObject *view_iter(ViewObject *v)
{
    return (PyObject *)iter_new(v->map, view_yield(v), 0);
}

static PyObject *view_reversed(ViewObject *v, PyObject *Py_UNUSED(ignored))
{
    return (PyObject *)iter_new(v->map, view_yield(v), 1);
}

static int view_traverse(ViewObject *v, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(v));
    Py_VISIT(v->map);
    return 0;
}

static void view_dealloc(ViewObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject_GC_UnTrack(v);
    Py_CLEAR(v->map);
    PyObject_GC_Del(v);
    Py_DECREF(tp);
}

static PyObject *view_repr(ViewObject *v)
{
    int r = Py_ReprEnter((PyObject *)v);
    if (r != 0)
        return r > 0 ? PyUnicode_FromString("...") : NULL;
    PyObject *seq = PySequence_List((PyObject *)v);
    PyObject *res = NULL;
    if (seq)
        res = PyUnicode_FromFormat("%s(%R)", short_name(Py_TYPE(v)), seq);
    Py_XDECREF(seq);
    Py_ReprLeave((PyObject *)v);
    return res;
}

static int keys_contains(ViewObject *v, PyObject *key)
{
    return map_has(v->map, key);
}

static int items_contains(ViewObject *v, PyObject *item)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)
        return 0;
    PyObject *found = map_lookup(v->map, PyTuple_GET_ITEM(item, 0));
    if (found == NULL) {
        if (PyErr_Occurred()) {
            /* A key of the wrong type is simply not an item. */
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return -1;
            PyErr_Clear();
        }
        return 0;
    }
    int r = PyObject_RichCompareBool(found, PyTuple_GET_ITEM(item, 1), Py_EQ);
    Py_DECREF(found);
    return r;
}

static int is_setlike_view(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t->tp_iter != (getiterfunc)view_iter)
        return 0;
    return view_yield((ViewObject *)o) != YIELD_VALUES;
}

/* Set operations as dict views do them: into a new set, then update. */
static PyObject *view_setop(PyObject *a, PyObject *b, const char *method,
                            int commutative)
{
    if (!is_setlike_view(a)) {
        if (commutative) {
            PyObject *t = a;
            a = b;
            b = t;
        }
    }
    PyObject *result = PySet_New(a);
    if (result == NULL)
        return NULL;
    PyObject *r = PyObject_CallMethod(result, method, "O", b);
    if (r == NULL) {
        Py_DECREF(result);
        return NULL;
    }
    Py_DECREF(r);
    return result;
}

static PyObject *view_and(PyObject *a, PyObject *b)
{
    return view_setop(a, b, "intersection_update", 1);
}
static PyObject *view_or(PyObject *a, PyObject *b)
{
    return view_setop(a, b, "update", 1);
}
static PyObject *view_xor(PyObject *a, PyObject *b)
{
    return view_setop(a, b, "symmetric_difference_update", 1);
}
static PyObject *view_sub(PyObject *a, PyObject *b)
{
    return view_setop(a, b, "difference_update", 0);
}

static PyObject *view_richcompare(PyObject *self, PyObject *other, int op)
{
    /* Compare as sets with the set-likes CPython knows; others decide. */
    if (!PyAnySet_Check(other) && !is_setlike_view(other) &&
        !PyDictKeys_Check(other) && !PyDictItems_Check(other))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = PySet_New(self);
    if (mine == NULL)
        return NULL;
    PyObject *theirs = other;
    if (!PyAnySet_Check(other)) {
        theirs = PySet_New(other);
        if (theirs == NULL) {
            Py_DECREF(mine);
            return NULL;
        }
    } else {
        Py_INCREF(theirs);
    }
    PyObject *r = PyObject_RichCompare(mine, theirs, op);
    Py_DECREF(mine);
    Py_DECREF(theirs);
    return r;
}

static PyObject *view_isdisjoint(PyObject *self, PyObject *other)
{
    PyObject *it = PyObject_GetIter(other);
    if (it == NULL)
        return NULL;
    ViewObject *v = (ViewObject *)self;
    PyObject *x;
    while ((x = PyIter_Next(it)) != NULL) {
        /* Set semantics: what cannot be a key is simply not in the view
           (whereas `x in view` reports a wrong key type, like `x in m`). */
        int r;
        if (view_yield(v) == YIELD_KEYS && !key_type_ok(v->map, x))
            r = 0;
        else
            r = PySequence_Contains(self, x);
        Py_DECREF(x);
        if (r != 0) {
            Py_DECREF(it);
            if (r < 0)
                return NULL;
            Py_RETURN_FALSE;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_TRUE;
}

static PyMethodDef setview_methods[] = {
    {"isdisjoint", (PyCFunction)view_isdisjoint, METH_O,
     "Return True if the view and the iterable have no element in common."},
    {"__reversed__", (PyCFunction)view_reversed, METH_NOARGS,
     "Iterate in descending key order."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef valuesview_methods[] = {
    {"__reversed__", (PyCFunction)view_reversed, METH_NOARGS,
     "Iterate in descending key order."},
    {NULL, NULL, 0, NULL},
};

/* clang-format off */
#define VIEW_COMMON_SLOTS                                  \
    {Py_tp_iter, view_iter}, {Py_tp_traverse, view_traverse}, {Py_tp_dealloc, view_dealloc}, \
        {Py_tp_repr, view_repr}, {Py_sq_length, view_len}
/* clang-format on */

static PyType_Slot keys_slots[] = {
    VIEW_COMMON_SLOTS,
    {Py_tp_doc, "A live view of a map's keys, in key order; set-like."},
    {Py_sq_contains, keys_contains},
    {Py_tp_methods, setview_methods},
    {Py_tp_richcompare, view_richcompare},
    {Py_nb_and, view_and},
    {Py_nb_or, view_or},
    {Py_nb_xor, view_xor},
    {Py_nb_subtract, view_sub},
    {0, NULL},
};

static PyType_Slot items_slots[] = {
    VIEW_COMMON_SLOTS,
    {Py_tp_doc, "A live view of a map's (key, value) pairs, in key order; "
                "set-like."},
    {Py_sq_contains, items_contains},
    {Py_tp_methods, setview_methods},
    {Py_tp_richcompare, view_richcompare},
    {Py_nb_and, view_and},
    {Py_nb_or, view_or},
    {Py_nb_xor, view_xor},
    {Py_nb_subtract, view_sub},
    {0, NULL},
};

static PyType_Slot values_slots[] = {
    VIEW_COMMON_SLOTS,
    {Py_tp_doc, "A live view of a map's values, in key order."},
    {Py_tp_methods, valuesview_methods},
    {0, NULL},
};

#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define VIEW_FLAGS                                                             \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |                                 \
     Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE)
#else
#define VIEW_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC)
#endif

static PyType_Spec keys_spec = {"blart.TreeMapKeys", sizeof(ViewObject), 0,
                                VIEW_FLAGS, keys_slots};
static PyType_Spec values_spec = {"blart.TreeMapValues", sizeof(ViewObject), 0,
                                  VIEW_FLAGS, values_slots};
static PyType_Spec items_spec = {"blart.TreeMapItems", sizeof(ViewObject), 0,
                                 VIEW_FLAGS, items_slots};

/* ------------------------------------------------------------------ */
/* TreeMap / BytesTreeMap                                              */
/* ------------------------------------------------------------------ */

static PyObject *map_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    blart_state *st = state_of_type(type);
    if (st == NULL)
        return NULL;
    int bytes_keys = PyType_IsSubtype(type, st->BytesTreeMap_Type);
    return (PyObject *)map_alloc(type, st, bytes_keys);
}

static int map_init(MapObject *m, PyObject *args, PyObject *kwds)
{
    return map_update_common(m, args, kwds, short_name(Py_TYPE(m)));
}

typedef struct {
    visitproc visit;
    void *arg;
} visit_ctx;

static int visit_value(void *value, void *ctx)
{
    visit_ctx *vc = ctx;
    return vc->visit((PyObject *)value, vc->arg);
}

static int map_traverse(MapObject *m, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(m));
    visit_ctx ctx = {visit, arg};
    /* art_foreach never allocates, as a traverse function must not. */
    return art_foreach(&m->tree, visit_value, &ctx);
}

static int map_tp_clear(MapObject *m)
{
    map_clear_tree(m);
    return 0;
}

static void map_dealloc(MapObject *m)
{
    PyTypeObject *tp = Py_TYPE(m);
    PyObject_GC_UnTrack(m);
    Py_TRASHCAN_BEGIN(m, map_dealloc)
    if (m->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)m);
    map_clear_tree(m);
    tp->tp_free((PyObject *)m);
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

static Py_ssize_t map_length(MapObject *m)
{
    return (Py_ssize_t)m->tree.size;
}

static PyObject *map_subscript(MapObject *m, PyObject *key)
{
    PyObject *v = map_lookup(m, key);
    if (v == NULL && !PyErr_Occurred())
        set_key_error(key);
    return v;
}

static int map_ass_subscript(MapObject *m, PyObject *key, PyObject *value)
{
    if (value)
        return map_set(m, key, value);
    PyObject *old = map_take(m, key);
    if (old == NULL)
        return -1;
    Py_DECREF(old);
    return 0;
}

static int map_contains(MapObject *m, PyObject *key)
{
    return map_has(m, key);
}

static PyObject *map_iter(MapObject *m)
{
    return (PyObject *)iter_new(m, YIELD_KEYS, 0);
}

PyDoc_STRVAR(reversed_doc, "__reversed__($self, /)\n--\n\n"
                           "Iterate over the keys in descending order.");

static PyObject *map_reversed(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return (PyObject *)iter_new(m, YIELD_KEYS, 1);
}

/*
 * Parses (key[, default]) given positionally or default= by keyword, the
 * signature of get, setdefault and pop in collections.abc.  *dflt is left
 * alone when no default is given.
 */
static int parse_key_default(const char *fname, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames,
                             PyObject **key, PyObject **dflt)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw < 1 || nargs + nkw > 2 || nargs < 1) {
        PyErr_Format(PyExc_TypeError,
                     "%s expected a key and an optional default, got %zd "
                     "arguments",
                     fname, nargs + nkw);
        return -1;
    }
    if (nkw == 1 &&
        !(nargs == 1 && PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0)) &&
          PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                           "default") == 0)) {
        PyErr_Format(PyExc_TypeError,
                     "%s got an unexpected keyword argument %R", fname,
                     PyTuple_GET_ITEM(kwnames, 0));
        return -1;
    }
    *key = args[0];
    if (nargs + nkw == 2)
        *dflt = args[1];
    return 0;
}

PyDoc_STRVAR(get_doc, "get($self, key, /, default=None)\n--\n\n"
                      "Return the value for key if key is in the map, else "
                      "default.");

static PyObject *map_get(MapObject *m, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    PyObject *key, *dflt = Py_None;
    if (parse_key_default("get", args, nargs, kwnames, &key, &dflt) < 0)
        return NULL;
    PyObject *v = map_lookup(m, key);
    if (v == NULL && !PyErr_Occurred()) {
        v = dflt;
        Py_INCREF(v);
    }
    return v;
}

PyDoc_STRVAR(setdefault_doc,
             "setdefault($self, key, /, default=None)\n--\n\n"
             "Return the value for key, inserting default first if key is "
             "absent.");

static PyObject *map_setdefault(MapObject *m, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *key, *dflt = Py_None;
    if (parse_key_default("setdefault", args, nargs, kwnames, &key, &dflt) <
            0 ||
        refuse_change(m) < 0)
        return NULL;
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    void **slot = art_search_slot(&m->tree, kb.p, kb.n);
    PyObject *res;
    if (slot) {
        res = (PyObject *)*slot;
    } else {
        Py_INCREF(dflt);
        int r = art_insert(&m->tree, kb.p, kb.n, dflt, NULL);
        if (r < 0) {
            Py_DECREF(dflt);
            key_release(&kb);
            set_error(r);
            return NULL;
        }
        res = dflt;
    }
    Py_INCREF(res); /* before the release, which may run code */
    key_release(&kb);
    return res;
}

PyDoc_STRVAR(pop_doc, "pop($self, key, /, default=<unrepresentable>)\n--\n\n"
                      "Remove key and return its value.\n\n"
                      "If key is absent, return default if given, else "
                      "raise KeyError.");

static PyObject *map_pop(MapObject *m, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    PyObject *key, *dflt = NULL;
    if (parse_key_default("pop", args, nargs, kwnames, &key, &dflt) < 0)
        return NULL;
    PyObject *v = map_take(m, key);
    if (v == NULL && dflt && PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        v = dflt;
        Py_INCREF(v);
    }
    return v;
}

PyDoc_STRVAR(remove_doc, "remove($self, key, /)\n--\n\n"
                         "Remove key and return its value; KeyError if "
                         "absent.");

static PyObject *map_remove(MapObject *m, PyObject *key)
{
    return map_take(m, key);
}

PyDoc_STRVAR(insert_doc,
             "insert($self, key, value, /)\n--\n\n"
             "Set key to value; return the previous value, or None if the "
             "key was new.");

static PyObject *map_insert(MapObject *m, PyObject *const *args,
                            Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "insert expected 2 arguments, got %zd",
                     nargs);
        return NULL;
    }
    keybuf kb;
    void *old;
    if (refuse_change(m) < 0 || key_get(m, args[0], &kb) < 0)
        return NULL;
    Py_INCREF(args[1]);
    int r = art_insert(&m->tree, kb.p, kb.n, args[1], &old);
    key_release(&kb);
    if (r < 0) {
        Py_DECREF(args[1]);
        set_error(r);
        return NULL;
    }
    /* The old value's reference passes to the caller: nothing released. */
    if (old == NULL)
        Py_RETURN_NONE;
    return (PyObject *)old;
}

PyDoc_STRVAR(is_empty_doc, "is_empty($self, /)\n--\n\n"
                           "Return True if the map has no keys.");

static PyObject *map_is_empty(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(m->tree.size == 0);
}

/*
 * The first or last item, optionally removed.  Returns a (key, value)
 * tuple, or NULL with no exception set when the map is empty.
 */
static PyObject *map_edge_item(MapObject *m, int last, int pop)
{
    if (pop && refuse_change(m) < 0)
        return NULL;
    PyObject *res = PyTuple_New(2);
    if (res == NULL)
        return NULL;
    art_cursor c;
    art_cursor_init(&c, &m->tree);
    while (1) {
        int r = last ? art_cursor_last(&c) : art_cursor_first(&c);
        if (r <= 0) {
            if (r < 0)
                PyErr_NoMemory();
            Py_CLEAR(res);
            break;
        }
        PyObject *v = NULL;
        if (!pop && (v = value_get(m, art_cursor_value(&c))) == NULL) {
            Py_CLEAR(res);
            break;
        }
        PyObject *k = key_new(m, c.key, c.key_len);
        if (k == NULL) {
            if (!pop)
                Py_DECREF(v);
            Py_CLEAR(res);
            break;
        }
        if (pop) {
            /* Making the key may have run code that changed the map:
               remove by the bytes we hold, and start again if they are
               gone by now. */
            void *old;
            r = art_delete(&m->tree, c.key, c.key_len, &old);
            if (r <= 0) {
                Py_DECREF(k);
                if (r < 0) {
                    set_error(r);
                    Py_CLEAR(res);
                    break;
                }
                continue;
            }
            v = (PyObject *)old;
        }
        PyTuple_SET_ITEM(res, 0, k);
        PyTuple_SET_ITEM(res, 1, v);
        break;
    }
    art_cursor_free(&c);
    return res;
}

PyDoc_STRVAR(popitem_doc,
             "popitem($self, /)\n--\n\n"
             "Remove and return the (key, value) pair with the largest key.\n\n"
             "Raises KeyError if the map is empty.");

static PyObject *map_popitem(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    PyObject *res = map_edge_item(m, 1, 1);
    if (res == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_KeyError, "popitem(): %s is empty",
                     short_name(Py_TYPE(m)));
    return res;
}

PyDoc_STRVAR(clear_doc, "clear($self, /)\n--\n\nRemove all items.");

static PyObject *map_clear(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (refuse_change(m) < 0)
        return NULL;
    map_clear_tree(m);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(copy_doc, "copy($self, /)\n--\n\n"
                       "Return a shallow copy, of the same type (a subclass "
                       "instance's\nattributes are copied shallowly too).");

static PyObject *map_copy(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    PyObject *c = map_copy_of(m);
    if (c == NULL || Py_TYPE(m)->tp_dictoffset == 0)
        return c;
    /* A subclass instance's attributes come along (shallowly), as they do
       through copy.copy of a dict subclass. */
    PyObject *attrs = PyObject_GetAttrString((PyObject *)m, "__dict__");
    PyObject *dup = attrs ? PyDict_Copy(attrs) : NULL;
    int r = dup ? PyObject_SetAttrString(c, "__dict__", dup) : -1;
    Py_XDECREF(attrs);
    Py_XDECREF(dup);
    if (r < 0)
        Py_CLEAR(c);
    return c;
}

PyDoc_STRVAR(update_doc,
             "update($self, other=None, /, **kwargs)\n--\n\n"
             "Update from a mapping, an iterable of (key, value) pairs, "
             "and/or\nkeyword arguments, like dict.update.  Items applied "
             "before an\nerror stay applied.");

static PyObject *map_update(MapObject *m, PyObject *args, PyObject *kwds)
{
    if (map_update_common(m, args, kwds, "update") < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(fromkeys_doc,
             "fromkeys($type, iterable, value=None)\n--\n\n"
             "Create a new map with keys from iterable, each mapped to "
             "value.");

static PyObject *map_fromkeys(PyTypeObject *type, PyObject *args,
                              PyObject *kwds)
{
    static char *kwlist[] = {"iterable", "value", NULL};
    PyObject *iterable, *value = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:fromkeys", kwlist,
                                     &iterable, &value))
        return NULL;
    PyObject *m = PyObject_CallNoArgs((PyObject *)type);
    if (m == NULL)
        return NULL;
    PyObject *it = PyObject_GetIter(iterable);
    if (it == NULL)
        goto error;
    PyObject *k;
    while ((k = PyIter_Next(it)) != NULL) {
        int r = PyObject_SetItem(m, k, value);
        Py_DECREF(k);
        if (r < 0) {
            Py_DECREF(it);
            goto error;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        goto error;
    return m;
error:
    Py_DECREF(m);
    return NULL;
}

static PyObject *map_keys(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return view_new(m, m->state->KeysView_Type);
}

static PyObject *map_values(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return view_new(m, m->state->ValuesView_Type);
}

static PyObject *map_items(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return view_new(m, m->state->ItemsView_Type);
}

static PyObject *map_repr(MapObject *m)
{
    const char *name = short_name(Py_TYPE(m));
    if (m->tree.size == 0)
        return PyUnicode_FromFormat("%s()", name);
    int rc = Py_ReprEnter((PyObject *)m);
    if (rc != 0)
        return rc > 0 ? PyUnicode_FromString("...") : NULL;
    PyObject *parts = PyList_New(0), *res = NULL, *sep = NULL, *body = NULL;
    IterObject *it = NULL;
    if (parts == NULL)
        goto done;
    it = iter_new(m, YIELD_ITEMS, 0);
    if (it == NULL)
        goto done;
    PyObject *item;
    while ((item = iter_next(it)) != NULL) {
        PyObject *s = PyUnicode_FromFormat("%R: %R", PyTuple_GET_ITEM(item, 0),
                                           PyTuple_GET_ITEM(item, 1));
        Py_DECREF(item);
        if (s == NULL || PyList_Append(parts, s) < 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    if (PyErr_Occurred())
        goto done;
    sep = PyUnicode_FromString(", ");
    if (sep == NULL)
        goto done;
    body = PyUnicode_Join(sep, parts);
    if (body == NULL)
        goto done;
    res = PyUnicode_FromFormat("%s({%U})", name, body);
done:
    Py_XDECREF((PyObject *)it);
    Py_XDECREF(parts);
    Py_XDECREF(sep);
    Py_XDECREF(body);
    Py_ReprLeave((PyObject *)m);
    return res;
}

/* self == other for any Mapping other, compared like dicts. */
static int map_equal(MapObject *m, PyObject *other)
{
    Py_ssize_t n = PyObject_Size(other);
    if (n < 0)
        return -1;
    if ((size_t)n != m->tree.size)
        return 0;
    MapObject *om = NULL;
    if (is_map(m->state, other)) {
        om = (MapObject *)other;
        /* str keys and bytes keys never compare equal, as in dict. */
        if (om->bytes_keys != m->bytes_keys)
            return m->tree.size == 0;
    }
    art_cursor c;
    art_cursor_init(&c, &m->tree);
    int r, result = 1;
    while ((r = art_cursor_next(&c)) > 0) {
        PyObject *mine = value_get(m, art_cursor_value(&c)), *theirs;
        if (mine == NULL) {
            result = -1;
            break;
        }
        if (om) {
            void *raw = art_search(&om->tree, c.key, c.key_len);
            theirs = raw ? value_get(om, raw) : NULL;
        } else {
            PyObject *k = key_new(m, c.key, c.key_len);
            if (k == NULL) {
                Py_DECREF(mine);
                result = -1;
                break;
            }
            theirs = PyObject_GetItem(other, k);
            Py_DECREF(k);
            if (theirs == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                    Py_DECREF(mine);
                    result = -1;
                    break;
                }
                PyErr_Clear();
            }
        }
        if (theirs == NULL) {
            Py_DECREF(mine);
            result = 0;
            break;
        }
        int eq = PyObject_RichCompareBool(mine, theirs, Py_EQ);
        Py_DECREF(mine);
        Py_DECREF(theirs);
        if (eq <= 0) {
            result = eq;
            break;
        }
    }
    if (r < 0) {
        PyErr_NoMemory();
        result = -1;
    }
    art_cursor_free(&c);
    return result;
}

static PyObject *map_richcompare(MapObject *m, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE)
        Py_RETURN_NOTIMPLEMENTED;
    int ok = is_mapping(m->state, other);
    if (ok < 0)
        return NULL;
    if (!ok)
        Py_RETURN_NOTIMPLEMENTED;
    int eq = map_equal(m, other);
    if (eq < 0)
        return NULL;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

/* ------------------------------------------------------------------ */
/* Ordered queries                                                     */
/* ------------------------------------------------------------------ */

/*
 * A flag argument: a bool, or an int as sorted(reverse=...) accepts; any
 * other type is refused rather than judged by its truth value.
 */
static int as_flag(PyObject *o, const char *what, int *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a bool, not %.200s", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    int r = PyObject_IsTrue(o);
    if (r < 0)
        return -1;
    *out = r;
    return 0;
}

/* A PyMem copy of kb's bytes (never NULL on success, even when empty). */
static uint8_t *copy_key_bytes(const keybuf *kb)
{
    uint8_t *p = PyMem_Malloc(kb->n ? kb->n : 1);
    if (p == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (kb->n)
        memcpy(p, kb->p, kb->n);
    return p;
}

/* (key, value) of the cursor's position, or None when r == 0. */
static PyObject *cursor_item(MapObject *m, art_cursor *c, int r)
{
    if (r < 0)
        return PyErr_NoMemory();
    if (r == 0)
        Py_RETURN_NONE;
    PyObject *v = value_get(m, art_cursor_value(c));
    if (v == NULL)
        return NULL;
    PyObject *k = key_new(m, c->key, c->key_len);
    if (k == NULL) {
        Py_DECREF(v);
        return NULL;
    }
    PyObject *res = PyTuple_New(2);
    if (res == NULL) {
        Py_DECREF(k);
        Py_DECREF(v);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, k);
    PyTuple_SET_ITEM(res, 1, v);
    return res;
}

static PyObject *edge_or_none(MapObject *m, int last, int pop)
{
    PyObject *res = map_edge_item(m, last, pop);
    if (res == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return res;
}

PyDoc_STRVAR(first_doc, "first($self, /)\n--\n\n"
                        "Return the (key, value) pair with the smallest key, "
                        "or None if empty.\n\n"
                        ">>> TreeMap({'b': 2, 'a': 1}).first()\n"
                        "('a', 1)");
PyDoc_STRVAR(last_doc, "last($self, /)\n--\n\n"
                       "Return the (key, value) pair with the largest key, "
                       "or None if empty.\n\n"
                       ">>> TreeMap({'b': 2, 'a': 1}).last()\n"
                       "('b', 2)");
PyDoc_STRVAR(pop_first_doc,
             "pop_first($self, /)\n--\n\n"
             "Remove and return the pair with the smallest key, or None if "
             "empty.\n\n"
             ">>> m = TreeMap({'b': 2, 'a': 1})\n"
             ">>> m.pop_first(), list(m)\n"
             "(('a', 1), ['b'])");
PyDoc_STRVAR(pop_last_doc,
             "pop_last($self, /)\n--\n\n"
             "Remove and return the pair with the largest key, or None if "
             "empty.\n\n"
             ">>> m = TreeMap({'b': 2, 'a': 1})\n"
             ">>> m.pop_last(), list(m)\n"
             "(('b', 2), ['a'])");

static PyObject *map_first(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return edge_or_none(m, 0, 0);
}
static PyObject *map_last(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return edge_or_none(m, 1, 0);
}
static PyObject *map_pop_first(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return edge_or_none(m, 0, 1);
}
static PyObject *map_pop_last(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return edge_or_none(m, 1, 1);
}

/* One seek, returning the pair found or None. */
static PyObject *seek_item(MapObject *m, PyObject *key, art_seek_mode mode)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    art_cursor c;
    art_cursor_init(&c, &m->tree);
    int r = art_cursor_seek(&c, kb.p, kb.n, mode);
    /* The pair is made while the tree is as the seek left it: releasing
       the key's buffer afterwards may run code that changes the map. */
    PyObject *res = cursor_item(m, &c, r);
    key_release(&kb);
    art_cursor_free(&c);
    return res;
}

PyDoc_STRVAR(floor_doc, "floor($self, key, /)\n--\n\n"
                        "The pair with the largest key <= key, or None.\n\n"
                        ">>> TreeMap({'a': 1, 'c': 3}).floor('b')\n"
                        "('a', 1)");
PyDoc_STRVAR(ceiling_doc, "ceiling($self, key, /)\n--\n\n"
                          "The pair with the smallest key >= key, or None.\n\n"
                          ">>> TreeMap({'a': 1, 'c': 3}).ceiling('b')\n"
                          "('c', 3)");
PyDoc_STRVAR(lower_doc, "lower($self, key, /)\n--\n\n"
                        "The pair with the largest key < key, or None.\n\n"
                        ">>> TreeMap({'a': 1, 'c': 3}).lower('c')\n"
                        "('a', 1)");
PyDoc_STRVAR(higher_doc, "higher($self, key, /)\n--\n\n"
                         "The pair with the smallest key > key, or None.\n\n"
                         ">>> TreeMap({'a': 1, 'c': 3}).higher('a')\n"
                         "('c', 3)");

static PyObject *map_floor(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_LE);
}
static PyObject *map_ceiling(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_GE);
}
static PyObject *map_lower(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_LT);
}
static PyObject *map_higher(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_GT);
}

PyDoc_STRVAR(get_prefix_doc,
             "get_prefix($self, prefix, /)\n--\n\n"
             "The pair with the smallest key starting with prefix, or None.\n\n"
             ">>> TreeMap({'apple': 1, 'apricot': 2}).get_prefix('ap')\n"
             "('apple', 1)");

static PyObject *map_get_prefix(MapObject *m, PyObject *prefix)
{
    keybuf kb;
    if (key_get(m, prefix, &kb) < 0)
        return NULL;
    art_cursor c;
    art_cursor_init(&c, &m->tree);
    int r = art_cursor_seek(&c, kb.p, kb.n, ART_SEEK_GE);
    if (r > 0 && (c.key_len < kb.n || (kb.n && memcmp(c.key, kb.p, kb.n) != 0)))
        r = 0;
    PyObject *res = cursor_item(m, &c, r);
    key_release(&kb);
    art_cursor_free(&c);
    return res;
}

PyDoc_STRVAR(prefix_iter_doc,
             "prefix_iter($self, prefix, *, reverse=False)\n--\n\n"
             "Iterate over the (key, value) pairs whose key starts with "
             "prefix,\nin ascending key order (descending if reverse).  The "
             "empty prefix\nmatches every key.  Costs O(len(prefix)) to "
             "start, then O(1)\namortised per pair.\n\n"
             ">>> m = TreeMap({'app': 0, 'apple': 1, 'banana': 2})\n"
             ">>> list(m.prefix_iter('app'))\n"
             "[('app', 0), ('apple', 1)]");

static PyObject *map_prefix_iter(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prefix", "reverse", NULL};
    PyObject *prefix, *rev = Py_False;
    int reverse = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:prefix_iter", kwlist,
                                     &prefix, &rev) ||
        as_flag(rev, "reverse", &reverse) < 0)
        return NULL;
    keybuf kb;
    if (key_get(m, prefix, &kb) < 0)
        return NULL;
    IterObject *it = iter_new(m, YIELD_ITEMS, reverse);
    if (it == NULL)
        goto error;
    it->stop = STOP_PREFIX;
    it->stop_len = kb.n;
    if ((it->stop_key = copy_key_bytes(&kb)) == NULL)
        goto error;
    if (!reverse) {
        it->start = START_SEEK;
        it->start_mode = ART_SEEK_GE;
        it->start_len = kb.n;
        if ((it->start_key = copy_key_bytes(&kb)) == NULL)
            goto error;
    } else {
        /* The last key with the prefix is the last one below the
           prefix's successor: drop trailing 0xFF bytes, add one to the
           last byte.  No successor (empty or all 0xFF): start at the end. */
        size_t n = kb.n;
        while (n > 0 && kb.p[n - 1] == 0xFF)
            n--;
        if (n > 0) {
            if ((it->start_key = copy_key_bytes(&kb)) == NULL)
                goto error;
            it->start_key[n - 1]++;
            it->start_len = n;
            it->start = START_SEEK;
            it->start_mode = ART_SEEK_LT;
        }
    }
    key_release(&kb);
    return (PyObject *)it;
error:
    Py_XDECREF(it);
    key_release(&kb);
    return NULL;
}

PyDoc_STRVAR(range_doc,
             "range($self, start=None, stop=None, *, inclusive=(True, False), "
             "reverse=False)\n--\n\n"
             "Iterate over the (key, value) pairs with start <= key < stop, "
             "in\nascending key order (descending if reverse).  None leaves a "
             "side\nunbounded; inclusive says whether each bound is included. "
             " start > stop\ngives an empty iterator.\n\n"
             ">>> m = TreeMap.fromkeys('abcde', 0)\n"
             ">>> [k for k, _ in m.range('b', 'd')]\n"
             "['b', 'c']");

static PyObject *map_range(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"start", "stop", "inclusive", "reverse", NULL};
    PyObject *start = Py_None, *stop = Py_None, *inclusive = NULL;
    PyObject *rev = Py_False;
    int reverse = 0, inc[2] = {1, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO$OO:range", kwlist, &start,
                                     &stop, &inclusive, &rev) ||
        as_flag(rev, "reverse", &reverse) < 0)
        return NULL;
    if (inclusive) {
        if (!PyTuple_Check(inclusive) || PyTuple_GET_SIZE(inclusive) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "inclusive must be a tuple of two bools, not %.200s",
                         Py_TYPE(inclusive)->tp_name);
            return NULL;
        }
        for (int i = 0; i < 2; i++)
            if (as_flag(PyTuple_GET_ITEM(inclusive, i),
                        i ? "inclusive[1]" : "inclusive[0]", &inc[i]) < 0)
                return NULL;
    }
    keybuf lo, hi;
    int have_lo = start != Py_None, have_hi = stop != Py_None;
    if (have_lo && key_get(m, start, &lo) < 0)
        return NULL;
    if (have_hi && key_get(m, stop, &hi) < 0) {
        if (have_lo)
            key_release(&lo);
        return NULL;
    }
    IterObject *it = iter_new(m, YIELD_ITEMS, reverse);
    if (it == NULL)
        goto error;
    /* Walking forward, start from the low bound and stop at the high
       one; backward, the other way round. */
    keybuf *from = reverse ? (have_hi ? &hi : NULL) : (have_lo ? &lo : NULL);
    keybuf *to = reverse ? (have_lo ? &lo : NULL) : (have_hi ? &hi : NULL);
    int from_inc = reverse ? inc[1] : inc[0];
    if (from) {
        it->start = START_SEEK;
        it->start_mode = reverse ? (from_inc ? ART_SEEK_LE : ART_SEEK_LT)
                                 : (from_inc ? ART_SEEK_GE : ART_SEEK_GT);
        it->start_len = from->n;
        if ((it->start_key = copy_key_bytes(from)) == NULL)
            goto error;
    }
    if (to) {
        it->stop = STOP_BOUND;
        it->stop_inclusive = reverse ? inc[0] : inc[1];
        it->stop_len = to->n;
        if ((it->stop_key = copy_key_bytes(to)) == NULL)
            goto error;
    }
    if (have_lo)
        key_release(&lo);
    if (have_hi)
        key_release(&hi);
    return (PyObject *)it;
error:
    Py_XDECREF(it);
    if (have_lo)
        key_release(&lo);
    if (have_hi)
        key_release(&hi);
    return NULL;
}

PyDoc_STRVAR(prefixes_doc,
             "prefixes($self, key, /)\n--\n\n"
             "Iterate over the (k, v) pairs whose key k is a prefix of key "
             "(key\nitself included), shortest first.\n\n"
             ">>> m = TreeMap({'/': 0, '/api': 1, '/api/users': 2})\n"
             ">>> [k for k, _ in m.prefixes('/api/users/7')]\n"
             "['/', '/api', '/api/users']");

static PyObject *map_prefixes(MapObject *m, PyObject *key)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    IterObject *it = iter_new(m, YIELD_PREFIXES, 0);
    if (it && (it->start_key = copy_key_bytes(&kb)) == NULL)
        Py_CLEAR(it);
    if (it)
        it->start_len = kb.n;
    key_release(&kb);
    return (PyObject *)it;
}

PyDoc_STRVAR(longest_prefix_doc,
             "longest_prefix($self, key, /)\n--\n\n"
             "The (k, v) pair whose key k is the longest prefix of key (key "
             "itself\nincluded), or None.\n\n"
             ">>> m = TreeMap({'/': 0, '/api': 1})\n"
             ">>> m.longest_prefix('/api/users')\n"
             "('/api', 1)");

static PyObject *map_longest_prefix(MapObject *m, PyObject *key)
{
    keybuf kb;
    size_t n = 0;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    PyObject *res = NULL;
    void *raw = art_longest_prefix(&m->tree, kb.p, kb.n, &n);
    if (raw == NULL) {
        res = Py_None;
        Py_INCREF(res);
    } else {
        PyObject *v = value_get(m, raw);
        PyObject *k = v ? key_new(m, kb.p, n) : NULL;
        if (k)
            res = PyTuple_Pack(2, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    key_release(&kb);
    return res;
}

PyDoc_STRVAR(fuzzy_doc,
             "fuzzy_search($self, key, max_distance)\n--\n\n"
             "Iterate over (key, value, distance) for every key within "
             "Levenshtein\ndistance max_distance of key, in ascending key "
             "order.  TreeMap counts\ncharacters (code points), BytesTreeMap "
             "bytes.  Walks only the part\nof the tree within reach of key.\n\n"
             ">>> m = TreeMap.fromkeys(['cafe', 'café', 'cafes', 'tea'], 0)\n"
             ">>> list(m.fuzzy_search('cafe', 1))\n"
             "[('cafe', 0, 0), ('cafes', 0, 1), ('café', 0, 1)]");

static PyObject *map_fuzzy_search(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", "max_distance", NULL};
    PyObject *key, *dist;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:fuzzy_search", kwlist,
                                     &key, &dist))
        return NULL;
    if (!PyLong_Check(dist)) {
        PyErr_Format(PyExc_TypeError, "max_distance must be an int, not %.200s",
                     Py_TYPE(dist)->tp_name);
        return NULL;
    }
    int overflow;
    long long d = PyLong_AsLongLongAndOverflow(dist, &overflow);
    if (d == -1 && PyErr_Occurred())
        return NULL;
    if (overflow < 0 || (!overflow && d < 0)) {
        PyErr_SetString(PyExc_ValueError, "max_distance must be >= 0");
        return NULL;
    }
    /* No key is 2**32 symbols long, so a larger bound means "any key". */
    uint32_t maxd =
        (overflow > 0 || d > (long long)UINT32_MAX) ? UINT32_MAX : (uint32_t)d;
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    IterObject *it = iter_new(m, YIELD_FUZZY, 0);
    if (it && art_fuzzy_init(&it->walk, &m->tree, kb.p, kb.n, maxd,
                             !m->bytes_keys) < 0) {
        Py_CLEAR(it);
        PyErr_NoMemory();
    }
    key_release(&kb);
    return (PyObject *)it;
}

/* The map among a and b (one of them is), or NULL. */
static MapObject *map_operand(PyObject *a, PyObject *b, PyObject **other)
{
    blart_state *st = find_state(Py_TYPE(a));
    if (st && is_map(st, a)) {
        *other = b;
        return (MapObject *)a;
    }
    st = find_state(Py_TYPE(b));
    if (st && is_map(st, b)) {
        *other = a;
        return (MapObject *)b;
    }
    return NULL;
}

/*
 * m | mapping: a copy of m updated from mapping.  mapping | m: a map of
 * m's type holding mapping's items updated from m.  Like dict, both
 * sides must be mappings.
 */
static PyObject *map_or(PyObject *a, PyObject *b)
{
    PyObject *other;
    MapObject *m = map_operand(a, b, &other);
    if (m == NULL)
        Py_RETURN_NOTIMPLEMENTED;
    int ok = is_mapping(m->state, other);
    if (ok <= 0) {
        if (ok < 0)
            return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    MapObject *res;
    if ((PyObject *)m == a) {
        res = (MapObject *)map_copy_of(m);
        if (res && map_update_arg(res, other) < 0)
            Py_CLEAR(res);
    } else {
        res = map_alloc(Py_TYPE(m), m->state, m->bytes_keys);
        if (res && (map_update_arg(res, other) < 0 ||
                    map_update_arg(res, (PyObject *)m) < 0))
            Py_CLEAR(res);
    }
    return (PyObject *)res;
}

/* m |= other: update from a mapping or an iterable of pairs. */
static PyObject *map_ior(PyObject *a, PyObject *b)
{
    if (map_update_arg((MapObject *)a, b) < 0)
        return NULL;
    Py_INCREF(a);
    return a;
}

PyDoc_STRVAR(reduce_doc, "__reduce__($self, /)\n--\n\nSupport for pickle.");

static PyObject *map_reduce(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    /* type(m)() then m's items one by one, streamed (no list of the map
       is built); a subclass's instance dict travels as state. */
    PyObject *state = NULL, *items = NULL, *res = NULL;
    state = PyObject_GetAttrString((PyObject *)m, "__dict__");
    if (state == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
    }
    items = (PyObject *)iter_new(m, YIELD_ITEMS, 0);
    if (items == NULL)
        goto done;
    res = Py_BuildValue("O()OOO", (PyObject *)Py_TYPE(m),
                        state ? state : Py_None, Py_None, items);
done:
    Py_XDECREF(state);
    Py_XDECREF(items);
    return res;
}

PyDoc_STRVAR(sizeof_doc, "__sizeof__($self, /)\n--\n\n"
                         "Size of the map in bytes: the object and the "
                         "nodes and leaves of\nits tree (not the values).");

static PyObject *map_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    size_t n = (size_t)Py_TYPE(m)->tp_basicsize + m->tree.reserved +
               m->tree.walk_cap * sizeof(art_walk_frame);
    return PyLong_FromSize_t(n);
}

PyDoc_STRVAR(stats_doc,
             "stats($self, /)\n--\n\n"
             "Shape of the tree: a dict with the number of inner nodes of "
             "each\nkind ('node4', 'node16', 'node48', 'node256'), 'leaves', "
             "'node_values'\n(keys ending at an inner node), 'max_depth' and "
             "'mean_depth' (inner\nnodes above a key), 'bytes' in live nodes "
             "and leaves, and 'reserved'\n(the memory the tree holds for "
             "them, free slab space included).");

static PyObject *map_stats(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    art_stats_t st;
    art_stats(&m->tree, &st);
    return Py_BuildValue(
        "{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:d,s:n,s:n}", "node4",
        (Py_ssize_t)st.nodes[ART_NODE4], "node16",
        (Py_ssize_t)st.nodes[ART_NODE16], "node48",
        (Py_ssize_t)st.nodes[ART_NODE48], "node256",
        (Py_ssize_t)st.nodes[ART_NODE256], "leaves", (Py_ssize_t)st.leaves,
        "node_values", (Py_ssize_t)st.node_values, "max_depth",
        (Py_ssize_t)st.max_depth, "mean_depth", st.mean_depth, "bytes",
        (Py_ssize_t)st.bytes, "reserved", (Py_ssize_t)m->tree.reserved);
}

static PyObject *map_validate(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    const char *why = NULL;
    if (art_validate(&m->tree, &why) != ART_OK) {
        PyErr_Format(PyExc_AssertionError, "tree invariant broken: %s", why);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *map_fail_alloc(MapObject *m, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return NULL;
    }
    m->tree.fail_countdown = n;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* Files: save, load and FrozenTreeMap (format: docs/format.md)        */
/* ------------------------------------------------------------------ */

/* Header flags. */
#define FLAG_STR_KEYS 1u
#define FLAG_PICKLED  2u
#define KNOWN_FLAGS   (FLAG_STR_KEYS | FLAG_PICKLED)

/* Value references: the low 3 bits say what the rest is. */
#define REF_RECORD     0u /* offset of a record in the values section */
#define REF_INT        1u /* a signed 61-bit int in the upper bits */
#define REF_CONST      2u /* 0 None, 1 False, 2 True in the upper bits */
#define INLINE_INT_MIN (-((int64_t)1 << 60))
#define INLINE_INT_MAX (((int64_t)1 << 60) - 1)

/* Record kinds. */
enum { REC_INT = 1, REC_FLOAT, REC_STR, REC_BYTES, REC_PICKLE };

static const char values_magic[8] = {'V', 'A', 'L', 'U', 'E', 'S', 0, 0};

struct frozen_file {
    PyObject *mmap; /* the mmap.mmap object; view is exported from it */
    Py_buffer view;
    PyObject *path; /* absolute path, as opened */
    const uint8_t *values;
    uint64_t values_size;
    int allow_pickle;
    int has_pickle;
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* the format exists only on little-endian hosts */
    return v;
}

static PyObject *persist_module(blart_state *st)
{
    if (st->persist == NULL)
        st->persist = PyImport_ImportModule("blart._persist");
    return st->persist;
}

/* FormatError naming f's file, for a value found damaged: NULL. */
static PyObject *format_error(blart_state *st, const struct frozen_file *f,
                              const char *why)
{
    file_error(st, ART_EFORMAT, why, f->path);
    return NULL;
}

/*
 * Checks a value reference and, for a record, its header; returns the
 * record kind (0 for an inline value) or -1 with *why set.
 */
static int check_ref(const struct frozen_file *f, uint64_t ref, uint64_t *len,
                     const char **why)
{
    switch (ref & 7u) {
    case REF_INT:
        return 0;
    case REF_CONST:
        if ((ref >> 3) > 2) {
            *why = "unknown constant value";
            return -1;
        }
        return 0;
    case REF_RECORD:
        break;
    default:
        *why = "unknown kind of value reference";
        return -1;
    }
    if (ref < 8 || f->values_size < 8 || ref > f->values_size - 8) {
        *why = "value reference outside the values section";
        return -1;
    }
    uint64_t word = le64(f->values + ref);
    int kind = (int)(word & 0xFF);
    *len = word >> 8;
    if (*len > f->values_size - ref - 8) {
        *why = "value record runs past the values section";
        return -1;
    }
    if (kind < REC_INT || kind > REC_PICKLE) {
        *why = "value record of unknown kind";
        return -1;
    }
    if ((kind == REC_FLOAT && *len != 8) || (kind == REC_INT && *len == 0)) {
        *why = "value record of the wrong length";
        return -1;
    }
    if (kind == REC_PICKLE && !f->has_pickle) {
        *why = "pickled value in a file whose header says it has none";
        return -1;
    }
    return kind;
}

typedef struct {
    const struct frozen_file *file;
    const char *why;
} check_ctx;

static int check_value_cb(uint64_t ref, void *ctx)
{
    check_ctx *cc = ctx;
    uint64_t len;
    return check_ref(cc->file, ref, &len, &cc->why) < 0;
}

/* The Python value of reference ref in file f: a new reference, or NULL
   with an exception (FormatError naming the file when ref is damaged). */
static PyObject *decode_value(blart_state *st, const struct frozen_file *f,
                              uint64_t ref)
{
    const char *why = NULL;
    uint64_t len = 0;
    int kind = check_ref(f, ref, &len, &why);
    if (kind < 0)
        return format_error(st, f, why);
    if (kind == 0) {
        if ((ref & 7u) == REF_INT)
            return PyLong_FromLongLong((long long)((int64_t)ref >> 3));
        PyObject *c = (ref >> 3) == 0   ? Py_None
                      : (ref >> 3) == 1 ? Py_False
                                        : Py_True;
        Py_INCREF(c);
        return c;
    }
    const char *p = (const char *)f->values + ref + 8;
    Py_ssize_t n = (Py_ssize_t)len;
    switch (kind) {
    case REC_FLOAT: {
        double d;
        memcpy(&d, p, 8);
        return PyFloat_FromDouble(d);
    }
    case REC_STR: {
        PyObject *s = PyUnicode_DecodeUTF8(p, n, "surrogatepass");
        if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeError)) {
            PyErr_Clear();
            return format_error(st, f, "a str value is not UTF-8");
        }
        return s;
    }
    case REC_BYTES:
        return PyBytes_FromStringAndSize(p, n);
    case REC_INT: {
        PyObject *mod = persist_module(st);
        return mod ? PyObject_CallMethod(mod, "int_from_bytes", "y#", p, n)
                   : NULL;
    }
    default: {
        if (!f->allow_pickle) /* refused at open; never reached */
            return format_error(st, f, "pickled value without allow_pickle");
        PyObject *mod = persist_module(st);
        if (mod == NULL)
            return NULL;
        PyObject *b = PyMemoryView_FromMemory((char *)p, n, PyBUF_READ);
        if (b == NULL)
            return NULL;
        PyObject *r = PyObject_CallMethod(mod, "unpickle", "OO", b, f->path);
        Py_DECREF(b);
        return r;
    }
    }
}

/* A map's value as a new reference: the object itself, or decoded. */
static PyObject *value_get(MapObject *m, void *value)
{
    if (m->file == NULL) {
        Py_INCREF((PyObject *)value);
        return (PyObject *)value;
    }
    return decode_value(m->state, m->file, (uint64_t)(uintptr_t)value);
}

/* --- writing ------------------------------------------------------- */

typedef struct {
    blart_state *st;
    PyObject *write; /* the file's bound write method */
    art_hash hash;
    uint8_t *values; /* the values section, built in memory */
    size_t values_len, values_cap;
    int allow_pickle, has_pickle;
} save_ctx;

static int write_cb(const void *data, size_t n, void *ctx)
{
    save_ctx *sc = ctx;
    art_hash_update(&sc->hash, data, n);
    PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)n);
    if (b == NULL)
        return -1;
    PyObject *r = PyObject_CallOneArg(sc->write, b);
    Py_DECREF(b);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Appends a record; its offset in *ref. */
static int add_record(save_ctx *sc, int kind, const void *data, size_t n,
                      uint64_t *ref)
{
    size_t need = 8 + ((n + 7) & ~(size_t)7);
    if (n > ((uint64_t)1 << 56) - 1 || need < n ||
        sc->values_len > PY_SSIZE_T_MAX - need) {
        PyErr_SetString(PyExc_OverflowError, "value too large to save");
        return -1;
    }
    if (sc->values_len + need > sc->values_cap) {
        size_t cap = sc->values_cap * 2;
        if (cap < sc->values_len + need)
            cap = sc->values_len + need;
        uint8_t *p = PyMem_Realloc(sc->values, cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        sc->values = p;
        sc->values_cap = cap;
    }
    uint8_t *o = sc->values + sc->values_len;
    uint64_t word = ((uint64_t)n << 8) | (uint64_t)kind;
    memcpy(o, &word, 8);
    if (n)
        memcpy(o + 8, data, n);
    memset(o + 8 + n, 0, need - 8 - n);
    *ref = sc->values_len;
    sc->values_len += need;
    return 0;
}

/* A record holding the bytes object b (consumed). */
static int add_bytes_record(save_ctx *sc, int kind, PyObject *b, uint64_t *ref)
{
    if (b == NULL)
        return -1;
    int r = add_record(sc, kind, PyBytes_AS_STRING(b),
                       (size_t)PyBytes_GET_SIZE(b), ref);
    Py_DECREF(b);
    return r;
}

static int encode_cb(void *value, uint64_t *ref, void *ctx)
{
    save_ctx *sc = ctx;
    PyObject *v = (PyObject *)value;
    if (v == Py_None || v == Py_False || v == Py_True) {
        uint64_t c = v == Py_None ? 0 : v == Py_False ? 1 : 2;
        *ref = (c << 3) | REF_CONST;
        return 0;
    }
    int r = -1;
    /* Code may run below (pickling, the GC): hold the value. */
    Py_INCREF(v);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow && x >= INLINE_INT_MIN && x <= INLINE_INT_MAX) {
            *ref = ((uint64_t)x << 3) | REF_INT;
            r = 0;
        } else if (!PyErr_Occurred()) {
            PyObject *mod = persist_module(sc->st);
            if (mod)
                r = add_bytes_record(
                    sc, REC_INT,
                    PyObject_CallMethod(mod, "int_to_bytes", "(O)", v), ref);
        }
    } else if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        r = add_record(sc, REC_FLOAT, &d, 8, ref);
    } else if (PyUnicode_CheckExact(v)) {
        if (PyUnicode_IS_ASCII(v))
            r = add_record(sc, REC_STR, PyUnicode_DATA(v),
                           (size_t)PyUnicode_GET_LENGTH(v), ref);
        else
            r = add_bytes_record(
                sc, REC_STR,
                PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass"), ref);
    } else if (PyBytes_CheckExact(v)) {
        r = add_record(sc, REC_BYTES, PyBytes_AS_STRING(v),
                       (size_t)PyBytes_GET_SIZE(v), ref);
    } else if (sc->allow_pickle) {
        PyObject *mod = persist_module(sc->st);
        if (mod) {
            sc->has_pickle = 1;
            r = add_bytes_record(
                sc, REC_PICKLE,
                PyObject_CallMethod(mod, "pickle_value", "(O)", v), ref);
        }
    } else {
        PyErr_Format(PyExc_ValueError,
                     "cannot save a value of type %.200s without "
                     "allow_pickle=True (only None, bool, int, float, str "
                     "and bytes are stored natively)",
                     Py_TYPE(v)->tp_name);
    }
    Py_DECREF(v);
    return r;
}

PyDoc_STRVAR(dump_doc, "_dump($self, file, allow_pickle, /)\n--\n\n"
                       "Write the map to a binary file object open for "
                       "writing at offset 0\n(used by save(), which makes "
                       "the write atomic).");

static PyObject *map_dump(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_dump expected 2 arguments");
        return NULL;
    }
    if (m->saving) {
        PyErr_Format(PyExc_RuntimeError, "%s is already being saved",
                     short_name(Py_TYPE(m)));
        return NULL;
    }
    save_ctx sc;
    memset(&sc, 0, sizeof(sc));
    sc.st = m->state;
    if (as_flag(args[1], "allow_pickle", &sc.allow_pickle) < 0)
        return NULL;
    PyObject *file = args[0], *res = NULL;
    art_file_header h;
    memset(&h, 0, sizeof(h));
    sc.write = PyObject_GetAttrString(file, "write");
    if (sc.write == NULL)
        return NULL;
    art_hash_init(&sc.hash);
    uint8_t head[ART_FILE_HEADER_SIZE] = {0};
    uint64_t ignored;
    m->saving = 1;
    /* The values section begins with its magic, so no record is at 0. */
    if (add_record(&sc, 0, NULL, 0, &ignored) < 0)
        goto done;
    memcpy(sc.values, values_magic, 8);
    {
        PyObject *r = PyObject_CallFunction(sc.write, "y#", (const char *)head,
                                            (Py_ssize_t)ART_FILE_HEADER_SIZE);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    int e = art_file_write_nodes(&m->tree, write_cb, encode_cb, &sc, &h);
    if (e != ART_OK) {
        if (e == ART_ENOMEM && !PyErr_Occurred())
            PyErr_NoMemory();
        else if (e == ART_EINVAL)
            PyErr_SetString(PyExc_OSError,
                            "blart files need a 64-bit little-endian machine");
        goto done;
    }
    if (write_cb(sc.values, sc.values_len, &sc) < 0)
        goto done;
    h.version = ART_FILE_VERSION;
    h.flags = (m->bytes_keys ? 0 : FLAG_STR_KEYS) |
              (sc.has_pickle ? FLAG_PICKLED : 0);
    h.values_size = sc.values_len;
    h.checksum = 0;
    art_file_header_encode(&h, head);
    art_hash_update(&sc.hash, head, 56);
    h.checksum = art_hash_final(&sc.hash);
    art_file_header_encode(&h, head);
    {
        PyObject *r = PyObject_CallMethod(file, "seek", "i", 0);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
        r = PyObject_CallMethod(file, "write", "y#", (const char *)head,
                                (Py_ssize_t)ART_FILE_HEADER_SIZE);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    res = Py_None;
    Py_INCREF(res);
done:
    m->saving = 0;
    Py_XDECREF(sc.write);
    PyMem_Free(sc.values);
    return res;
}

/* Parses (path, *, allow_pickle=False), the arguments of save, load and
   FrozenTreeMap; 0, or -1 with an exception. */
static int parse_path_args(PyObject *args, PyObject *kwds, const char *format,
                           PyObject **path, int *allow_pickle)
{
    static char *kwlist[] = {"path", "allow_pickle", NULL};
    PyObject *allow = Py_False;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, path, &allow))
        return -1;
    return as_flag(allow, "allow_pickle", allow_pickle);
}

PyDoc_STRVAR(
    save_doc,
    "save($self, path, *, allow_pickle=False)\n--\n\n"
    "Write the map to a file (docs/format.md), atomically: a temporary\n"
    "file in the same directory is written, flushed to disk and renamed\n"
    "over path.  None, bool, int, float, str and bytes values are stored\n"
    "natively; any other value raises ValueError unless allow_pickle is\n"
    "true, when it is pickled.  The map cannot be changed while it is\n"
    "being saved (RuntimeError).\n\n"
    ">>> TreeMap({'apple': 1, 'apply': 2}).save('words.blart')\n"
    ">>> TreeMap.load('words.blart')\n"
    "TreeMap({'apple': 1, 'apply': 2})");

static PyObject *map_save(MapObject *m, PyObject *args, PyObject *kwds)
{
    PyObject *path;
    int flag;
    if (parse_path_args(args, kwds, "O|$O:save", &path, &flag) < 0)
        return NULL;
    PyObject *mod = persist_module(m->state);
    if (mod == NULL)
        return NULL;
    return PyObject_CallMethod(mod, "save", "OOO", (PyObject *)m, path,
                               flag ? Py_True : Py_False);
}

/* --- opening ------------------------------------------------------- */

/*
 * Calls obj.close(), ignoring its failure.  Error paths call it with an
 * exception set, which must survive the call.
 */
static void close_keeping_error(PyObject *obj)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallMethod(obj, "close", NULL);
    if (r == NULL)
        PyErr_Clear();
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
}

static void frozen_free(struct frozen_file *f)
{
    if (f == NULL)
        return;
    if (f->view.obj)
        PyBuffer_Release(&f->view);
    if (f->mmap)
        close_keeping_error(f->mmap); /* unmaps now, not when freed */
    Py_XDECREF(f->mmap);
    Py_XDECREF(f->path);
    PyMem_Free(f);
}

/* A failed art_file_* call as a Python exception naming path. */
static void file_error(blart_state *st, int r, const char *why, PyObject *path)
{
    if (r == ART_ENOMEM)
        PyErr_NoMemory();
    else if (r == ART_EINVAL)
        PyErr_Format(PyExc_OSError, "cannot open %R: %s", path, why);
    else
        PyErr_Format(st->FormatError, "%R is not a valid blart file: %s", path,
                     why);
}

/*
 * What load and FrozenTreeMap check once the header is parsed and the
 * checksum verified, before the nodes: the flags (unknown bits, pickled
 * values) and the values section.  Returns 0, or -1 with FormatError
 * (naming path) or ValueError.
 */
static int check_sections(blart_state *st, struct frozen_file *f,
                          const art_file_header *h, const uint8_t *values,
                          PyObject *path)
{
    if (h->flags & ~KNOWN_FLAGS) {
        file_error(st, ART_EFORMAT, "unknown flags", path);
        return -1;
    }
    f->has_pickle = (h->flags & FLAG_PICKLED) != 0;
    if (f->has_pickle && !f->allow_pickle) {
        PyErr_Format(PyExc_ValueError,
                     "%R holds pickled values; pass allow_pickle=True to "
                     "load it (only for files you trust: unpickling can run "
                     "any code)",
                     path);
        return -1;
    }
    f->values = values;
    f->values_size = h->values_size;
    if (f->values_size < 8 || memcmp(values, values_magic, 8) != 0) {
        file_error(st, ART_EFORMAT, "bad values section", path);
        return -1;
    }
    return 0;
}

/*
 * FrozenTreeMap's nodes: a read-only tree over the file's pages, checked
 * but for the UTF-8 of keys (a bad key is met only when the key is made:
 * FormatError from key_new).
 */
static int open_frozen_nodes(blart_state *st, struct frozen_file *f,
                             const art_file_header *h, const uint8_t *nodes,
                             PyObject *path, art_tree *t)
{
    check_ctx cc = {f, NULL};
    const char *why = NULL;
    int r = art_file_open_nodes(t, h, nodes, 0, check_value_cb, &cc, &why);
    if (r != ART_OK)
        file_error(st, r, cc.why ? cc.why : why, path);
    return r == ART_OK ? 0 : -1;
}

/*
 * load's nodes, read into a block of their own: art_file_load checks them
 * (with the UTF-8 of every key of a str file: a loaded map must be sound)
 * and makes them an ordinary tree in one pass, handing out each value
 * slot once the node or leaf holding it has passed every check.  The
 * values are decoded here, into the slots.  The pass needs no Python and
 * the decoding needs nothing else, so the pass runs on a second thread
 * while this one, holding the GIL, decodes the values right behind it:
 * for a million int values that is 22 and 15 ms of work in about 22.
 * Where no thread starts, the pass runs first and the decoding after.
 */
#ifdef BLART_THREADS
#define SHARED(type)   _Atomic(type)
#define READ_SHARED(x) atomic_load_explicit(&(x), memory_order_acquire)
#define WRITE_SHARED(x, v)                                                     \
    atomic_store_explicit(&(x), (v), memory_order_release)
#else
#define SHARED(type)       type
#define READ_SHARED(x)     (x)
#define WRITE_SHARED(x, v) ((x) = (v))
#endif

/*
 * How one thread waits for another's progress: it yields a while (the
 * other is usually just ahead), then sleeps until woken, so a thread
 * waiting on a slow disk or on a busy CPU spends none.  The waiter says
 * it sleeps and then tests its condition, under the lock; the other
 * thread makes progress visible and then tests whether anyone sleeps.
 * A full fence sits between the store and the load on each side, so at
 * least one of them sees the other's store: no wake-up is lost.
 */
#ifdef BLART_THREADS
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    SHARED(int) sleeping;
} progress;

/* 0, or -1 when it cannot be made (then no second thread may start). */
static int progress_init(progress *p)
{
    WRITE_SHARED(p->sleeping, 0);
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&p->cond, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        return -1;
    }
    return 0;
}

static void progress_destroy(progress *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

/* Called after progress was published: wakes the waiter if it sleeps. */
static void progress_made(progress *p)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->sleeping, memory_order_relaxed)) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Returns once ready(ctx) is true. */
static void progress_wait(progress *p, int (*ready)(void *), void *ctx)
{
    for (int i = 0; i < 256; i++) {
        if (ready(ctx))
            return;
        sched_yield();
    }
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&p->sleeping, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    while (!ready(ctx))
        pthread_cond_wait(&p->cond, &p->lock);
    atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->lock);
}
#endif

typedef struct {
    art_tree *tree; /* the pass's: empty until it succeeds */
    const art_file_header *h;
    void *nodes;
    unsigned options;
    const char *why;
    int result;
    void ***slots;            /* handed out so far, in order */
    SHARED(size_t) published; /* how many */
    SHARED(int) finished;     /* the pass is over: result and why are set */
    SHARED(int) stop;         /* the decoding failed: the pass should stop */
    int threaded;             /* the pass runs on a thread of its own */
#ifdef BLART_THREADS
    pthread_t thread;
    progress pass; /* wakes the decoding when it waits */
    size_t want;   /* the slot the decoding waits for */
#endif
} load_job;

/* The decoding waits a little behind the pass: it is woken every so many
   slots, not at each (a wake-up costs a fence). */
#define SLOTS_PER_WAKE 1024

static int publish_slot(void **slot, void *ctx)
{
    load_job *j = ctx;
    if (READ_SHARED(j->stop))
        return 1;
    /* At most h->count slots come (art.h), and slots has room for them. */
    size_t n = READ_SHARED(j->published);
    j->slots[n] = slot;
    WRITE_SHARED(j->published, n + 1);
#ifdef BLART_THREADS
    if (j->threaded && (n + 1) % SLOTS_PER_WAKE == 0)
        progress_made(&j->pass);
#endif
    return 0;
}

static void *run_pass(void *job)
{
    load_job *j = job;
    j->result = art_file_load(j->tree, j->h, j->nodes, j->options, publish_slot,
                              j, &j->why);
    WRITE_SHARED(j->finished, 1);
#ifdef BLART_THREADS
    if (j->threaded)
        progress_made(&j->pass);
#endif
    return NULL;
}

#ifdef BLART_THREADS
/* Whether the decoding can go on: slot j->want is out or the pass over. */
static int pass_ahead(void *job)
{
    load_job *j = job;
    return READ_SHARED(j->finished) || READ_SHARED(j->published) > j->want;
}
#endif

/* Decodes the slots as the pass hands them out; how many in *decoded.
   Returns 0 once the pass is over and every slot decoded, or -1 when a
   value fails to decode. */
static int decode_slots(load_job *j, blart_state *st,
                        const struct frozen_file *f, size_t *decoded)
{
    size_t i = 0;
    for (;;) {
        int over = READ_SHARED(j->finished);  /* before the count: */
        size_t n = READ_SHARED(j->published); /* then n is final */
        for (; i < n; i++) {
            void **slot = j->slots[i];
            PyObject *v = decode_value(st, f, (uint64_t)(uintptr_t)*slot);
            if (v == NULL) {
                *decoded = i;
                return -1;
            }
            *slot = v;
        }
        if (over)
            break;
#ifdef BLART_THREADS
        j->want = i; /* every slot so far is decoded: wait for the next */
        progress_wait(&j->pass, pass_ahead, j);
#endif
    }
    *decoded = i;
    return 0;
}

/*
 * Makes the nodes at *nodes (h->nodes_size bytes from art_file_buffer)
 * the tree *t with f's values decoded, and the block *t's (*nodes set to
 * NULL).  Returns 0, or -1 with an exception: FormatError, MemoryError or
 * an error a value's decoding raised; *t is then empty and *nodes, unless
 * set to NULL (freed), still the caller's.
 */
static int load_nodes(blart_state *st, struct frozen_file *f,
                      const art_file_header *h, uint8_t **nodes, int str_keys,
                      art_tree *t)
{
    load_job j;
    size_t decoded = 0;
    memset(&j, 0, sizeof(j));
    j.tree = t;
    j.h = h;
    j.nodes = *nodes;
    j.options = str_keys ? ART_FILE_UTF8_KEYS : 0;
    WRITE_SHARED(j.published, 0);
    WRITE_SHARED(j.finished, 0);
    WRITE_SHARED(j.stop, 0);
    /* read_header bounds the count by the section's size. */
    j.slots = PyMem_Malloc(h->count ? (size_t)h->count * sizeof(void **) : 1);
    if (j.slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    art_tree_init(t);
#ifdef BLART_THREADS
    /* Not beside unpickling: it runs any code, which might fork. */
    if (!f->has_pickle && progress_init(&j.pass) == 0) {
        j.threaded = 1;
        if (pthread_create(&j.thread, NULL, run_pass, &j) != 0) {
            j.threaded = 0;
            progress_destroy(&j.pass);
        }
    }
#endif
    if (!j.threaded)
        run_pass(&j);
    int ok = decode_slots(&j, st, f, &decoded) == 0;
    if (!ok)
        WRITE_SHARED(j.stop, 1);
#ifdef BLART_THREADS
    if (j.threaded) {
        pthread_join(j.thread, NULL);
        progress_destroy(&j.pass);
    }
#endif
    if (j.result == ART_OK)
        *nodes = NULL; /* t's now */
    if (ok && j.result == ART_OK) {
        PyMem_Free(j.slots);
        return 0;
    }
    /* Give back the values decoded, then the tree, if the pass made one
       (its other slots still hold references: no callback). */
    for (size_t i = 0; i < decoded; i++)
        Py_DECREF((PyObject *)*j.slots[i]);
    PyMem_Free(j.slots);
    art_tree_clear(t, NULL, NULL);
    if (ok)
        file_error(st, j.result, j.why, f->path);
    return -1;
}

/*
 * Maps the file at path and opens its tree into *t.  Returns the file
 * (to be freed with frozen_free after art_file_close(t)) and its key
 * kind in *bytes_keys, or NULL with an exception.
 */
static struct frozen_file *frozen_open(blart_state *st, PyObject *path,
                                       int allow_pickle, art_tree *t,
                                       int *bytes_keys)
{
    PyObject *mod = persist_module(st);
    if (mod == NULL)
        return NULL;
    struct frozen_file *f = PyMem_Calloc(1, sizeof(*f));
    if (f == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    f->allow_pickle = allow_pickle;
    PyObject *pair = PyObject_CallMethod(mod, "map_file", "(O)", path);
    if (pair == NULL)
        goto fail;
    if (!PyArg_ParseTuple(pair, "OO", &f->mmap, &f->path)) {
        Py_DECREF(pair);
        goto fail;
    }
    Py_INCREF(f->mmap);
    Py_INCREF(f->path);
    Py_DECREF(pair);
    if (PyObject_GetBuffer(f->mmap, &f->view, PyBUF_SIMPLE) < 0)
        goto fail;
    const uint8_t *data = f->view.buf;
    size_t len = (size_t)f->view.len;
    art_file_header h;
    const char *why = NULL;
    if (art_file_read_header(data, len, &h, &why) != ART_OK)
        goto bad;
    if (art_file_checksum(data, len) != h.checksum) {
        why = "checksum mismatch: the file is damaged";
        goto bad;
    }
    if (check_sections(st, f, &h, data + ART_FILE_HEADER_SIZE + h.nodes_size,
                       f->path) < 0 ||
        open_frozen_nodes(st, f, &h, data + ART_FILE_HEADER_SIZE, f->path, t) <
            0)
        goto fail;
    *bytes_keys = !(h.flags & FLAG_STR_KEYS);
    return f;
bad:
    PyErr_Format(st->FormatError, "%R is not a valid blart file: %s", f->path,
                 why);
fail:
    frozen_free(f);
    return NULL;
}

PyDoc_STRVAR(load_doc,
             "load($cls, path, *, allow_pickle=False)\n--\n\n"
             "Read a file written by save() into a new, ordinary map of "
             "this class.\n\nThe file's keys must be of this class's kind "
             "(ValueError otherwise).\nA file holding pickled values is "
             "refused (ValueError) unless\nallow_pickle is true: loading "
             "never runs code by default.  A damaged\nor malformed file "
             "raises blart.FormatError.");

/*
 * The checksum of a file being loaded: file[64:] (here its nodes, then its
 * values) followed by file[0:56].  A second thread sums the sections as
 * they are read, chunk by chunk: reading 56 MB and summing them take about
 * 7 and 6 ms.  Where no thread starts, sum_finish sums them after.
 */
typedef struct {
    const uint8_t *part[3]; /* nodes, values, the header */
    size_t len[3];          /* part[2] is 56 bytes, known from the start */
    SHARED(size_t) ready;   /* bytes of part[0], then part[1], read so far */
    SHARED(int) abandon;    /* the reading failed */
    uint64_t sum;
    int started;
#ifdef BLART_THREADS
    pthread_t thread;
    progress read; /* wakes the summing when it waits */
    size_t done;   /* bytes summed so far */
#endif
} sum_job;

#ifdef BLART_THREADS
/* Whether the summing can go on: more was read, or the reading failed. */
static int read_ahead(void *job)
{
    sum_job *j = job;
    return READ_SHARED(j->ready) > j->done || READ_SHARED(j->abandon);
}
#endif

static void *run_sum(void *job)
{
    sum_job *j = job;
    art_hash h;
    size_t done = 0, total = j->len[0] + j->len[1];
    art_hash_init(&h);
    while (done < total) {
        size_t ready = READ_SHARED(j->ready);
        if (ready == done) {
            if (READ_SHARED(j->abandon))
                return NULL;
#ifdef BLART_THREADS
            j->done = done; /* the reader is behind */
            progress_wait(&j->read, read_ahead, j);
#endif
            continue;
        }
        while (done < ready) {
            int i = done >= j->len[0];
            size_t off = i ? done - j->len[0] : done;
            size_t n = j->len[i] - off;
            if (n > ready - done)
                n = ready - done;
            art_hash_update(&h, j->part[i] + off, n);
            done += n;
        }
    }
    art_hash_update(&h, j->part[2], j->len[2]);
    j->sum = art_hash_final(&h);
    return NULL;
}

static void sum_start(sum_job *j)
{
    WRITE_SHARED(j->ready, 0);
    WRITE_SHARED(j->abandon, 0);
    j->started = 0;
#ifdef BLART_THREADS
    if (progress_init(&j->read) == 0) {
        j->started = pthread_create(&j->thread, NULL, run_sum, j) == 0;
        if (!j->started)
            progress_destroy(&j->read);
    }
#endif
}

/* Bytes read and counted in ready, or the reading failed. */
static void sum_progress(sum_job *j)
{
#ifdef BLART_THREADS
    if (j->started)
        progress_made(&j->read);
#else
    (void)j;
#endif
}

/* The sum, once every byte has been read. */
static uint64_t sum_finish(sum_job *j)
{
#ifdef BLART_THREADS
    if (j->started) {
        pthread_join(j->thread, NULL);
        progress_destroy(&j->read);
        j->started = 0;
        return j->sum;
    }
#endif
    run_sum(j);
    return j->sum;
}

/* The reading failed: the thread stops where it is. */
static void sum_abandon(sum_job *j)
{
    WRITE_SHARED(j->abandon, 1);
    sum_progress(j);
#ifdef BLART_THREADS
    if (j->started) {
        pthread_join(j->thread, NULL);
        progress_destroy(&j->read);
    }
#endif
    j->started = 0;
}

/* Reads exactly n bytes from the raw file f into p; -1 with an error.
   Each chunk read is counted in sj's ready (when sj is not NULL). */
static int read_exact(blart_state *st, PyObject *f, void *p, size_t n,
                      sum_job *sj)
{
    while (n) {
        /* Chunks small enough for the summing thread to follow closely. */
        Py_ssize_t chunk =
            n > (size_t)4 << 20 ? (Py_ssize_t)4 << 20 : (Py_ssize_t)n;
        PyObject *view = PyMemoryView_FromMemory(p, chunk, PyBUF_WRITE);
        if (view == NULL)
            return -1;
        PyObject *r = PyObject_CallMethod(f, "readinto", "(O)", view);
        Py_DECREF(view);
        if (r == NULL)
            return -1;
        Py_ssize_t got = PyLong_AsSsize_t(r);
        Py_DECREF(r);
        if (got < 0 && PyErr_Occurred())
            return -1;
        if (got <= 0) {
            PyErr_SetString(st->FormatError, "the file is shorter than it "
                                             "says (changed while read?)");
            return -1;
        }
        p = (uint8_t *)p + got;
        n -= (size_t)got;
        if (sj) {
            WRITE_SHARED(sj->ready, READ_SHARED(sj->ready) + (size_t)got);
            sum_progress(sj);
        }
    }
    return 0;
}

static PyObject *map_load(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *path;
    int flag;
    if (parse_path_args(args, kwds, "O|$O:load", &path, &flag) < 0)
        return NULL;
    blart_state *st = state_of_type(type);
    if (st == NULL)
        return NULL;
    PyObject *mod = persist_module(st);
    if (mod == NULL)
        return NULL;
    PyObject *opened = PyObject_CallMethod(mod, "open_for_load", "(O)", path);
    if (opened == NULL)
        return NULL;
    PyObject *f, *full;
    unsigned long long size;
    if (!PyArg_ParseTuple(opened, "OOK", &f, &full, &size)) {
        Py_DECREF(opened);
        return NULL;
    }
    /* The file is read, not mapped: the nodes section goes straight into
       the block that becomes the tree's memory (art_file_load). */
    struct frozen_file ff;
    memset(&ff, 0, sizeof(ff));
    ff.allow_pickle = flag;
    ff.path = full; /* borrowed: named by errors */
    uint8_t head[ART_FILE_HEADER_SIZE];
    uint8_t *nodes = NULL, *values = NULL;
    MapObject *m = NULL;
    art_file_header h;
    art_tree local;
    const char *why = NULL;
    art_tree_init(&local);
    if (read_exact(st, f, head,
                   size < ART_FILE_HEADER_SIZE ? (size_t)size
                                               : ART_FILE_HEADER_SIZE,
                   NULL) < 0)
        goto done;
    if (art_file_read_header(head, size, &h, &why) != ART_OK)
        goto bad;
    nodes = art_file_buffer((size_t)h.nodes_size);
    values = PyMem_Malloc(h.values_size ? (size_t)h.values_size : 1);
    if (nodes == NULL || values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    sum_job sj;
    memset(&sj, 0, sizeof(sj));
    sj.part[0] = nodes;
    sj.part[1] = values;
    sj.part[2] = head;
    sj.len[0] = (size_t)h.nodes_size;
    sj.len[1] = (size_t)h.values_size;
    sj.len[2] = 56;
    sum_start(&sj);
    if (read_exact(st, f, nodes, (size_t)h.nodes_size, &sj) < 0 ||
        read_exact(st, f, values, (size_t)h.values_size, &sj) < 0) {
        sum_abandon(&sj);
        goto done;
    }
    if (sum_finish(&sj) != h.checksum) {
        why = "checksum mismatch: the file is damaged";
        goto bad;
    }
    /* Only a file known to be undamaged is judged by its flags. */
    if (check_sections(st, &ff, &h, values, full) < 0)
        goto done;
    int str_keys = (h.flags & FLAG_STR_KEYS) != 0;
    if (str_keys == PyType_IsSubtype(type, st->BytesTreeMap_Type)) {
        PyErr_Format(PyExc_ValueError, "%R holds %s keys: open it with %s.load",
                     full, str_keys ? "str" : "bytes",
                     str_keys ? "TreeMap" : "BytesTreeMap");
        goto done;
    }
    /* Into a tree nobody else sees: decoding values runs code. */
    if (load_nodes(st, &ff, &h, &nodes, str_keys, &local) < 0)
        goto done;
    m = map_alloc(type, st, !(h.flags & FLAG_STR_KEYS));
    if (m)
        art_tree_move(&m->tree, &local);
    goto done;
bad:
    PyErr_Format(st->FormatError, "%R is not a valid blart file: %s", full,
                 why);
done:
    art_tree_clear(&local, release_value, NULL);
    art_file_buffer_free(nodes);
    PyMem_Free(values);
    close_keeping_error(f);
    Py_DECREF(opened);
    return (PyObject *)m;
}

/* --- FrozenTreeMap ------------------------------------------------- */

static PyObject *frozen_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *path;
    int flag, bytes_keys;
    if (parse_path_args(args, kwds, "O|$O:FrozenTreeMap", &path, &flag) < 0)
        return NULL;
    blart_state *st = state_of_type(type);
    if (st == NULL)
        return NULL;
    art_tree ft;
    struct frozen_file *f = frozen_open(st, path, flag, &ft, &bytes_keys);
    if (f == NULL)
        return NULL;
    MapObject *m = map_alloc(type, st, bytes_keys);
    if (m == NULL) {
        art_file_close(&ft);
        frozen_free(f);
        return NULL;
    }
    m->tree = ft;
    m->file = f;
    /* The check read every page; let them go from this process until a
       query needs them (they stay in the page cache, shared). */
    PyObject *r =
        PyObject_CallMethod(st->persist, "release_pages", "(O)", f->mmap);
    if (r == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(r);
    return (PyObject *)m;
}

static void frozen_dealloc(MapObject *m)
{
    PyTypeObject *tp = Py_TYPE(m);
    if (tp->tp_flags & Py_TPFLAGS_HAVE_GC)
        PyObject_GC_UnTrack(m);
    if (m->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)m);
    art_file_close(&m->tree);
    frozen_free(m->file);
    tp->tp_free((PyObject *)m);
    Py_DECREF(tp);
}

static PyObject *frozen_repr(MapObject *m)
{
    return PyUnicode_FromFormat("%s(%R)", short_name(Py_TYPE(m)),
                                m->file->path);
}

static PyObject *frozen_reduce(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    PyObject *mod = persist_module(m->state);
    if (mod == NULL)
        return NULL;
    /* A subclass instance's attributes travel as state, as for TreeMap. */
    PyObject *state = PyObject_GetAttrString((PyObject *)m, "__dict__");
    if (state == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
        state = Py_None;
        Py_INCREF(state);
    }
    return Py_BuildValue("N(OOO)N", PyObject_GetAttrString(mod, "open_frozen"),
                         (PyObject *)Py_TYPE(m), m->file->path,
                         m->file->allow_pickle ? Py_True : Py_False, state);
}

static PyObject *frozen_get_path(MapObject *m, void *closure)
{
    (void)closure;
    Py_INCREF(m->file->path);
    return m->file->path;
}

static PyObject *frozen_get_key_type(MapObject *m, void *closure)
{
    (void)closure;
    PyObject *t =
        m->bytes_keys ? (PyObject *)&PyBytes_Type : (PyObject *)&PyUnicode_Type;
    Py_INCREF(t);
    return t;
}

static PyObject *frozen_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    size_t n = (size_t)Py_TYPE(m)->tp_basicsize + sizeof(struct frozen_file) +
               m->tree.walk_cap * sizeof(art_walk_frame);
    return PyLong_FromSize_t(n);
}

static PyObject *blart_checksum(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    art_hash h;
    art_hash_init(&h);
    art_hash_update(&h, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(art_hash_final(&h));
}

PyDoc_STRVAR(keys_doc, "keys($self, /)\n--\n\n"
                       "A live, set-like view of the keys, in key order.");
PyDoc_STRVAR(values_doc, "values($self, /)\n--\n\n"
                         "A live view of the values, in key order.");
PyDoc_STRVAR(items_doc, "items($self, /)\n--\n\n"
                        "A live, set-like view of the (key, value) pairs, "
                        "in key order.");

/*
 * The methods that only read: every map type has them, FrozenTreeMap
 * nothing else (apart from its own __reduce__ and __sizeof__).
 */
/* clang-format off */
#define READ_METHODS                                                           \
    {"get", (PyCFunction)(void (*)(void))map_get,                              \
     METH_FASTCALL | METH_KEYWORDS, get_doc},                                  \
    {"is_empty", (PyCFunction)map_is_empty, METH_NOARGS, is_empty_doc},        \
    {"keys", (PyCFunction)map_keys, METH_NOARGS, keys_doc},                    \
    {"values", (PyCFunction)map_values, METH_NOARGS, values_doc},              \
    {"items", (PyCFunction)map_items, METH_NOARGS, items_doc},                 \
    {"__reversed__", (PyCFunction)map_reversed, METH_NOARGS, reversed_doc},    \
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,                \
     "See PEP 585."},                                                          \
    {"first", (PyCFunction)map_first, METH_NOARGS, first_doc},                 \
    {"last", (PyCFunction)map_last, METH_NOARGS, last_doc},                    \
    {"floor", (PyCFunction)map_floor, METH_O, floor_doc},                      \
    {"ceiling", (PyCFunction)map_ceiling, METH_O, ceiling_doc},                \
    {"lower", (PyCFunction)map_lower, METH_O, lower_doc},                      \
    {"higher", (PyCFunction)map_higher, METH_O, higher_doc},                   \
    {"get_prefix", (PyCFunction)map_get_prefix, METH_O, get_prefix_doc},       \
    {"prefix_iter", (PyCFunction)(void (*)(void))map_prefix_iter,              \
     METH_VARARGS | METH_KEYWORDS, prefix_iter_doc},                           \
    {"prefixes", (PyCFunction)map_prefixes, METH_O, prefixes_doc},             \
    {"longest_prefix", (PyCFunction)map_longest_prefix, METH_O,                \
     longest_prefix_doc},                                                      \
    {"range", (PyCFunction)(void (*)(void))map_range,                          \
     METH_VARARGS | METH_KEYWORDS, range_doc},                                 \
    {"fuzzy_search", (PyCFunction)(void (*)(void))map_fuzzy_search,            \
     METH_VARARGS | METH_KEYWORDS, fuzzy_doc},                                 \
    {"stats", (PyCFunction)map_stats, METH_NOARGS, stats_doc},                 \
    {"_validate", (PyCFunction)map_validate, METH_NOARGS,                      \
     "Check the tree's invariants; raise AssertionError if one is broken."}
/* clang-format on */

static PyMethodDef map_methods[] = {
    READ_METHODS,
    {"setdefault", (PyCFunction)(void (*)(void))map_setdefault,
     METH_FASTCALL | METH_KEYWORDS, setdefault_doc},
    {"pop", (PyCFunction)(void (*)(void))map_pop, METH_FASTCALL | METH_KEYWORDS,
     pop_doc},
    {"popitem", (PyCFunction)map_popitem, METH_NOARGS, popitem_doc},
    {"insert", (PyCFunction)(void (*)(void))map_insert, METH_FASTCALL,
     insert_doc},
    {"remove", (PyCFunction)map_remove, METH_O, remove_doc},
    {"clear", (PyCFunction)map_clear, METH_NOARGS, clear_doc},
    {"copy", (PyCFunction)map_copy, METH_NOARGS, copy_doc},
    {"__copy__", (PyCFunction)map_copy, METH_NOARGS, copy_doc},
    {"update", (PyCFunction)(void (*)(void))map_update,
     METH_VARARGS | METH_KEYWORDS, update_doc},
    {"fromkeys", (PyCFunction)(void (*)(void))map_fromkeys,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, fromkeys_doc},
    {"__reduce__", (PyCFunction)map_reduce, METH_NOARGS, reduce_doc},
    {"__sizeof__", (PyCFunction)map_sizeof, METH_NOARGS, sizeof_doc},
    {"pop_first", (PyCFunction)map_pop_first, METH_NOARGS, pop_first_doc},
    {"pop_last", (PyCFunction)map_pop_last, METH_NOARGS, pop_last_doc},
    {"save", (PyCFunction)(void (*)(void))map_save,
     METH_VARARGS | METH_KEYWORDS, save_doc},
    {"load", (PyCFunction)(void (*)(void))map_load,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, load_doc},
    {"_dump", (PyCFunction)(void (*)(void))map_dump, METH_FASTCALL, dump_doc},
    {"_fail_alloc", (PyCFunction)map_fail_alloc, METH_O,
     "Testing: make the n-th next allocation of the tree fail (0: never)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef map_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(MapObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(
    treemap_doc,
    "TreeMap(mapping_or_pairs=None, /, **kwargs)\n--\n\n"
    "A mutable mapping from str keys to values, kept in sorted key order.\n\n"
    "Backed by an adaptive radix tree written in C.  Keys are ordered by code\n"
    "point, as sorted() orders str; every str, lone surrogates included, is\n"
    "a valid key.  Behaves like dict, and iterates in key order.\n\n"
    ">>> m = TreeMap({'b': 2, 'a': 1})\n"
    ">>> list(m)\n"
    "['a', 'b']");

PyDoc_STRVAR(
    bytestreemap_doc,
    "BytesTreeMap(mapping_or_pairs=None, /, **kwargs)\n--\n\n"
    "A mutable mapping from bytes keys to values, kept in sorted key order.\n\n"
    "Keys may be given as any bytes-like object (bytes, bytearray,\n"
    "memoryview) and are always returned as bytes, ordered bytewise.\n\n"
    ">>> m = BytesTreeMap({b'b': 2, b'a': 1})\n"
    ">>> list(m)\n"
    "[b'a', b'b']");

/* clang-format off */
#define MAP_SLOTS(doc)                                                      \
    {Py_tp_doc, (void *)(doc)}, {Py_tp_new, map_new},                       \
        {Py_tp_init, map_init}, {Py_tp_dealloc, map_dealloc},               \
        {Py_tp_traverse, map_traverse}, {Py_tp_clear, map_tp_clear},        \
        {Py_tp_repr, map_repr}, {Py_tp_iter, map_iter},                     \
        {Py_tp_richcompare, map_richcompare},                               \
        {Py_tp_hash, PyObject_HashNotImplemented},                          \
        {Py_tp_methods, map_methods}, {Py_tp_members, map_members},         \
        {Py_mp_length, map_length}, {Py_mp_subscript, map_subscript},      \
        {Py_mp_ass_subscript, map_ass_subscript},                           \
        {Py_sq_contains, map_contains}, {Py_nb_or, map_or},                 \
        {Py_nb_inplace_or, map_ior}, {0, NULL}
/* clang-format on */

static PyType_Slot treemap_slots[] = {MAP_SLOTS(treemap_doc)};
static PyType_Slot bytestreemap_slots[] = {MAP_SLOTS(bytestreemap_doc)};

#ifdef Py_TPFLAGS_MAPPING
#define MAP_FLAGS                                                              \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |           \
     Py_TPFLAGS_MAPPING)
#else
#define MAP_FLAGS                                                              \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC)
#endif

static PyType_Spec treemap_spec = {"blart.TreeMap", sizeof(MapObject), 0,
                                   MAP_FLAGS, treemap_slots};
static PyType_Spec bytestreemap_spec = {"blart.BytesTreeMap", sizeof(MapObject),
                                        0, MAP_FLAGS, bytestreemap_slots};

PyDoc_STRVAR(
    frozentreemap_doc,
    "FrozenTreeMap(path, *, allow_pickle=False)\n--\n\n"
    "A read-only mapping over a file written by TreeMap.save() or\n"
    "BytesTreeMap.save(), served straight from the file's pages: opening\n"
    "maps the file and checks it (checksum and structure) without building\n"
    "anything, so processes that open the same file share its memory.\n\n"
    "Keys are str or bytes as in the file (see key_type).  Supports\n"
    "lookups, iteration in key order, the views and every query of\n"
    "TreeMap; nothing changes it.  A file holding pickled values is\n"
    "refused (ValueError) unless allow_pickle is true.  A damaged file\n"
    "raises blart.FormatError, at open or at the access that meets the\n"
    "fault.  Pickling a FrozenTreeMap pickles its path.");

PyDoc_STRVAR(path_doc, "The absolute path of the file.");
PyDoc_STRVAR(key_type_doc, "str or bytes: the type of the keys.");

static PyGetSetDef frozen_getset[] = {
    {"path", (getter)frozen_get_path, NULL, path_doc, NULL},
    {"key_type", (getter)frozen_get_key_type, NULL, key_type_doc, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef frozen_methods[] = {
    READ_METHODS,
    {"__reduce__", (PyCFunction)frozen_reduce, METH_NOARGS, reduce_doc},
    {"__sizeof__", (PyCFunction)frozen_sizeof, METH_NOARGS, sizeof_doc},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot frozentreemap_slots[] = {
    {Py_tp_doc, (void *)frozentreemap_doc},
    {Py_tp_new, frozen_new},
    {Py_tp_dealloc, frozen_dealloc},
    {Py_tp_repr, frozen_repr},
    {Py_tp_iter, map_iter},
    {Py_tp_richcompare, map_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_methods, frozen_methods},
    {Py_tp_members, map_members},
    {Py_tp_getset, frozen_getset},
    {Py_mp_length, map_length},
    {Py_mp_subscript, map_subscript},
    {Py_sq_contains, map_contains},
    {0, NULL},
};

#ifdef Py_TPFLAGS_MAPPING
#define FROZEN_FLAGS                                                           \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_MAPPING)
#else
#define FROZEN_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE)
#endif

static PyType_Spec frozentreemap_spec = {"blart.FrozenTreeMap",
                                         sizeof(MapObject), 0, FROZEN_FLAGS,
                                         frozentreemap_slots};

/* ------------------------------------------------------------------ */
/* Module                                                              */
/* ------------------------------------------------------------------ */

/*
 * Creates a type of the module and adds it by name.  Iterators and views
 * are made only by their maps: their specs carry
 * Py_TPFLAGS_DISALLOW_INSTANTIATION where it exists (3.10+); on 3.9 the
 * same is done by removing tp_new, so Python cannot make one whose map
 * pointer is NULL.
 */
/* PyModule_AddObjectRef, which 3.9 lacks. */
static int add_ref(PyObject *module, const char *name, PyObject *o)
{
#if PY_VERSION_HEX >= 0x030A0000
    return PyModule_AddObjectRef(module, name, o);
#else
    Py_INCREF(o);
    if (PyModule_AddObject(module, name, o) < 0) {
        Py_DECREF(o);
        return -1;
    }
    return 0;
#endif
}

static int add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **out,
                    int instantiable)
{
    *out = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
    if (*out == NULL)
        return -1;
#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
    if (!instantiable)
        (*out)->tp_new = NULL;
#else
    (void)instantiable;
#endif
    return add_ref(module, short_name(*out), (PyObject *)*out);
}

static int blart_exec(PyObject *module)
{
    blart_state *st = PyModule_GetState(module);
    if (add_type(module, &treemap_spec, &st->TreeMap_Type, 1) < 0 ||
        add_type(module, &bytestreemap_spec, &st->BytesTreeMap_Type, 1) < 0 ||
        add_type(module, &iter_spec, &st->Iter_Type, 0) < 0 ||
        add_type(module, &keys_spec, &st->KeysView_Type, 0) < 0 ||
        add_type(module, &values_spec, &st->ValuesView_Type, 0) < 0 ||
        add_type(module, &items_spec, &st->ItemsView_Type, 0) < 0 ||
        add_type(module, &frozentreemap_spec, &st->FrozenTreeMap_Type, 1) < 0)
        return -1;
    st->FormatError = PyErr_NewExceptionWithDoc(
        "blart.FormatError",
        "A file is not a valid blart file: damaged, truncated, or not\n"
        "written by blart.  A subclass of ValueError.",
        PyExc_ValueError, NULL);
    if (st->FormatError == NULL ||
        add_ref(module, "FormatError", st->FormatError) < 0)
        return -1;
    return 0;
}

static int blart_traverse(PyObject *module, visitproc visit, void *arg)
{
    blart_state *st = PyModule_GetState(module);
    Py_VISIT(st->TreeMap_Type);
    Py_VISIT(st->BytesTreeMap_Type);
    Py_VISIT(st->Iter_Type);
    Py_VISIT(st->KeysView_Type);
    Py_VISIT(st->ValuesView_Type);
    Py_VISIT(st->ItemsView_Type);
    Py_VISIT(st->FrozenTreeMap_Type);
    Py_VISIT(st->FormatError);
    Py_VISIT(st->mapping_abc);
    Py_VISIT(st->persist);
    return 0;
}

static int blart_clear(PyObject *module)
{
    blart_state *st = PyModule_GetState(module);
    Py_CLEAR(st->TreeMap_Type);
    Py_CLEAR(st->BytesTreeMap_Type);
    Py_CLEAR(st->Iter_Type);
    Py_CLEAR(st->KeysView_Type);
    Py_CLEAR(st->ValuesView_Type);
    Py_CLEAR(st->ItemsView_Type);
    Py_CLEAR(st->FrozenTreeMap_Type);
    Py_CLEAR(st->FormatError);
    Py_CLEAR(st->mapping_abc);
    Py_CLEAR(st->persist);
    return 0;
}

static void blart_free(void *module)
{
    blart_clear((PyObject *)module);
}

static PyModuleDef_Slot blart_slots[] = {
    {Py_mod_exec, blart_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

static PyObject *blart_live_allocations(PyObject *module,
                                        PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromSize_t(art_live_allocations());
}

static PyMethodDef blart_functions[] = {
    {"_checksum", blart_checksum, METH_O,
     "The 64-bit checksum of docs/format.md over a bytes-like object."},
    {"_live_allocations", blart_live_allocations, METH_NOARGS,
     "Testing: blocks the C tree library has allocated and not freed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef blart_module = {
    PyModuleDef_HEAD_INIT,
    .m_methods = blart_functions,
    .m_name = "blart._blart",
    .m_doc = "Adaptive radix tree maps (the C part of blart).",
    .m_size = sizeof(blart_state),
    .m_slots = blart_slots,
    .m_traverse = blart_traverse,
    .m_clear = blart_clear,
    .m_free = blart_free,
};

PyMODINIT_FUNC PyInit__blart(void)
{
    return PyModuleDef_Init(&blart_module);
}
