import keras


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class MaskedBlend(keras.layers.Layer):
    """Keeps the input outside the mask and the candidate inside it (Eq. 2).

    `(1 - M) * I + M * candidate`: where M is exactly 0 the output is exactly
    the input, so unoccluded pixels are never touched.

    Call arguments:
        inputs: list `[image, candidate, mask]`, the first two `(N, H, W, C)`,
            the mask `(N, H, W, 1)` in [0, 1].

    Returns:
        `(N, H, W, C)`.

    Example:
    >>> blend = MaskedBlend()
    >>> image, candidate = keras.ops.zeros((1, 4, 4, 3)), keras.ops.ones((1, 4, 4, 3))
    >>> float(blend([image, candidate, keras.ops.ones((1, 4, 4, 1))]).numpy().mean())
    1.0

    Reference:
        C2FDAN Sec. III-B1, Eq. 2, applied after the coarse and the fine network.
    """

    def call(self, inputs):
        image, candidate, mask = inputs
        return (1.0 - mask) * image + mask * candidate  # Eq. 2

    def compute_output_shape(self, input_shape):
        return input_shape[0]
