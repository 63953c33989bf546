import keras
from keras import ops


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class DenseMultiScaleFusion(keras.layers.Layer):
    """Dense multi-scale fusion block (DMFB).

    A 3x3 convolution reduces the channels to a quarter; four parallel 3x3
    convolutions with dilation 1, 2, 4 and 8 see four receptive fields; their
    outputs are fused hierarchically (K1 = x1, Ki = conv3x3(xi + K(i-1))), concatenated,
    mapped back by a 1x1 convolution and added to the input.

    Args:
        activation: activation after every convolution but the last 1x1
            ("leaky_relu" in the coarse network, "elu" in the fine one).
        dilation_rates: the four dilation rates.

    Call arguments:
        inputs: `(N, H, W, C)` feature map; `C` must be divisible by 4.

    Returns:
        `(N, H, W, C)`, the input plus the fused multi-scale features.

    Example:
    >>> block = DenseMultiScaleFusion(activation="elu")
    >>> block(keras.random.normal((2, 28, 28, 64))).shape
    (2, 28, 28, 64)

    Reference:
        Hui et al., "Image fine-grained inpainting", 2020; used in C2FDAN
        Sec. III-B1 after the coarse encoder and after both attention branches.
    """

    def __init__(
        self,
        activation="leaky_relu",
        dilation_rates=(1, 2, 4, 8),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = activation
        self.dilation_rates = tuple(dilation_rates)
        self._activation_fn = keras.activations.get(activation)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % 4:
            raise ValueError(
                f"DenseMultiScaleFusion needs channels divisible by 4, got {channels}."
            )
        branch = channels // 4

        def conv(filters, kernel, dilation, name):
            return keras.layers.Conv2D(
                filters,
                kernel,
                padding="same",
                dilation_rate=dilation,
                dtype=self.dtype_policy,
                name=name,
            )

        self.reduce_conv = conv(branch, 3, 1, "reduce_conv")
        self.dilated_convs = [
            conv(branch, 3, rate, f"dilated_conv_{rate}") for rate in self.dilation_rates
        ]
        self.fusion_convs = [
            conv(branch, 3, 1, f"fusion_conv_{i}") for i in range(2, len(self.dilation_rates) + 1)
        ]
        self.output_conv = conv(channels, 1, 1, "output_conv")

        self.reduce_conv.build(input_shape)
        reduced_shape = tuple(input_shape[:-1]) + (branch,)
        for layer in self.dilated_convs + self.fusion_convs:
            layer.build(reduced_shape)
        self.output_conv.build(tuple(input_shape[:-1]) + (branch * len(self.dilated_convs),))

    def call(self, inputs):
        act = self._activation_fn
        reduced = act(self.reduce_conv(inputs))
        scales = [act(conv(reduced)) for conv in self.dilated_convs]
        fused = [scales[0]]
        for scale, conv in zip(scales[1:], self.fusion_convs):
            fused.append(act(conv(scale + fused[-1])))
        return inputs + self.output_conv(ops.concatenate(fused, axis=-1))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "activation": self.activation,
                "dilation_rates": list(self.dilation_rates),
            }
        )
        return config
