/*
 * map.c -- TreeMap and BytesTreeMap: one C layout (MapObject), two heap
 * types that differ only in their keys (str or bytes, keys.c).  Here: the
 * operations on the tree that the methods share, the type's slots (the
 * mapping protocol, GC, repr, ==), the methods that change a map, and
 * the type specs.
 *
 * Not here: update(), the constructor's filling and | (update.c); the
 * methods that only read, which FrozenTreeMap has too (queries.c); save
 * and load (save.c, load.c).
 */
#include "_blart.h"

static void set_key_error(PyObject *key)
{
    PyObject *tup = PyTuple_Pack(1, key);
    if (tup) {
        PyErr_SetObject(PyExc_KeyError, tup);
        Py_DECREF(tup);
    }
}

/* ------------------------------------------------------------------ */
/* Core operations shared by methods and slots                         */
/* ------------------------------------------------------------------ */

int blart_map_set(MapObject *m, PyObject *key, PyObject *value)
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
    void *old = NULL;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    int r = 0, refused = 0;
    if (!m->saving)
        r = art_delete(&m->tree, kb.p, kb.n, &old);
    else /* removing a key that is not there changes nothing: KeyError */
        refused = art_search(&m->tree, kb.p, kb.n) != NULL;
    key_release(&kb);
    if (refused) {
        refuse_change(m);
        return NULL;
    }
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

/* The reference is taken before the key's buffer is released: releasing
   a buffer can run Python code (__release_buffer__, 3.12+). */
PyObject *blart_map_lookup(MapObject *m, PyObject *key)
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
int blart_map_has(MapObject *m, PyObject *key)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return -1;
    int found = art_search(&m->tree, kb.p, kb.n) != NULL;
    key_release(&kb);
    return found;
}

void blart_release_value(void *value, void *ctx)
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
    art_tree_clear(&m->tree, blart_release_value, NULL);
}

static int incref_value(void *value, void *ctx)
{
    (void)ctx;
    Py_INCREF((PyObject *)value);
    return 0;
}

MapObject *blart_map_alloc(PyTypeObject *type, blart_state *st, int bytes_keys)
{
    MapObject *m = (MapObject *)type->tp_alloc(type, 0);
    if (m == NULL)
        return NULL;
    art_tree_init(&m->tree);
    art_tree_set_buckets(&m->tree, st->bucket_keys, st->bucket_bytes);
    m->state = st;
    m->bytes_keys = bytes_keys;
    m->saving = 0;
    m->file = NULL;
    m->weakreflist = NULL;
    return m;
}

/* A map of m's type holding the same items, without calling __init__. */
PyObject *blart_map_copy_of(MapObject *m)
{
    MapObject *c = blart_map_alloc(Py_TYPE(m), m->state, m->bytes_keys);
    if (c == NULL)
        return NULL;
    /* An injected failure (tests) counts the copy's allocations. */
    c->tree.fail_countdown = m->tree.fail_countdown;
    int r = blart_map_copy_tree(c, m);
    m->tree.fail_countdown = c->tree.fail_countdown;
    c->tree.fail_countdown = 0;
    if (r < 0) {
        Py_DECREF(c);
        return NULL;
    }
    return (PyObject *)c;
}

int blart_map_copy_tree(MapObject *dst, MapObject *src)
{
    if (art_tree_copy(&dst->tree, &src->tree) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    art_foreach(&dst->tree, incref_value, NULL);
    return 0;
}

int blart_is_mapping(blart_state *st, PyObject *o)
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
/* TreeMap / BytesTreeMap                                              */
/* ------------------------------------------------------------------ */

static PyObject *map_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    blart_state *st = blart_state_of_type(type);
    if (st == NULL)
        return NULL;
    int bytes_keys = PyType_IsSubtype(type, st->BytesTreeMap_Type);
    return (PyObject *)blart_map_alloc(type, st, bytes_keys);
}

static int map_init(MapObject *m, PyObject *args, PyObject *kwds)
{
    return blart_map_update_common(m, args, kwds, blart_short_name(Py_TYPE(m)));
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

Py_ssize_t blart_map_length(MapObject *m)
{
    return (Py_ssize_t)m->tree.size;
}

PyObject *blart_map_subscript(MapObject *m, PyObject *key)
{
    PyObject *v = blart_map_lookup(m, key);
    if (v != NULL || PyErr_Occurred())
        return v;
    PyObject *missing = blart_find_missing(m);
    if (missing) {
        v = PyObject_CallOneArg(missing, key);
        Py_DECREF(missing);
        return v;
    }
    if (!PyErr_Occurred())
        set_key_error(key);
    return NULL;
}

static int map_ass_subscript(MapObject *m, PyObject *key, PyObject *value)
{
    if (value)
        return blart_map_set(m, key, value);
    PyObject *old = map_take(m, key);
    if (old == NULL)
        return -1;
    Py_DECREF(old);
    return 0;
}

int blart_map_contains(MapObject *m, PyObject *key)
{
    return blart_map_has(m, key);
}

PyObject *blart_map_iter(MapObject *m)
{
    return (PyObject *)blart_iter_new(m, YIELD_KEYS, 0);
}

/*
 * Parses (key[, default]) given positionally or default= by keyword, the
 * signature of get, setdefault and pop in collections.abc.  *dflt is left
 * alone when no default is given.
 */
int blart_parse_key_default(const char *fname, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames, PyObject **key,
                            PyObject **dflt)
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

PyDoc_STRVAR(setdefault_doc,
             "setdefault($self, key, /, default=None)\n--\n\n"
             "Return the value for key, inserting default first if key is "
             "absent.");

static PyObject *map_setdefault(MapObject *m, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *key, *dflt = Py_None;
    if (blart_parse_key_default("setdefault", args, nargs, kwnames, &key,
                                &dflt) < 0)
        return NULL;
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    void **slot = art_search_slot(&m->tree, kb.p, kb.n);
    PyObject *res;
    if (slot) {
        res = (PyObject *)*slot; /* no change: allowed during a save */
    } else if (refuse_change(m) < 0) {
        key_release(&kb);
        return NULL;
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
    if (blart_parse_key_default("pop", args, nargs, kwnames, &key, &dflt) < 0)
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
        PyObject *k = blart_key_new(m, c.key, c.key_len);
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
                     blart_short_name(Py_TYPE(m)));
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
    PyObject *c = blart_map_copy_of(m);
    if (c == NULL)
        return NULL;
    /* A subclass instance's attributes, in its __dict__ or its __slots__,
       come along (shallowly), as they do through copy.copy of a dict
       subclass. */
    PyObject *state = blart_instance_state((PyObject *)m);
    if (state == NULL ||
        (state != Py_None && blart_set_instance_state(c, state) < 0))
        Py_CLEAR(c);
    Py_XDECREF(state);
    return c;
}

PyDoc_STRVAR(update_doc,
             "update($self, other=None, /, **kwargs)\n--\n\n"
             "Update from a mapping, an iterable of (key, value) pairs, "
             "and/or\nkeyword arguments, like dict.update.  Items applied "
             "before an\nerror stay applied.");

static PyObject *map_update(MapObject *m, PyObject *args, PyObject *kwds)
{
    if (blart_map_update_common(m, args, kwds, "update") < 0)
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
    /* A map whose __setitem__ is its own is built at once from keys in
       order (blart_map_build); a subclass's __setitem__ is called for
       each key, as dict.fromkeys does. */
    blart_state *st = blart_find_state(Py_TYPE(m));
    if (st && is_map(st, m) &&
        Py_TYPE(m)->tp_as_mapping->mp_ass_subscript ==
            (objobjargproc)map_ass_subscript) {
        int built = blart_map_build((MapObject *)m, iterable, value);
        if (built < 0)
            goto error;
        if (built)
            return m;
    }
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

static PyObject *map_repr(MapObject *m)
{
    const char *name = blart_short_name(Py_TYPE(m));
    if (m->tree.size == 0)
        return PyUnicode_FromFormat("%s()", name);
    int rc = Py_ReprEnter((PyObject *)m);
    if (rc != 0)
        return rc > 0 ? PyUnicode_FromString("...") : NULL;
    PyObject *parts = PyList_New(0), *res = NULL, *sep = NULL, *body = NULL;
    IterObject *it = NULL;
    if (parts == NULL)
        goto done;
    it = blart_iter_new(m, YIELD_ITEMS, 0);
    if (it == NULL)
        goto done;
    PyObject *item;
    while ((item = blart_iter_next(it)) != NULL) {
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
            PyObject *k = blart_key_new(m, c.key, c.key_len);
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

PyObject *blart_map_richcompare(MapObject *m, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE)
        Py_RETURN_NOTIMPLEMENTED;
    int ok = blart_is_mapping(m->state, other);
    if (ok < 0)
        return NULL;
    if (!ok)
        Py_RETURN_NOTIMPLEMENTED;
    /* Identity first, as dict compares its values: a FrozenTreeMap makes a
       new value object on each access, so a NaN value would otherwise make
       the map unequal to itself. */
    int eq = (PyObject *)m == other ? 1 : map_equal(m, other);
    if (eq < 0)
        return NULL;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

PyObject *blart_edge_or_none(MapObject *m, int last, int pop)
{
    PyObject *res = map_edge_item(m, last, pop);
    if (res == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return res;
}

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

static PyObject *map_pop_first(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_edge_or_none(m, 0, 1);
}
static PyObject *map_pop_last(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_edge_or_none(m, 1, 1);
}

PyDoc_STRVAR(reduce_doc, "__reduce__($self, /)\n--\n\nSupport for pickle.");

PyDoc_STRVAR(new_for_copy_doc,
             "_new_for_copy($type, /)\n--\n\n"
             "A new, empty instance made by type.__new__(type) alone (never "
             "__init__),\nas copyreg.__newobj__ makes one: how pickle and "
             "copy rebuild a map.");

static PyObject *map_new_for_copy(PyObject *type, PyObject *Py_UNUSED(ignored))
{
    PyObject *new = PyObject_GetAttrString(type, "__new__");
    if (new == NULL)
        return NULL;
    PyObject *r = PyObject_CallOneArg(new, type);
    Py_DECREF(new);
    return r;
}

static PyObject *map_reduce(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    /* type(m)._new_for_copy(): the instance is made by __new__ alone,
       never __init__ (which may add keys or need arguments), as
       copyreg.__newobj__ makes a dict subclass's; then its attributes as
       state, then m's items one by one, streamed (no list of the map is
       built).  A callable with no arguments rather than __newobj__ with
       one: copy.deepcopy deep-copies the arguments through a generator,
       which crashes CPython 3.12 and 3.13 when an allocation fails there
       (tests/test_nomemory.py). */
    PyObject *make = NULL, *state = NULL, *items = NULL, *res = NULL;
    make = PyObject_GetAttrString((PyObject *)Py_TYPE(m), "_new_for_copy");
    if (make == NULL)
        goto done;
    state = blart_instance_state((PyObject *)m);
    if (state == NULL)
        goto done;
    items = (PyObject *)blart_iter_new(m, YIELD_ITEMS, 0);
    if (items == NULL)
        goto done;
    res = Py_BuildValue("O()OOO", make, state, Py_None, items);
done:
    Py_XDECREF(make);
    Py_XDECREF(state);
    Py_XDECREF(items);
    return res;
}

const char blart_sizeof_doc[] =
    "__sizeof__($self, /)\n--\n\n"
    "Size of the map in bytes: the object and the "
    "nodes and leaves of\nits tree (not the values).";

static PyObject *map_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    size_t n = (size_t)Py_TYPE(m)->tp_basicsize + m->tree.reserved +
               m->tree.walk_cap * sizeof(art_walk_frame);
    return PyLong_FromSize_t(n);
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

static PyMethodDef map_methods[] = {
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
    {"_new_for_copy", (PyCFunction)map_new_for_copy, METH_CLASS | METH_NOARGS,
     new_for_copy_doc},
    {"__sizeof__", (PyCFunction)map_sizeof, METH_NOARGS, blart_sizeof_doc},
    {"pop_first", (PyCFunction)map_pop_first, METH_NOARGS, pop_first_doc},
    {"pop_last", (PyCFunction)map_pop_last, METH_NOARGS, pop_last_doc},
    {"_load", (PyCFunction)(void (*)(void))blart_map_load,
     METH_FASTCALL | METH_CLASS, blart_load_doc},
    {"_dump", (PyCFunction)(void (*)(void))blart_map_dump, METH_FASTCALL,
     blart_dump_doc},
    {"_fail_alloc", (PyCFunction)map_fail_alloc, METH_O,
     "Testing: make the n-th next allocation of the tree fail (0: never)."},
    {NULL, NULL, 0, NULL},
};

PyMemberDef blart_map_members[] = {
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
#define MAP_SLOTS(doc)                                                         \
    {Py_tp_doc, (void *)(doc)}, {Py_tp_new, map_new},                          \
        {Py_tp_init, map_init}, {Py_tp_dealloc, map_dealloc},                  \
        {Py_tp_traverse, map_traverse}, {Py_tp_clear, map_tp_clear},           \
        {Py_tp_repr, map_repr}, {Py_tp_iter, blart_map_iter},                  \
        {Py_tp_richcompare, blart_map_richcompare},                            \
        {Py_tp_hash, PyObject_HashNotImplemented},                             \
        {Py_tp_methods, map_methods}, {Py_tp_members, blart_map_members},      \
        {Py_mp_length, blart_map_length},                                      \
        {Py_mp_subscript, blart_map_subscript},                                \
        {Py_mp_ass_subscript, map_ass_subscript},                              \
        {Py_sq_contains, blart_map_contains}, {Py_nb_or, blart_map_or},        \
        {Py_nb_inplace_or, blart_map_ior}, {0, NULL}
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

PyType_Spec blart_treemap_spec = {"blart.TreeMap", sizeof(MapObject), 0,
                                  MAP_FLAGS, treemap_slots};
PyType_Spec blart_bytestreemap_spec = {"blart.BytesTreeMap", sizeof(MapObject),
                                       0, MAP_FLAGS, bytestreemap_slots};
