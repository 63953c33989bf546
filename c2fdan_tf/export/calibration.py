"""Occluded faces for the export's parity check and int8 calibration."""

import numpy as np
import tensorflow as tf

from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, occlude_benchmark
from c2fdan_tf.data.face_renderers import DEFAULT_RENDERER
from c2fdan_tf.data.face_sources import ImageFolderFaces, synthetic_face_source
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer


def occluded_faces(data, split, count, seed, benchmark, faces=DEFAULT_RENDERER):
    """`count` faces ("synth" or a folder) with occlusions, as float arrays:
    {"occluded", "mask", "ground_truth"}. `benchmark`: the benchmark's occlusions,
    face k under condition 7k mod 24 (parity checks see every condition); otherwise
    training occlusions (calibration)."""
    if data == "synth":
        images = synthetic_face_source(split, count, 1, seed=seed, faces=faces).images
    else:
        images = ImageFolderFaces(data).load().images[:count]
    if benchmark:
        conditions = benchmark_conditions()
        return occlude_benchmark(images, seed, [conditions[(i * 7) % len(conditions)] for i in range(len(images))])
    synthesizer = OcclusionSynthesizer()
    params = synthesizer.training_parameters(seed, tf.range(len(images), dtype=tf.int64))
    params["flip"] = tf.zeros_like(params["flip"])
    example = synthesizer.occlude(tf.constant(images), params)
    return {key: np.asarray(example[key]) for key in ("occluded", "mask", "ground_truth")}
