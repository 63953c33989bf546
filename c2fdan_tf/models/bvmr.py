"""BVMR, the blind baseline of Table I: Hertz et al., "Blind Visual Motif Removal From a
Single Image" (CVPR 2019), as its released code builds it (amirhertz/visual_motif_removal,
`networks/baselines.py`, `unet_deeper.py`, `unet_components.py`; facts carried over, code
written here).

One residual U-Net encoder and three decoders: the reconstructed image, the motif mask
and the motif (the occluder's colour image). The image and motif decoders share the first
`shared_depth` up-sampling blocks; the mask decoder has its own full-depth path.
"""

import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.layers import MaskedBlend

OUTPUT_KEYS = ("image", "mask", "mask_logits", "motif", "completed")


def _residual_convs(x, filters, blocks, name):
    """3x3 conv + ReLU, then `blocks` x (3x3 conv, batch norm, + input, ReLU) (DownConvD/UpConvD)."""
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv0")(x)
    for i in range(blocks):
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv{i + 1}")(x)
        y = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn{i + 1}")(y)
        x = keras.layers.ReLU(name=f"{name}_relu{i + 1}")(keras.layers.Add(name=f"{name}_add{i + 1}")([y, x]))
    return x


def _up_block(x, skip, filters, blocks, name):
    """2x2 stride-2 transposed conv, concat the encoder map, residual convs (UpConvD)."""
    x = keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"{name}_up")(x)
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    return _residual_convs(x, filters, blocks, name)


def _decoder(x, skips, channels, blocks, name):
    """Up-sampling blocks halving the channels, each joined to the next skip map."""
    for i, (skip, filters) in enumerate(zip(skips, channels)):
        x = _up_block(x, skip, filters, blocks, f"{name}_up{i + 1}")
    return x


def _head(x, channels, activation, name):
    """1x1 conv to the output channels, in float32 under mixed precision."""
    logits = keras.layers.Conv2D(channels, 1, dtype="float32", name=f"{name}_logits")(x)
    return logits, keras.layers.Activation(activation, dtype="float32", name=name)(logits)


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class BlindMotifRemoval(keras.Model):
    """BVMR (Hertz et al. 2019): reconstructed image, motif mask and motif from one image.

    Encoder of `depth` residual blocks with `width * 2**i` channels (i = 0..depth-1),
    2x2 max-pooling between them (112 -> 7 at depth 5). The mask decoder goes back up
    through depth-1 blocks; the image and motif decoders share the first `shared_depth`
    of them and then split. Its released configuration: width 32, depth 5, 3 residual
    convolutions per block, shared depth 2 -> 20.5 M parameters, the figure of the C2FDAN
    paper's comparison.

    Images are in [0, 1] here (the original: [-1, 1] with tanh heads); the sigmoid heads
    are the same function up to that affine map. The result is blended as C2FDAN's
    (Eq. 2 with BVMR's own mask), as in its paper: only masked pixels change.

    Args:
        width: channels of the first encoder block (the original's `start_filters`, 32).
        depth: encoder blocks (5).
        blocks: residual convolutions per block (3).
        shared_depth: up-sampling blocks the image and motif decoders share (2).

    Call arguments:
        image: `(N, 112, 112, 3)` occluded face in [0, 1].

    Returns:
        dict of float32 tensors: "image" (the reconstruction), "mask" (`(N, 112, 112, 1)`),
        "mask_logits", "motif" (the occluder's colours) and "completed" ((1 - M) I + M image).

    Example:
    >>> net = BlindMotifRemoval(width=4)
    >>> net(keras.ops.zeros((1, 112, 112, 3)))["motif"].shape
    (1, 112, 112, 3)
    """

    def __init__(self, width=32, depth=5, blocks=3, shared_depth=2, **kwargs):
        if not 0 <= shared_depth < depth:
            raise ValueError(f"shared_depth must be in [0, {depth}), got {shared_depth}.")
        if IMAGE_SIZE % 2 ** (depth - 1):
            raise ValueError(f"depth {depth} does not divide {IMAGE_SIZE} pixels by 2 at every level.")
        # === Functional model ===
        image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
        x, skips = image, []
        for i in range(depth):
            if i:
                x = keras.layers.MaxPooling2D(2, name=f"encoder{i + 1}_pool")(x)
            x = _residual_convs(x, width * 2**i, blocks, f"encoder{i + 1}")
            skips.append(x)
        code, skips = skips[-1], skips[-2::-1]  # the deepest map; the skips from deep to shallow
        channels = [width * 2**i for i in range(depth - 2, -1, -1)]
        mask_features = _decoder(code, skips, channels, blocks, "mask_decoder")
        shared = _decoder(code, skips[:shared_depth], channels[:shared_depth], blocks, "shared_decoder")
        rest_skips, rest_channels = skips[shared_depth:], channels[shared_depth:]
        image_features = _decoder(shared, rest_skips, rest_channels, blocks, "image_decoder")
        motif_features = _decoder(shared, rest_skips, rest_channels, blocks, "motif_decoder")
        _, reconstructed = _head(image_features, 3, "sigmoid", "reconstructed")
        mask_logits, mask = _head(mask_features, 1, "sigmoid", "mask")
        _, motif = _head(motif_features, 3, "sigmoid", "motif")
        completed = MaskedBlend(dtype="float32", name="completed")([image, reconstructed, mask])
        super().__init__(inputs=image, outputs={"image": reconstructed, "mask": mask, "mask_logits": mask_logits,
                                                "motif": motif, "completed": completed}, **kwargs)
        # === Config ===
        self.width, self.depth, self.blocks, self.shared_depth = width, depth, blocks, shared_depth

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "width": self.width, "depth": self.depth,
                "blocks": self.blocks, "shared_depth": self.shared_depth}
