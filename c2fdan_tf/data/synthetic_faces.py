"""Built-in procedural faces ("synth"): 112x112, aligned to the template, with identities.

An identity fixes the face shape, skin tone, hair colour and style (with its
parting), iris colour (both eyes alike), eyebrows, nose, mouth and lips, and
asymmetric marks (a mole, a scar, the parting side, sometimes a beard). Each
image of an identity varies the expression (smile, mouth open or closed, eye
openness, gaze), the lighting direction and strength, a small rotation, scale
and shift (alignment noise), the background and the sensor noise.

Shapes are drawn from signed distances with analytic anti-aliasing (coverage =
clip(0.5 - distance in pixels, 0, 1)). Everything is a deterministic function of
(seed, identity, index): the identity's look from `numpy.random.default_rng((seed,
identity))`, the image's variation from `default_rng((seed, identity, index))`.
Identity numbers of the splits never overlap (`SPLIT_OFFSETS`).
Rendering is vectorised over a batch of images; no model code is involved.
"""

import dataclasses

import numpy as np

from c2fdan_tf.face_template import FACE_ELLIPSE, IMAGE_SIZE, LANDMARKS

RENDERER_VERSION = 1  # bump when the look changes: caches are keyed by it
SPLIT_OFFSETS = {"train": 0, "eval": 10_000_000, "distractor": 20_000_000}

_SKIN_DARK = np.array([0.30, 0.18, 0.12])
_SKIN_LIGHT = np.array([0.97, 0.82, 0.72])
_HAIR_COLOURS = np.array(
    [
        [0.06, 0.05, 0.05],  # black
        [0.20, 0.12, 0.07],  # dark brown
        [0.40, 0.25, 0.13],  # brown
        [0.55, 0.25, 0.10],  # auburn
        [0.80, 0.62, 0.35],  # blonde
        [0.92, 0.82, 0.60],  # platinum
        [0.55, 0.53, 0.52],  # grey
        [0.85, 0.85, 0.86],  # white
        [0.65, 0.20, 0.08],  # red
    ]
)
_IRIS_COLOURS = np.array(
    [
        [0.30, 0.17, 0.08],  # brown
        [0.15, 0.08, 0.04],  # dark brown
        [0.25, 0.45, 0.75],  # blue
        [0.45, 0.65, 0.85],  # light blue
        [0.30, 0.50, 0.25],  # green
        [0.50, 0.40, 0.18],  # hazel
        [0.50, 0.55, 0.60],  # grey
    ]
)
HAIR_STYLES = ("short", "long", "receding", "fringe", "curly")


@dataclasses.dataclass(frozen=True)
class _Batch:
    """Per-image parameters as arrays of shape (B, 1, 1) (colours (B, 1, 1, 3))."""

    values: dict

    def __getattr__(self, name):
        return self.values[name]


def identity_parameters(seed, identity):
    """The look of one identity: a dict of floats and RGB triples."""
    rng = np.random.default_rng((seed, identity))
    skin_t = rng.uniform()
    skin = _SKIN_DARK + (_SKIN_LIGHT - _SKIN_DARK) * skin_t + rng.normal(0, 0.025, 3)
    hair = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.8, 1.15) + rng.normal(0, 0.03, 3)
    iris = _IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] + rng.normal(0, 0.05, 3)
    lip = skin + (np.array([0.75, 0.28, 0.30]) - skin) * rng.uniform(0.25, 0.65)
    brow = hair * rng.uniform(0.55, 0.95)
    style = rng.integers(len(HAIR_STYLES))
    parting = rng.choice([-1.0, 0.0, 1.0])
    return {
        "skin": np.clip(skin, 0, 1),
        "hair": np.clip(hair, 0, 1),
        "iris": np.clip(iris, 0, 1),
        "lip": np.clip(lip, 0, 1),
        "brow": np.clip(brow, 0, 1),
        "face_cy": FACE_ELLIPSE[0] + rng.uniform(-2.5, 2.5),
        "face_rx": rng.uniform(33.0, 42.0),
        "face_ry": rng.uniform(45.0, 54.0),
        "jaw": rng.uniform(0.72, 1.0),  # lower face width relative to upper
        "hair_style": float(style),
        "hairline": rng.uniform(17.0, 29.0) if style != 2 else rng.uniform(5.0, 12.0),
        "hair_volume": rng.uniform(2.0, 8.0) + (6.0 if style == 4 else 0.0),
        "parting": parting,
        "parting_x": 56.0 + parting * rng.uniform(8.0, 16.0),
        "brow_thickness": rng.uniform(1.4, 3.6),
        "brow_arch": rng.uniform(0.5, 4.5),
        "brow_height": rng.uniform(8.5, 13.5),
        "brow_length": rng.uniform(8.5, 12.5),
        "brow_slant": rng.uniform(-0.18, 0.18),
        "eye_rx": rng.uniform(5.8, 8.0),
        "eye_ry": rng.uniform(2.6, 4.2),
        "iris_r": rng.uniform(2.5, 3.5),
        "nose_width": rng.uniform(6.0, 11.0),
        "nose_length": rng.uniform(14.0, 22.0),
        "mouth_scale": rng.uniform(0.85, 1.12),
        "upper_lip": rng.uniform(1.6, 3.8),
        "lower_lip": rng.uniform(2.2, 5.0),
        "mole": float(rng.uniform() < 0.7),
        "mole_y": rng.uniform(40.0, 104.0),
        "mole_x": rng.uniform(28.0, 84.0),
        "mole_r": rng.uniform(0.9, 1.9),
        "scar": float(rng.uniform() < 0.35),
        "scar_y": rng.uniform(30.0, 100.0),
        "scar_x": rng.uniform(30.0, 82.0),
        "scar_angle": rng.uniform(0, np.pi),
        "scar_length": rng.uniform(6.0, 14.0),
        "beard": float(rng.uniform() < 0.15),
        "beard_density": rng.uniform(0.45, 0.85),
        "ear_size": rng.uniform(0.8, 1.2),
    }


def image_variation(seed, identity, index):
    """What changes from one image of an identity to the next."""
    rng = np.random.default_rng((seed, identity, index, 1))
    background = rng.uniform(0.05, 0.95, size=(2, 3))
    return {
        "smile": rng.uniform(-0.4, 1.0),
        "mouth_open": 0.0 if rng.uniform() < 0.6 else rng.uniform(0.3, 1.0),
        "eye_open": rng.uniform(0.7, 1.05),
        "gaze_x": rng.uniform(-1.2, 1.2),
        "gaze_y": rng.uniform(-0.5, 0.5),
        "light_angle": rng.uniform(0, 2 * np.pi),
        "light_strength": rng.uniform(0.08, 0.35),
        "brightness": rng.uniform(0.82, 1.12),
        "tint": 1.0 + rng.normal(0, 0.03, 3),
        "rotation": np.deg2rad(rng.uniform(-4.0, 4.0)),
        "scale": rng.uniform(0.95, 1.05),
        "shift_y": rng.uniform(-2.0, 2.0),
        "shift_x": rng.uniform(-2.0, 2.0),
        "background_a": background[0],
        "background_b": background[1],
        "background_angle": rng.uniform(0, 2 * np.pi),
        "noise": rng.uniform(0.0, 0.025),
    }


def _stack(dicts):
    keys = dicts[0].keys()
    out = {}
    for key in keys:
        values = np.array([d[key] for d in dicts], np.float64)
        out[key] = values.reshape((len(dicts), 1, 1) + values.shape[1:]).astype(np.float32)
    return _Batch(out)


def _coverage(distance, scale):
    """Anti-aliased coverage of a shape from its signed distance (canonical px)."""
    return np.clip(0.5 - distance * scale, 0.0, 1.0)


def _ellipse_distance(y, x, cy, cx, ry, rx):
    """First-order signed distance to an axis-aligned ellipse (negative inside)."""
    dy, dx = (y - cy) / ry, (x - cx) / rx
    k = np.sqrt(dy * dy + dx * dx) + 1e-6
    grad = np.sqrt((dy / ry) ** 2 + (dx / rx) ** 2) / k + 1e-6
    return (k - 1.0) / grad


def _segment_distance(y, x, y0, x0, y1, x1, radius):
    """Signed distance to a capsule around the segment (y0, x0)-(y1, x1)."""
    vy, vx = y1 - y0, x1 - x0
    t = np.clip(((y - y0) * vy + (x - x0) * vx) / (vy * vy + vx * vx + 1e-9), 0.0, 1.0)
    return np.sqrt((y - y0 - t * vy) ** 2 + (x - x0 - t * vx) ** 2) - radius


def _paint(image, colour, alpha):
    """Blends `colour` over `image` with coverage `alpha`, in place, only on the
    rows any image of the batch touches (most features are small)."""
    alpha = np.broadcast_to(alpha, image.shape[:3])
    rows = np.flatnonzero(alpha.max(axis=(0, 2)) > 0)
    if rows.size == 0:
        return image
    band = slice(rows[0], rows[-1] + 1)
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 4 and colour.shape[1] > 1:  # a per-pixel colour (shaded skin)
        colour = colour[:, band]
    target = image[:, band]
    target += (colour - target) * alpha[:, band, :, None].astype(np.float32)
    return image


def known_landmarks(seed, identities, indices):
    """(B, 5, 2) float64 (x, y) in pixels: where `render_faces` draws the five template points of
    each face -- the eye centres (the sclera ellipses' centres), the nose tip and the mouth
    corners (the lip line's ends: the template's, scaled by the identity's mouth width) --
    after the image's rotation, scale and shift. Pixel i spans [i, i + 1) as in the template."""
    p = _stack([identity_parameters(seed, int(i)) for i in identities])
    v = _stack([image_variation(seed, int(i), int(j)) for i, j in zip(identities, indices)])
    (lx, ly), (rx, ry) = LANDMARKS["left_mouth"], LANDMARKS["right_mouth"]
    mcx, mcy = (lx + rx) / 2.0, (ly + ry) / 2.0
    half = (rx - lx) / 2.0 * p.mouth_scale[:, 0, 0]
    ones = np.ones_like(half)
    canonical_x = np.stack([LANDMARKS["left_eye"][0] * ones, LANDMARKS["right_eye"][0] * ones,
                            LANDMARKS["nose"][0] * ones, mcx - half, mcx + half], axis=1)
    canonical_y = np.stack([LANDMARKS["left_eye"][1] * ones, LANDMARKS["right_eye"][1] * ones,
                            LANDMARKS["nose"][1] * ones, mcy * ones, mcy * ones], axis=1)
    # The inverse of the canonical frame's mapping in render_faces: image = c + shift + s R^T (canonical - c).
    c = IMAGE_SIZE / 2.0
    cos, sin, scale = (getattr(v, name)[:, 0, 0, None] for name in ("rotation", "rotation", "scale"))
    cos, sin = np.cos(cos), np.sin(sin)
    dy, dx = canonical_y - c, canonical_x - c
    y = c + v.shift_y[:, 0, 0, None] + scale * (cos * dy - sin * dx)
    x = c + v.shift_x[:, 0, 0, None] + scale * (sin * dy + cos * dx)
    return np.stack([x, y], axis=-1)


def render_faces(seed, identities, indices):
    """uint8 faces `(B, 112, 112, 3)` for parallel lists of identity and image numbers."""
    identities = [int(i) for i in identities]
    indices = [int(i) for i in indices]
    p = _stack([identity_parameters(seed, i) for i in identities])
    v = _stack([image_variation(seed, i, j) for i, j in zip(identities, indices)])
    batch = len(identities)

    # Pixel centres mapped into the canonical (template) frame: inverse similarity.
    grid = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5
    py, px = grid[None, :, None], grid[None, None, :]
    c = IMAGE_SIZE / 2.0
    ry_, rx_ = py - c - v.shift_y, px - c - v.shift_x
    cos, sin = np.cos(v.rotation), np.sin(v.rotation)
    y = (cos * ry_ + sin * rx_) / v.scale + c
    x = (-sin * ry_ + cos * rx_) / v.scale + c
    s = v.scale  # canonical px -> image px

    # Background: a linear gradient between two colours.
    t = (np.cos(v.background_angle) * (py - c) + np.sin(v.background_angle) * (px - c)) / IMAGE_SIZE + 0.5
    image = v.background_a + (v.background_b - v.background_a) * np.clip(t, 0, 1)[..., None]
    image = np.broadcast_to(image, (batch, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)

    cx = 56.0
    head_cy = p.face_cy - 6.0
    style = p.hair_style
    strands = 1.0 + 0.08 * np.sin(0.9 * x + 0.35 * y + 3.0 * style)

    # Long hair falls behind the face to the shoulders.
    long_hair = _coverage(
        np.maximum(
            _ellipse_distance(y, x, head_cy + 18.0, cx, p.face_ry + 22.0, p.face_rx + 10.0 + p.hair_volume),
            y - 112.0,
        ),
        s,
    ) * (style == 1)
    image = _paint(image, p.hair * strands[..., None], long_hair)

    # Neck and ears.
    neck = _coverage(
        np.maximum(np.abs(x - cx) - p.face_rx * 0.5, p.face_cy + p.face_ry * 0.5 - y), s
    )
    image = _paint(image, p.skin * 0.82, neck)
    for side in (-1.0, 1.0):
        ear = _coverage(
            _ellipse_distance(y, x, 66.0, cx + side * (p.face_rx - 1.0), 9.5 * p.ear_size, 5.5 * p.ear_size), s
        )
        image = _paint(image, p.skin * 0.88, ear)

    # Face: an ellipse whose width tapers smoothly below its centre (the jaw).
    taper = np.clip((y - p.face_cy) / p.face_ry, 0.0, 1.0)
    rx_face = p.face_rx * (1.0 - (1.0 - p.jaw) * taper * taper * (3.0 - 2.0 * taper))
    face_d = _ellipse_distance(y, x, p.face_cy, cx, p.face_ry, rx_face)
    face = _coverage(face_d, s)
    # Lambert-like shading of an ellipsoid lit from `light_angle`.
    ny = np.clip((y - p.face_cy) / p.face_ry, -1, 1)
    nx = np.clip((x - cx) / rx_face, -1, 1)
    shade = 1.0 + v.light_strength * (np.cos(v.light_angle) * nx + np.sin(v.light_angle) * ny)
    shade = shade - 0.12 * np.clip(nx * nx + ny * ny, 0, 1)
    skin = p.skin * shade[..., None]
    image = _paint(image, skin, face)

    # Beard: the lower face in the hair colour.
    beard = face * np.clip((y - 76.0 - 6.0 * np.abs(x - cx) / p.face_rx) / 10.0, 0.0, 1.0)
    image = _paint(image, p.hair * 0.8, beard * p.beard_density * p.beard)

    # Hair on top: inside the head outline and above the hairline (which rises
    # on the parting side: an asymmetric swoop).
    u = (x - cx) / p.face_rx
    swoop = 3.0 * p.parting * u
    fringe = style == 3
    hairline = np.where(fringe, p.hairline + 10.0 + 1.5 * np.sin(2.5 * x), p.hairline + 14.0 * u * u + swoop)
    outline_d = _ellipse_distance(y, x, head_cy, cx, p.face_ry + p.hair_volume, p.face_rx + p.hair_volume * 0.7)
    bumps = np.where(style == 4, 1.6 * np.sin(0.8 * x) * np.sin(0.8 * y), 0.0)
    hair_d = np.maximum(outline_d + bumps, np.minimum(y - hairline, -face_d + 0.5))
    # Receding hair leaves the crown bare and keeps the sides.
    hair_d = np.where(style == 2, np.maximum(hair_d, 0.8 * (p.face_rx * 0.55 - np.abs(x - cx))), hair_d)
    hair = _coverage(hair_d, s)
    image = _paint(image, p.hair * strands[..., None] * (0.9 + 0.1 * shade[..., None]), hair)
    # The parting: a thin line of scalp from the hairline up.
    parting = _coverage(
        np.maximum(np.abs(x - p.parting_x) - 0.6, y - hairline + 1.0), s
    ) * hair * (p.parting != 0) * (style != 2)
    image = _paint(image, p.skin * 0.95, parting)

    # Eyebrows: a three-segment arch above each eye; thicker at the inner end.
    for name, side in (("left_eye", -1.0), ("right_eye", 1.0)):
        ex, ey = LANDMARKS[name]
        base_y = ey - p.brow_height
        points = []
        for f in (-1.0, -0.35, 0.35, 1.0):
            bx = ex + f * p.brow_length
            by = base_y - p.brow_arch * (1.0 - f * f) + side * f * p.brow_slant * p.brow_length
            points.append((by, bx))
        d = np.full(y.shape, 1e3, np.float32)
        for k in range(3):
            inner = 1.0 - 0.25 * (k if side < 0 else 2 - k) / 2.0
            d = np.minimum(
                d, _segment_distance(y, x, *points[k], *points[k + 1], p.brow_thickness * 0.5 * inner)
            )
        image = _paint(image, p.brow, _coverage(d, s))

    # Eyes: sclera, iris (same colour both sides), pupil, highlight, upper lid.
    eye_ry = p.eye_ry * v.eye_open
    for name in ("left_eye", "right_eye"):
        ex, ey = LANDMARKS[name]
        sclera_d = _ellipse_distance(y, x, ey, ex, eye_ry, p.eye_rx)
        sclera = _coverage(sclera_d, s)
        image = _paint(image, np.array([0.93, 0.92, 0.90]) * shade[..., None], sclera)
        iy, ix = ey + v.gaze_y, ex + v.gaze_x
        iris_d = np.maximum(_ellipse_distance(y, x, iy, ix, p.iris_r, p.iris_r), sclera_d)
        image = _paint(image, p.iris, _coverage(iris_d, s))
        ring = np.maximum(np.abs(np.sqrt((y - iy) ** 2 + (x - ix) ** 2) - p.iris_r + 0.3) - 0.3, sclera_d)
        image = _paint(image, p.iris * 0.5, _coverage(ring, s))
        pupil_d = np.maximum(_ellipse_distance(y, x, iy, ix, p.iris_r * 0.45, p.iris_r * 0.45), sclera_d)
        image = _paint(image, np.array([0.03, 0.03, 0.03]), _coverage(pupil_d, s))
        hy = iy - 0.8 * np.sin(v.light_angle) - 0.6
        hx = ix - 0.8 * np.cos(v.light_angle)
        image = _paint(image, np.array([1.0, 1.0, 1.0]), 0.9 * _coverage(_ellipse_distance(y, x, hy, hx, 0.7, 0.7), s))
        lid = _coverage(np.abs(sclera_d + 0.2) - 0.55, s) * (y < ey + 0.3)
        image = _paint(image, p.skin * 0.35, lid)

    # Nose: a shaded side of the bridge (away from the light) and two nostrils.
    tip_x, tip_y = LANDMARKS["nose"]
    side = np.where(np.cos(v.light_angle) > 0, -1.0, 1.0)
    bridge = _segment_distance(y, x, tip_y - p.nose_length, tip_x + side * 2.5, tip_y - 2.0, tip_x + side * p.nose_width * 0.45, 1.2)
    image = _paint(image, skin * 0.82, 0.6 * _coverage(bridge, s * 0.5))
    wing = _ellipse_distance(y, x, tip_y - 0.5, tip_x, 3.2, p.nose_width * 0.55)
    image = _paint(image, skin * 0.9, 0.5 * _coverage(np.abs(wing) - 0.5, s))
    for direction in (-1.0, 1.0):
        nostril = _ellipse_distance(y, x, tip_y + 1.2, tip_x + direction * p.nose_width * 0.3, 1.2, 2.0)
        image = _paint(image, p.skin * 0.3, _coverage(nostril, s))

    # Mouth: lip line through the template's corners; a smile lowers its middle,
    # an open mouth shows a dark interior and teeth between the lips.
    (lx, ly), (rx, ry) = LANDMARKS["left_mouth"], LANDMARKS["right_mouth"]
    mcx, mcy = (lx + rx) / 2.0, (ly + ry) / 2.0
    half = (rx - lx) / 2.0 * p.mouth_scale
    t = np.clip((x - mcx) / half, -1.0, 1.0)
    bulge = 1.0 - t * t
    line = mcy + 2.8 * v.smile * bulge
    gap_top = line - 2.5 * v.mouth_open * bulge
    gap_bottom = line + 4.5 * v.mouth_open * bulge
    beyond = np.abs(x - mcx) - half
    upper = np.maximum(np.maximum(gap_top - p.upper_lip * np.sqrt(bulge) - y, y - gap_top), beyond)
    lower = np.maximum(np.maximum(gap_bottom - y, y - gap_bottom - p.lower_lip * np.sqrt(bulge)), beyond)
    gap = np.maximum(np.maximum(gap_top - y, y - gap_bottom), beyond)
    image = _paint(image, np.array([0.22, 0.05, 0.06]), _coverage(gap, s) * (v.mouth_open > 0))
    teeth = np.maximum(gap, y - (gap_top + 1.6 * v.mouth_open))
    image = _paint(image, np.array([0.92, 0.90, 0.85]), _coverage(teeth, s) * (v.mouth_open > 0))
    image = _paint(image, p.lip * shade[..., None], _coverage(upper, s))
    image = _paint(image, p.lip * 1.08 * shade[..., None], _coverage(lower, s))
    lip_line = np.maximum(np.abs(y - line) - 0.45, beyond)
    image = _paint(image, p.lip * 0.45, _coverage(lip_line, s) * (v.mouth_open == 0))

    # Asymmetric marks: a mole and a scar, on the face only.
    mole = _coverage(_ellipse_distance(y, x, p.mole_y, p.mole_x, p.mole_r, p.mole_r), s) * p.mole * face
    image = _paint(image, np.array([0.28, 0.16, 0.11]), mole)
    dy, dx = np.sin(p.scar_angle) * p.scar_length / 2, np.cos(p.scar_angle) * p.scar_length / 2
    scar_d = _segment_distance(y, x, p.scar_y - dy, p.scar_x - dx, p.scar_y + dy, p.scar_x + dx, 0.55)
    image = _paint(image, p.skin * np.array([1.08, 0.9, 0.9]), 0.75 * _coverage(scar_d, s) * p.scar * face)

    # Camera: brightness, colour tint and sensor noise.
    image = image * v.brightness[..., None] * v.tint
    noise = np.stack(
        [np.random.default_rng((seed, i, j, 2)).standard_normal((IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
         for i, j in zip(identities, indices)]
    )
    image = image + noise * v.noise[..., None]
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
