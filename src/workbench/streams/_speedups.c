/* The per-record loops of PutRecords in C: reading the request's entry dicts, routing them to
 * shards, joining each shard's records, writing their offsets and sequence numbers, and making
 * the answer's dicts.
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

/* Whether the size bytes at text are all ASCII (what PyUnicode_New(..., 127) may hold); eight
 * at a time, as this runs over every sequence number of an answer. */
static int
is_ascii(const char *text, Py_ssize_t size)
{
    uint64_t seen = 0, word;
    Py_ssize_t i = 0;
    for (; i + 8 <= size; i += 8) {
        memcpy(&word, text + i, 8);
        seen |= word;
    }
    for (; i < size; i++)
        seen |= (unsigned char)text[i];
    return (seen & 0x8080808080808080ULL) == 0;
}

/* answer_records(count, runs, width) -> list of dicts.
 *
 * PutRecords' per-record answer, {"ShardId": ..., "SequenceNumber": ...} for each of count
 * records in request order. Each run is (shard id, members, digits): the request positions
 * (native int64) of records one append wrote to that shard, and their sequence numbers as
 * width ASCII digits each, back to back. Every position must be in exactly one run. */
static PyObject *
answer_records(PyObject *module, PyObject *args)
{
    Py_ssize_t count, width;
    PyObject *runs;
    if (!PyArg_ParseTuple(args, "nO!n:answer_records", &count, &PyList_Type, &runs, &width))
        return NULL;
    if (count < 0 || width < 1) {
        PyErr_SetString(PyExc_ValueError, "count and width must be positive");
        return NULL;
    }
    PyObject *list = PyList_New(count);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(runs); r++) {
        PyObject *shard_id;
        Py_buffer members, digits;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(runs, r), "Uy*y*:run", &shard_id, &members,
                              &digits))
            goto fail;
        Py_ssize_t n = members.len / (Py_ssize_t)sizeof(int64_t);
        const int64_t *position = members.buf;
        const char *text = digits.buf;
        int ok = members.len % (Py_ssize_t)sizeof(int64_t) == 0 && digits.len == n * width &&
                 is_ascii(text, digits.len);
        if (!ok)
            PyErr_SetString(PyExc_ValueError, "a run's members and digits do not match");
        for (Py_ssize_t i = 0; ok && i < n; i++) {
            if (position[i] < 0 || position[i] >= count ||
                PyList_GET_ITEM(list, position[i]) != NULL) {
                PyErr_SetString(PyExc_ValueError, "each record is in exactly one run");
                ok = 0;
                break;
            }
            PyObject *number = PyUnicode_New(width, 127);
            PyObject *record = number ? PyDict_New() : NULL;
            if (record == NULL || PyDict_SetItem(record, SHARD_ID, shard_id) < 0) {
                ok = 0;
            }
            else {
                memcpy(PyUnicode_1BYTE_DATA(number), text + i * width, (size_t)width);
                ok = PyDict_SetItem(record, SEQUENCE_NUMBER, number) == 0;
            }
            Py_XDECREF(number);
            if (!ok) {
                Py_XDECREF(record);
                break;
            }
            PyList_SET_ITEM(list, position[i], record);
        }
        PyBuffer_Release(&members);
        PyBuffer_Release(&digits);
        if (!ok)
            goto fail;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyList_GET_ITEM(list, i) == NULL) {
            PyErr_SetString(PyExc_ValueError, "each record is in exactly one run");
            goto fail;
        }
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

/* shard_order(hi, lo, ends_hi, ends_lo) -> (order, counts).
 *
 * Routing of 128-bit hash keys, given as native uint64 high and low halves, to the shards
 * whose inclusive ranges end at ends (ascending, the last 2^128 - 1): the keys' positions
 * sorted stably by shard (bytes of native int64) and how many keys each shard holds. */
static PyObject *
shard_order(PyObject *module, PyObject *args)
{
    Py_buffer hi, lo, ends_hi, ends_lo;
    if (!PyArg_ParseTuple(args, "y*y*y*y*:shard_order", &hi, &lo, &ends_hi, &ends_lo))
        return NULL;
    PyObject *result = NULL, *order = NULL, *counts = NULL;
    Py_ssize_t *shard_of = NULL, *start = NULL;
    Py_ssize_t n = hi.len / (Py_ssize_t)sizeof(uint64_t);
    Py_ssize_t shards = ends_hi.len / (Py_ssize_t)sizeof(uint64_t);
    if (hi.len != lo.len || ends_hi.len != ends_lo.len || hi.len % 8 || ends_hi.len % 8 ||
        shards < 1) {
        PyErr_SetString(PyExc_ValueError, "keys and ends come as equal uint64 halves");
        goto done;
    }
    const uint64_t *key_hi = hi.buf, *key_lo = lo.buf, *end_hi = ends_hi.buf,
                   *end_lo = ends_lo.buf;
    shard_of = PyMem_New(Py_ssize_t, n > 0 ? n : 1);
    start = PyMem_New(Py_ssize_t, shards + 1);
    order = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (shard_of == NULL || start == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(start, 0, (size_t)(shards + 1) * sizeof(Py_ssize_t));
    for (Py_ssize_t i = 0; i < n; i++) {
        /* The first shard whose end is not below the key (binary search over the ends). */
        Py_ssize_t low = 0, high = shards;
        while (low < high) {
            Py_ssize_t mid = (low + high) / 2;
            if (end_hi[mid] < key_hi[i] || (end_hi[mid] == key_hi[i] && end_lo[mid] < key_lo[i]))
                low = mid + 1;
            else
                high = mid;
        }
        if (low == shards) {
            PyErr_SetString(PyExc_ValueError, "a hash key is past the last shard's end");
            goto done;
        }
        shard_of[i] = low;
        start[low + 1]++;
    }
    counts = PyList_New(shards);
    if (counts == NULL)
        goto done;
    for (Py_ssize_t s = 0; s < shards; s++) {
        PyObject *count = PyLong_FromSsize_t(start[s + 1]);
        if (count == NULL)
            goto done;
        PyList_SET_ITEM(counts, s, count);
        start[s + 1] += start[s];
    }
    int64_t *out = (int64_t *)PyBytes_AS_STRING(order);
    for (Py_ssize_t i = 0; i < n; i++)
        out[start[shard_of[i]]++] = i;
    result = PyTuple_Pack(2, order, counts);
done:
    Py_XDECREF(order);
    Py_XDECREF(counts);
    PyMem_Free(shard_of);
    PyMem_Free(start);
    PyBuffer_Release(&hi);
    PyBuffer_Release(&lo);
    PyBuffer_Release(&ends_hi);
    PyBuffer_Release(&ends_lo);
    return result;
}

/* file_offsets(offsets, base) -> bytes.
 *
 * The offsets file's entries for an appended batch: its native int64 offsets after the
 * leading 0, plus base (where the batch starts in the file), as little-endian int32 (an
 * Arrow offsets buffer). */
static PyObject *
file_offsets(PyObject *module, PyObject *args)
{
    Py_buffer offsets;
    long long base;
    if (!PyArg_ParseTuple(args, "y*L:file_offsets", &offsets, &base))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t n = offsets.len / (Py_ssize_t)sizeof(int64_t);
    if (offsets.len % (Py_ssize_t)sizeof(int64_t) || n < 1) {
        PyErr_SetString(PyExc_ValueError, "offsets are native int64, a leading 0 first");
        goto done;
    }
    const int64_t *from = offsets.buf;
    out = PyBytes_FromStringAndSize(NULL, (n - 1) * (Py_ssize_t)sizeof(int32_t));
    if (out == NULL)
        goto done;
    unsigned char *to = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 1; i < n; i++) {
        long long value = from[i] + base;
        if (value < 0 || value > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "an offset does not fit int32");
            Py_CLEAR(out);
            goto done;
        }
        uint32_t v = (uint32_t)value;
        unsigned char *at = to + (i - 1) * 4;
        at[0] = v & 0xff;
        at[1] = (v >> 8) & 0xff;
        at[2] = (v >> 16) & 0xff;
        at[3] = v >> 24;
    }
done:
    PyBuffer_Release(&offsets);
    return out;
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
    else if (PyUnicode_Check(item) && PyUnicode_IS_COMPACT_ASCII(item)) {
        from = (const char *)PyUnicode_DATA(item); /* ASCII is its own UTF-8 */
        size = PyUnicode_GET_LENGTH(item);
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
    {"shard_order", shard_order, METH_VARARGS, "Hash keys' positions sorted by shard."},
    {"file_offsets", file_offsets, METH_VARARGS, "An appended batch's int32 file offsets."},
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
