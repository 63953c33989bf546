"""The video pipeline's parts against references written here: the One-Euro filter (Casiez et al.
2012), the display rotation, the screen relation of two alignments, mask fusion with
hysteresis, the Eq. 2 inversion, the flicker metric, tracking and scene cuts."""

import math

import cv2
import numpy as np
import pytest

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.video import temporal
from c2fdan_tf.video.tracking import OneEuroFilter, SceneCuts, corrected, track_points, unrotate_points


def one_euro_reference(xs, times, min_cutoff, beta, d_cutoff):
    """The 1-euro filter of one scalar signal, line by line from the paper's pseudo-code."""
    def alpha(rate, cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        te = 1.0 / rate
        return 1.0 / (1.0 + tau / te)

    out, x_prev, dx_prev, t_prev = [], None, 0.0, None
    for x, t in zip(xs, times):
        if x_prev is None:
            x_prev, t_prev = x, t
            out.append(x)
            continue
        rate = 1.0 / (t - t_prev)
        dx = (x - x_prev) * rate
        edx = alpha(rate, d_cutoff) * dx + (1 - alpha(rate, d_cutoff)) * dx_prev
        cutoff = min_cutoff + beta * abs(edx)
        x_hat = alpha(rate, cutoff) * x + (1 - alpha(rate, cutoff)) * x_prev
        out.append(x_hat)
        x_prev, dx_prev, t_prev = x_hat, edx, t
    return np.array(out)


def test_one_euro_filter_equals_the_papers_pseudo_code_and_stills_jitter():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.03, 0.05, 60))  # a variable frame rate
    signal = np.sin(times * 3.0) + rng.normal(0, 0.05, 60)
    ours = OneEuroFilter(min_cutoff=1.2, beta=0.4, derivative_cutoff=1.0)
    filtered = np.array([float(ours(np.array(x), t)) for x, t in zip(signal, times)])
    np.testing.assert_allclose(filtered, one_euro_reference(signal, times, 1.2, 0.4, 1.0), atol=1e-12)
    # A still point with jitter: the filter keeps a small fraction of the jitter's variance.
    still = rng.normal(0, 1.0, (200, 1, 2))
    smooth = OneEuroFilter(1.0, 0.0)
    out = np.array([smooth(p, k / 25.0) for k, p in enumerate(still)])
    assert out[50:].var() < 0.2 * still[50:].var()


@pytest.mark.parametrize("rotation", [90, 180, 270, -90])
def test_points_found_in_the_displayed_frame_map_back_to_the_stored_one(rotation):
    stored = np.zeros((30, 50), np.uint8)
    stored[7, 41] = 255  # a point at x=41, y=7
    shown = np.rot90(stored, (rotation // 90) % 4)  # the display turns it counter-clockwise
    y, x = np.argwhere(shown == 255)[0]
    np.testing.assert_allclose(unrotate_points(np.array([[x, y]], float), rotation, stored.shape), [[41, 7]])


def _similarity(angle, scale, tx, ty):
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_a_point_fixed_on_the_screen_is_carried_between_two_aligned_squares():
    before, after = _similarity(0.1, 0.4, -20, -5), _similarity(-0.05, 0.45, -30, 2)
    screen = np.array([130.0, 210.0, 1.0])
    relation = temporal.screen_relation(after, before)
    np.testing.assert_allclose(relation @ np.r_[before @ screen, 1.0], after @ screen, atol=1e-9)


def _band(rows, cols=slice(20, 90)):
    probability = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    probability[rows, cols] = 1.0
    return probability


def test_fusion_outvotes_a_one_frame_blip_and_keeps_a_subtitles_first_and_last_frame():
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    empty, band = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32), _band(slice(70, 80))
    blip = temporal.fused_probability(band, [(empty, identity), (empty, identity)])
    assert not temporal.hysteresis(blip)[0].any()
    first = temporal.fused_probability(band, [(empty, identity), (band, identity)])  # t-1 clean, t+1 subtitle
    last = temporal.fused_probability(band, [(band, identity), (empty, identity)])
    assert temporal.hysteresis(first)[0][70:80, 20:90].all() and temporal.hysteresis(last)[0][70:80, 20:90].all()
    # A neighbour that saw only part of this square counts only where it saw: a shift of the
    # relation by 60 px leaves the left part to this frame's own vote.
    shifted = np.array([[1.0, 0, 60.0], [0, 1.0, 0]])
    fused = temporal.fused_probability(band, [(empty, shifted)])
    assert fused[75, 30] == 1.0 and fused[75, 80] == 0.5


def test_hysteresis_holds_a_missed_letter_and_lets_a_gone_line_go():
    line = _band(slice(70, 80))
    mask, held = temporal.hysteresis(line)
    missed = line.copy()
    missed[70:80, 40:48] = 0.0  # one letter missed this frame; the rest of the line still seen
    mask, held = temporal.hysteresis(missed, held)
    assert mask[70:80, 40:48].all()
    np.testing.assert_allclose(held[75, 44], temporal.HOLD_DECAY)
    gone = np.zeros_like(line)  # the subtitle has left: nothing of the line is seen
    mask, held = temporal.hysteresis(gone, held)
    assert not mask.any() and held.max() == 0.0
    # Held evidence decays: a pixel seen once at 0.6 is held for exactly the frames 0.6 * decay^k >= 0.5.
    faint, evidence = np.full((4, 4), 0.6, np.float32), None
    kept = 0
    for _ in range(5):
        mask, evidence = temporal.hysteresis(faint if evidence is None else np.full((4, 4), 0.3, np.float32),
                                             evidence)
        kept += bool(mask.all())
    expected = 1 + sum(0.6 * temporal.HOLD_DECAY ** k >= 0.5 for k in range(1, 5))
    assert kept == expected


def test_the_fine_networks_fill_is_recovered_from_eq2():
    rng = np.random.default_rng(1)
    face, fine = rng.uniform(0, 1, (8, 8, 3)), rng.uniform(0, 1, (8, 8, 3))
    m = rng.uniform(0.5, 1.0, (8, 8))
    completed = (1 - m[..., None]) * face + m[..., None] * fine  # Eq. 2
    np.testing.assert_allclose(temporal.network_fill(completed, face, m), fine, atol=1e-6)


def test_fill_blending_averages_agreeing_fills_and_keeps_a_changed_one():
    previous = np.full((4, 4, 3), 0.5, np.float32)
    both = np.ones((4, 4), bool)
    near = temporal.blend_fill(previous + 0.01, previous, both, keep=0.6, tolerance=0.06)
    expected_weight = 0.6 * math.exp(-(0.01 / 0.06) ** 2)
    np.testing.assert_allclose(near, 0.51 * (1 - expected_weight) + 0.5 * expected_weight, atol=1e-6)
    far = temporal.blend_fill(previous + 0.5, previous, both, keep=0.6, tolerance=0.06)
    np.testing.assert_allclose(far, 1.0, atol=1e-6)  # a blink: this frame's fill
    unmasked = temporal.blend_fill(previous + 0.01, previous, ~both)
    np.testing.assert_allclose(unmasked, 0.51, atol=1e-6)
    moved = temporal.blend_fill(previous + 0.01, previous, both, change=0.2, keep=0.6, tolerance=0.06, still=0.03)
    np.testing.assert_allclose(moved, 0.51, atol=1e-6)  # the visible face changed: this frame's fill
    # The visible face's change: mean |difference| outside the masks grown by 3 px.
    face, before = np.zeros((20, 20, 3), np.float32), np.zeros((20, 20, 3), np.float32)
    masked = np.zeros((20, 20), bool)
    masked[8:12, 8:12] = True
    face[9:11, 9:11] = 1.0  # inside the mask: not counted
    face[0, 0] = 0.3
    outside = 20 * 20 - 10 * 10  # the 4x4 mask grown by 3 px on each side
    assert temporal.face_change(face, before, masked) == pytest.approx(0.3 * 3 / (outside * 3))


def test_flicker_metric_by_hand():
    from c2fdan_tf.evaluation.video import flicker

    clean = [np.zeros((2, 2, 3), np.uint8)] * 3
    frames = [np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 10, np.uint8), np.zeros((2, 2, 3), np.uint8)]
    masks = [np.array([[True, False], [False, False]])] * 3
    regions = [np.ones((2, 2), bool)] * 3
    # Two pairs, one masked pixel each, |10 - 0| in all three channels: 10 grey levels.
    assert flicker(frames, clean, masks, regions) == pytest.approx(10.0)
    assert flicker(clean, clean, masks, regions) == 0.0
    moving_clean = [np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 4, np.uint8), np.zeros((2, 2, 3), np.uint8)]
    assert flicker(frames, moving_clean, masks, regions) == pytest.approx(6.0)


@pytest.fixture(scope="module")
def face_frames():
    from c2fdan_tf.data.video_clips import FacesClip

    clip = FacesClip((320, 240), frames=2, motion=0.0, subtitles=(), blinks=False)
    return clip.frame(0)


def test_tracking_follows_the_face_not_a_static_subtitle(face_frames):
    from c2fdan_tf.data.video_clips import Subtitle, draw_subtitles

    grey = cv2.cvtColor(face_frames.clean, cv2.COLOR_RGB2GRAY)
    shift = np.array([[1.0, 0, 3.5], [0, 1.0, -2.0]])  # the face moves 3.5 px right and 2 px up
    moved = cv2.warpAffine(grey, shift, grey.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    points = face_frames.landmarks[0]
    followed = track_points(grey, moved, points)
    np.testing.assert_allclose(followed - points, np.broadcast_to([3.5, -2.0], points.shape), atol=0.35)
    # A subtitle that stays put across the face: excluded (last frame's mask), it does not hold the points back.
    sub = (Subtitle("STAY RIGHT THERE", 0, 1, 0.62, cap_height=0.09),)
    before, mask = draw_subtitles(np.repeat(grey[..., None], 3, 2), sub, 0)
    after, _ = draw_subtitles(np.repeat(moved[..., None], 3, 2), sub, 0)
    exclude = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
    followed = track_points(before[..., 0], after[..., 0], points, exclude)
    np.testing.assert_allclose(followed - points, np.broadcast_to([3.5, -2.0], points.shape), atol=0.5)


def test_a_detection_under_an_occluder_corrects_drift_but_not_a_healthy_track():
    tracked = np.array([[100.0, 100], [140, 100], [120, 125], [104, 145], [136, 145]])
    drift = tracked + (2.0, 1.0)  # 0.056 eye distances
    np.testing.assert_allclose(corrected(tracked, drift), drift)  # drift: the detection is taken
    scatter = tracked + (0.8, -0.6)  # 0.025 eye distances: the detector's own noise
    np.testing.assert_allclose(corrected(tracked, scatter), tracked)
    misled = tracked.copy()
    misled[3:] += (0.0, 20.0)  # mouth points dragged by a subtitle
    exclude = np.zeros((300, 300), np.uint8)
    exclude[140:150, 90:150] = 255
    np.testing.assert_allclose(corrected(tracked, misled, exclude), tracked, atol=1e-9)  # fitted on eyes + nose
    wild = tracked + np.array([[0.0, 0], [0, 0], [0, 0], [0, 30], [0, 30]])
    np.testing.assert_allclose(corrected(tracked, wild), tracked)  # moves the face by > 0.12 eye distances


def test_scene_cuts(face_frames):
    cuts = SceneCuts()
    grey = cv2.cvtColor(face_frames.clean, cv2.COLOR_RGB2GRAY)
    assert not cuts(grey)
    assert not cuts(np.clip(grey.astype(int) + 8, 0, 255).astype(np.uint8))  # a light change
    assert cuts(255 - grey)  # another shot


def test_motion_compensated_flicker_ignores_a_fill_that_moves_with_the_face():
    from c2fdan_tf.evaluation.video import flicker, motion_flicker

    rng = np.random.default_rng(3)
    texture = rng.integers(0, 255, (40, 60, 3)).astype(np.uint8)
    shift = np.array([[1.0, 0, 2.0], [0, 1.0, 0]])  # the face moves 2 px right
    moved = cv2.warpAffine(texture, shift, (60, 40), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    smooth = [np.full((40, 60, 3), 100, np.uint8)] * 2  # the clean face: flat
    masks = [np.zeros((40, 60), bool)] * 2
    masks = [m.copy() for m in masks]
    for m in masks:
        m[10:30, 10:50] = True
    squares = [[np.ones((40, 60), bool)]] * 2
    assert flicker([texture, moved], smooth, masks, [s[0] for s in squares]) > 30  # texture moving: |Δ| large
    assert motion_flicker([texture, moved], smooth, masks, squares, [[None], [shift]]) == pytest.approx(0.0, abs=1e-9)
    changed = moved.copy()
    changed[10:30, 10:50] = 255 - changed[10:30, 10:50]  # a fill that changes, not moves
    expected = np.abs(changed.astype(float) - moved)[10:30, 10:50].mean()
    assert motion_flicker([texture, changed], smooth, masks, squares, [[None], [shift]]) == pytest.approx(expected)
