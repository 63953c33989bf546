"""One runner interface over the generator in every form it ships in.

    runner = load_runner("runs/demo/export/c2fdan_int8.tflite")
    outputs = runner(faces)   # float32 (N, 112, 112, 3) in [0, 1]
    outputs["completed"], outputs["mask"], outputs["coarse"]

`KerasRunner` (a Generator object or a `.keras` checkpoint), `SavedModelRunner`,
`TFLiteRunner` (LiteRT) and `OnnxRunner` (onnxruntime) all take a batch of any
size and return float32 NumPy arrays under the names of `contract.OUTPUTS`.
Models exported with a fixed batch (the TFLite artifacts: batch 1) are run in
chunks of that batch. `load_runner` picks the runner from the path and turns
every unusable model into a one-line `ModelError`.
"""

import abc
from pathlib import Path

import numpy as np

from c2fdan_tf.inference.contract import INPUT_NAME, MASK_INPUT_NAME, OUTPUT_NAMES, OUTPUTS, serving_outputs


class ModelError(ValueError):
    """The model path cannot be used (one-line reason)."""


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _load_generator(path, precision="float32"):
    """The Generator of a `.keras` checkpoint computing in `precision`, or a one-line ModelError."""
    from c2fdan_tf.models.checkpoints import CheckpointError, load_generator
    from c2fdan_tf.precision import resolve_precision

    try:
        return load_generator(path, resolve_precision(precision)[0])
    except CheckpointError as error:
        raise ModelError(str(error)) from None


class GeneratorRunner(abc.ABC):
    """Runs a generator over a batch of faces in chunks of `batch_size`."""

    batch_size = 32
    returns = OUTPUT_NAMES  # the outputs __call__ returns, in this order
    takes_masks = False  # `with_masks` works (a .keras generator, the exported given-mask model)
    needs_masks = False  # only `with_masks` works (the exported given-mask model)
    output_channels = {o.name: o.channels for o in OUTPUTS}

    @abc.abstractmethod
    def run_chunk(self, images):
        """{output name: array} for one chunk of float32 images."""

    def __call__(self, images):
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != (112, 112, 3):
            raise ValueError(f"Expected faces of shape (N, 112, 112, 3), got {images.shape}.")
        return self._in_chunks(self.run_chunk, images)

    def _in_chunks(self, run_chunk, *arrays):
        starts = range(0, len(arrays[0]), self.batch_size)
        parts = [run_chunk(*(a[s : s + self.batch_size] for a in arrays)) for s in starts]
        if not parts:
            return {name: np.zeros((0, 112, 112, self.output_channels[name]), np.float32) for name in self.returns}
        return {name: np.concatenate([np.asarray(p[name], np.float32) for p in parts]) for name in self.returns}

    def with_masks(self, images, masks):
        """The outputs for `masks` (N, 112, 112, 1) given in place of the predicted ones (a
        hand-corrected mask): Eq. 2 with them, the fine network on the result."""
        raise ModelError(f"{type(self).__name__} takes only the image; completing inside a given mask needs a "
                         ".keras checkpoint or export.py's c2fdan_given_mask_fp32.tflite.")

    @staticmethod
    def _check_masks(images, masks):
        images, masks = np.asarray(images, np.float32), np.asarray(masks, np.float32)
        if masks.ndim == 3:
            masks = masks[..., None]
        if masks.shape != images.shape[:3] + (1,):
            raise ValueError(f"Expected masks of shape {images.shape[:3] + (1,)}, got {masks.shape}.")
        return images, masks


class _TracedRunner(GeneratorRunner):
    """A runner whose `_run` is a traced function returning {output name: tensor}."""

    def run_chunk(self, images):
        return {name: value.numpy() for name, value in self._run(images).items()}


class KerasRunner(_TracedRunner):
    """A Keras Generator (object or `.keras` checkpoint) through one traced function.

    A checkpoint is loaded to compute in `precision` (`c2fdan_tf.precision`; outputs
    stay float32); a Generator object computes in the policy it was built with."""

    def __init__(self, generator, batch_size=32, precision="float32"):
        import tensorflow as tf

        if isinstance(generator, (str, Path)):
            generator = _load_generator(generator, precision)
        self.generator = generator
        self.batch_size = batch_size
        self._run = tf.function(lambda x: serving_outputs(generator(x, training=False)), reduce_retracing=True)
        self._run_with_masks = None
        self.takes_masks = True

    def with_masks(self, images, masks):
        import tensorflow as tf

        from c2fdan_tf.models.generator import completion_with_given_mask

        images, masks = self._check_masks(images, masks)
        if self._run_with_masks is None:
            given = completion_with_given_mask(self.generator)
            self._run_with_masks = tf.function(lambda x, m: serving_outputs(given([x, m], training=False)),
                                               reduce_retracing=True)
        return self._in_chunks(lambda x, m: {k: v.numpy() for k, v in self._run_with_masks(x, m).items()},
                               images, masks)


class MotifRemovalRunner(_TracedRunner):
    """The BVMR baseline (`models.BlindMotifRemoval`) with the generator's "completed" and
    "mask" outputs (its reconstruction blended by its own mask, Eq. 2, and that mask)."""

    returns = ("completed", "mask")

    def __init__(self, network, batch_size=32):
        import tensorflow as tf

        self.batch_size = batch_size
        self._run = tf.function(lambda x: {name: network(x, training=False)[name] for name in self.returns},
                                reduce_retracing=True)


class CoarseNetworkRunner(_TracedRunner):
    """The coarse network of a Keras Generator alone: its "coarse" output (I_c,r, Eq. 2 with
    its own mask) and "mask", the generator's own values for them. Table I's stage-1 row needs
    nothing more, and the fine network (untrained after stage 1) is most of the generator's time."""

    returns = ("coarse", "mask")

    def __init__(self, generator, batch_size=32):
        import tensorflow as tf

        from c2fdan_tf.layers import MaskedBlend

        if isinstance(generator, (str, Path)):
            generator = _load_generator(generator)
        coarse_network, blend = generator.coarse_network, MaskedBlend(dtype="float32")
        self.batch_size = batch_size

        def run(images):
            outputs = coarse_network(images, training=False)
            return {"coarse": blend([images, outputs["coarse"], outputs["mask"]]),  # Eq. 2
                    "mask": tf.cast(outputs["mask"], tf.float32)}

        self._run = tf.function(run, reduce_retracing=True)


class SavedModelRunner(GeneratorRunner):
    """A SavedModel written by `export.py` (signature `serving_default`, or
    `serving_uint8`, which takes raw 0-255 pixels)."""

    def __init__(self, path, signature="serving_default", batch_size=32):
        import tensorflow as tf

        try:
            self._signature = tf.saved_model.load(str(path)).signatures[signature]
        except (OSError, KeyError, ValueError) as error:
            raise ModelError(f"SavedModel {path} cannot be loaded: {_first_line(error)}") from None
        self._uint8 = self._signature.structured_input_signature[1][INPUT_NAME].dtype == tf.uint8
        self.batch_size = batch_size

    def run_chunk(self, images):
        import tensorflow as tf

        if self._uint8:
            images = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
        return {key: value.numpy() for key, value in self._signature(**{INPUT_NAME: tf.constant(images)}).items()}


class TFLiteRunner(GeneratorRunner):
    """A `.tflite` model (file or bytes) through LiteRT, with named inputs and outputs."""

    def __init__(self, model_path=None, model_content=None, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(
                model_content=model_content, model_path=None if model_path is None else str(model_path),
                num_threads=num_threads,
            )
            self._signature = self.interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{model_path or 'the model'} is not a usable .tflite: {_first_line(error)}") from None
        # Inputs are looked up by name: the interpreter does not keep Keras' input order.
        inputs = self._signature.get_input_details()
        batch = int(inputs[INPUT_NAME]["shape"][0])
        self.batch_size = batch if batch > 0 else 32
        self.takes_masks = self.needs_masks = MASK_INPUT_NAME in inputs  # export.py's given-mask model
        self._name = model_path or "the model"

    def run_chunk(self, images, masks=None):
        if masks is None and self.takes_masks:
            raise ModelError(f"{self._name} completes inside a given mask: call with_masks(images, masks).")
        if self.batch_size == 1 and len(images) > 1:
            parts = [self.run_chunk(images[i : i + 1], None if masks is None else masks[i : i + 1])
                     for i in range(len(images))]
            return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        feeds = {INPUT_NAME: images} if masks is None else {INPUT_NAME: images, MASK_INPUT_NAME: masks}
        return {name: np.asarray(value) for name, value in self._signature(**feeds).items()}

    def with_masks(self, images, masks):
        if not self.takes_masks:
            return super().with_masks(images, masks)
        return self._in_chunks(self.run_chunk, *self._check_masks(images, masks))


class OnnxRunner(GeneratorRunner):
    """An `.onnx` model through onnxruntime on the CPU."""

    def __init__(self, path, num_threads=None, batch_size=32):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for bad files
            raise ModelError(f"{path} is not a usable .onnx model: {_first_line(error)}") from None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.batch_size = batch_size

    def run_chunk(self, images):
        return dict(zip(self.output_names, self.session.run(None, {INPUT_NAME: images})))


def load_runner(path, num_threads=None, precision="float32"):
    """The runner for a `.keras` checkpoint, a SavedModel folder, a `.tflite` or an `.onnx` file.

    `precision` applies to `.keras` checkpoints; exported artifacts are float graphs."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"Model {path} does not exist.")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ModelError(f"{path} is a folder but not a SavedModel (no saved_model.pb).")
        return SavedModelRunner(path)
    if path.suffix == ".tflite":
        return TFLiteRunner(model_path=path, num_threads=num_threads)
    if path.suffix == ".onnx":
        return OnnxRunner(path, num_threads=num_threads)
    if path.suffix == ".keras":
        return KerasRunner(path, precision=precision)
    raise ModelError(f"{path}: expected a .keras checkpoint, a SavedModel folder, a .tflite or an .onnx file.")


def as_coarse_runner(model):
    """A runner of the coarse network alone for a Keras Generator or `.keras` checkpoint (see
    CoarseNetworkRunner); any other model or runner runs whole (`as_runner`)."""
    from c2fdan_tf.models.generator import Generator

    if isinstance(model, Generator) or (isinstance(model, (str, Path)) and Path(model).suffix == ".keras"):
        return CoarseNetworkRunner(model)
    return as_runner(model)


def as_runner(model):
    """A runner for a runner, a Keras Generator or a model path."""
    if isinstance(model, GeneratorRunner):
        return model
    if isinstance(model, (str, Path)):
        return load_runner(model)
    return KerasRunner(model)
