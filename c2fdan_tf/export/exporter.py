"""Exports a generator to every deployment format, verifies each against Keras,
and writes `manifest.json`.

Everything is built in a hidden workspace inside the output folder and moved
into place only once every artifact has converted and passed its parity check:
a crash or a failed check never leaves a half-written artifact under a final name.
"""

import datetime
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from c2fdan_tf import image_metrics
from c2fdan_tf.export.face_detector import DETECTOR_FOLDER, export_face_detector
from c2fdan_tf.export.onnx_export import ONNX_OPSET, export_onnx
from c2fdan_tf.export.serving import save_given_mask_serving_model, save_serving_model
from c2fdan_tf.export.tflite import ConversionError, convert_saved_model, tflite_op_names
from c2fdan_tf.inference.contract import OUTPUT_NAMES, io_spec
from c2fdan_tf.inference.runners import KerasRunner, OnnxRunner, SavedModelRunner, TFLiteRunner

FORMATS = ("saved_model", "tflite", "tflite_fp16", "tflite_int8", "onnx")
FILE_NAMES = {
    "saved_model": "saved_model",
    "tflite": "c2fdan_fp32.tflite",
    "tflite_fp16": "c2fdan_fp16.tflite",
    "tflite_int8": "c2fdan_int8.tflite",
    "onnx": "c2fdan.onnx",
}
# Completing inside a given (hand-corrected) mask: the phone app's second model.
GIVEN_MASK_FILE = "c2fdan_given_mask_fp32.tflite"
FLOAT_PARITY_DB = 60.0  # float artifacts must match Keras at least this closely
INT8_QUALITY_BUDGET_DB = 0.5  # full-integer int8 is kept if within this of fp32


class ExportError(RuntimeError):
    """An artifact could not be produced or did not verify (one-line reason)."""


def sha256_of(path):
    """SHA-256 of a file, or of a folder (its relative paths and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def folder_checksums(folder):
    """{relative path: SHA-256} of every file under `folder`, sorted by path."""
    folder = Path(folder)
    return {str(file.relative_to(folder)): sha256_of(file)
            for file in sorted(p for p in folder.rglob("*") if p.is_file())}


def size_of(path):
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _psnr(a, b):
    value = float(np.mean(image_metrics.psnr(a, b).numpy()))
    return None if not np.isfinite(value) else value  # None: identical outputs


def _quality(completed, truth):
    return {
        "psnr_vs_truth_db": float(np.mean(image_metrics.psnr(completed, truth).numpy())),
        "ssim_vs_truth": float(np.mean(image_metrics.ssim(completed, truth).numpy())),
    }


def _check_writable(out_dir):
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ExportError(f"Output folder {out_dir} is not writable: {error.strerror or error}.") from None


def _parity(name, outputs, reference, float_artifact):
    parity = {key: _psnr(outputs[key], reference[key]) for key in OUTPUT_NAMES}
    if float_artifact:
        worst = min((v for v in parity.values() if v is not None), default=None)
        if worst is not None and worst < FLOAT_PARITY_DB:
            raise ExportError(
                f"{name} does not match Keras: PSNR {worst:.1f} dB < {FLOAT_PARITY_DB:.0f} dB "
                f"({', '.join(f'{k} {v:.1f}' for k, v in parity.items() if v is not None)})."
            )
    return {"parity": {"psnr_vs_keras_db": parity}}


def export_artifacts(generator, out_dir, parity_batch, formats=FORMATS, representative_images=None,
                     source=None, int8_mode="auto", given_mask=True, face_detector=True, log=print):
    """Exports, verifies and writes the manifest; returns the manifest dict.

    given_mask: also write GIVEN_MASK_FILE (inputs image and mask; fp32 TFLite, built-in ops,
        the same parity check), under the manifest's "given_mask".
    face_detector: also write face_detector/ (MTCNN's nets as TFLite for the phone app,
        `face_detector.export_face_detector`), under the manifest's "face_detector".

    parity_batch: {"occluded": float (N, 112, 112, 3), "ground_truth": ...}.
    int8_mode: "full" (full-integer), "dynamic" (dynamic-range) or "auto": full
        integer if its PSNR against the ground truth stays within 0.5 dB of
        fp32's, else dynamic-range; the decision and both figures go in the manifest.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ExportError(f"Unknown format(s) {', '.join(sorted(unknown))}; choose from {', '.join(FORMATS)}.")
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    workspace = out_dir / f".export-{os.getpid()}"
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir()
    occluded = np.asarray(parity_batch["occluded"], np.float32)
    truth = np.asarray(parity_batch["ground_truth"], np.float32)
    reference = KerasRunner(generator)(occluded)
    manifest = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": source or {},
        "versions": {"tensorflow": tf.__version__, "keras": __import__("keras").__version__},
        "parity_images": int(len(occluded)),
        "keras_reference": _quality(reference["completed"], truth),
        "artifacts": {},
    }
    try:
        if "saved_model" in formats:
            log("exporting SavedModel")
            save_serving_model(generator, workspace / FILE_NAMES["saved_model"])
            saved_model = workspace / FILE_NAMES["saved_model"]
            float_runner = SavedModelRunner(saved_model)
            outputs = float_runner(occluded)
            # The uint8 signature on raw pixels equals the float one on the same pixels / 255.
            quantized = np.round(occluded * 255) / 255
            from_uint8 = SavedModelRunner(saved_model, signature="serving_uint8")(quantized)
            from_float = float_runner(quantized)
            uint8_gap = max(float(np.abs(from_uint8[k] - from_float[k]).max()) for k in OUTPUT_NAMES)
            inputs, outs = io_spec(None)
            entry = {
                "format": "saved_model",
                "signatures": {
                    "serving_default": {"inputs": inputs, "outputs": outs},
                    "serving_uint8": {"inputs": [dict(inputs[0], dtype="uint8", range=[0, 255])], "outputs": outs},
                },
                **_parity("SavedModel", outputs, reference, True),
                "uint8_signature_max_abs_difference": uint8_gap,
                "quality": _quality(outputs["completed"], truth),
            }
            manifest["artifacts"]["saved_model"] = entry
        tflite_formats = [f for f in formats if f.startswith("tflite")]
        if tflite_formats:
            save_serving_model(generator, workspace / "saved_model_batch1", batch_size=1)
            fp32_quality = None
            for fmt in ("tflite", "tflite_fp16", "tflite_int8"):
                if fmt not in tflite_formats and not (fmt == "tflite" and "tflite_int8" in tflite_formats):
                    continue
                entry = _export_tflite(fmt, workspace, reference, truth, occluded, representative_images,
                                       int8_mode, fp32_quality, log)
                if fmt == "tflite":
                    fp32_quality = entry["quality"]
                if fmt in tflite_formats:
                    manifest["artifacts"][fmt] = entry
                else:  # fp32 converted only as the int8 decision's baseline
                    (workspace / FILE_NAMES[fmt]).unlink()
        if "onnx" in formats:
            log(f"exporting ONNX (opset {ONNX_OPSET})")
            path = workspace / FILE_NAMES["onnx"]
            export_onnx(generator, path)
            outputs = OnnxRunner(path)(occluded)
            inputs, outs = io_spec(None)
            manifest["artifacts"]["onnx"] = {
                "format": "onnx", "opset": ONNX_OPSET, "inputs": inputs, "outputs": outs,
                **_parity("ONNX", outputs, reference, True), "quality": _quality(outputs["completed"], truth),
            }
        files = {fmt: FILE_NAMES[fmt] for fmt in manifest["artifacts"]}
        entries = dict(manifest["artifacts"])
        if given_mask:
            manifest["given_mask"] = entries["given_mask"] = _export_given_mask(generator, workspace, occluded,
                                                                                reference, log)
            files["given_mask"] = GIVEN_MASK_FILE
        if face_detector:
            log("exporting the face detector (MTCNN) for the phone app")
            config = export_face_detector(workspace)
            manifest["face_detector"] = entries["face_detector"] = {"format": "tflite", **config}
            files["face_detector"] = DETECTOR_FOLDER
        for key, entry in entries.items():
            path = workspace / files[key]
            entry.update({"file": files[key], "size_bytes": size_of(path), "sha256": sha256_of(path)})
            if path.is_dir():  # a folder (SavedModel, the face detector): every file's own checksum too
                entry["files_sha256"] = folder_checksums(path)
        for key in entries:
            final = out_dir / files[key]
            if final.is_dir():
                shutil.rmtree(final)
            os.replace(workspace / files[key], final)
        write_manifest(out_dir, manifest)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return manifest


def _export_given_mask(generator, workspace, occluded, reference, log):
    """The given-mask model as fp32 TFLite, checked against Keras on the predicted masks made
    binary (what a user's corrected mask looks like)."""
    log("exporting TFLite fp32 with a given mask")
    save_given_mask_serving_model(generator, workspace / "saved_model_given_mask", batch_size=1)
    path = workspace / GIVEN_MASK_FILE
    content = convert_saved_model(workspace / "saved_model_given_mask", "fp32")
    path.write_bytes(content)
    masks = (reference["mask"] > 0.5).astype(np.float32)
    outputs = TFLiteRunner(model_path=path).with_masks(occluded, masks)
    expected = KerasRunner(generator).with_masks(occluded, masks)
    inputs, outs = io_spec(1, given_mask=True)
    return {"format": "tflite", "quantization": "fp32", "inputs": inputs, "outputs": outs,
            "ops": sorted(tflite_op_names(content)), **_parity("TFLite with a given mask", outputs, expected, True)}


def _export_tflite(fmt, workspace, reference, truth, occluded, representative_images, int8_mode, fp32_quality, log):
    batch1 = workspace / "saved_model_batch1"
    path = workspace / FILE_NAMES[fmt]
    decision = None
    if fmt == "tflite":
        log("exporting TFLite fp32")
        content = convert_saved_model(batch1, "fp32")
    elif fmt == "tflite_fp16":
        log("exporting TFLite fp16")
        content = convert_saved_model(batch1, "fp16")
    else:
        content, decision = _choose_int8(batch1, truth, occluded, representative_images, int8_mode, fp32_quality, log)
    path.write_bytes(content)
    outputs = TFLiteRunner(model_path=path)(occluded)
    inputs, outs = io_spec(1)
    entry = {
        "format": "tflite",
        "quantization": decision["chosen"] if decision else {"tflite": "fp32", "tflite_fp16": "fp16"}[fmt],
        "inputs": inputs,
        "outputs": outs,
        "ops": sorted(tflite_op_names(content)),
        **_parity(f"TFLite {fmt}", outputs, reference, fmt == "tflite"),
        "quality": _quality(outputs["completed"], truth),
    }
    if decision:
        entry["int8_decision"] = decision
    return entry


def _choose_int8(batch1, truth, occluded, representative_images, int8_mode, fp32_quality, log):
    candidates = {"full": "int8", "dynamic": "int8_dynamic"}
    modes = list(candidates) if int8_mode == "auto" else [int8_mode]
    measured, contents = {}, {}
    quantizer = "none (dynamic range)"
    for mode in modes:
        log(f"exporting TFLite int8 ({mode})")
        if mode == "full":
            # TF 2.21's MLIR quantiser rejects the fine network's input concatenation (its two
            # inputs calibrate to different scales) after a full calibration pass; the legacy
            # quantiser requantises. Try it first, so a large model is calibrated once.
            try:
                contents[mode] = convert_saved_model(batch1, "int8", representative_images, legacy_quantizer=True)
                quantizer = "legacy"
            except ConversionError:
                contents[mode] = convert_saved_model(batch1, "int8", representative_images)
                quantizer = "MLIR (the legacy quantiser failed)"
        else:
            contents[mode] = convert_saved_model(batch1, candidates[mode], representative_images)
        completed = TFLiteRunner(model_content=contents[mode])(occluded)["completed"]
        measured[mode] = _quality(completed, truth)
    if int8_mode != "auto":
        chosen = int8_mode
        reason = f"--int8_mode={int8_mode}"
    else:
        budget = fp32_quality["psnr_vs_truth_db"] - INT8_QUALITY_BUDGET_DB
        full_ok = measured["full"]["psnr_vs_truth_db"] >= budget
        chosen = "full" if full_ok else "dynamic"
        reason = (
            f"full-integer PSNR {measured['full']['psnr_vs_truth_db']:.2f} dB vs fp32 "
            f"{fp32_quality['psnr_vs_truth_db']:.2f} dB: {'within' if full_ok else 'beyond'} the "
            f"{INT8_QUALITY_BUDGET_DB} dB budget"
        )
    return contents[chosen], {"chosen": f"int8_{chosen}", "reason": reason, "measured": measured,
                              "full_integer_quantizer": quantizer if "full" in measured else None}


def write_manifest(out_dir, manifest):
    path = Path(out_dir) / "manifest.json"
    temporary = path.with_name(f".manifest.json.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(manifest, indent=1))
    os.replace(temporary, path)
    return path
