"""TFLite conversion restricted to built-in ops, and a runner for the result."""

import contextlib
import io
import re

import numpy as np
import tensorflow as tf


class NonBuiltinOpError(RuntimeError):
    """The model needs ops outside TFLite's built-in set (Flex / custom)."""


def tflite_op_names(model_content):
    """The set of operator names in a .tflite flatbuffer."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        tf.lite.experimental.Analyzer.analyze(model_content=model_content)
    return set(re.findall(r"Op#\d+ (\w+)", report.getvalue()))


def convert_saved_model(saved_model_dir, signature_key="serving_default"):
    """Converts one signature of a SavedModel to fp32 TFLite with built-in ops only.

    Raises NonBuiltinOpError naming the offending ops when the graph needs Flex
    or custom ops, instead of silently producing a model mobile runtimes reject.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model_dir), signature_keys=[signature_key]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        model_content = converter.convert()
    except Exception as error:  # the converter raises ConverterError with op names
        ops = sorted(set(re.findall(r"tf\.(\w+)", str(error)))) or ["(see converter log)"]
        raise NonBuiltinOpError(
            f"TFLite conversion with built-in ops only failed; ops without a built-in: "
            f"{', '.join(ops)}"
        ) from error
    custom = {op for op in tflite_op_names(model_content) if op in ("CUSTOM", "DELEGATE")}
    if custom:
        raise NonBuiltinOpError(f"TFLite model contains non-built-in ops: {sorted(custom)}")
    return model_content


class TFLiteRunner:
    """Runs a .tflite model's signature with named inputs and outputs."""

    def __init__(self, model_content=None, model_path=None, num_threads=None, signature_key=None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(
            model_content=model_content, model_path=model_path, num_threads=num_threads
        )
        self.runner = self.interpreter.get_signature_runner(signature_key)

    def __call__(self, **inputs):
        return {name: np.asarray(value) for name, value in self.runner(**inputs).items()}
