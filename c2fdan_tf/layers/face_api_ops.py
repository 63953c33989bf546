"""Two operations the face-api.js nets use that Keras has no layer for."""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class ResizeBilinearLegacy(keras.layers.Layer):
    """Bilinear resize with TensorFlow 1's pixel grid (align_corners=False,
    half_pixel_centers=False): TensorFlow.js' `tf.image.resizeBilinear(x, size)` default,
    which face-api.js applies to its inputs. Keras' Resizing uses half-pixel centres,
    which shifts the image by (in/out - 1) / 2 pixels.

    Args:
        height, width: output size.
    """

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, images):
        return tf.raw_ops.ResizeBilinear(images=images, size=[self.height, self.width],
                                         align_corners=False, half_pixel_centers=False)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class PadChannels(keras.layers.Layer):
    """Appends zero channels up to `channels` (the shortcut of face-api.js' residualDown)."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, x):
        extra = self.channels - x.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]]) if extra > 0 else x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (max(self.channels, input_shape[-1]),)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
