"""Fixture for the browser tests: a model, an occluded face, and Python LiteRT's answer.

    python tests/make_fixture.py --out test-artifacts/fixture [--model=path.tflite]

Writes model.tflite (default: a width-16 generator, the small preset's size, with
random weights whose mask head is scaled so that the predicted mask is exactly 0
on part of the face and near 1 elsewhere), face.png (a synthetic face with a
rectangle over one eye), expected_completed.f32 / expected_mask.f32 / input.u8
(raw arrays: Python LiteRT's answer for the same pixels, through
mobile/edge/complete.py, and the pixels), not_an_image.jpg,
huge.png (121 MP) and fixture.json (Python LiteRT's median latency, 1 thread).
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def edge_runner():
    spec = importlib.util.spec_from_file_location("edge_complete", ROOT / "mobile" / "edge" / "complete.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_model(path, face):
    import keras

    from c2fdan_tf.export.serving import save_serving_model
    from c2fdan_tf.export.tflite import convert_saved_model
    from c2fdan_tf.models import Generator

    keras.utils.set_random_seed(0)
    generator = Generator(width=16)
    # A saturated, spatially varying mask: logits scaled up and centred on this face,
    # so the mask is exactly 0 on part of it and 1 on another part.
    head = generator.coarse_network.get_layer("mask_logits")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 300.0, bias * 300.0])
    logits = generator(face[None].astype(np.float32) / 255.0)["mask_logits"].numpy()
    head.set_weights([kernel * 300.0, bias * 300.0 - np.median(logits)])
    with tempfile.TemporaryDirectory() as folder:
        save_serving_model(generator, Path(folder) / "sm", batch_size=1)
        path.write_bytes(convert_saved_model(Path(folder) / "sm"))


def make_face(path):
    import tensorflow as tf

    from c2fdan_tf.data.occlusion import EYES, RECTANGLE, OcclusionSynthesizer
    from c2fdan_tf.data.synthetic_faces import SPLIT_OFFSETS, render_faces

    face = render_faces(0, [SPLIT_OFFSETS["eval"] + 3], [0])
    synthesizer = OcclusionSynthesizer()
    params = synthesizer.benchmark_parameters(0, tf.constant([0], tf.int64), RECTANGLE, 0.1, EYES)
    occluded = synthesizer.occlude(tf.constant(face), params)["occluded"].numpy()[0]
    pixels = np.round(occluded * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=None, help="Use this .tflite instead of the random one.")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = out / "model.tflite"
    pixels = make_face(out / "face.png")
    if args.model:
        model.write_bytes(Path(args.model).read_bytes())
    else:
        make_model(model, pixels)
    completer = edge_runner().EdgeCompleter(model, threads=1)
    completed, mask = completer(pixels)
    # Raw little-endian arrays, trivial to read from JavaScript.
    np.ascontiguousarray(completed, "<f4").tofile(out / "expected_completed.f32")
    np.ascontiguousarray(mask, "<f4").tofile(out / "expected_mask.f32")
    np.ascontiguousarray(pixels, np.uint8).tofile(out / "input.u8")
    times = []
    for _ in range(12):
        start = time.perf_counter()
        completer(pixels)
        times.append((time.perf_counter() - start) * 1000)
    (out / "not_an_image.jpg").write_text("This is a text file with an image's name.\n")
    Image.new("1", (11000, 11000)).save(out / "huge.png")
    unchanged = float(np.mean(mask < 1 / 512))
    info = {"python_litert_ms_1_thread": statistics.median(times[2:]), "mask_zero_fraction": unchanged,
            "model_bytes": model.stat().st_size}
    (out / "fixture.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
