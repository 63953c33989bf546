"""TFLite conversion restricted to built-in ops, with quantisation (run the result
with `c2fdan_tf.inference.TFLiteRunner`).

Mobile runtimes (LiteRT, LiteRT.js) run built-in ops only: conversion never
enables Flex (SELECT_TF_OPS) and fails naming the offending ops instead.
"""

import contextlib
import io
import re

import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("fp32", "fp16", "int8", "int8_dynamic")


class NonBuiltinOpError(RuntimeError):
    """The model needs ops outside TFLite's built-in set (Flex / custom)."""


class ConversionError(RuntimeError):
    """The TFLite converter failed for another reason (one-line summary)."""


def tflite_op_names(model_content):
    """The set of operator names in a .tflite flatbuffer."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        tf.lite.experimental.Analyzer.analyze(model_content=model_content)
    return set(re.findall(r"Op#\d+ (\w+)", report.getvalue()))


def _offending_ops(message):
    """'tf.X' op names (with the layer they come from) from a converter error."""
    ops = []
    for match in re.finditer(r"fused\[\"(\w+):\", \"([^\"@]+)@[^\]]*\][^']*'tf\.(\w+)' op is neither", message):
        entry = f"{match.group(3)} (in {match.group(2).rsplit('/', 1)[0]})"
        if entry not in ops:
            ops.append(entry)
    if not ops:
        ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither", message)))
    return ops


def convert_saved_model(saved_model_dir, quantization="fp32", representative_images=None,
                        signature_key="serving_default", legacy_quantizer=False):
    """Converts one signature of a SavedModel to TFLite with built-in ops only.

    quantization:
        "fp32": float32 weights and compute;
        "fp16": float16 weights (compute in float32 on CPUs, fp16 on GPU delegates);
        "int8": full-integer ops, calibrated on `representative_images` (float
            (N, 112, 112, 3) in [0, 1]), with float32 input and output;
        "int8_dynamic": int8 weights, float activations (dynamic-range).
    legacy_quantizer: calibrate with TFLite's older quantiser instead of the MLIR
        one (which, in TF 2.21, rejects some concatenations of differently scaled
        inputs instead of requantising them).

    Raises NonBuiltinOpError naming the ops (and their layers) that need Flex,
    ConversionError for any other converter failure.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}.")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[signature_key])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if representative_images is None or len(representative_images) == 0:
            raise ValueError("int8 quantisation needs representative images for calibration.")
        images = np.asarray(representative_images, np.float32)

        def representative_dataset():
            for image in images:
                yield {"image": image[None]}

        converter.representative_dataset = representative_dataset
        converter.experimental_new_quantizer = not legacy_quantizer
    try:
        model_content = converter.convert()
    except Exception as error:  # ConverterError, with the MLIR diagnostics as text
        ops = _offending_ops(str(error))
        if ops:
            raise NonBuiltinOpError(
                f"TFLite export needs ops without a TFLite built-in: {', '.join(ops)}. Mobile runtimes "
                "run built-in ops only; replace these ops (Flex/SELECT_TF_OPS is not enabled)."
            ) from error
        first = next((line for line in str(error).splitlines() if "error" in line.lower()), str(error)[:300])
        raise ConversionError(f"TFLite {quantization} conversion failed: {first or type(error).__name__}") from error
    custom = {op for op in tflite_op_names(model_content) if op in ("CUSTOM", "DELEGATE") or op.startswith("FLEX")}
    if custom:
        raise NonBuiltinOpError(f"TFLite model contains non-built-in ops: {', '.join(sorted(custom))}.")
    return model_content
