import keras
import tensorflow as tf
from keras import ops

MODES = ("hard", "soft")


def _overlapping_patches(x):
    """All 2x2 patches of `x` with stride 1: (N, H, W, C) -> (N, (H-1)(W-1), 4C).

    The patch vector is ordered (dy, dx, c), the same order as `_tile_patches`.
    """
    patches = ops.concatenate(
        [x[:, :-1, :-1], x[:, :-1, 1:], x[:, 1:, :-1], x[:, 1:, 1:]], axis=-1
    )
    h, w, c = patches.shape[1:]
    return ops.reshape(patches, (-1, h * w, c))


def _tile_patches(x):
    """Non-overlapping 2x2 patches (stride 2): (N, H, W, C) -> (N, H/2 * W/2, 4C)."""
    h, w, c = x.shape[1:]
    x = ops.reshape(x, (-1, h // 2, 2, w // 2, 2 * c))
    x = ops.transpose(x, (0, 1, 3, 2, 4))
    return ops.reshape(x, (-1, (h // 2) * (w // 2), 4 * c))


def _untile_patches(patches, height, width):
    """Inverse of `_tile_patches`: (N, H/2 * W/2, 4C) -> (N, H, W, C)."""
    c = patches.shape[-1] // 4
    x = ops.reshape(patches, (-1, height // 2, width // 2, 2, 2 * c))
    x = ops.transpose(x, (0, 1, 3, 2, 4))
    return ops.reshape(x, (-1, height, width, c))


def _l2_normalize(x, epsilon=1e-12):
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), epsilon))


def _best_valid_key(similarity, valid):
    """Index of the most similar valid key for every query: (N, Q, K) -> (N, Q)."""
    # Invalid keys sit strictly below every valid one (a query window's response is >= -2).
    score = similarity - 5.0 * (1.0 - valid)
    # tf.argmax, not ops.argmax: the latter lowers to a Flex-only op in TFLite.
    return tf.argmax(score, axis=-1, output_type=tf.int32)


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class PatchCrossAttention(keras.layers.Layer):
    """Patch-wise cross-attention: fills occluded 2x2 patches with visible ones.

    As the paper describes it (Sec. III-B1): Q, K and V are 1x1 convolutions
    of the input; K is zeroed inside the mask (K <- K * (1 - m)); all
    (H-1)(W-1) overlapping 2x2 patches of K are extracted and each is
    L2-normalised; Q is L2-normalised channel-wise, i.e. every pixel on its
    own, and a stride-2 convolution of Q with the key patches as kernels gives
    R, the similarity of every non-overlapping 2x2 query window with every key
    patch. Here that convolution is one batched matrix product of the query
    windows (N, H/2 * W/2, 4C) with the key patches (N, (H-1)(W-1), 4C), which
    is the same sum. For each query the best key patch (argmax over R) is
    chosen and the value patch at that place is copied to the query's 2x2
    location. The result replaces the value only inside the mask:
    Y = (1 - m) * V + m * Y_hat (Eq. 2 at feature level).

    The paper matches against every key patch; one that straddles the mask
    border keeps its visible pixels and has zeros elsewhere.
    `exclude_partially_masked_keys=True` (not in the paper, the first
    release's behaviour) removes every key patch with a mask value above
    `mask_threshold` anywhere in it, so no source has an occluded pixel.

    With the paper's hard argmax only V receives gradients, so Q and K keep
    their initial values (they are non-trainable in that mode); `mode="soft"`
    replaces the argmax by a softmax over `softmax_scale` * R (contextual
    attention), which also trains Q and K.

    Args:
        channels: channels of Q, K, V and of the output (64 in the paper for
            a 128-channel input). Defaults to half the input channels.
        mode: "hard" (argmax, the paper) or "soft".
        softmax_scale: inverse temperature of the soft variant.
        exclude_partially_masked_keys: never copy a key patch that touches
            the mask (default False: the paper).
        mask_threshold: with the exclusion, a key patch with any mask value
            above it is excluded.

    Call arguments:
        inputs: `(N, H, W, C)` feature map, H and W even.
        occlusion_mask: `(N, H, W, 1)` mask in [0, 1], 1 = occluded.

    Returns:
        `(N, H, W, channels)`.

    Example:
    >>> attention = PatchCrossAttention(channels=16)
    >>> x = keras.random.uniform((1, 56, 56, 32))
    >>> m = ops.zeros((1, 56, 56, 1))
    >>> attention(x, m).shape
    (1, 56, 56, 16)

    Reference:
        C2FDAN Sec. III-B1, "Patch-wise Cross-Attention", Fig. 6 (left).
    """

    def __init__(
        self,
        channels=None,
        mode="hard",
        softmax_scale=10.0,
        exclude_partially_masked_keys=False,
        mask_threshold=0.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"PatchCrossAttention mode must be one of {MODES}, got {mode!r}.")
        self.channels = channels
        self.mode = mode
        self.softmax_scale = float(softmax_scale)
        self.exclude_partially_masked_keys = bool(exclude_partially_masked_keys)
        self.mask_threshold = float(mask_threshold)

    def build(self, inputs_shape, occlusion_mask_shape):
        height, width, in_channels = inputs_shape[1:]
        if height is None or width is None or height % 2 or width % 2:
            raise ValueError(
                f"PatchCrossAttention needs a static, even height and width, got {inputs_shape}."
            )
        channels = self.channels or in_channels // 2

        def projection(name):
            layer = keras.layers.Conv2D(channels, 1, dtype=self.dtype_policy, name=name)
            layer.build(inputs_shape)
            return layer

        self.query_conv = projection("query_conv")
        self.key_conv = projection("key_conv")
        self.value_conv = projection("value_conv")
        if self.mode == "hard":
            # The argmax passes no gradient to Q and K: they keep their initial
            # values, so they are not trainable (and no optimizer tracks them).
            self.query_conv.trainable = False
            self.key_conv.trainable = False

    def _similarity(self, inputs, mask):
        """Similarity R (N, queries, keys) and which key patches may be sources (N, 1, keys)."""
        visible = 1.0 - mask
        # Channel-wise L2 normalisation of Q: every pixel is a unit vector.
        query = _l2_normalize(ops.cast(self.query_conv(inputs), "float32"))
        key = ops.cast(self.key_conv(inputs), "float32") * visible
        query_windows = _tile_patches(query)  # the stride-2 positions of the convolution
        key_patches = _l2_normalize(_overlapping_patches(key))  # the 2x2 kernels, each normalised
        similarity = ops.matmul(query_windows, ops.transpose(key_patches, (0, 2, 1)))
        if self.exclude_partially_masked_keys:
            patch_mask = ops.max(_overlapping_patches(mask), axis=-1)
            valid = ops.cast(patch_mask <= self.mask_threshold, "float32")
        else:
            valid = ops.ones_like(key_patches[..., 0])
        return similarity, valid[:, None, :]

    def match(self, inputs, occlusion_mask):
        """For each 2x2 query patch, the index of the key patch it copies.

        Returns `(N, H/2, W/2)` int32 indices into the (H-1)(W-1) key
        patches, row-major (index = y * (W-1) + x of the patch's top-left pixel).
        """
        if not self.built:
            self.build(inputs.shape, occlusion_mask.shape)
        similarity, valid = self._similarity(inputs, ops.cast(occlusion_mask, "float32"))
        height, width = inputs.shape[1:3]
        return ops.reshape(_best_valid_key(similarity, valid), (-1, height // 2, width // 2))

    def call(self, inputs, occlusion_mask):
        # Not named `mask`: Keras reserves that argument for its own masking.
        height, width = inputs.shape[1:3]
        mask = ops.cast(occlusion_mask, "float32")
        value = ops.cast(self.value_conv(inputs), "float32")
        value_patches = _overlapping_patches(value)
        similarity, valid = self._similarity(inputs, mask)
        # A sample with no visible pixel (or, with the exclusion, no valid key) has no source.
        visible_somewhere = ops.min(ops.reshape(mask, (-1, 1, height * width)), axis=-1, keepdims=True)
        any_valid = ops.max(valid, axis=-1, keepdims=True) * ops.cast(
            visible_somewhere <= self.mask_threshold, "float32")  # (N, 1, 1)
        if self.mode == "hard":
            indices = _best_valid_key(similarity, valid)
            substituted = tf.gather(value_patches, indices, batch_dims=1)
        else:
            logits = self.softmax_scale * similarity - 1e4 * (1.0 - valid)
            weights = ops.softmax(logits, axis=-1) * valid
            substituted = ops.matmul(weights, value_patches)
        # Such a sample gets zeros in the mask, not an arbitrary copy.
        substituted = _untile_patches(substituted * any_valid, height, width)
        output = (1.0 - mask) * value + mask * substituted  # Eq. 2 at feature level
        return ops.cast(output, self.compute_dtype)

    def compute_output_shape(self, inputs_shape, occlusion_mask_shape):
        return tuple(inputs_shape[:-1]) + (self.channels or inputs_shape[-1] // 2,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "mode": self.mode,
                "softmax_scale": self.softmax_scale,
                "exclude_partially_masked_keys": self.exclude_partially_masked_keys,
                "mask_threshold": self.mask_threshold,
            }
        )
        return config
