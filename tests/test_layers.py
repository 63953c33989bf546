"""Layers against independent NumPy references, invariants, config and fit."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from c2fdan_tf.layers import (
    DenseMultiScaleFusion,
    MaskedBlend,
    PatchCrossAttention,
    SelfAttention,
)

RNG = np.random.default_rng(0)


def conv1x1(layer, x):
    """A Keras 1x1 Conv2D computed in NumPy from its weights."""
    kernel, bias = (w.numpy() for w in layer.weights)
    return np.einsum("nhwc,cd->nhwd", x, kernel[0, 0]) + bias


# ---------------------------------------------------------------- PatchCrossAttention


def paper_cross_attention(layer, x, mask, exclude_partially_masked_keys=False):
    """Sec. III-B1 as the paper describes it, with a real convolution: indices (N, H/2, W/2)
    and output (N, H, W, C).

    Q normalised channel-wise (per pixel); the (H-1)(W-1) overlapping 2x2 patches of
    K * (1 - M), each L2-normalised, are the kernels of a stride-2 convolution over Q;
    argmax over its output channels; the V patch at that index pasted at the query's
    2x2 place, inside the mask only (Eq. 2).
    """
    q, k, v = (conv1x1(c, x) for c in (layer.query_conv, layer.key_conv, layer.value_conv))
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    k = k * (1.0 - mask)
    n, h, w, c = k.shape
    patches = tf.image.extract_patches(k, [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID").numpy()
    mask_patches = tf.image.extract_patches(mask, [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID").numpy()
    indices = np.zeros((n, h // 2, w // 2), np.int64)
    out = v.copy()
    for b in range(n):
        kernels = patches[b].reshape(-1, 4 * c)
        kernels = kernels / np.maximum(np.linalg.norm(kernels, axis=-1, keepdims=True), 1e-12)
        kernels = kernels.reshape(-1, 2, 2, c).transpose(1, 2, 3, 0)  # (2, 2, C, patches)
        response = tf.nn.conv2d(q[b : b + 1], kernels, strides=2, padding="VALID").numpy()[0]
        if exclude_partially_masked_keys:
            touches_mask = mask_patches[b].reshape(-1, 4).max(-1) > layer.mask_threshold
            response[..., touches_mask] = -np.inf
        indices[b] = response.argmax(-1)
        for qy in range(h // 2):
            for qx in range(w // 2):
                sy, sx = divmod(indices[b, qy, qx], w - 1)
                here = np.s_[b, 2 * qy : 2 * qy + 2, 2 * qx : 2 * qx + 2]
                out[here] = (1 - mask[here]) * v[here] + mask[here] * v[b, sy : sy + 2, sx : sx + 2]
    return indices, out


def random_mask(n, h, w, size=(6, 5)):
    mask = np.zeros((n, h, w, 1), np.float32)
    for b in range(n):
        y, x = RNG.integers(0, h - size[0]), RNG.integers(0, w - size[1])
        mask[b, y : y + size[0], x : x + size[1]] = 1.0
    return mask


def partly_masked_sources(indices, mask):
    """How many in-mask queries copy a key patch that touches the mask."""
    n, h, w, _ = mask.shape
    count = 0
    for b, qy, qx in zip(*np.nonzero(mask[:, ::2, ::2, 0] > 0)):
        sy, sx = divmod(indices[b, qy, qx], w - 1)
        count += mask[b, sy : sy + 2, sx : sx + 2].max() > 0
    return count


def test_patch_cross_attention_matches_the_papers_convolution_at_56x56():
    """The paper's size: X 56x56x128 -> 64 channels, a 16x26 hole; 3025 key patches."""
    x = RNG.normal(size=(2, 56, 56, 128)).astype(np.float32)
    mask = random_mask(2, 56, 56, size=(16, 26))
    layer = PatchCrossAttention(channels=64)
    output = layer(x, mask).numpy()
    indices = layer.match(x, mask).numpy()
    ref_indices, ref_output = paper_cross_attention(layer, x, mask)
    assert output.shape == (2, 56, 56, 64) and indices.shape == (2, 28, 28)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(output, ref_output, atol=1e-5)
    # The literal rule lets a query copy a key patch on the mask border.
    assert partly_masked_sources(indices, mask) > 0


def test_patch_cross_attention_option_excludes_partly_masked_keys():
    x = RNG.normal(size=(2, 12, 10, 6)).astype(np.float32)
    mask = random_mask(2, 12, 10)
    layer = PatchCrossAttention(channels=4, exclude_partially_masked_keys=True)
    output = layer(x, mask).numpy()
    indices = layer.match(x, mask).numpy()
    ref_indices, ref_output = paper_cross_attention(layer, x, mask, exclude_partially_masked_keys=True)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(output, ref_output, atol=1e-5)
    assert partly_masked_sources(indices, mask) == 0


def identity_projections(layer, channels):
    eye = np.eye(channels, dtype=np.float32)[None, None]
    for conv in (layer.query_conv, layer.key_conv, layer.value_conv):
        conv.set_weights([eye, np.zeros(channels, np.float32)])


def test_patch_cross_attention_copies_the_visible_twin():
    """A patch whose exact twin is visible gets that twin's values. With unit-norm pixels
    the twin's response is the largest possible (4 / |patch| = 2)."""
    x = RNG.uniform(0.1, 1.0, size=(1, 16, 16, 3)).astype(np.float32)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    twin = (3, 9)  # a visible patch, top-left corner
    hole = (10, 4)  # a stride-2 query location inside the mask
    x[0, hole[0] : hole[0] + 2, hole[1] : hole[1] + 2] = x[0, twin[0] : twin[0] + 2, twin[1] : twin[1] + 2]
    mask = np.zeros((1, 16, 16, 1), np.float32)
    mask[0, 8:14, 2:8] = 1.0
    layer = PatchCrossAttention(channels=3)
    layer(x, mask)
    identity_projections(layer, 3)
    indices = layer.match(x, mask).numpy()
    assert indices[0, hole[0] // 2, hole[1] // 2] == twin[0] * 15 + twin[1]
    output = layer(x, mask).numpy()
    np.testing.assert_allclose(
        output[0, hole[0] : hole[0] + 2, hole[1] : hole[1] + 2],
        x[0, twin[0] : twin[0] + 2, twin[1] : twin[1] + 2],
        atol=1e-6,
    )
    # Outside the mask the value (here: the input) passes unchanged.
    np.testing.assert_array_equal(output[mask[..., 0] == 0], x[mask[..., 0] == 0])


def test_patch_cross_attention_option_never_copies_from_the_mask():
    """With the exclusion, even when the best raw match lies inside the mask it is not a source."""
    x = RNG.uniform(size=(3, 16, 16, 4)).astype(np.float32)
    mask = random_mask(3, 16, 16)
    # Large masks: most of the image occluded, few sources left.
    mask[1, 2:14, 2:14] = 1.0
    indices = PatchCrossAttention(channels=4, exclude_partially_masked_keys=True).match(x, mask).numpy()
    for b in range(3):
        sy, sx = np.divmod(indices[b].ravel(), 15)
        for y, xx in zip(sy, sx):
            assert mask[b, y : y + 2, xx : xx + 2].max() == 0.0


def test_patch_cross_attention_without_any_visible_pixel_gives_zeros_in_the_mask():
    x = RNG.normal(size=(2, 8, 8, 4)).astype(np.float32)
    mask = np.ones((2, 8, 8, 1), np.float32)
    mask[1, :2, :2] = 0.0  # the second sample has one visible patch
    output = PatchCrossAttention(channels=4)(x, mask).numpy()
    assert np.abs(output[0]).max() == 0.0
    assert np.abs(output[1]).max() > 0.0


def test_patch_cross_attention_gradients_hard_vs_soft():
    """Hard argmax trains only V (paper: Q, K are frozen); soft also trains Q and K."""
    x = tf.constant(RNG.normal(size=(1, 8, 8, 4)).astype(np.float32))
    mask = tf.constant(random_mask(1, 8, 8))
    for mode in ("hard", "soft"):
        layer = PatchCrossAttention(channels=4, mode=mode)
        layer(x, mask)
        trainable = {w.path for w in layer.trainable_weights}
        projections = {c.kernel.path for c in (layer.query_conv, layer.key_conv)}
        assert (projections <= trainable) == (mode == "soft"), mode
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, mask) ** 2)
        grads = dict(zip([w.path for w in layer.trainable_weights],
                         tape.gradient(loss, layer.trainable_weights)))
        assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads.values()), mode
        assert layer.value_conv.kernel.path in grads


@pytest.mark.parametrize("exclude", [False, True])
def test_patch_cross_attention_soft_matches_numpy_softmax(exclude):
    x = RNG.normal(size=(2, 8, 10, 3)).astype(np.float32)
    mask = random_mask(2, 8, 10)
    layer = PatchCrossAttention(channels=3, mode="soft", softmax_scale=10.0, exclude_partially_masked_keys=exclude)
    output = layer(x, mask).numpy()
    q, k, v = (conv1x1(c, x) for c in (layer.query_conv, layer.key_conv, layer.value_conv))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)  # channel-wise
    k = k * (1.0 - mask)
    expected = v.copy()
    for b in range(2):
        corners = [(y, xx) for y in range(7) for xx in range(9)]
        keys = np.array([k[b, y : y + 2, xx : xx + 2].ravel() for y, xx in corners])
        keys /= np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-6)
        values = np.array([v[b, y : y + 2, xx : xx + 2].ravel() for y, xx in corners])
        valid = np.array([not exclude or mask[b, y : y + 2, xx : xx + 2].max() == 0 for y, xx in corners])
        for qy in range(0, 8, 2):
            for qx in range(0, 10, 2):
                logits = 10.0 * keys[valid] @ q[b, qy : qy + 2, qx : qx + 2].ravel()
                weights = np.exp(logits - logits.max())
                weights /= weights.sum()
                mixed = (weights @ values[valid]).reshape(2, 2, -1)
                m = mask[b, qy : qy + 2, qx : qx + 2]
                expected[b, qy : qy + 2, qx : qx + 2] = (1 - m) * v[b, qy : qy + 2, qx : qx + 2] + m * mixed
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_patch_cross_attention_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even"):
        PatchCrossAttention()(np.zeros((1, 7, 8, 4), np.float32), np.zeros((1, 7, 8, 1), np.float32))
    with pytest.raises(ValueError, match="mode"):
        PatchCrossAttention(mode="fuzzy")


# ---------------------------------------------------------------- SelfAttention


def test_self_attention_with_zero_gamma_is_identity():
    x = RNG.normal(size=(2, 8, 8, 16)).astype(np.float32)
    layer = SelfAttention()
    np.testing.assert_array_equal(layer(x).numpy(), x)
    assert float(layer.gamma.numpy()) == 0.0


def test_self_attention_matches_numpy_reference():
    x = RNG.normal(size=(2, 8, 6, 16)).astype(np.float32)
    layer = SelfAttention()
    layer(x)
    layer.gamma.assign(0.7)
    q = conv1x1(layer.query_conv, x)
    k = conv1x1(layer.key_conv, x)
    v = conv1x1(layer.value_conv, x)

    def pool(t):  # 2x2 max-pool
        n, h, w, c = t.shape
        return t.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))

    k, v = pool(k), pool(v)
    n, h, w, _ = x.shape
    q, k, v = q.reshape(n, h * w, -1), k.reshape(n, -1, k.shape[-1]), v.reshape(n, -1, v.shape[-1])
    logits = q @ k.transpose(0, 2, 1)
    attention = np.exp(logits - logits.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    attended = (attention @ v).reshape(n, h, w, -1)
    expected = x + 0.7 * conv1x1(layer.output_conv, attended)
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-4)
    assert layer.key_conv.kernel.shape[-1] == 2 and layer.value_conv.kernel.shape[-1] == 8


# ---------------------------------------------------------------- DMFB and blend


def test_dmfb_keeps_shape_and_is_residual():
    x = RNG.normal(size=(2, 20, 20, 16)).astype(np.float32)
    block = DenseMultiScaleFusion(activation="elu")
    y = block(x).numpy()
    assert y.shape == x.shape
    assert np.abs(y - x).max() > 1e-3  # the block adds something
    block.output_conv.set_weights([np.zeros_like(w) for w in block.output_conv.get_weights()])
    np.testing.assert_array_equal(block(x).numpy(), x)  # and it is added to x
    rates = sorted(c.dilation_rate[0] for c in block.dilated_convs)
    assert rates == [1, 2, 4, 8]
    assert all(c.kernel.shape[-1] == 4 for c in block.dilated_convs)


def test_dmfb_rejects_channels_not_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        DenseMultiScaleFusion()(np.zeros((1, 8, 8, 6), np.float32))


def test_masked_blend_is_equation_2():
    image = RNG.uniform(size=(2, 6, 6, 3)).astype(np.float32)
    candidate = RNG.uniform(size=(2, 6, 6, 3)).astype(np.float32)
    mask = RNG.uniform(size=(2, 6, 6, 1)).astype(np.float32)
    mask[:, :3] = 0.0
    out = MaskedBlend()([image, candidate, mask]).numpy()
    np.testing.assert_allclose(out, (1 - mask) * image + mask * candidate, atol=1e-7)
    np.testing.assert_array_equal(out[:, :3], image[:, :3])


# ---------------------------------------------------------------- Keras contract

LAYER_CASES = [
    (lambda: DenseMultiScaleFusion(activation="relu", dilation_rates=(1, 2, 3, 5)), [(8, 8, 8)]),
    (lambda: PatchCrossAttention(channels=3, mode="soft", softmax_scale=5.0), [(8, 8, 6), (8, 8, 1)]),
    (lambda: SelfAttention(key_ratio=4, value_ratio=2), [(8, 8, 8)]),
    (lambda: MaskedBlend(), [(8, 8, 3), (8, 8, 3), (8, 8, 1)]),
]


def call_layer(layer, inputs):
    if isinstance(layer, MaskedBlend):
        return layer(inputs)
    return layer(*inputs)


@pytest.mark.parametrize("make_layer, shapes", LAYER_CASES)
def test_layer_config_round_trip_and_symbolic_call(make_layer, shapes):
    layer = make_layer()
    arrays = [RNG.uniform(size=(2,) + s).astype(np.float32) for s in shapes]
    eager = call_layer(layer, arrays).numpy()
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    call_layer(clone, arrays)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(call_layer(clone, arrays).numpy(), eager)
    # Serialised through Keras' registry, by name only.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer) and revived.get_config() == config
    symbolic = call_layer(layer, [keras.Input(s) for s in shapes])
    assert tuple(symbolic.shape[1:]) == eager.shape[1:]


@pytest.mark.parametrize("make_layer, shapes", LAYER_CASES[:3])
def test_layer_one_step_fit_updates_weights(make_layer, shapes):
    inputs = [keras.Input(s) for s in shapes]
    layer = make_layer()
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1)(call_layer(layer, inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    arrays = [RNG.uniform(size=(4,) + s).astype(np.float32) for s in shapes]
    before = [w.numpy().copy() for w in layer.trainable_weights]
    history = model.fit(arrays, np.ones((4,) + shapes[0][:2] + (1,), np.float32), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.trainable_weights)]
    assert any(changed)
