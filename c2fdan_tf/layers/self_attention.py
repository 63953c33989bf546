import keras
from keras import ops


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class SelfAttention(keras.layers.Layer):
    """Pixel-wise global self-attention (SAGAN) with pooled keys and values.

    Q = 1x1 conv to C/8; K = 1x1 conv to C/8 then 2x2 max-pool; V = 1x1 conv to
    C/2 then 2x2 max-pool; A = softmax(Q K^T); Y = X + gamma * conv1x1(A V), with
    the learnable scalar gamma initialised to 0 so the block starts as identity.
    Attention is global: not restricted to the occluded area.

    Args:
        key_ratio: C / channels of Q and K (8 in SAGAN).
        value_ratio: C / channels of V (2 in SAGAN).
        pool_size: max-pooling of K and V (2: 28x28 -> 14x14).

    Call arguments:
        inputs: `(N, H, W, C)` with H, W divisible by `pool_size`.

    Returns:
        `(N, H, W, C)`.

    Example:
    >>> attention = SelfAttention()
    >>> attention(keras.random.normal((2, 28, 28, 64))).shape
    (2, 28, 28, 64)

    Reference:
        Zhang et al., "Self-Attention Generative Adversarial Networks", 2019;
        C2FDAN Sec. III-B1, "Pixel-wise Self-Attention", Fig. 6 (right).
    """

    def __init__(self, key_ratio=8, value_ratio=2, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.key_ratio = key_ratio
        self.value_ratio = value_ratio
        self.pool_size = pool_size

    def build(self, input_shape):
        channels = input_shape[-1]
        key_channels = max(1, channels // self.key_ratio)
        value_channels = max(1, channels // self.value_ratio)

        def conv(filters, name, shape):
            layer = keras.layers.Conv2D(filters, 1, dtype=self.dtype_policy, name=name)
            layer.build(shape)
            return layer

        self.query_conv = conv(key_channels, "query_conv", input_shape)
        self.key_conv = conv(key_channels, "key_conv", input_shape)
        self.value_conv = conv(value_channels, "value_conv", input_shape)
        self.output_conv = conv(
            channels, "output_conv", tuple(input_shape[:-1]) + (value_channels,)
        )
        self.pool = keras.layers.MaxPooling2D(self.pool_size, dtype=self.dtype_policy, name="pool")
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

    def call(self, inputs):
        height, width = inputs.shape[1:3]
        query = self.query_conv(inputs)
        key = self.pool(self.key_conv(inputs))
        value = self.pool(self.value_conv(inputs))
        query = ops.reshape(query, (-1, height * width, query.shape[-1]))
        key = ops.reshape(key, (-1, key.shape[1] * key.shape[2], key.shape[-1]))
        value = ops.reshape(value, (-1, value.shape[1] * value.shape[2], value.shape[-1]))
        # Softmax in float32 so mixed precision does not overflow the logits.
        logits = ops.cast(ops.matmul(query, ops.transpose(key, (0, 2, 1))), "float32")
        attention = ops.cast(ops.softmax(logits, axis=-1), value.dtype)
        attended = ops.reshape(ops.matmul(attention, value), (-1, height, width, value.shape[-1]))
        return inputs + ops.cast(self.gamma, inputs.dtype) * self.output_conv(attended)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "key_ratio": self.key_ratio,
                "value_ratio": self.value_ratio,
                "pool_size": self.pool_size,
            }
        )
        return config
