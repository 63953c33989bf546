import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.layers import DenseMultiScaleFusion, PatchCrossAttention, SelfAttention
from c2fdan_tf.models.unet_blocks import conv3x3, image_head, upsampling_block

ATTENTION_VARIANTS = ("both", "self", "cross", "none")


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class FineNetwork(keras.Model):
    """Fine U-Net with parallel patch cross-attention and pixel self-attention.

    Input concat(I_c,r, M) [decision: the mask is an input]. Encoder (ELU)
    w@112, w@112, 2w@56 stride 2, 2w@56 -> X. Branch A: PatchCrossAttention(X,
    maxpool(M) at 56) -> DMFB -> conv 2w. Branch B: conv 4w stride 2 ->
    SelfAttention at 28 -> DMFB -> conv 4w -> an upsampling block as in the
    coarse network (nearest x2, concat X, three 3x3 convs 2w; the paper's
    "another convolutional layer (and an upsampling block for the
    self-attention)"). Fusion: concat(A, B, X) -> conv 2w -> DMFB; upsampling block to 112 and a
    3x3 conv to I_f clipped to [0, 1].

    Args:
        width: base channel count w (64 in the paper).
        attention: which branches exist, "both" (paper), "self", "cross" or
            "none" (Table I ablation); a missing branch is left out entirely.
        cross_attention_mode: "hard" (paper's argmax) or "soft".
        exclude_partially_masked_keys: the cross-attention never copies a key
            patch that touches the mask (not in the paper; see
            `PatchCrossAttention`).

    Call arguments:
        inputs: list `[coarse_completed, mask]`, `(N, 112, 112, 3)` and
            `(N, 112, 112, 1)`.

    Returns:
        I_f, `(N, 112, 112, 3)` in [0, 1].

    Example:
    >>> net = FineNetwork(width=8)
    >>> net([keras.ops.zeros((1, 112, 112, 3)), keras.ops.zeros((1, 112, 112, 1))]).shape
    (1, 112, 112, 3)

    Reference:
        C2FDAN Sec. III-B1, "Fine Network", Fig. 5 and 6.
    """

    def __init__(self, width=64, attention="both", cross_attention_mode="hard",
                 exclude_partially_masked_keys=False, **kwargs):
        if attention not in ATTENTION_VARIANTS:
            raise ValueError(f"attention must be one of {ATTENTION_VARIANTS}, got {attention!r}.")
        # === Functional model ===
        coarse_completed = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="coarse_completed")
        mask = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="mask")
        act = "elu"
        x = keras.layers.Concatenate(name="input_concat")([coarse_completed, mask])
        x = conv3x3(x, width, act, "enc1")
        skip112 = conv3x3(x, width, act, "enc2")
        x = conv3x3(skip112, 2 * width, act, "enc3", strides=2)
        features56 = conv3x3(x, 2 * width, act, "enc4")

        branches = []
        if attention in ("both", "cross"):
            mask56 = keras.layers.MaxPooling2D(2, name="mask_pool")(mask)
            a = PatchCrossAttention(
                channels=width, mode=cross_attention_mode,
                exclude_partially_masked_keys=exclude_partially_masked_keys, name="cross_attention",
            )(features56, mask56)
            a = DenseMultiScaleFusion(activation=act, name="cross_dmfb")(a)
            branches.append(conv3x3(a, 2 * width, act, "cross_out"))
        if attention in ("both", "self"):
            b = conv3x3(features56, 4 * width, act, "self_down", strides=2)
            b = SelfAttention(name="self_attention")(b)
            b = DenseMultiScaleFusion(activation=act, name="self_dmfb")(b)
            b = conv3x3(b, 4 * width, act, "self_out")
            branches.append(upsampling_block(b, features56, 2 * width, act, "self_up56"))

        x = keras.layers.Concatenate(name="fusion_concat")(branches + [features56])
        x = conv3x3(x, 2 * width, act, "fusion_conv")
        x = DenseMultiScaleFusion(activation=act, name="fusion_dmfb")(x)
        x = upsampling_block(x, skip112, width, act, "up112")
        fine = image_head(x, "fine")
        super().__init__(inputs=[coarse_completed, mask], outputs=fine, **kwargs)

        # === Config ===
        self.width = width
        self.attention = attention
        self.cross_attention_mode = cross_attention_mode
        self.exclude_partially_masked_keys = bool(exclude_partially_masked_keys)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "width": self.width,
            "attention": self.attention,
            "cross_attention_mode": self.cross_attention_mode,
            "exclude_partially_masked_keys": self.exclude_partially_masked_keys,
        }
