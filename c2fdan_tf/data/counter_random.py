"""Counter-based random numbers: a pure integer hash of (seed, stream, id).

Every value depends only on its key, never on batch composition, thread
scheduling or the machine: the same seed gives bit-identical occlusions
everywhere, and a whole batch is sampled in one vectorised op. Used by the
occlusion synthesis inside the tf.data graph. The hash is MurmurHash3's 32-bit
finaliser (fmix32) applied over the key words.
"""

import tensorflow as tf

_GOLDEN = 0x9E3779B9


def _fmix32(h):
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))
    h = h * tf.constant(0x85EBCA6B, tf.uint32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(13, tf.uint32)))
    h = h * tf.constant(0xC2B2AE35, tf.uint32)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))


def _keys(seed, streams):
    """uint32 key(s) of (seed, stream): a scalar for one stream, a vector for a list."""
    terms = ([((s + 1) * _GOLDEN) & 0xFFFFFFFF for s in streams] if isinstance(streams, (list, tuple, range))
             else ((streams + 1) * _GOLDEN) & 0xFFFFFFFF)
    return _fmix32(tf.constant(seed & 0xFFFFFFFF, tf.uint32) + tf.constant(terms, tf.uint32))


def _mix(keys, ids):
    """The hash of int64 `ids` under `keys` (broadcast against each other)."""
    low = tf.cast(tf.bitwise.bitwise_and(ids, 0xFFFFFFFF), tf.uint32)
    high = tf.cast(tf.bitwise.right_shift(ids, 32), tf.uint32)
    h = _fmix32(tf.bitwise.bitwise_xor(keys, low))
    return _fmix32(tf.bitwise.bitwise_xor(h, high * tf.constant(0x27D4EB2F, tf.uint32)))


def _unit(h):
    """The top 24 bits as an exact float32 in [0, 1)."""
    return tf.cast(tf.bitwise.right_shift(h, tf.constant(8, tf.uint32)), tf.float32) * (2.0**-24)


def hash_uint32(seed, stream, ids):
    """uint32 hash of (seed, stream, ids); `ids` int64 of any shape, the rest scalars."""
    return _mix(_keys(seed, stream), tf.convert_to_tensor(ids, tf.int64))


def uniform_streams(seed, streams, ids, low=0.0, high=1.0):
    """float32 (..., len(streams)): `uniform(seed, s, ids, low, high)` for every stream s, in
    one vectorised hash (bit-identical to the per-stream calls, at a fraction of the ops)."""
    ids = tf.convert_to_tensor(ids, tf.int64)[..., None]
    return low + (high - low) * _unit(_mix(_keys(seed, list(streams)), ids))


def uniform(seed, stream, ids, low=0.0, high=1.0):
    """float32 uniform in [low, high), one value per id; exact on every machine."""
    return low + (high - low) * _unit(hash_uint32(seed, stream, ids))


def randint(seed, stream, ids, high):
    """int32 uniform in [0, high), one per id (`high` a scalar or per-id tensor)."""
    h = tf.cast(tf.bitwise.right_shift(hash_uint32(seed, stream, ids), tf.constant(1, tf.uint32)), tf.int64)
    return tf.cast(tf.math.floormod(h, tf.cast(high, tf.int64)), tf.int32)
