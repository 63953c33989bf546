"""The int8 TFLite model against the Keras model on real photos, by calibration set and int8
kind: the packaged file (full-integer, calibrated on 64 faces under the paper's occluders), the
same conversion calibrated on faces under the release's training mix, and the dynamic-range
model (int8 weights, float activations). Prints, per variant, the PSNR of its completion against
the Keras model's on each real photo with a light bar across the mouth (issue 31's target:
>= 40 dB), and its median time per face with LiteRT at batch 1 on 2 threads, each variant in a
fresh process as `export.py --benchmark` times artifacts (`inference.latency`).

    python benchmarks/int8_calibration.py [--checkpoint=c2fdan_tf/pretrained/c2fdan.keras] [--mix_faces=256]
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf import pretrained_model  # noqa: E402

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "The generator (.keras); default: the packaged one.")
_MIX_FACES = flags.DEFINE_integer("mix_faces", 256, "Calibration faces under the release's training mix.")
_THREADS = flags.DEFINE_integer("threads", 2, "LiteRT threads of the timing.")


def mix_calibration_faces(count, config):
    """`count` training faces occluded by the training mix of `config` (flip and all)."""
    import tensorflow as tf

    from c2fdan_tf.data.face_sources import synthetic_face_source
    from c2fdan_tf.data.occluders.families import training_occluders

    images = synthetic_face_source("train", count, 1, seed=config.data.seed, faces=config.data.faces).images
    occluders = training_occluders(config.data.occluders, face_texture=config.data.face_texture)
    batch = occluders.training_batch(tf.constant(images), config.data.seed, tf.range(count, dtype=tf.int64))
    return np.asarray(batch["occluded"])


def main(argv):
    del argv
    from c2fdan_tf.evaluation.real_photos import PHOTOS, agreement_db, barred_real_faces
    from c2fdan_tf.export.calibration import occluded_faces
    from c2fdan_tf.export.serving import save_serving_model
    from c2fdan_tf.export.tflite import convert_saved_model
    from c2fdan_tf.inference.latency import measure_in_subprocess
    from c2fdan_tf.inference.runners import KerasRunner, TFLiteRunner
    from c2fdan_tf.models.checkpoints import load_generator
    from c2fdan_tf.training.config import preset

    config = preset("release")
    path = _CHECKPOINT.value or str(pretrained_model.PRETRAINED_DIR / pretrained_model.FILES["keras"])
    generator = load_generator(path)
    keras_runner = KerasRunner(generator)
    faces = barred_real_faces()
    paper = occluded_faces("synth", "train", 64, config.data.seed, benchmark=False, faces=config.data.faces)
    with tempfile.TemporaryDirectory() as folder:
        save_serving_model(generator, f"{folder}/serving", batch_size=1)
        variants = {
            "full-integer, 64 faces, paper occluders (the packaged recipe)":
                convert_saved_model(f"{folder}/serving", "int8", paper["occluded"], legacy_quantizer=True),
            f"full-integer, {_MIX_FACES.value} faces, training mix":
                convert_saved_model(f"{folder}/serving", "int8", mix_calibration_faces(_MIX_FACES.value, config),
                                    legacy_quantizer=True),
            "dynamic-range": convert_saved_model(f"{folder}/serving", "int8_dynamic"),
            "float32": convert_saved_model(f"{folder}/serving", "fp32"),
        }
        print(f"int8 against Keras ({path}) on the barred real faces; LiteRT, batch 1, {_THREADS.value} threads:")
        print("| variant | " + " | ".join(f"{p} dB" for p in PHOTOS) + " | ms a face (median) |")
        print("|---|" + "---:|" * (len(PHOTOS) + 1))
        for number, (name, content) in enumerate(variants.items()):
            runner = TFLiteRunner(model_content=content)
            agreements = [agreement_db(runner, keras_runner, faces[i : i + 1]) for i in range(len(PHOTOS))]
            model_file = f"{folder}/variant_{number}.tflite"
            with open(model_file, "wb") as handle:
                handle.write(content)
            ms = measure_in_subprocess("tflite", model_file, _THREADS.value)["median_ms"]
            print(f"| {name} | " + " | ".join(f"{a:.2f}" for a in agreements) + f" | {ms:.1f} |")


if __name__ == "__main__":
    app.run(main)
