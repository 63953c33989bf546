import keras
from keras import ops

from c2fdan_tf.face_template import REGION_BOXES, REGION_SIZE


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class RegionCrop(keras.layers.Layer):
    """Crops a fixed 28x28 face region of the 112x112 template, optionally mirrored.

    Args:
        region: "left_eye", "right_eye", "nose" or "mouth" (boxes of
            `c2fdan_tf.face_template.REGION_BOXES`).
        flip: mirror the crop horizontally (the right eye of the eye-pair
            discriminator, so both eyes face the same way).

    Call arguments:
        inputs: `(N, 112, 112, C)`.

    Returns:
        `(N, 28, 28, C)`.

    Example:
    >>> RegionCrop("nose")(keras.ops.zeros((2, 112, 112, 3))).shape
    (2, 28, 28, 3)

    Reference:
        C2FDAN Sec. III-B2: patch discriminators on 28x28 crops around the eyes,
        nose and mouth, and the left eye with the flipped right eye.
    """

    def __init__(self, region, flip=False, **kwargs):
        super().__init__(**kwargs)
        if region not in REGION_BOXES:
            raise ValueError(f"Unknown region {region!r}; one of {sorted(REGION_BOXES)}.")
        self.region = region
        self.flip = flip

    def call(self, inputs):
        y0, x0 = REGION_BOXES[self.region]
        crop = inputs[:, y0 : y0 + REGION_SIZE, x0 : x0 + REGION_SIZE, :]
        return ops.flip(crop, axis=2) if self.flip else crop

    def compute_output_shape(self, input_shape):
        return (input_shape[0], REGION_SIZE, REGION_SIZE, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"region": self.region, "flip": self.flip})
        return config
