"""Occluded faces for the export's parity check and int8 calibration."""

import numpy as np
import tensorflow as tf

from c2fdan_tf.data.face_sources import ImageFolderFaces, synthetic_face_source
from c2fdan_tf.data.occlusion import FORMS, POSITIONS, OcclusionSynthesizer, benchmark_conditions


def occluded_faces(data, split, count, seed, benchmark):
    """`count` faces ("synth" or a folder) with occlusions, as float arrays:
    {"occluded", "mask", "ground_truth"}. `benchmark`: spread over the benchmark's
    conditions (parity checks); otherwise training occlusions (calibration)."""
    if data == "synth":
        faces = synthetic_face_source(split, count, 1, seed=seed).images
    else:
        faces = ImageFolderFaces(data).load().images[:count]
    synthesizer = OcclusionSynthesizer()
    ids = tf.range(len(faces), dtype=tf.int64)
    if benchmark:
        conditions = benchmark_conditions()
        picked = [conditions[(i * 7) % len(conditions)] for i in range(len(faces))]
        params = synthesizer.benchmark_parameters(
            seed, ids, [FORMS.index(f) for f, _, _ in picked], [s for _, s, _ in picked],
            [POSITIONS.index(p) for *_, p in picked])
    else:
        params = synthesizer.training_parameters(seed, ids)
        params["flip"] = tf.zeros_like(params["flip"])
    example = synthesizer.occlude(tf.constant(faces), params)
    return {key: np.asarray(example[key]) for key in ("occluded", "mask", "ground_truth")}
