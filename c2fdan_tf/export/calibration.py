"""Occluded faces for the export's parity check and int8 calibration."""

import numpy as np
import tensorflow as tf

from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, occlude_benchmark
from c2fdan_tf.data.face_sources import ImageFolderFaces, synthetic_face_source
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer


def occluded_faces(data, split, count, seed, benchmark):
    """`count` faces ("synth" or a folder) with occlusions, as float arrays:
    {"occluded", "mask", "ground_truth"}. `benchmark`: the benchmark's occlusions,
    face k under condition 7k mod 24 (parity checks see every condition); otherwise
    training occlusions (calibration)."""
    if data == "synth":
        faces = synthetic_face_source(split, count, 1, seed=seed).images
    else:
        faces = ImageFolderFaces(data).load().images[:count]
    if benchmark:
        conditions = benchmark_conditions()
        return occlude_benchmark(faces, seed, [conditions[(i * 7) % len(conditions)] for i in range(len(faces))])
    synthesizer = OcclusionSynthesizer()
    params = synthesizer.training_parameters(seed, tf.range(len(faces), dtype=tf.int64))
    params["flip"] = tf.zeros_like(params["flip"])
    example = synthesizer.occlude(tf.constant(faces), params)
    return {key: np.asarray(example[key]) for key in ("occluded", "mask", "ground_truth")}
