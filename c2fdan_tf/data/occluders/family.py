"""What every wild occluder family provides (the paper's occluders are `paper.py`)."""

import abc
import zlib

import tensorflow as tf

from c2fdan_tf.data import counter_random

# Each family's own random streams start here (placement uses 5 and 20-77).
S_FAMILY = 100


def family_seed(seed, name):
    """The seed of one family's draws: independent of the paper's and of the other families'."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) & 0x7FFFFFFF


def pick(seed, stream, ids, choices, weights):
    """One of `choices` (a float32 list or a (K, 3) colour table) per id, with `weights`."""
    total = float(sum(weights))
    edges = tf.constant([sum(weights[: k + 1]) / total for k in range(len(weights) - 1)], tf.float32)
    unit = counter_random.uniform(seed, stream, ids)
    index = tf.reduce_sum(tf.cast(unit[:, None] >= edges[None, :], tf.int32), axis=-1)
    return tf.gather(tf.constant(choices, tf.float32), index)


def per_id(ids, size, position):
    """(ids int64, size float32, position int32) as per-id tensors of the ids' shape."""
    ids = tf.convert_to_tensor(ids, tf.int64)
    return (ids, tf.broadcast_to(tf.cast(size, tf.float32), tf.shape(ids)),
            tf.broadcast_to(tf.cast(position, tf.int32), tf.shape(ids)))


def chance(seed, stream, ids, probability):
    return counter_random.uniform(seed, stream, ids) < probability


def random_colors(seed, stream, ids):
    """A uniformly random RGB colour per id (streams stream .. stream + 2)."""
    return counter_random.uniform_streams(seed, range(stream, stream + 3), ids)


class WildFamily(abc.ABC):
    """An occluder family beside the paper's.

    `size` is the family's own size measure (named in `size_name`), drawn from
    `training_sizes` in training and one of `benchmark_sizes` in the wild benchmark.
    `parameters(seed, ids, size, position)` draws everything else from (seed, id) only;
    `render(faces, params)` returns (occluded, mask) with the mask = the changed pixels.
    """

    name = ""
    size_name = ""
    training_sizes = (0.0, 1.0)
    benchmark_sizes = ()

    @abc.abstractmethod
    def parameters(self, seed, ids, size, position):
        """Per-id parameter tensors for the occluders of `ids` at `size` and `position`."""

    @abc.abstractmethod
    def render(self, faces, params):
        """(occluded, mask) of float faces (B, 112, 112, 3) under the occluders of `params`."""
