import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.layers import RegionCrop

DISCRIMINATOR_NAMES = ("global", "face", "left_eye", "right_eye", "nose", "mouth", "eye_pair")
REGIONS = ("left_eye", "right_eye", "nose", "mouth")


def _conv_stack(x, width, name):
    """Four 3x3 convs (LeakyReLU 0.2), the first two with stride 2; no normalisation."""
    for i, (filters, strides) in enumerate(((width, 2), (2 * width, 2), (4 * width, 1))):
        x = keras.layers.Conv2D(
            filters, 3, strides=strides, padding="same", activation="leaky_relu", name=f"{name}_conv{i + 1}"
        )(x)
    return keras.layers.Conv2D(1, 3, padding="same", dtype="float32", name=f"{name}_logits")(x)


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class Discriminators(keras.Model):
    """The seven C2FDAN discriminators, each on a candidate crop joined with the
    same crop of the occluded input (6 channels; the eye pair 12).

    1. global: 112x112 -> 28x28x1 -> flatten -> dense -> one logit;
    2. face: patch discriminator on 112x112 -> 28x28 logits;
    3-6. left eye, right eye, nose, mouth: patch discriminators on the 28x28
       crops of `face_template.REGION_BOXES` -> 7x7 logits;
    7. eye pair: the left-eye crop with the horizontally flipped right-eye crop
       (candidate and occluded input each) -> 7x7 logits; makes eye colours agree.
    Each: four 3x3 convs with LeakyReLU 0.2, the first two stride 2, channels
    w, 2w, 4w, 1 (w = 64 [decision]); no normalisation layers (Sec. III-B2).

    Args:
        width: channels of the first conv (64 in this project's paper preset).

    Call arguments:
        inputs: list `[candidate, occluded]`, both `(N, 112, 112, 3)`.

    Returns:
        dict of logits: "global" `(N, 1)`, "face" `(N, 28, 28, 1)`, and
        "left_eye", "right_eye", "nose", "mouth", "eye_pair" `(N, 7, 7, 1)`.

    Example:
    >>> d = Discriminators(width=8)
    >>> x = keras.ops.zeros((2, 112, 112, 3))
    >>> d([x, x])["eye_pair"].shape
    (2, 7, 7, 1)

    Reference:
        C2FDAN Sec. III-B2, Fig. 4; Eq. 11-12.
    """

    def __init__(self, width=64, **kwargs):
        # === Functional model ===
        candidate = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="candidate")
        occluded = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="occluded")
        pair = keras.layers.Concatenate(name="pair")([candidate, occluded])
        outputs = {}
        global_map = _conv_stack(pair, width, "global")
        flat = keras.layers.Flatten(name="global_flatten")(global_map)
        outputs["global"] = keras.layers.Dense(1, dtype="float32", name="global_dense")(flat)
        outputs["face"] = _conv_stack(pair, width, "face")
        crops = {region: RegionCrop(region, name=f"crop_{region}")(pair) for region in REGIONS}
        for region in REGIONS:
            outputs[region] = _conv_stack(crops[region], width, region)
        flipped_right = RegionCrop("right_eye", flip=True, name="crop_right_eye_flipped")(pair)
        eyes = keras.layers.Concatenate(name="eye_pair_concat")([crops["left_eye"], flipped_right])
        outputs["eye_pair"] = _conv_stack(eyes, width, "eye_pair")
        super().__init__(inputs=[candidate, occluded], outputs=outputs, **kwargs)

        # === Config ===
        self.width = width

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "width": self.width}
