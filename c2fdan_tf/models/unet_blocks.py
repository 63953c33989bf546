"""Building blocks shared by the coarse and fine U-Nets (Sec. III-B1)."""

import keras


def conv3x3(x, filters, activation, name, strides=1):
    return keras.layers.Conv2D(
        filters, 3, strides=strides, padding="same", activation=activation, name=name
    )(x)


def upsampling_block(x, skip, filters, activation, name):
    """Nearest-neighbour x2 (no checkerboard, unlike transposed convs), concat the
    encoder map of that resolution, three 3x3 convolutions."""
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(x)
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    for i in range(3):
        x = conv3x3(x, filters, activation, f"{name}_conv{i + 1}")
    return x


def image_head(x, name):
    """Final 3x3 conv to RGB, clipped to [0, 1], computed in float32 under mixed precision
    (the pixels themselves; a 3-channel conv costs little)."""
    x = keras.layers.Conv2D(3, 3, padding="same", dtype="float32", name=f"{name}_conv")(x)
    return keras.layers.ReLU(max_value=1.0, dtype="float32", name=name)(x)
