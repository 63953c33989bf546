"""The benchmarks' occlusions, defined once: the paper's (Sec. IV-A, IV-B) and the wild one.

A `Condition` is one (form, size, position) of a benchmark grid: the paper's forms x sizes
x positions, in the fixed order of `benchmark_conditions()`, or the wild benchmark's
families x sizes x positions (`wild_conditions()`, its form a family name), numbered after
the paper's so the paper's occlusions are those of every earlier release. The occlusion of
image `i` under condition `c` depends only on (seed, i, c): its random draws
(colour, aspect, word, jitter, which eye) are keyed by `occlusion_ids`, so the
same face under the same condition is occluded identically by evaluation,
verification pairs, the export's parity check and the tf.data benchmark, on
every run and machine, whichever other conditions are evaluated with it.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from c2fdan_tf.data.occluders.families import BENCHMARK_SIZES as WILD_SIZES, WILD_FAMILIES, wild_family
from c2fdan_tf.data.occluders.family import family_seed
from c2fdan_tf.data.occluders.paper import BENCHMARK_SIZES, FORMS, POSITIONS, OcclusionSynthesizer, as_float_faces

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
    def wild(self):
        """True for a condition of the wild benchmark (its form is a family's name)."""
        return self.form in WILD_FAMILIES

    @property
    def index(self):
        """Position in the paper's conditions then the wild ones: the condition's part of the occlusion id."""
        for i, condition in enumerate(benchmark_conditions() + wild_conditions()):
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


def wild_conditions(families=WILD_FAMILIES, sizes=None, positions=POSITIONS):
    """The wild benchmark's conditions (optionally a subset): every family at both of its
    sizes at every position, in a fixed order."""
    unknown = set(families) - set(WILD_FAMILIES)
    if unknown:
        raise ValueError(f"Unknown occluder families {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(WILD_FAMILIES)}.")
    return [
        Condition(family, size, position)
        for family in WILD_FAMILIES
        for size in WILD_SIZES[family]
        for position in POSITIONS
        if family in families and position in positions and (sizes is None or size in sizes)
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
    if not count:
        return {key: np.zeros((0, 112, 112, 1 if key == "mask" else 3), np.float32)
                for key in ("occluded", "mask", "ground_truth")}
    out = {"occluded": np.zeros(images.shape, np.float32), "mask": np.zeros((count, 112, 112, 1), np.float32),
           "ground_truth": np.zeros(images.shape, np.float32)}
    wild = np.array([c.wild for c in conditions])
    for start in range(0, count, batch_size):
        chunk = np.arange(start, min(start + batch_size, count))
        paper = chunk[~wild[chunk]]
        if len(paper):
            params = benchmark_parameters(synthesizer, seed, image_ids[paper], indices[paper])
            example = synthesizer.occlude(tf.constant(images[paper]), params)
            for key in out:
                out[key][paper] = example[key].numpy()
        for condition in {conditions[i] for i in chunk[wild[chunk]]}:
            rows = np.array([i for i in chunk if conditions[i] == condition])
            occluded, mask, truth = occlude_wild(images[rows], seed, condition, image_ids[rows])
            out["occluded"][rows], out["mask"][rows], out["ground_truth"][rows] = occluded, mask, truth
    return out


def occlude_wild(images, seed, condition, image_ids):
    """(occluded, mask, ground truth) float32 NumPy arrays of images under one wild condition."""
    faces = as_float_faces(tf.constant(images))
    family = wild_family(condition.form)
    ids = occlusion_ids(tf.constant(image_ids), tf.fill([len(image_ids)], condition.index))
    params = family.parameters(family_seed(seed, condition.form), ids, condition.size,
                               POSITIONS.index(condition.position))
    occluded, mask = family.render(faces, params)
    return occluded.numpy(), mask.numpy(), faces.numpy()
