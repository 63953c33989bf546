"""The generator's serving interface: a SavedModel with named signatures, and a
functional model with the same named outputs (for ONNX)."""

import keras
import tensorflow as tf

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.inference.contract import INPUT_NAME, MASK_INPUT_NAME, serving_outputs
from c2fdan_tf.models.generator import completion_with_given_mask


def serving_model(generator):
    """A Keras model `image` -> {completed, mask, coarse}, sharing the generator's weights."""
    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name=INPUT_NAME)
    outputs = generator(image)
    model = keras.Model(image, serving_outputs(outputs), name="c2fdan_serving")
    model(tf.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3)))  # exporters need a called model
    return model


def save_serving_model(generator, directory, batch_size=None):
    """Writes a SavedModel with signatures `serving_default` and `serving_uint8`.

    Input `image` (N, 112, 112, 3), float32 in [0, 1] or uint8 raw pixels;
    outputs `completed`, `mask`, `coarse` (float32). `batch_size=1` fixes the
    batch, as the TFLite artifacts want. Keras' ExportArchive tracks the Keras 3
    variables, which a plain tf.Module does not.
    """
    shape = (batch_size, IMAGE_SIZE, IMAGE_SIZE, 3)

    def serve_float(image):
        return serving_outputs(generator(image, training=False))

    def serve_uint8(image):
        return serve_float(tf.cast(image, tf.float32) / 255.0)

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(
        "serving_default", serve_float, [tf.TensorSpec(shape, tf.float32, name=INPUT_NAME)]
    )
    archive.add_endpoint(
        "serving_uint8", serve_uint8, [tf.TensorSpec(shape, tf.uint8, name=INPUT_NAME)]
    )
    archive.write_out(str(directory), verbose=False)
    return directory


def save_given_mask_serving_model(generator, directory, batch_size=1):
    """Writes a SavedModel whose `serving_default` completes inside a given mask: inputs
    `image` (N, 112, 112, 3) and `mask` (N, 112, 112, 1), float32 in [0, 1]; the same outputs
    as `save_serving_model` ("mask" echoes the given one). `completion_with_given_mask`."""
    given = completion_with_given_mask(generator)

    def serve(image, mask):
        # Clipped to [0, 1]: a valid mask, and an output tensor of its own. Echoing the input
        # tensor itself as the "mask" output made LiteRT.js 2.5.3 bind that input to an
        # uninitialised output buffer (measured: a zero mask in, garbage used as the mask).
        mask = tf.clip_by_value(mask, 0.0, 1.0)
        return serving_outputs(given([image, mask], training=False))

    archive = keras.export.ExportArchive()
    archive.track(given)
    archive.add_endpoint("serving_default", serve, [
        tf.TensorSpec((batch_size, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32, name=INPUT_NAME),
        tf.TensorSpec((batch_size, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32, name=MASK_INPUT_NAME)])
    archive.write_out(str(directory), verbose=False)
    return directory
