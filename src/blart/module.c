/*
 * module.c -- the module blart._blart: its definition, multi-phase init,
 * module state (blart_state, _blart.h) and the small helpers every file
 * of the binding uses (finding the state from a type, flag arguments).
 *
 * The types are defined each in its own file (map.c, iter.c, views.c,
 * frozen.c); this file only makes them from their specs and adds to
 * every map type the methods that only read (queries.c).
 */
#include "_blart.h"

static struct PyModuleDef blart_module;

/*
 * The first of our heap types in type's MRO gives the module, and the
 * module its state.  No exception is built just to be discarded.
 */
blart_state *blart_find_state(PyTypeObject *type)
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

blart_state *blart_state_of_type(PyTypeObject *type)
{
    blart_state *st = blart_find_state(type);
    if (st == NULL)
        PyErr_Format(PyExc_TypeError, "%.200s is not a blart type",
                     type->tp_name);
    return st;
}

const char *blart_short_name(PyTypeObject *t)
{
    const char *dot = strrchr(t->tp_name, '.');
    return dot ? dot + 1 : t->tp_name;
}

int blart_as_flag(PyObject *o, const char *what, int *out)
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
    return add_ref(module, blart_short_name(*out), (PyObject *)*out);
}

/*
 * Adds the methods of defs to type, as PyType_Ready adds a spec's: the
 * methods every map type shares live in one table (queries.c) rather
 * than in each type's.
 */
static int add_methods(PyTypeObject *type, PyMethodDef *defs)
{
    for (PyMethodDef *d = defs; d->ml_name; d++) {
        PyObject *descr = d->ml_flags & METH_CLASS
                              ? PyDescr_NewClassMethod(type, d)
                              : PyDescr_NewMethod(type, d);
        if (descr == NULL)
            return -1;
        int r = PyObject_SetAttrString((PyObject *)type, d->ml_name, descr);
        Py_DECREF(descr);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int blart_exec(PyObject *module)
{
    blart_state *st = PyModule_GetState(module);
    art_tree probe; /* the core's default bucket limits */
    art_tree_init(&probe);
    st->bucket_keys = probe.bucket_keys;
    st->bucket_bytes = probe.bucket_bytes;
    if (add_type(module, &blart_treemap_spec, &st->TreeMap_Type, 1) < 0 ||
        add_type(module, &blart_bytestreemap_spec, &st->BytesTreeMap_Type, 1) <
            0 ||
        add_type(module, &blart_iter_spec, &st->Iter_Type, 0) < 0 ||
        add_type(module, &blart_scan_spec, &st->Scan_Type, 0) < 0 ||
        add_type(module, &blart_keys_spec, &st->KeysView_Type, 0) < 0 ||
        add_type(module, &blart_values_spec, &st->ValuesView_Type, 0) < 0 ||
        add_type(module, &blart_items_spec, &st->ItemsView_Type, 0) < 0 ||
        add_type(module, &blart_frozen_spec, &st->FrozenTreeMap_Type, 1) < 0)
        return -1;
    if (add_methods(st->TreeMap_Type, blart_read_methods) < 0 ||
        add_methods(st->BytesTreeMap_Type, blart_read_methods) < 0 ||
        add_methods(st->FrozenTreeMap_Type, blart_read_methods) < 0)
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
    Py_VISIT(st->Scan_Type);
    Py_VISIT(st->KeysView_Type);
    Py_VISIT(st->ValuesView_Type);
    Py_VISIT(st->ItemsView_Type);
    Py_VISIT(st->FrozenTreeMap_Type);
    Py_VISIT(st->FormatError);
    Py_VISIT(st->mapping_abc);
    Py_VISIT(st->pickle);
    Py_VISIT(st->UnpicklingError);
    return 0;
}

static int blart_clear(PyObject *module)
{
    blart_state *st = PyModule_GetState(module);
    Py_CLEAR(st->TreeMap_Type);
    Py_CLEAR(st->BytesTreeMap_Type);
    Py_CLEAR(st->Iter_Type);
    Py_CLEAR(st->Scan_Type);
    Py_CLEAR(st->KeysView_Type);
    Py_CLEAR(st->ValuesView_Type);
    Py_CLEAR(st->ItemsView_Type);
    Py_CLEAR(st->FrozenTreeMap_Type);
    Py_CLEAR(st->FormatError);
    Py_CLEAR(st->mapping_abc);
    Py_CLEAR(st->pickle);
    Py_CLEAR(st->UnpicklingError);
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

static PyObject *blart_builds(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(
        ((blart_state *)PyModule_GetState(module))->builds);
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

static PyObject *blart_set_bucket_limits(PyObject *module, PyObject *args)
{
    blart_state *st = PyModule_GetState(module);
    unsigned keys;
    Py_ssize_t bytes;
    if (!PyArg_ParseTuple(args, "In:_set_bucket_limits", &keys, &bytes))
        return NULL;
    art_tree probe;
    art_tree_init(&probe);
    if (bytes < 0 || art_tree_set_buckets(&probe, keys, (size_t)bytes) < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "bucket limits: 0 keys (none), or 2..65535 keys and "
                        "16..65535 bytes");
        return NULL;
    }
    PyObject *old =
        Py_BuildValue("(In)", st->bucket_keys, (Py_ssize_t)st->bucket_bytes);
    if (old == NULL)
        return NULL;
    st->bucket_keys = keys;
    st->bucket_bytes = (size_t)bytes;
    return old;
}

static PyMethodDef blart_functions[] = {
    {"_set_bucket_limits", blart_set_bucket_limits, METH_VARARGS,
     "Testing: _set_bucket_limits(keys, bytes) sets the bucket limits of "
     "maps made from now on (0 keys: no buckets) and returns the old "
     "ones."},
    {"_checksum", blart_checksum, METH_O,
     "The 64-bit checksum of docs/format.md over a bytes-like object."},
    {"_live_allocations", blart_live_allocations, METH_NOARGS,
     "Testing: blocks the C tree library has allocated and not freed."},
    {"_builds", blart_builds, METH_NOARGS,
     "Testing: how many maps were filled at once from a batch in key "
     "order."},
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
