/* The per-record loops of PutRecords in C: reading the request's entry dicts, joining the
 * records of each shard, writing their sequence numbers, and making the answer's dicts.
 *
 * Why C: after the rest of PutRecords went to whole-array operations (numpy, one pwrite per
 * file), most of its time was these two loops over Python objects: a dozen passes of map()
 * over the entries, then a dict and a str per record for the answer. No library reads or makes
 * dicts of this shape, and each pass touches every entry's objects again. One pass in C does
 * what they did.
 *
 * Both functions have a pure-Python twin in _records.py, used when this module is not built
 * (no C compiler); tests/streams/test_speedups.py checks that the two agree.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DIGEST_SIZE 16
#define KEY_MAX 256

static PyObject *DATA, *PARTITION_KEY, *SHARD_ID, *SEQUENCE_NUMBER;

/* scan_entries(records, max_bytes, memo, digest) -> (datas, keys, data_sizes, key_sizes,
 * digests) or None.
 *
 * The entries of a PutRecords in one pass, when every one is a dict of exactly bytes "Data"
 * and an ASCII str "PartitionKey" (1 to 256 characters) within max_bytes together; None
 * otherwise, for the careful path to find and name the first bad entry. datas and keys are
 * lists of the entries' own objects; data_sizes and key_sizes are bytes of native int64;
 * digests holds each key's MD5 (16 bytes each), found in the dict memo or made by calling
 * digest(key) and then kept in memo. */
static PyObject *
scan_entries(PyObject *module, PyObject *args)
{
    PyObject *records, *memo, *digest;
    Py_ssize_t max_bytes;
    if (!PyArg_ParseTuple(args, "OnO!O:scan_entries", &records, &max_bytes, &PyDict_Type, &memo,
                          &digest))
        return NULL;
    PyObject *seq = PySequence_Fast(records, "records must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *datas = PyList_New(n);
    PyObject *keys = PyList_New(n);
    PyObject *data_sizes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    PyObject *key_sizes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    PyObject *digests = PyBytes_FromStringAndSize(NULL, n * DIGEST_SIZE);
    PyObject *result = NULL;
    if (!datas || !keys || !data_sizes || !key_sizes || !digests)
        goto done;
    int64_t *dsz = (int64_t *)PyBytes_AS_STRING(data_sizes);
    int64_t *ksz = (int64_t *)PyBytes_AS_STRING(key_sizes);
    char *out = PyBytes_AS_STRING(digests);

    for (Py_ssize_t i = 0; i < n; i++) {
        /* Re-read each time: digest() below runs Python code. */
        if (PySequence_Fast_GET_SIZE(seq) != n)
            goto careful;
        PyObject *entry = PySequence_Fast_ITEMS(seq)[i];
        if (!PyDict_CheckExact(entry) || PyDict_GET_SIZE(entry) != 2)
            goto careful;
        /* Each value is owned by a list as soon as it is found: a lookup may run Python code
         * (a key's __eq__, digest()) that could otherwise free it under us. */
        PyObject *data = PyDict_GetItemWithError(entry, DATA);
        if (data == NULL)
            goto missing;
        Py_INCREF(data);
        PyList_SET_ITEM(datas, i, data);
        PyObject *key = PyDict_GetItemWithError(entry, PARTITION_KEY);
        if (key == NULL)
            goto missing;
        Py_INCREF(key);
        PyList_SET_ITEM(keys, i, key);
        if (!PyBytes_CheckExact(data) || !PyUnicode_Check(key))
            goto careful;
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(key) < 0)
            goto done;
#endif
        Py_ssize_t data_len = PyBytes_GET_SIZE(data);
        Py_ssize_t key_len = PyUnicode_GET_LENGTH(key);
        if (!PyUnicode_IS_ASCII(key) || key_len < 1 || key_len > KEY_MAX ||
            data_len + key_len > max_bytes)
            goto careful;
        dsz[i] = data_len;
        ksz[i] = key_len;
        PyObject *known = PyDict_GetItemWithError(memo, key);
        if (known != NULL && PyBytes_CheckExact(known) && PyBytes_GET_SIZE(known) == DIGEST_SIZE) {
            memcpy(out + i * DIGEST_SIZE, PyBytes_AS_STRING(known), DIGEST_SIZE);
            continue;
        }
        if (PyErr_Occurred())
            goto done;
        PyObject *made = PyObject_CallOneArg(digest, key);
        if (made == NULL)
            goto done;
        if (!PyBytes_CheckExact(made) || PyBytes_GET_SIZE(made) != DIGEST_SIZE) {
            PyErr_SetString(PyExc_TypeError, "digest() must return 16 bytes");
            Py_DECREF(made);
            goto done;
        }
        memcpy(out + i * DIGEST_SIZE, PyBytes_AS_STRING(made), DIGEST_SIZE);
        int stored = PyDict_SetItem(memo, key, made);
        Py_DECREF(made);
        if (stored < 0)
            goto done;
    }
    result = PyTuple_Pack(5, datas, keys, data_sizes, key_sizes, digests);
    goto done;

missing:
    if (PyErr_Occurred())
        goto done;
careful:
    result = Py_NewRef(Py_None);
done:
    Py_DECREF(seq);
    Py_XDECREF(datas);
    Py_XDECREF(keys);
    Py_XDECREF(data_sizes);
    Py_XDECREF(key_sizes);
    Py_XDECREF(digests);
    return result;
}

/* answer_records(shard_ids, shard_of, digits, width) -> list of dicts.
 *
 * PutRecords' per-record answer, {"ShardId": ..., "SequenceNumber": ...} for each record:
 * shard_of holds each record's index into the list shard_ids (native int64), digits each
 * record's sequence number as width ASCII digits, back to back. */
static PyObject *
answer_records(PyObject *module, PyObject *args)
{
    PyObject *ids;
    Py_buffer shard_of, digits;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "O!y*y*n:answer_records", &PyList_Type, &ids, &shard_of, &digits,
                          &width))
        return NULL;
    PyObject *list = NULL;
    Py_ssize_t n = shard_of.len / (Py_ssize_t)sizeof(int64_t);
    if (width < 1 || shard_of.len % (Py_ssize_t)sizeof(int64_t) || digits.len != n * width) {
        PyErr_SetString(PyExc_ValueError, "shard_of and digits describe different records");
        goto done;
    }
    const int64_t *index = shard_of.buf;
    const char *text = digits.buf;
    for (Py_ssize_t i = 0; i < digits.len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            PyErr_SetString(PyExc_ValueError, "sequence numbers are ASCII digits");
            goto done;
        }
    }
    list = PyList_New(n);
    if (list == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (index[i] < 0 || index[i] >= PyList_GET_SIZE(ids)) {
            PyErr_SetString(PyExc_IndexError, "a record's shard is not in shard_ids");
            goto fail;
        }
        PyObject *number = PyUnicode_New(width, 127);
        if (number == NULL)
            goto fail;
        memcpy(PyUnicode_1BYTE_DATA(number), text + i * width, (size_t)width);
        PyObject *record = PyDict_New();
        if (record == NULL || PyDict_SetItem(record, SHARD_ID, PyList_GET_ITEM(ids, index[i])) < 0 ||
            PyDict_SetItem(record, SEQUENCE_NUMBER, number) < 0) {
            Py_XDECREF(record);
            Py_DECREF(number);
            goto fail;
        }
        Py_DECREF(number);
        PyList_SET_ITEM(list, i, record);
    }
    goto done;

fail:
    Py_CLEAR(list);
done:
    PyBuffer_Release(&shard_of);
    PyBuffer_Release(&digits);
    return list;
}


/* Copy the bytes of item (bytes, or str as UTF-8) to out, or count them when out is NULL. */
static Py_ssize_t
item_bytes(PyObject *item, char *out)
{
    const char *from;
    Py_ssize_t size;
    if (PyBytes_Check(item)) {
        from = PyBytes_AS_STRING(item);
        size = PyBytes_GET_SIZE(item);
    }
    else if (PyUnicode_Check(item)) {
        from = PyUnicode_AsUTF8AndSize(item, &size);
        if (from == NULL)
            return -1;
    }
    else {
        PyErr_SetString(PyExc_TypeError, "records hold bytes data and str keys");
        return -1;
    }
    if (out != NULL)
        memcpy(out, from, (size_t)size);
    return size;
}

/* The items of one list picked in order, back to back, with offsets that start again at 0 for
 * each group of counts[g] items: (bytes, native int64 offsets, count + 1 per group). */
static PyObject *
gather_one(PyObject *items, const int64_t *order, Py_ssize_t n, const Py_ssize_t *counts,
           Py_ssize_t groups)
{
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (order[i] < 0 || order[i] >= PyList_GET_SIZE(items)) {
            PyErr_SetString(PyExc_IndexError, "order names a record that is not there");
            return NULL;
        }
        Py_ssize_t size = item_bytes(PyList_GET_ITEM(items, order[i]), NULL);
        if (size < 0)
            return NULL;
        total += size;
    }
    PyObject *joined = PyBytes_FromStringAndSize(NULL, total);
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (n + groups) * (Py_ssize_t)sizeof(int64_t));
    if (joined == NULL || offsets == NULL)
        goto fail;
    char *out = PyBytes_AS_STRING(joined);
    int64_t *at = (int64_t *)PyBytes_AS_STRING(offsets);
    Py_ssize_t i = 0, written = 0;
    for (Py_ssize_t g = 0; g < groups; g++) {
        int64_t end = 0;
        *at++ = 0;
        for (Py_ssize_t k = 0; k < counts[g]; k++, i++) {
            Py_ssize_t size = item_bytes(PyList_GET_ITEM(items, order[i]), out + written);
            written += size;
            end += size;
            *at++ = end;
        }
    }
    PyObject *result = PyTuple_Pack(2, joined, offsets);
    Py_DECREF(joined);
    Py_DECREF(offsets);
    return result;
fail:
    Py_XDECREF(joined);
    Py_XDECREF(offsets);
    return NULL;
}

/* gather(datas, keys, order, counts) -> (data, data_offsets, keys, key_offsets).
 *
 * The records order lists, in groups of counts (one per shard): their data back to back, and
 * their keys as UTF-8, each with native int64 offsets that start at 0 for each group (count + 1
 * of them per group), so that every group is an appendable batch as it stands. */
static PyObject *
gather(PyObject *module, PyObject *args)
{
    PyObject *datas, *keys, *counts_list;
    Py_buffer order;
    if (!PyArg_ParseTuple(args, "O!O!y*O!:gather", &PyList_Type, &datas, &PyList_Type, &keys,
                          &order, &PyList_Type, &counts_list))
        return NULL;
    PyObject *result = NULL, *data_part = NULL, *key_part = NULL;
    Py_ssize_t groups = PyList_GET_SIZE(counts_list);
    Py_ssize_t n = order.len / (Py_ssize_t)sizeof(int64_t), sum = 0;
    Py_ssize_t *counts = PyMem_New(Py_ssize_t, groups > 0 ? groups : 1);
    if (counts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t g = 0; g < groups; g++) {
        counts[g] = PyLong_AsSsize_t(PyList_GET_ITEM(counts_list, g));
        if (counts[g] < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "counts are not negative");
            goto done;
        }
        sum += counts[g];
    }
    if (order.len % (Py_ssize_t)sizeof(int64_t) || sum != n) {
        PyErr_SetString(PyExc_ValueError, "counts must add up to the records in order");
        goto done;
    }
    data_part = gather_one(datas, order.buf, n, counts, groups);
    key_part = data_part ? gather_one(keys, order.buf, n, counts, groups) : NULL;
    if (key_part != NULL)
        result = PyTuple_Pack(4, PyTuple_GET_ITEM(data_part, 0), PyTuple_GET_ITEM(data_part, 1),
                              PyTuple_GET_ITEM(key_part, 0), PyTuple_GET_ITEM(key_part, 1));
done:
    Py_XDECREF(data_part);
    Py_XDECREF(key_part);
    PyMem_Free(counts);
    PyBuffer_Release(&order);
    return result;
}

/* sequence_digits(prefix, start, count, width) -> bytes.
 *
 * The sequence numbers of positions start .. start + count - 1 of one shard, width ASCII
 * digits each, back to back: prefix, then the position zero-padded to fill the width. */
static PyObject *
sequence_digits(PyObject *module, PyObject *args)
{
    const char *prefix;
    Py_ssize_t prefix_len, count, width;
    PyObject *start_obj;
    if (!PyArg_ParseTuple(args, "s#O!nn:sequence_digits", &prefix, &prefix_len, &PyLong_Type,
                          &start_obj, &count, &width))
        return NULL;
    unsigned long long start = PyLong_AsUnsignedLongLong(start_obj);
    if (start == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t digits = width - prefix_len;
    /* 20 digits hold any unsigned 64-bit position, so the carry below never reaches the prefix. */
    if (digits < 20 || count < 0 || (unsigned long long)count > ULLONG_MAX - start) {
        PyErr_SetString(PyExc_OverflowError, "positions must fit 64 bits and the width");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * width);
    if (out == NULL || count == 0)
        return out;
    char *row = PyBytes_AS_STRING(out);
    char position[32];
    snprintf(position, sizeof position, "%020llu", start);
    memcpy(row, prefix, (size_t)prefix_len);
    memset(row + prefix_len, '0', (size_t)(digits - 20));
    memcpy(row + width - 20, position, 20);
    for (Py_ssize_t i = 1; i < count; i++) {
        char *next = row + width;
        memcpy(next, row, (size_t)width);
        char *digit = next + width - 1;
        while (*digit == '9')
            *digit-- = '0';
        (*digit)++;
        row = next;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"scan_entries", scan_entries, METH_VARARGS, "The entries of a PutRecords in one pass."},
    {"answer_records", answer_records, METH_VARARGS, "PutRecords' per-record answer dicts."},
    {"gather", gather, METH_VARARGS, "Records in shard order, back to back, with offsets."},
    {"sequence_digits", sequence_digits, METH_VARARGS, "Consecutive sequence numbers as digits."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_speedups",
    .m_doc = "PutRecords' per-record loops in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    DATA = PyUnicode_InternFromString("Data");
    PARTITION_KEY = PyUnicode_InternFromString("PartitionKey");
    SHARD_ID = PyUnicode_InternFromString("ShardId");
    SEQUENCE_NUMBER = PyUnicode_InternFromString("SequenceNumber");
    if (!DATA || !PARTITION_KEY || !SHARD_ID || !SEQUENCE_NUMBER)
        return NULL;
    return PyModule_Create(&module);
}
