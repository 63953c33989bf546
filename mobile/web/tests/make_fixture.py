"""Fixture for the browser tests: models, faces and photos, and Python's answers.

    python tests/make_fixture.py --out test-artifacts/fixture [--model=path.tflite]
    python tests/make_fixture.py --out test-artifacts/fixture --given_mask_reference=MASK.f32
        (Python LiteRT's answer of the given-mask model for face.png and that mask:
         writes given_mask_completed.f32 next to the mask)

Writes model.tflite (default: a width-16 generator, the small preset's size, with
random weights whose mask head is scaled so that the predicted mask is exactly 0
on part of the face and near 1 elsewhere), face.png (a synthetic face with a
rectangle over one eye), expected_completed.f32 / expected_mask.f32 / input.u8
(raw arrays: Python LiteRT's answer for the same pixels, through
mobile/edge/complete.py, and the pixels), not_an_image.jpg,
huge.png (121 MP) and fixture.json (Python LiteRT's median latency with 1, 2, ... threads).
Also given_mask.tflite (the same generator completing inside a given mask),
face_detector/ (MTCNN's nets, c2fdan_tf.export.face_detector), and real photos:
astronaut_subtitle.png (scikit-image's astronaut with a yellow subtitle over the mouth),
two_faces.png (the astronaut and Grace Hopper side by side), landscape.png (no face),
large_12mp.jpg (the first, enlarged to a 4000x3000 phone photo),
with the Python MTCNN's faces of each in photos.json.
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


def make_model(path, face, given_mask_path):
    import keras

    from c2fdan_tf.export.serving import save_given_mask_serving_model, save_serving_model
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
        save_given_mask_serving_model(generator, Path(folder) / "given", batch_size=1)
        given_mask_path.write_bytes(convert_saved_model(Path(folder) / "given"))


def make_face(path):
    import tensorflow as tf

    from c2fdan_tf.data.occluders.paper import EYES, RECTANGLE, OcclusionSynthesizer
    from c2fdan_tf.data.synthetic_faces import SPLIT_OFFSETS, render_faces

    face = render_faces(0, [SPLIT_OFFSETS["eval"] + 3], [0])
    synthesizer = OcclusionSynthesizer()
    params = synthesizer.benchmark_parameters(0, tf.constant([0], tf.int64), RECTANGLE, 0.1, EYES)
    occluded = synthesizer.occlude(tf.constant(face), params)["occluded"].numpy()[0]
    pixels = np.round(occluded * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def make_photos(out):
    """The real photos and what the Python MTCNN (c2fdan_tf.inference.alignment) finds in them;
    returns those and the Python MTCNN's median time on the 512-pixel photo (ms)."""
    from PIL import ImageDraw, ImageFont
    from skimage import data

    from tests.real_photos import photo

    from c2fdan_tf.inference.alignment import detect_faces

    astronaut = Image.fromarray(photo("astronaut"))
    draw = ImageDraw.Draw(astronaut)
    font = ImageFont.load_default(size=30)
    draw.text((150, 122), "MISSION STS-93", font=font, fill=(255, 230, 0), stroke_width=2, stroke_fill=(0, 0, 0))
    hopper = Image.fromarray(photo("grace_hopper"))
    hopper = hopper.resize((round(hopper.width * 512 / hopper.height), 512), Image.Resampling.LANCZOS)
    pair = Image.new("RGB", (512 + hopper.width, 512))
    pair.paste(Image.fromarray(photo("astronaut")), (0, 0))
    pair.paste(hopper, (512, 0))
    photos = {"astronaut_subtitle.png": astronaut, "two_faces.png": pair,
              "landscape.png": Image.fromarray(data.coffee())}
    # A 12 MP phone photo (4000x3000 JPEG): the subtitled astronaut enlarged, on a grey backdrop.
    large = Image.new("RGB", (4000, 3000), (128, 128, 128))
    large.paste(astronaut.resize((3000, 3000), Image.Resampling.LANCZOS), (500, 0))
    large.save(out / "large_12mp.jpg", quality=90)
    found = {"large_12mp.jpg": {"width": 4000, "height": 3000, "from": "astronaut_subtitle.png",
                                "scale": 3000 / 512, "offset": [500, 0]}}
    for name, image in photos.items():
        image.save(out / name)
        faces = detect_faces(np.asarray(image))
        found[name] = {"width": image.width, "height": image.height,
                       "faces": [{"landmarks": face.landmarks.tolist(), "box": list(face.box),
                                  "confidence": face.confidence} for face in faces]}
    times = []
    for _ in range(4):  # the Python MTCNN (TensorFlow) on the 512-pixel photo, after a warm-up
        start = time.perf_counter()
        detect_faces(np.asarray(astronaut))
        times.append((time.perf_counter() - start) * 1000)
    (out / "photos.json").write_text(json.dumps(found, indent=1))
    return found, statistics.median(times[1:])


def given_mask_reference(out, mask_path):
    from ai_edge_litert.interpreter import Interpreter

    face = np.asarray(Image.open(out / "face.png").convert("RGB"), np.float32) / 255.0
    mask = np.fromfile(mask_path, "<f4").reshape(1, 112, 112, 1)
    runner = Interpreter(model_path=str(out / "given_mask.tflite")).get_signature_runner()
    completed = runner(image=face[None], mask=mask)["completed"]
    np.ascontiguousarray(completed, "<f4").tofile(Path(mask_path).with_name("given_mask_completed.f32"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=None, help="Use this .tflite instead of the random one.")
    parser.add_argument("--given_mask_reference", default=None, help="A mask (.f32, 112x112): complete face.png in it.")
    args = parser.parse_args()
    out = Path(args.out)
    if args.given_mask_reference:
        given_mask_reference(out, args.given_mask_reference)
        return
    out.mkdir(parents=True, exist_ok=True)
    model = out / "model.tflite"
    pixels = make_face(out / "face.png")
    if args.model:
        model.write_bytes(Path(args.model).read_bytes())
    else:
        make_model(model, pixels, out / "given_mask.tflite")
    from c2fdan_tf.export.face_detector import export_face_detector

    detector = export_face_detector(out)
    photos, mtcnn_ms = make_photos(out)
    runner = edge_runner()
    completer = runner.EdgeCompleter(model, threads=1)
    completed, mask = completer(pixels)
    # Raw little-endian arrays, trivial to read from JavaScript.
    np.ascontiguousarray(completed, "<f4").tofile(out / "expected_completed.f32")
    np.ascontiguousarray(mask, "<f4").tofile(out / "expected_mask.f32")
    np.ascontiguousarray(pixels, np.uint8).tofile(out / "input.u8")
    # Python LiteRT's median latency with 1, 2, ... threads (up to the browser's cap of 4, and the
    # cores): the browser runs as many threads as the device allows, and is compared with as many here.
    by_threads = {}
    for threads in range(1, min(4, os.cpu_count() or 1) + 1):
        timed = completer if threads == 1 else runner.EdgeCompleter(model, threads=threads)
        times = []
        for _ in range(12):
            start = time.perf_counter()
            timed(pixels)
            times.append((time.perf_counter() - start) * 1000)
        by_threads[str(threads)] = statistics.median(times[2:])
    (out / "not_an_image.jpg").write_text("This is a text file with an image's name.\n")
    Image.new("1", (11000, 11000)).save(out / "huge.png")
    unchanged = float(np.mean(mask < 1 / 512))
    info = {"python_litert_ms_1_thread": by_threads["1"], "python_litert_ms_by_threads": by_threads,
            "mask_zero_fraction": unchanged,
            "model_bytes": model.stat().st_size,
            "detector_bytes": sum(e["size_bytes"] for e in detector["pnet"] + [detector["rnet"], detector["onet"]]),
            "faces_found": {name: len(entry["faces"]) for name, entry in photos.items() if "faces" in entry},
            "python_mtcnn_ms_512px": mtcnn_ms}
    (out / "fixture.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
