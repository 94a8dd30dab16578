/*
 * The least a prefix query returning (key, value) pairs must do in
 * CPython, without any tree: make each key's str from its UTF-8 bytes and
 * a tuple for each pair, into a list.  bench/prefix_floor.py times it
 * against the bisect baseline and blart's prefix_iter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* pairs(blob, ends, value): [(blob[ends[i-1]:ends[i]] as str, value)]
   for the ASCII keys packed in blob, ends their end offsets. */
static PyObject *pairs(PyObject *self, PyObject *args)
{
    Py_buffer blob;
    PyObject *ends, *value;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O!O", &blob, &PyList_Type, &ends, &value))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ends), start = 0;
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        Py_ssize_t end = PyLong_AsSsize_t(PyList_GET_ITEM(ends, i));
        if (end < start || end > blob.len) {
            PyErr_SetString(PyExc_ValueError, "bad end offset");
            Py_CLEAR(out);
            break;
        }
        PyObject *key = PyUnicode_New(end - start, 127);
        PyObject *pair = key ? PyTuple_New(2) : NULL;
        if (pair == NULL) {
            Py_XDECREF(key);
            Py_CLEAR(out);
            break;
        }
        memcpy(PyUnicode_DATA(key), (const char *)blob.buf + start,
               (size_t)(end - start));
        Py_INCREF(value);
        PyTuple_SET_ITEM(pair, 0, key);
        PyTuple_SET_ITEM(pair, 1, value);
        PyList_SET_ITEM(out, i, pair);
        start = end;
    }
    PyBuffer_Release(&blob);
    return out;
}

static PyMethodDef methods[] = {{"pairs", pairs, METH_VARARGS,
                                 "Fresh (str, value) pairs from packed keys."},
                                {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "prefix_floor", NULL,
                                    -1, methods};

PyMODINIT_FUNC PyInit_prefix_floor(void)
{
    return PyModule_Create(&module);
}
