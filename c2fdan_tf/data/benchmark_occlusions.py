"""The benchmark's occlusions, defined once (paper Sec. IV-A, IV-B).

A `Condition` is one (form, size, position) of the benchmark grid: forms x sizes
x positions, in the fixed order of `benchmark_conditions()`. The occlusion of
image `i` under condition `c` depends only on (seed, i, c): its random draws
(colour, aspect, word, jitter, which eye) are keyed by `occlusion_ids`, so the
same face under the same condition is occluded identically by evaluation,
verification pairs, the export's parity check and the tf.data benchmark, on
every run and machine, whichever other conditions are evaluated with it.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from c2fdan_tf.data.occlusion import BENCHMARK_SIZES, FORMS, POSITIONS, OcclusionSynthesizer

IDS_PER_IMAGE = 1000  # room for every condition's own id under one image


class Condition(NamedTuple):
    """One benchmark condition; its name is `form/position/size` ("text/eyes/0.3")."""

    form: str
    size: float
    position: str

    @property
    def name(self):
        return f"{self.form}/{self.position}/{self.size:g}"

    @classmethod
    def parse(cls, name):
        """The Condition named `form/position/size`; ValueError for anything else."""
        try:
            form, position, size = str(name).split("/")
            return cls(form, float(size), position)
        except ValueError:
            raise ValueError(f"{name!r} is not a condition name (form/position/size, e.g. text/eyes/0.3).") from None

    def matches(self, form=None, size=None, position=None):
        """True when every given attribute equals this condition's."""
        return ((form is None or self.form == form) and (size is None or bool(np.isclose(self.size, size)))
                and (position is None or self.position == position))

    @property
    def index(self):
        """Position in `benchmark_conditions()`: the condition's part of the occlusion id."""
        for i, condition in enumerate(benchmark_conditions()):
            if condition.form == self.form and condition.position == self.position and np.isclose(
                    condition.size, self.size):
                return i
        raise ValueError(f"{self.name} is not one of the benchmark's conditions.")


def benchmark_conditions(forms=FORMS, sizes=None, positions=POSITIONS):
    """The benchmark's conditions (optionally a subset), in their fixed order."""
    return [
        Condition(form, size, position)
        for form in FORMS
        for size in BENCHMARK_SIZES[form]
        for position in POSITIONS
        if form in forms and position in positions and (sizes is None or size in sizes)
    ]


def middle_size_conditions():
    """Each form's middle size at every position: the conditions of the example pictures."""
    return [Condition(form, BENCHMARK_SIZES[form][1], position) for form in FORMS for position in POSITIONS]


def occlusion_ids(image_ids, condition_indices):
    """The counter-random key of (image, condition) pairs (int64 tensors)."""
    image_ids = tf.cast(image_ids, tf.int64)
    return image_ids * IDS_PER_IMAGE + tf.cast(condition_indices, tf.int64)


def benchmark_parameters(synthesizer, seed, image_ids, condition_indices):
    """Occlusion parameters of each (image id, condition index) pair; graph ops only."""
    conditions = benchmark_conditions()
    forms = tf.constant([FORMS.index(c.form) for c in conditions], tf.int32)
    sizes = tf.constant([c.size for c in conditions], tf.float32)
    positions = tf.constant([POSITIONS.index(c.position) for c in conditions], tf.int32)
    condition_indices = tf.cast(condition_indices, tf.int32)
    return synthesizer.benchmark_parameters(
        seed, occlusion_ids(image_ids, condition_indices), tf.gather(forms, condition_indices),
        tf.gather(sizes, condition_indices), tf.gather(positions, condition_indices),
    )


def occlude_benchmark(images, seed, conditions, image_ids=None, synthesizer=None, batch_size=64):
    """Image `k` under `conditions[k]` (one condition for all, or one per image).

    images: uint8 or float (N, 112, 112, 3); image_ids: the ids that key their
    occlusions (default 0..N-1). Returns float32 NumPy arrays "occluded", "mask"
    and "ground_truth" (never flipped).
    """
    synthesizer = synthesizer or OcclusionSynthesizer()
    count = len(images)
    if isinstance(conditions, Condition):
        conditions = [conditions] * count
    if len(conditions) != count:
        raise ValueError(f"{len(conditions)} conditions for {count} images.")
    indices = np.array([c.index for c in conditions], np.int32)
    image_ids = np.arange(count, dtype=np.int64) if image_ids is None else np.asarray(image_ids, np.int64)
    parts = {"occluded": [], "mask": [], "ground_truth": []}
    for start in range(0, count, batch_size):
        chunk = slice(start, start + batch_size)
        params = benchmark_parameters(synthesizer, seed, image_ids[chunk], indices[chunk])
        example = synthesizer.occlude(tf.constant(images[chunk]), params)
        for key in parts:
            parts[key].append(example[key].numpy())
    if not count:
        return {key: np.zeros((0, 112, 112, 1 if key == "mask" else 3), np.float32) for key in parts}
    return {key: np.concatenate(values) for key, values in parts.items()}
