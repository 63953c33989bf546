"""Exports a C2FDAN generator for deployment, verified and optionally benchmarked.

    python export.py --checkpoint=runs/mine/full/generator_best.keras --out=runs/mine/export
    python export.py --width=16 --out=/tmp/smoke --formats=tflite        # random weights, smoke test

Formats: saved_model (signatures `serving_default` float32 and `serving_uint8`),
tflite (fp32), tflite_fp16, tflite_int8 (full-integer if it holds quality, else
dynamic-range; --int8_mode), onnx (opset 17). TFLite artifacts use built-in ops
only and take a batch of 1. Every artifact is checked against Keras on a fixed
batch of occluded faces; manifest.json records sizes, hashes, inputs/outputs,
parity and quality (and latencies with --benchmark).
"""

import os
import sys

from absl import app, flags, logging

from c2fdan_tf import console

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Generator checkpoint (.keras).")
_WIDTH = flags.DEFINE_integer("width", None, "Without --checkpoint: a generator of this width with random weights.")
_OUT = flags.DEFINE_string("out", None, "Output folder.")
_FORMATS = flags.DEFINE_list("formats", ["saved_model", "tflite", "tflite_fp16", "tflite_int8", "onnx"], "Formats.")
_GIVEN_MASK = flags.DEFINE_bool("given_mask", True, "Also write c2fdan_given_mask_fp32.tflite: completion inside a "
                                "given (hand-corrected) mask, for the phone app and --mask.")
_FACE_DETECTOR = flags.DEFINE_bool("face_detector", True, "Also write face_detector/: MTCNN's nets as TFLite, for "
                                   "the phone app to find and align faces in photos.")
_REPRESENTATIVE = flags.DEFINE_string("representative_data", "synth", "int8 calibration faces: synth or a folder.")
_INT8_MODE = flags.DEFINE_enum("int8_mode", "auto", ["auto", "full", "dynamic"], "int8 quantisation.")
_BENCHMARK = flags.DEFINE_bool("benchmark", False, "Also time every artifact (1 and 2 threads).")
_THREADS = flags.DEFINE_list("threads", ["1", "2"], "Thread counts of the benchmark.")
_RUNS = flags.DEFINE_integer("runs", 10, "Timed runs per artifact and thread count.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the parity and calibration faces (and of random weights).")
console.define_verbose_flag()


def main(argv):
    # tf2onnx and SavedModel saving log every graph rewrite at INFO; keep the progress readable.
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    import keras

    from c2fdan_tf.export.benchmark import benchmark_artifacts, benchmark_table
    from c2fdan_tf.export.calibration import occluded_faces
    from c2fdan_tf.export.exporter import ExportError, export_artifacts
    from c2fdan_tf.export.tflite import ConversionError, NonBuiltinOpError
    from c2fdan_tf.models import Generator
    from c2fdan_tf.models.checkpoints import CheckpointError, file_sha256, load_generator, save_model

    try:
        if bool(_CHECKPOINT.value) == bool(_WIDTH.value):
            raise ValueError("Give either --checkpoint or --width (random weights), not both or neither.")
        if _CHECKPOINT.value:
            generator = load_generator(_CHECKPOINT.value)
            source = {"checkpoint": _CHECKPOINT.value, "sha256": file_sha256(_CHECKPOINT.value),
                      "config": generator.get_config()}
        else:
            keras.utils.set_random_seed(_SEED.value)
            generator = Generator(width=_WIDTH.value)
            source = {"random_weights": True, "seed": _SEED.value, "config": generator.get_config()}
        parity = occluded_faces("synth", "eval", 8, _SEED.value, benchmark=True)
        representative = None
        if "tflite_int8" in _FORMATS.value:
            representative = occluded_faces(_REPRESENTATIVE.value, "train", 64, _SEED.value, benchmark=False)["occluded"]
        manifest = export_artifacts(generator, _OUT.value, parity, _FORMATS.value, representative, source,
                                    _INT8_MODE.value, given_mask=_GIVEN_MASK.value,
                                    face_detector=_FACE_DETECTOR.value)
        for fmt, entry in manifest["artifacts"].items():
            parity_db = entry["parity"]["psnr_vs_keras_db"]["completed"]
            print(f"{entry['file']}: {entry['size_bytes'] / 1e6:.1f} MB, vs Keras "
                  f"{'identical' if parity_db is None else f'{parity_db:.1f} dB'}, vs truth "
                  f"{entry['quality']['psnr_vs_truth_db']:.2f} dB"
                  + (f" ({entry['quantization']})" if "quantization" in entry else ""))
        if "given_mask" in manifest:
            entry = manifest["given_mask"]
            parity_db = entry["parity"]["psnr_vs_keras_db"]["completed"]
            print(f"{entry['file']}: {entry['size_bytes'] / 1e6:.1f} MB, completes inside a given mask, vs Keras "
                  f"{'identical' if parity_db is None else f'{parity_db:.1f} dB'}")
        if "face_detector" in manifest:
            entry = manifest["face_detector"]
            print(f"{entry['file']}/: {entry['size_bytes'] / 1e6:.1f} MB, MTCNN's nets for the phone app")
        if _BENCHMARK.value:
            threads = [int(t) for t in _THREADS.value]
            checkpoint = _CHECKPOINT.value
            if checkpoint is None:  # random weights: the Keras timing needs them on disk
                checkpoint = save_model(generator, os.path.join(_OUT.value, ".benchmark_generator.keras"))
            try:
                rows = benchmark_artifacts(_OUT.value, manifest, generator, checkpoint, threads, _RUNS.value)
            finally:
                if not _CHECKPOINT.value:
                    os.remove(checkpoint)
            print(benchmark_table(rows, threads))
        print(f"Wrote {len(manifest['artifacts'])} artifact(s) and manifest.json to {_OUT.value}")
    except (ValueError, CheckpointError, ExportError, NonBuiltinOpError, ConversionError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    console.start(sys.argv)
    flags.mark_flag_as_required("out")
    app.run(main)
