import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.layers import DenseMultiScaleFusion
from c2fdan_tf.models.unet_blocks import conv3x3, image_head, upsampling_block


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class CoarseNetwork(keras.Model):
    """Coarse U-Net: a rough face and the occlusion mask from the occluded image.

    Encoder of six 3x3 convolutions (w@112, w@112, 2w@56 stride 2, 2w@56,
    4w@28 stride 2, 4w@28, LeakyReLU 0.2), a DMFB and a 3x3 conv to the latent
    map L (28x28x4w). Two decoder branches of the same shape (ReLU) decode L
    into the face I_c (3 channels clipped to [0, 1]) and the mask M (1 channel,
    sigmoid).

    Args:
        width: base channel count w (64 in the paper, ~4.1 M parameters).

    Call arguments:
        image: `(N, 112, 112, 3)` occluded face in [0, 1].

    Returns:
        dict with "coarse" (I_c, `(N, 112, 112, 3)`), "mask" (M,
        `(N, 112, 112, 1)`) and "mask_logits" (M before the sigmoid).

    Example:
    >>> net = CoarseNetwork(width=8)
    >>> net(keras.ops.zeros((1, 112, 112, 3)))["mask"].shape
    (1, 112, 112, 1)

    Reference:
        C2FDAN Sec. III-B1, "Coarse Network", Fig. 5.
    """

    def __init__(self, width=64, **kwargs):
        # === Functional model ===
        image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
        act = "leaky_relu"  # negative slope 0.2
        x = conv3x3(image, width, act, "enc1")
        skip112 = conv3x3(x, width, act, "enc2")
        x = conv3x3(skip112, 2 * width, act, "enc3", strides=2)
        skip56 = conv3x3(x, 2 * width, act, "enc4")
        x = conv3x3(skip56, 4 * width, act, "enc5", strides=2)
        x = conv3x3(x, 4 * width, act, "enc6")
        x = DenseMultiScaleFusion(activation=act, name="dmfb")(x)
        latent = conv3x3(x, 4 * width, act, "latent")

        def decoder(prefix):
            y = upsampling_block(latent, skip56, 2 * width, "relu", f"{prefix}_up56")
            return upsampling_block(y, skip112, width, "relu", f"{prefix}_up112")

        coarse = image_head(decoder("face"), "coarse")
        mask_logits = keras.layers.Conv2D(
            1, 3, padding="same", dtype="float32", name="mask_logits"
        )(decoder("mask"))
        mask = keras.layers.Activation("sigmoid", dtype="float32", name="mask")(mask_logits)
        super().__init__(
            inputs=image,
            outputs={"coarse": coarse, "mask": mask, "mask_logits": mask_logits},
            **kwargs,
        )

        # === Config ===
        self.width = width

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "width": self.width}
