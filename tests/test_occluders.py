"""The wild occluder families (issue 29): masks are exactly the changed pixels, Eq. 2 with the
true mask gives back the clean face, determinism per seed, the training mix, the wild benchmark."""

import numpy as np
import pytest
import tensorflow as tf

from c2fdan_tf.data.benchmark_occlusions import Condition, benchmark_conditions, occlude_benchmark, wild_conditions
from c2fdan_tf.data.occluders import compositing
from c2fdan_tf.data.occluders.families import (CLEAN_FORM, FIRST_WILD_FORM, WILD_FAMILIES, MixedOccluders, parse_mix,
                                               training_occluders, wild_family)
from c2fdan_tf.data.occluders.family import family_seed
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer, POSITIONS

COUNT = 12


def _faces(seed, count=COUNT):
    """Smooth random faces-like images: no two share a pixel value by chance."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.9, (count, 1, 1, 3))
    ramp = np.linspace(0, 0.08, 112)[None, :, None, None] + np.linspace(0, 0.05, 112)[None, None, :, None]
    return np.clip(base + ramp + rng.uniform(-0.02, 0.02, (count, 112, 112, 3)), 0, 1).astype(np.float32)


def _render(name, faces, seed=5, size=None, positions=None):
    family = wild_family(name)
    size = family.benchmark_sizes[-1] if size is None else size
    ids = tf.range(len(faces), dtype=tf.int64) + 100
    positions = tf.constant([k % 4 for k in range(len(faces))] if positions is None else positions)
    params = family.parameters(family_seed(seed, name), ids, size, positions)
    occluded, mask = family.render(tf.constant(faces), params)
    return occluded.numpy(), mask.numpy()[..., 0]


@pytest.mark.parametrize("name", WILD_FAMILIES)
def test_mask_is_every_changed_pixel_and_eq2_gives_back_the_face(name):
    # The same occluder (same seed and ids) drawn on two different faces: wherever it changes
    # either face, the mask is on; where the mask is off, both faces are untouched.
    first, second = _faces(1), _faces(2)
    occluded_a, mask_a = _render(name, first)
    occluded_b, mask_b = _render(name, second)
    np.testing.assert_array_equal(mask_a, mask_b)  # the mask does not depend on the face
    changed = (np.abs(occluded_a - first).max(-1) > 0) | (np.abs(occluded_b - second).max(-1) > 0)
    assert np.array_equal(changed & (mask_a == 0), np.zeros_like(changed))  # nothing changed outside the mask
    # Inside the mask nearly every pixel differs from one face or the other (a colour equal to
    # both faces' is the only exception).
    assert (changed & (mask_a == 1)).sum() >= 0.97 * mask_a.sum()
    assert 0.001 < mask_a.mean() < 0.9
    for faces, occluded, mask in ((first, occluded_a, mask_a), (second, occluded_b, mask_b)):
        restored = (1 - mask[..., None]) * occluded + mask[..., None] * faces  # Eq. 2 with the true mask
        np.testing.assert_array_equal(restored, faces)


@pytest.mark.parametrize("name", ["watermark", "tiled_watermark"])
def test_translucent_families_blend_with_alpha_between_0_2_and_0_8(name):
    faces = _faces(3)
    occluded, mask = _render(name, faces)
    params = wild_family(name).parameters(family_seed(5, name), tf.range(COUNT, dtype=tf.int64) + 100,
                                          wild_family(name).benchmark_sizes[-1], tf.constant([k % 4 for k in range(COUNT)]))
    alpha, color = params["alpha"].numpy(), params["color"].numpy()
    assert np.all((alpha >= 0.2) & (alpha <= 0.8))
    for k in range(COUNT):
        # Where the mark is fully drawn, occluded = (1 - alpha) face + alpha colour: solve for alpha.
        inside = mask[k] == 1
        difference = color[k][None] - faces[k][inside]
        usable = np.abs(difference) > 0.2
        seen = (occluded[k][inside] - faces[k][inside])[usable] / difference[usable]
        assert seen.max() == pytest.approx(alpha[k], abs=0.02)  # the strongest pixel: full coverage


def test_families_are_deterministic_per_seed_and_differ_between_seeds():
    faces = _faces(4)
    for name in WILD_FAMILIES:
        a, mask_a = _render(name, faces, seed=9)
        b, mask_b = _render(name, faces, seed=9)
        _, mask_c = _render(name, faces, seed=10)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(mask_a, mask_c), name


def test_subtitle_cap_height_follows_the_size_and_outline_is_dark():
    # One centred line at the nose, no band or shadow: the mask's height grows with the size.
    family = wild_family("subtitle")
    ids = tf.range(64, dtype=tf.int64)
    heights = []
    for size in (0.08, 0.16):
        params = family.parameters(3, ids, size, 1)
        _, mask = family.render(tf.zeros((64, 112, 112, 3)), params)
        rows = mask.numpy()[..., 0].max(axis=2)
        heights.append(np.median(rows.sum(axis=1)))
    assert heights[1] / heights[0] == pytest.approx(2.0, rel=0.25)
    outlined = family.parameters(3, ids, 0.14, 1)
    colors = outlined["outline_color"].numpy()[outlined["outline"].numpy() > 0]
    assert colors.max() <= 0.35 and len(colors) > 20  # 70 % of 64 draw an outline, in black or a dark colour


def test_sample_bilinear_and_place_sprites_agree_with_a_numpy_reference():
    rng = np.random.default_rng(0)
    bank = rng.integers(0, 256, (3, 9, 13, 2)).astype(np.uint8)
    index = np.array([2, 0])
    y = rng.uniform(-1.5, 10.5, (2, 5, 7)).astype(np.float32)
    x = rng.uniform(-1.5, 14.5, (2, 5, 7)).astype(np.float32)

    def reference(k, yy, xx):  # bilinear with pixel centres at +0.5, zero outside
        def value(r, c):
            return bank[k, r, c] / 255.0 if 0 <= r < 9 and 0 <= c < 13 else np.zeros(2)
        yy, xx = yy - 0.5, xx - 0.5
        r0, c0 = int(np.floor(yy)), int(np.floor(xx))
        wy, wx = yy - r0, xx - c0
        return ((1 - wy) * ((1 - wx) * value(r0, c0) + wx * value(r0, c0 + 1))
                + wy * ((1 - wx) * value(r0 + 1, c0) + wx * value(r0 + 1, c0 + 1)))

    got = compositing.sample_bilinear(tf.constant(bank), tf.constant(index), tf.constant(y), tf.constant(x)).numpy()
    expected = np.array([[[reference(index[b], y[b, i, j], x[b, i, j]) for j in range(7)] for i in range(5)]
                         for b in range(2)])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # place_sprites: the sprite point (4.5, 6.5) on image pixel (40.5, 60.5), 0.5 sprite px per image px, turned.
    angle = np.array([0.0, 0.3], np.float32)
    placed = compositing.place_sprites(tf.constant(bank), tf.constant(index), tf.constant([40.5, 40.5]),
                                       tf.constant([60.5, 60.5]), tf.constant([0.5, 0.5]), tf.constant(angle),
                                       tf.constant([4.5, 4.5]), tf.constant([6.5, 6.5])).numpy()
    for b in range(2):
        for row, col in ((40, 60), (43, 57), (37, 66)):
            dy, dx = row + 0.5 - 40.5, col + 0.5 - 60.5
            v = np.cos(angle[b]) * dy - np.sin(angle[b]) * dx
            u = np.sin(angle[b]) * dy + np.cos(angle[b]) * dx
            # interpolated in uint8: truncated to a step of 1/255
            np.testing.assert_allclose(placed[b, row, col], reference(index[b], 4.5 + 0.5 * v, 6.5 + 0.5 * u),
                                       atol=1.0 / 255 + 1e-6)


def test_mix_parses_and_assigns_families_in_proportion():
    assert parse_mix("paper") == {"paper": 1.0}
    assert parse_mix("paper:1,subtitle:3") == {"paper": 0.25, "subtitle": 0.75}
    for bad in ("paper:x", "cartoon:1", "paper:0", "subtitle:-1"):
        with pytest.raises(ValueError, match="occluder|family|probability|negative"):
            parse_mix(bad)
    assert isinstance(training_occluders("paper"), OcclusionSynthesizer)
    mix = training_occluders("paper:0.5,subtitle:0.25,stroke:0.25")
    assert isinstance(mix, MixedOccluders)
    faces = tf.constant((_faces(5, 16) * 255).astype(np.uint8))
    forms = []
    for start in range(0, 256, 16):
        batch = mix.training_batch(faces, 3, tf.range(start, start + 16, dtype=tf.int64))
        forms.append(batch["form"].numpy())
        assert batch["occluded"].shape == (16, 112, 112, 3) and batch["mask"].shape == (16, 112, 112, 1)
        # every image is occluded, and only where its mask says
        outside = (1 - batch["mask"].numpy()) * np.abs(batch["occluded"].numpy() - batch["ground_truth"].numpy())
        assert outside.max() == 0.0 and batch["mask"].numpy().reshape(16, -1).max(axis=1).min() == 1.0
    forms = np.concatenate(forms)
    paper_share = np.isin(forms, (0, 1)).mean()
    subtitle_share = (forms == FIRST_WILD_FORM + WILD_FAMILIES.index("subtitle")).mean()
    assert paper_share == pytest.approx(0.5, abs=0.08) and subtitle_share == pytest.approx(0.25, abs=0.07)
    again = mix.training_batch(faces, 3, tf.range(16, dtype=tf.int64))
    np.testing.assert_array_equal(again["form"].numpy(), forms[:16])


def test_clean_members_of_the_mix_are_the_untouched_face_with_an_empty_mask():
    """"clean" in a mix: no occluder at all (so the mask learns to leave a bare face alone), the rest
    of the batch occluded as before; the shares follow the mix."""
    mix = training_occluders("paper:0.5,clean:0.5")
    faces = tf.constant((_faces(5, 16) * 255).astype(np.uint8))
    forms = []
    for start in range(0, 128, 16):
        batch = mix.training_batch(faces, 4, tf.range(start, start + 16, dtype=tf.int64))
        form, mask = batch["form"].numpy(), batch["mask"].numpy()
        occluded, truth = batch["occluded"].numpy(), batch["ground_truth"].numpy()
        clean = form == CLEAN_FORM
        assert mask[clean].max(initial=0.0) == 0.0 and np.array_equal(occluded[clean], truth[clean])
        assert mask[~clean].reshape(int((~clean).sum()), -1).max(axis=1).min(initial=1.0) == 1.0
        forms.append(form)
    assert np.mean(np.concatenate(forms) == CLEAN_FORM) == pytest.approx(0.5, abs=0.1)
    assert parse_mix("paper:3,clean:1") == {"paper": 0.75, "clean": 0.25}


def test_wild_conditions_extend_the_paper_benchmark_without_changing_it():
    paper = benchmark_conditions()
    wild = wild_conditions()
    assert len(wild) == len(WILD_FAMILIES) * 2 * len(POSITIONS)
    assert [c.index for c in paper] == list(range(len(paper)))
    assert [c.index for c in wild] == list(range(len(paper), len(paper) + len(wild)))
    assert Condition.parse("subtitle/mouth/0.14").wild and not Condition.parse("text/eyes/0.3").wild
    faces = (_faces(6, 4) * 255).astype(np.uint8)
    mixed = [paper[0], wild[0], paper[5], wild[9]]
    together = occlude_benchmark(faces, 7, mixed)
    for k, condition in enumerate(mixed):  # each the same as when occluded alone
        alone = occlude_benchmark(faces[k : k + 1], 7, condition, image_ids=[k])
        np.testing.assert_array_equal(together["mask"][k], alone["mask"][0])
        np.testing.assert_array_equal(together["occluded"][k], alone["occluded"][0])


def test_missing_or_broken_emoji_font_is_a_one_line_error(tmp_path, monkeypatch):
    from c2fdan_tf.data.occluders import assets

    monkeypatch.setenv("C2FDAN_EMOJI_FONT", str(tmp_path / "NoEmoji.ttf"))
    with pytest.raises(assets.OccluderAssetError, match=r"NoEmoji\.ttf .*fonts-noto-color-emoji"):
        assets.emoji_font()
    broken = tmp_path / "Broken.ttf"
    broken.write_bytes(b"not a font")
    monkeypatch.setenv("C2FDAN_EMOJI_FONT", str(broken))
    with pytest.raises(assets.OccluderAssetError, match=r"Cannot read the emoji font .*Broken\.ttf"):
        assets.emoji_font()


def test_a_wrong_occluder_mix_is_refused_before_any_work():
    from c2fdan_tf.training.config import resolve_config

    assert resolve_config("paper", "coarse", {}).data.occluders == "paper"  # Table I's reproduction
    assert parse_mix(resolve_config("small", "coarse", {}).data.occluders)["paper"] == pytest.approx(0.5)
    assert resolve_config("small", "full", {"occluders": "subtitle:1"}).data.occluders == "subtitle:1"
    with pytest.raises(ValueError, match="Unknown occluder family 'cartoon'"):
        resolve_config("small", "coarse", {"occluders": "paper:1,cartoon:1"})
    assert resolve_config("paper", "coarse", {}).data.face_texture == 0.0
    assert resolve_config("small", "coarse", {"face_texture": 0.25}).data.face_texture == 0.25
    with pytest.raises(ValueError, match="--face_texture is a probability in \\[0, 1\\], not 1.5"):
        resolve_config("small", "coarse", {"face_texture": 1.5})


def test_every_benchmark_occluder_is_in_the_image():
    # Every "outside" condition of the wild benchmark (the only ones placed off the face) draws
    # something on each of 200 faces: an occluder wholly outside the image would score an
    # infinite PSNR (a stroke anchored by its bounding box's middle did, once in 200).
    faces = np.full((200, 112, 112, 3), 128, np.uint8)
    for condition in wild_conditions(positions=("outside",)):
        masks = occlude_benchmark(faces, 0, condition)["mask"]
        assert masks.reshape(200, -1).sum(axis=1).min() >= 4, condition.name


def test_face_texture_puts_photo_detail_into_the_clean_face_and_keeps_the_mask():
    from c2fdan_tf.data.face_texture import FaceTexture
    from c2fdan_tf.data.occluders.objects import texture_bank

    faces = tf.constant(_faces(9, 64))
    ids = tf.range(64, dtype=tf.int64)
    textured = FaceTexture(0.5).apply(faces, 4, ids).numpy()
    changed = np.abs(textured - faces.numpy()).reshape(64, -1).max(axis=1) > 1e-6
    assert 0.3 <= changed.mean() <= 0.7  # about the share asked for; the others exactly untouched
    np.testing.assert_array_equal(textured[~changed], faces.numpy()[~changed])
    np.testing.assert_array_equal(FaceTexture(0.0).apply(faces, 4, ids).numpy(), faces.numpy())
    np.testing.assert_array_equal(FaceTexture(0.5).apply(faces, 4, ids).numpy(), textured)  # per (seed, id)
    # The change is multiplicative photo detail: where the (flat-ish) face is modulated, the
    # ratio textured / face correlates with some photo crop's luminance detail.
    bank = texture_bank().astype(np.float32).mean(axis=-1) / 255.0
    ratio = textured[changed].mean(axis=-1) / faces.numpy()[changed].mean(axis=-1)
    assert np.abs(ratio - 1).mean() > 0.01 and np.all(np.abs(ratio - 1) < 0.9)
    detail = tf.image.resize(bank[..., None], (112, 112)).numpy()[..., 0]
    detail -= np.stack([np.asarray(tf.nn.avg_pool2d(d[None, ..., None], 9, 1, "SAME"))[0, ..., 0] for d in detail])
    candidates = [detail, detail[:, :, ::-1], np.transpose(detail, (0, 2, 1)), np.transpose(detail[:, :, ::-1], (0, 2, 1))]
    for r in ratio[:4]:
        r = r - np.asarray(tf.nn.avg_pool2d(r[None, ..., None], 9, 1, "SAME"))[0, ..., 0]
        best = max(np.corrcoef(r.ravel(), c.ravel())[0, 1] for group in candidates for c in group)
        assert best > 0.6, best
    # In the mix: the ground truth is the textured face, and the mask and Eq. 2 hold as before.
    mix = training_occluders("paper:0.5,subtitle:0.5", face_texture=1.0)
    batch = mix.training_batch(tf.constant((_faces(5, 16) * 255).astype(np.uint8)), 3, tf.range(16, dtype=tf.int64))
    plain = training_occluders("paper:0.5,subtitle:0.5").training_batch(
        tf.constant((_faces(5, 16) * 255).astype(np.uint8)), 3, tf.range(16, dtype=tf.int64))
    np.testing.assert_array_equal(batch["mask"].numpy(), plain["mask"].numpy())
    assert np.abs(batch["ground_truth"].numpy() - plain["ground_truth"].numpy()).max() > 0.02
    outside = (1 - batch["mask"].numpy()) * np.abs(batch["occluded"].numpy() - batch["ground_truth"].numpy())
    assert outside.max() == 0.0
    with pytest.raises(ValueError, match="probability"):
        FaceTexture(1.5)
