"""Built-in procedural faces, renderer v2: faces that look like faces (issue 30).

The same contract as v1 (`synthetic_faces`): `render_faces(seed, identities, indices)` gives
uint8 (B, 112, 112, 3) faces aligned to the 112x112 template, a deterministic function of
(seed, identity, index); `known_landmarks` says where the five template points are drawn.
What changes is the look:

- geometry: a height field (a dome for the head, a nose ridge and tip, eye sockets, brow ridge,
  cheekbones, lips, chin, nasolabial folds) lit by a random light (direction, elevation,
  ambient, colour) with a specular term; small yaw and pitch move the features by their
  height (parallax), roll/scale/shift are the image's similarity as in v1;
- skin: a realistic spread of tones, warm shadows (subsurface-like), multi-scale texture
  (pores, blotches, freckles, moles), blush, age (forehead lines, crow's feet, folds), make-up;
- eyes with almond lids, sclera shading, a textured iris with limbal ring, pupil, highlight,
  lash line and crease; brows as strands; lips shaded with a highlight; teeth when open;
- hair as strand texture with a sheen in several styles; stubble, beards, moustaches;
- accessories that are *not* occlusions (they are part of the clean face): glasses (thin or
  thick frames, clear, tinted or sun lenses with a reflection), hats (caps, beanies, uniforms'
  peaked caps with badges and gold leaves on the crown, brimmed hats; revisions 3 and 4), earrings;
- backgrounds: blurred crops of scikit-image's CC0 / public-domain sample photos (the same
  ones the object occluders use; never a face) or procedural ones; shoulders in clothing (plain,
  striped, with a patch); plain studio backdrops, often light (revision 4), and props at one
  side behind the head: a pole, a flag's edge with a fringe, a door frame (revision 4);
- a camera: blur, noise, colour cast, contrast, JPEG, sometimes grayscale.

Positions are in OpenCV's pixel convention (pixel n's centre at n), the one `inference.alignment`
warps real photos in, so a rendered face sits on the template as an aligned photo does (v1 drew
pixel n's centre at n + 0.5). Mouths are 0.76-0.96 of the template's corner distance wide: the
face-api.js landmark net read template-wide drawn mouths as narrower than drawn (its corners
inside the lips' ends by ~5 % of the eye distance), narrower ones where they are drawn.

Per-identity textures (pores, freckles, hair strands) are drawn in the template frame from
`default_rng((seed, identity, 20))` and follow the face through the image's warp, so an
identity keeps its marks. Vectorised over a batch; per-image steps use OpenCV.
"""

import functools

import cv2
import numpy as np

from c2fdan_tf.data.synthetic_faces import _Batch, _coverage, _ellipse_distance, _paint, _segment_distance, _stack
from c2fdan_tf.face_template import FACE_ELLIPSE, IMAGE_SIZE, LANDMARKS

RENDERER_VERSION = 4  # bump when the look changes: caches are keyed by it
HAIR_STYLES = ("short", "long", "receding", "fringe", "curly", "buzz", "bob")
_CX = 56.0
_EYES = (LANDMARKS["left_eye"], LANDMARKS["right_eye"])
_TIP = LANDMARKS["nose"]
_MOUTH_X = (LANDMARKS["left_mouth"][0] + LANDMARKS["right_mouth"][0]) / 2.0
_MOUTH_Y = (LANDMARKS["left_mouth"][1] + LANDMARKS["right_mouth"][1]) / 2.0
_MOUTH_HALF = (LANDMARKS["right_mouth"][0] - LANDMARKS["left_mouth"][0]) / 2.0

# Skin tones from very light to very dark (linear-ish RGB in [0, 1]); an identity's tone is a
# point between two neighbours, with a red/yellow undertone.
_SKIN_TONES = np.array([[0.97, 0.82, 0.74], [0.92, 0.72, 0.60], [0.84, 0.62, 0.48], [0.74, 0.54, 0.38],
                        [0.60, 0.41, 0.27], [0.45, 0.29, 0.18], [0.30, 0.19, 0.12]])
_HAIR_COLOURS = np.array([[0.05, 0.04, 0.04], [0.14, 0.09, 0.06], [0.30, 0.19, 0.10], [0.45, 0.28, 0.14],
                          [0.55, 0.24, 0.10], [0.75, 0.58, 0.32], [0.88, 0.78, 0.55], [0.55, 0.54, 0.53],
                          [0.85, 0.85, 0.86]])
_IRIS_COLOURS = np.array([[0.28, 0.16, 0.07], [0.14, 0.08, 0.04], [0.25, 0.45, 0.72], [0.42, 0.60, 0.80],
                          [0.30, 0.48, 0.25], [0.48, 0.38, 0.17], [0.48, 0.52, 0.58]])
# Hats: a cap with a brim, a knit beanie, a uniform's peaked cap (a wide crown, a band, a visor), a
# hat with a brim all round; the rows their lower edge may be at (the brows are at ~40).
HAT_KINDS = ("cap", "beanie", "peaked", "brimmed")
# Props at one side of the image behind the head (revision 4): a pole (a lit cylinder),
# the edge of a flag (a folded field of the prop's colour with a gold fringe), a door frame.
SIDE_PROPS = ("pole", "flag", "frame")
_HAT_LINES = ((14.0, 33.0), (12.0, 30.0), (22.0, 34.0), (14.0, 30.0))
_BADGE_COLOURS = np.array([[0.90, 0.74, 0.30], [0.85, 0.85, 0.88], [0.80, 0.15, 0.12], [0.95, 0.95, 0.95],
                           [0.20, 0.35, 0.80]])
_PROP_COLOURS = np.array([[0.05, 0.05, 0.05], [0.35, 0.22, 0.12], [0.75, 0.72, 0.68], [0.70, 0.55, 0.25],
                          [0.15, 0.20, 0.45], [0.55, 0.10, 0.10], [0.85, 0.85, 0.85], [0.20, 0.35, 0.20]])


def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(d2, sigma):
    return np.exp(-0.5 * d2 / (sigma * sigma))


def identity_parameters(seed, identity):
    """The look of one identity v2: floats, RGB triples and the identity's texture seed."""
    rng = np.random.default_rng((seed, identity, 20))
    k = rng.uniform(0, len(_SKIN_TONES) - 1)
    low = int(k)
    tone = _SKIN_TONES[low] + (_SKIN_TONES[min(low + 1, len(_SKIN_TONES) - 1)] - _SKIN_TONES[low]) * (k - low)
    skin = tone * (1 + rng.normal(0, 0.03, 3)) + np.array([0.02, 0.0, -0.02]) * rng.normal()
    style = int(rng.integers(len(HAIR_STYLES)))
    age = rng.uniform(0, 1) ** 1.5
    grey = age > 0.7 and rng.uniform() < 0.6
    hair = _HAIR_COLOURS[7 if grey else rng.integers(7)] * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, 3)
    male = rng.uniform() < 0.5
    beard_kind = (rng.choice(4, p=[0.45, 0.25, 0.15, 0.15]) if male else 0)  # none, stubble, moustache, beard
    lip = skin + (np.array([0.62, 0.22, 0.25]) - skin) * rng.uniform(0.4, 0.75)
    if not male and rng.uniform() < 0.4:  # lipstick
        lip = np.array([0.62, 0.08, 0.15]) + rng.normal(0, 0.08, 3)
    return {
        "skin": np.clip(skin, 0.05, 1), "hair": np.clip(hair, 0, 1),
        "brow": np.clip(hair * rng.uniform(0.5, 0.9) if not grey else skin * 0.4, 0, 1),
        "iris": np.clip(_IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] + rng.normal(0, 0.04, 3), 0, 1),
        "lip": np.clip(lip, 0, 1),
        "face_cy": FACE_ELLIPSE[0] + rng.uniform(-2.0, 2.5), "face_rx": rng.uniform(34.0, 41.0),
        "face_ry": rng.uniform(46.0, 53.0), "jaw": rng.uniform(0.70, 0.95) - (0.0 if male else 0.05),
        "chin": rng.uniform(1.0, 4.0), "cheekbone": rng.uniform(1.0, 4.0), "brow_ridge": rng.uniform(1.0, 4.0),
        "socket": rng.uniform(2.5, 5.5), "nose_height": rng.uniform(7.0, 12.0), "nose_width": rng.uniform(7.0, 11.0),
        "nose_bridge": rng.uniform(1.6, 3.0), "hair_style": float(style),
        "hairline": rng.uniform(15.0, 25.0) if style != 2 else rng.uniform(4.0, 10.0),
        "hair_volume": rng.uniform(2.0, 7.0) + (5.0 if style == 4 else 0.0), "parting": rng.uniform(-1, 1),
        "brow_thickness": rng.uniform(1.6, 3.4) + (0.5 if male else 0.0), "brow_arch": rng.uniform(0.8, 4.0),
        "brow_height": rng.uniform(8.5, 12.0), "brow_length": rng.uniform(9.0, 12.5),
        "eye_width": rng.uniform(6.0, 7.6), "eye_height": rng.uniform(2.6, 3.8), "iris_r": rng.uniform(2.8, 3.5),
        "mouth_scale": rng.uniform(0.76, 0.96), "upper_lip": rng.uniform(2.2, 3.6), "lower_lip": rng.uniform(3.0, 5.0),
        "age": age, "pores": rng.uniform(0.008, 0.025), "blotches": rng.uniform(0.02, 0.06),
        "freckles": float(rng.uniform() < 0.2), "blush": rng.uniform(0.0, 0.12),
        "eye_shadow": float(not male and rng.uniform() < 0.35), "eye_shadow_colour": rng.uniform(0.1, 0.6, 3),
        "eyeliner": float(not male and rng.uniform() < 0.4), "beard_kind": float(beard_kind),
        "beard_density": rng.uniform(0.5, 0.95), "ear_size": rng.uniform(0.85, 1.15),
        "glasses_owner": float(rng.uniform() < 0.3), "glasses_kind": float(rng.integers(4)),
        "glasses_colour": _PROP_COLOURS[rng.integers(len(_PROP_COLOURS))],
        "glasses_thickness": rng.uniform(0.6, 2.6), "glasses_height": rng.uniform(9.0, 14.0),
        "earrings": float(not male and rng.uniform() < 0.4), "texture_seed": float(rng.integers(2**31)),
    }


def image_variation(seed, identity, index):
    """What changes from one image of an identity to the next (v2)."""
    rng = np.random.default_rng((seed, identity, index, 21))
    elevation = rng.uniform(0.35, 1.2)
    azimuth = rng.uniform(0, 2 * np.pi)
    variation = {
        "smile": rng.uniform(-0.3, 1.0), "mouth_open": 0.0 if rng.uniform() < 0.65 else rng.uniform(0.3, 1.0),
        "eye_open": 0.12 if rng.uniform() < 0.06 else rng.uniform(0.75, 1.05),
        "gaze_x": rng.uniform(-1.0, 1.0), "gaze_y": rng.uniform(-0.4, 0.4), "brow_raise": rng.uniform(-0.5, 2.0),
        "light": np.array([np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation),
                           np.sin(elevation)]),
        "ambient": rng.uniform(0.3, 0.6), "light_colour": 1.0 + rng.normal(0, 0.05, 3),
        "specular": rng.uniform(0.02, 0.2), "shininess": rng.uniform(12.0, 40.0),
        "yaw": rng.uniform(-4.0, 4.0), "pitch": rng.uniform(-2.0, 2.0),
        "rotation": np.deg2rad(rng.uniform(-4.0, 4.0)), "scale": rng.uniform(0.95, 1.05),
        "shift_y": rng.uniform(-2.0, 2.0), "shift_x": rng.uniform(-2.0, 2.0),
        "glasses": float(rng.uniform() < 0.85), "other_glasses": float(rng.uniform() < 0.06),
        "hat": float(rng.uniform() < 0.12), "hat_kind": float(rng.integers(2)),
        "hat_colour": _PROP_COLOURS[rng.integers(len(_PROP_COLOURS))] * rng.uniform(0.7, 1.2),
        "hat_line": rng.uniform(12.0, 24.0), "clothing": rng.uniform(0.05, 0.9, 3),
        "background_kind": float(rng.choice(3, p=[0.55, 0.3, 0.15])), "background_seed": float(rng.integers(2**31)),
        "blur": rng.uniform(0.0, 1.0) ** 2 * 1.3, "noise": rng.uniform(0.0, 0.02), "contrast": rng.uniform(0.85, 1.15),
        "brightness": rng.uniform(0.85, 1.12), "tint": 1.0 + rng.normal(0, 0.04, 3),
        "jpeg": float(rng.integers(30, 96)) if rng.uniform() < 0.5 else 0.0, "grayscale": float(rng.uniform() < 0.07),
    }
    # Revision 3 draws after the above, which keep their values but the hat's: more hats, four
    # kinds, worn as low as the brows; uniform caps with a badge; clothing up to the shoulders.
    kind = int(rng.choice(len(HAT_KINDS), p=[0.3, 0.2, 0.3, 0.2]))
    variation.update({
        "hat": float(variation["hat"] or rng.uniform() < 0.1), "hat_kind": float(kind),
        "hat_line": rng.uniform(*_HAT_LINES[kind]), "hat_flare": rng.uniform(2.0, 12.0),
        "hat_top": rng.uniform(-20.0, 6.0), "visor": rng.uniform(3.0, 7.0), "brim_width": rng.uniform(8.0, 30.0),
        "badge": float(kind in (0, 2) and rng.uniform() < 0.7),
        "badge_colour": _BADGE_COLOURS[rng.integers(len(_BADGE_COLOURS))] * rng.uniform(0.8, 1.15),
        "badge_size": rng.uniform(4.0, 18.0), "badge_pattern": rng.uniform(0.5, 1.6, 3),
        "shoulder_top": rng.uniform(86.0, 106.0), "shoulder_width": rng.uniform(60.0, 95.0),
        "clothing_kind": float(rng.choice(3, p=[0.6, 0.2, 0.2])), "stripe": rng.uniform(2.0, 6.0),
        "patch": rng.uniform(0.0, 1.0, (2, 3)), "patch_x": rng.choice([-1.0, 1.0]) * rng.uniform(30.0, 50.0),
        "visor_leaves": float(kind == 2 and rng.uniform() < 0.5),
    })
    # Revision 4 draws after revision 3's, which keep their values but the background kind's:
    # more plain studio backdrops, half of them light and neutral (passport and press photos);
    # a prop at one side behind the head (a pole, a flag's edge with a fringe, a door frame);
    # on uniforms' peaked caps, often gold leaves embroidered across the crown.
    variation.update({
        "background_kind": 2.0 if rng.uniform() < 0.15 else variation["background_kind"],
        "light_backdrop": float(rng.uniform() < 0.5), "backdrop_tone": rng.uniform(0.7, 0.97),
        "side_prop": float(rng.uniform() < 0.3), "side_prop_kind": float(rng.integers(len(SIDE_PROPS))),
        "side_prop_x": rng.uniform(0.0, 22.0), "side_prop_width": rng.uniform(2.0, 7.0),
        "side_prop_side": rng.choice([-1.0, 1.0]), "side_prop_colour": rng.uniform(0.05, 0.95, 3),
        "crown_leaves": float(kind == 2 and rng.uniform() < 0.6), "crown_leaves_width": rng.uniform(12.0, 30.0),
    })
    return variation


# ------------------------------------------------------------------ geometry


def _face_half_width(y, p):
    """The face outline's half width at canonical row y (the jaw tapers below the centre)."""
    taper = np.clip((y - p.face_cy) / p.face_ry, 0.0, 1.0)
    return p.face_rx * (1.0 - (1.0 - p.jaw) * _smoothstep(taper) * taper)


def _parallax_height(x, y, p):
    """Normalised height (0 at the face's rim, ~1 at the nose tip) that yaw and pitch move by."""
    u = (x - _CX) / _face_half_width(y, p)
    w = (y - p.face_cy) / p.face_ry
    dome = np.sqrt(np.clip(1.0 - u * u - w * w, 0.0, 1.0))
    tip = np.exp(-0.5 * ((x - _CX) ** 2 + (y - _TIP[1]) ** 2) / 36.0)
    return 0.6 * dome + 0.4 * tip


def _height(x, y, p, v):
    """The face's height field in canonical pixels (the depth the light shades)."""
    half = _face_half_width(y, p)
    u, w = (x - _CX) / half, (y - p.face_cy) / p.face_ry
    h = 0.55 * p.face_rx * np.sqrt(np.clip(1.0 - u * u - w * w, 0.0, 1.0))
    (lx, ly), (rx, ry) = _EYES
    eye_y = (ly + ry) / 2.0
    t = _smoothstep((y - (eye_y - 6.0)) / (_TIP[1] - eye_y + 6.0))
    sigma = p.nose_bridge + (p.nose_width * 0.32 - p.nose_bridge) * t
    h = h + p.nose_height * 0.75 * t * _gauss((x - _CX) ** 2, sigma) * (y < _TIP[1] + 3.0)
    h = h + p.nose_height * 0.45 * _gauss((x - _CX) ** 2 + (y - _TIP[1] + 0.5) ** 2, p.nose_width * 0.28)
    for side in (-1.0, 1.0):
        h = h + 2.0 * _gauss((x - _CX - side * p.nose_width * 0.42) ** 2 + (y - _TIP[1] - 1.0) ** 2, 2.2)
    for ex, ey in _EYES:
        h = h - p.socket * _gauss(((x - ex) / 1.45) ** 2 + ((y - ey + 1.0) / 1.0) ** 2, 6.0)
        h = h + p.cheekbone * _gauss((x - ex - (ex - _CX) * 0.25) ** 2 + (y - ey - 16.0 + 2.0 * v.smile) ** 2, 7.0)
    h = h + p.brow_ridge * _gauss((y - (eye_y - 10.0)) ** 2, 3.0) * _gauss((x - _CX) ** 2, 18.0)
    h = h + 2.5 * _gauss(((x - _MOUTH_X) / 2.2) ** 2 + (y - _MOUTH_Y) ** 2, 4.5)
    h = h + p.chin * _gauss(((x - _CX) / 1.4) ** 2 + (y - p.face_cy - p.face_ry * 0.82) ** 2, 6.0)
    fold = 0.3 + 1.0 * p.age + 0.6 * np.clip(v.smile, 0, 1)
    for side in (-1.0, 1.0):
        d = _segment_distance(y, x, _TIP[1] + 1.0, _CX + side * (p.nose_width * 0.55 + 1.0),
                              _MOUTH_Y + 3.0, _MOUTH_X + side * (_MOUTH_HALF * p.mouth_scale + 2.5), 0.0)
        h = h - fold * _gauss(d * d, 2.2)
    return h


def _lighting(h, v):
    """(diffuse shade, specular) of the height field under the image's light."""
    gy, gx = np.gradient(h, axis=(1, 2))
    gx, gy = np.clip(gx, -4.0, 4.0), np.clip(gy, -4.0, 4.0)
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    light = v.light  # (B, 1, 1, 3): x right, y down, z towards the camera
    ndotl = (-gx * light[..., 0] - gy * light[..., 1] + light[..., 2]) / norm
    diffuse = np.clip(ndotl, 0.0, 1.0)
    shade = (v.ambient + (1 - v.ambient) * diffuse) / (v.ambient + (1 - v.ambient) * light[..., 2])
    half = light + np.array([0.0, 0.0, 1.0], np.float32)
    half = half / np.linalg.norm(half, axis=-1, keepdims=True)
    ndoth = np.clip((-gx * half[..., 0] - gy * half[..., 1] + half[..., 2]) / norm, 0.0, 1.0)
    return np.clip(shade, 0.2, 1.35), v.specular * ndoth ** v.shininess


def _warped_grid(v, p):
    """Each pixel's canonical (template-frame) position: the inverse of the image's similarity,
    then the parallax of yaw and pitch (features move by their height)."""
    grid = np.arange(IMAGE_SIZE, dtype=np.float32)  # pixel n is at n: OpenCV's convention, as the alignment's
    py, px = grid[None, :, None], grid[None, None, :]
    c = (IMAGE_SIZE - 1) / 2.0
    ry_, rx_ = py - c - v.shift_y, px - c - v.shift_x
    cos, sin = np.cos(v.rotation), np.sin(v.rotation)
    y = (cos * ry_ + sin * rx_) / v.scale + c
    x = (-sin * ry_ + cos * rx_) / v.scale + c
    height = _parallax_height(x, y, p)
    return y - v.pitch * height, x - v.yaw * height


def known_landmarks(seed, identities, indices):
    """(B, 5, 2) float64 (x, y): where `render_faces` draws the five template points (eye
    centres, nose tip, the lip line's ends) after parallax, rotation, scale and shift."""
    p = _stack([identity_parameters(seed, int(i)) for i in identities])
    v = _stack([image_variation(seed, int(i), int(j)) for i, j in zip(identities, indices)])
    ones = np.ones((len(identities), 1))
    half = _MOUTH_HALF * p.mouth_scale[:, 0, 0, None]
    cx = np.concatenate([_EYES[0][0] * ones, _EYES[1][0] * ones, _TIP[0] * ones, _MOUTH_X - half, _MOUTH_X + half], 1)
    cy = np.concatenate([_EYES[0][1] * ones, _EYES[1][1] * ones, _TIP[1] * ones, _MOUTH_Y * ones, _MOUTH_Y * ones], 1)
    columns = _Batch({name: value[:, 0] for name, value in p.values.items()})  # (B, 1): broadcasts with (B, K)
    # The point drawn at canonical c is where x - yaw h(x) = c: a fixed point (h is smooth, |yaw h'| << 1).
    x, y = cx.copy(), cy.copy()
    for _ in range(20):
        height = _parallax_height(x, y, columns)
        x, y = cx + v.yaw[:, 0, 0, None] * height, cy + v.pitch[:, 0, 0, None] * height
    c = (IMAGE_SIZE - 1) / 2.0
    cos, sin, scale = np.cos(v.rotation[:, 0, 0, None]), np.sin(v.rotation[:, 0, 0, None]), v.scale[:, 0, 0, None]
    dy, dx = y - c, x - c
    return np.stack([c + v.shift_x[:, 0, 0, None] + scale * (sin * dy + cos * dx),
                     c + v.shift_y[:, 0, 0, None] + scale * (cos * dy - sin * dx)], axis=-1)


# ------------------------------------------------------------------ textures


def _normalised(field):
    field = field - field.mean()
    return (field / (field.std() + 1e-6)).astype(np.float32)


def _line_kernel(length, angle):
    """A normalised line of `length` px at `angle` (radians from the vertical): strand blur."""
    size = length | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    for t in np.linspace(-c, c, 4 * size):
        kernel[int(round(c + t * np.cos(angle))), int(round(c + t * np.sin(angle)))] = 1.0
    return kernel / kernel.sum()


@functools.lru_cache(maxsize=512)
def _identity_textures(texture_seed, curly):
    """(H, W, 6) float32 fields in the template frame: pores, blotches, freckles, hair strands,
    brow strands, stubble -- an identity's own, so its marks stay where they are."""
    rng = np.random.default_rng(int(texture_seed))
    size = (IMAGE_SIZE, IMAGE_SIZE)
    noise = rng.standard_normal((6,) + size).astype(np.float32)
    pores = _normalised(cv2.GaussianBlur(noise[0], (0, 0), 0.6))
    blotches = _normalised(cv2.GaussianBlur(noise[1], (0, 0), 5.0))
    freckles = cv2.GaussianBlur((rng.uniform(size=size) < 0.015).astype(np.float32), (0, 0), 0.6)
    freckles = freckles / (freckles.max() + 1e-6)
    if curly:
        hair = _normalised(cv2.GaussianBlur(noise[2], (0, 0), 1.1))
    else:
        hair = _normalised(cv2.filter2D(noise[2], -1, _line_kernel(13, rng.uniform(-0.25, 0.25))))
    brow = _normalised(cv2.filter2D(noise[3], -1, _line_kernel(5, np.pi / 2 + rng.uniform(-0.3, 0.3))))
    stubble = (cv2.GaussianBlur(noise[4], (0, 0), 0.5) > 0.35).astype(np.float32)
    return np.stack([pores, blotches, freckles, hair, brow, stubble], axis=-1)


@functools.lru_cache(maxsize=1)
def _background_photos():
    """scikit-image's CC0 / public-domain sample photos (no faces), at most 256 px a side."""
    from c2fdan_tf.data.occluders.assets import NATURAL_PHOTOS, natural_photo

    photos = []
    for name in NATURAL_PHOTOS:
        photo = natural_photo(name)
        factor = 256.0 / max(photo.shape[:2])
        if factor < 1:
            photo = cv2.resize(photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        photos.append(photo.astype(np.float32) / 255.0)
    return photos


def _background(v, n):
    """One image's background: a blurred photo crop, a room-like gradient, or a studio colour."""
    rng = np.random.default_rng(int(v.background_seed[n, 0, 0]))
    kind = int(v.background_kind[n, 0, 0])
    grid = (np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5) / IMAGE_SIZE - 0.5
    if kind == 0:
        photos = _background_photos()
        photo = photos[rng.integers(len(photos))]
        side = int(min(photo.shape[:2]) * rng.uniform(0.35, 1.0))
        top, left = rng.integers(0, photo.shape[0] - side + 1), rng.integers(0, photo.shape[1] - side + 1)
        crop = cv2.resize(photo[top:top + side, left:left + side], (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        crop = cv2.GaussianBlur(np.ascontiguousarray(crop), (0, 0), rng.uniform(0.8, 3.5))
        return np.clip(crop * rng.uniform(0.6, 1.2) * (1 + rng.normal(0, 0.08, 3)), 0, 1).astype(np.float32)
    a, b = rng.uniform(0.05, 0.95, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(np.cos(angle) * grid[:, None] + np.sin(angle) * grid[None, :] + 0.5, 0, 1)[..., None]
    if kind == 1:
        blobs = cv2.GaussianBlur(rng.standard_normal((IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32), (0, 0), 9.0)
        image = a + (b - a) * t + 0.6 * blobs[..., None] * rng.uniform(0.5, 1.5, 3)
    else:
        if v.light_backdrop[n, 0, 0] > 0:  # a light, nearly neutral studio backdrop
            a = v.backdrop_tone[n, 0, 0] * (1 + rng.normal(0, 0.03, 3))
            b = a * rng.uniform(0.8, 1.0)
        image = a + 0.15 * (b - a) * t
        image = image * (1 - 0.5 * (grid[:, None] ** 2 + grid[None, :] ** 2))[..., None]
    return np.clip(image, 0, 1).astype(np.float32)


def _side_prop(image, v, n):
    """Revision 4: a pole, a flag's edge or a door frame at one side of the background, in place."""
    if v.side_prop[n, 0, 0] <= 0:
        return
    kind, colour = SIDE_PROPS[int(v.side_prop_kind[n, 0, 0])], v.side_prop_colour[n, 0, 0]
    edge, width = v.side_prop_x[n, 0, 0], v.side_prop_width[n, 0, 0]
    column = np.arange(IMAGE_SIZE, dtype=np.float32)
    if v.side_prop_side[n, 0, 0] > 0:
        column = column[::-1]  # measured from the right edge
    row = np.arange(IMAGE_SIZE, dtype=np.float32)[:, None]
    if kind == "pole":  # a cylinder lit from the front: bright along its middle
        across = (column - edge) / (width / 2.0) - 1.0
        layers = [(colour * (0.55 + 0.6 * np.sqrt(np.clip(1 - across ** 2, 0, 1))[:, None])[None],
                   np.clip((1.0 - np.abs(across)) * width / 2.0 + 0.5, 0, 1)[None, :])]
    elif kind == "flag":  # the folded field up to `edge`, then a gold fringe `width` wide
        folds = 0.8 + 0.2 * np.sin(row * 0.35 + column * 0.15)
        threads = 0.75 + 0.25 * np.sin(row * 1.9 + 0.5 * column)
        layers = [(colour * folds[..., None], np.broadcast_to(column < edge, folds.shape)),
                  (np.array([0.85, 0.68, 0.3]) * threads[..., None],
                   np.broadcast_to((column >= edge) & (column < edge + width), folds.shape))]
    else:  # a door frame: two parallel mouldings 2 px wide, lit from one side
        layers = [(colour * (0.8 + 0.3 * (column - edge - offset - 1.0))[None, :, None],
                   np.broadcast_to((column >= edge + offset) & (column < edge + offset + 2.0), (IMAGE_SIZE, IMAGE_SIZE)))
                  for offset in (0.0, width + 3.0)]
    for colour_field, alpha in layers:
        alpha = np.asarray(alpha, np.float32)[..., None]
        image[:] = image * (1 - alpha) + colour_field * alpha


def _rounded_box_distance(y, x, cy, cx, half_h, half_w, radius):
    qy, qx = np.abs(y - cy) - (half_h - radius), np.abs(x - cx) - (half_w - radius)
    outside = np.sqrt(np.maximum(qy, 0) ** 2 + np.maximum(qx, 0) ** 2)
    return outside + np.minimum(np.maximum(qy, qx), 0) - radius


def _camera(image, v, n, seed, identity, index):
    """One image through a camera: blur, exposure, cast, contrast, noise, grayscale, JPEG."""
    sigma = float(v.blur[n, 0, 0])
    if sigma > 0.25:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image * v.brightness[n, 0, 0] * v.tint[n, 0, 0]
    mean = image.mean()
    image = mean + (image - mean) * v.contrast[n, 0, 0]
    rng = np.random.default_rng((seed, identity, index, 22))
    luminance_noise = rng.standard_normal(image.shape[:2] + (1,)).astype(np.float32)
    chroma_noise = rng.standard_normal(image.shape).astype(np.float32)
    image = image + v.noise[n, 0, 0] * (0.8 * luminance_noise + 0.4 * chroma_noise)
    if v.grayscale[n, 0, 0] > 0:
        image = np.repeat(image @ np.array([[0.299], [0.587], [0.114]], np.float32), 3, axis=-1)
    image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    quality = int(v.jpeg[n, 0, 0])
    if quality:
        ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    return image


# ------------------------------------------------------------------ rendering


def _sample(fields, y, x):
    """Template-frame fields (H, W, C) at canonical positions (H, W) (pixel n at n)."""
    return cv2.remap(fields, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def _eye(y, x, ex, ey, p, v):
    """Signed distance of an almond eye opening (negative inside), and its lid curves."""
    half = p.eye_width
    t = np.clip((x - ex) / half, -1.0, 1.0)
    opening = p.eye_height * v.eye_open
    upper = ey - opening * (1.0 - t * t) ** 0.7 * (1.0 + 0.12 * t * np.sign(ex - _CX))
    lower = ey + opening * 0.9 * (1.0 - t * t) ** 0.8 + 0.15
    return np.maximum(np.maximum(upper - y, y - lower), np.abs(x - ex) - half), upper, lower, t


# Rows of the image each group of features is drawn in (features move by <= 7 px: rotation,
# scale, shift, parallax), so their arithmetic runs on a band instead of the whole image.
FOREHEAD_ROWS, HAT_ROWS, EYE_ROWS = slice(0, 48), slice(0, 50), slice(24, 72)
CHEEK_ROWS, NOSTRIL_ROWS, MOUTH_ROWS = slice(28, 100), slice(62, 86), slice(72, 112)
SHOULDER_ROWS, NECK_ROWS, EAR_ROWS, BEARD_ROWS = slice(76, 112), slice(64, 112), slice(40, 92), slice(64, 112)


def _band(rows, y, x):
    return rows, y[:, rows], x[:, rows]


def _facial_hair(image, y, x, face, shade, hair_colour, strands, stubble, p, v, s):
    """Stubble, a moustache or a beard, in place into `image` (a band of rows)."""
    kind = p.beard_kind
    half_mouth = _MOUTH_HALF * p.mouth_scale
    mouth_hole = _ellipse_distance(y, x, _MOUTH_Y + 0.5, _MOUTH_X, p.lower_lip + 2.5, half_mouth + 1.5)
    jaw = face * _smoothstep((y - _TIP[1] - 4.0 - 0.35 * np.maximum(np.abs(x - _CX) - 12.0, 0)) / 3.0)
    beard_region = jaw * np.clip(mouth_hole / 1.5, 0, 1)
    t = np.clip((x - _MOUTH_X) / (half_mouth + 2.5), -1.0, 1.0)
    lip_top = _MOUTH_Y + 2.6 * v.smile * (1 - t * t) - p.upper_lip * np.sqrt(1 - t * t)
    moustache_d = np.maximum(np.abs(y - lip_top + 2.0) - 2.2 * (1.0 - 0.6 * t * t), np.abs(x - _MOUTH_X) - half_mouth - 2.5)
    moustache = face * _coverage(moustache_d, s * 0.8)
    facial = np.where(kind == 1, 0.45 * beard_region * stubble,
                      np.where(kind == 2, moustache * np.clip(0.75 + 0.25 * strands, 0, 1),
                               np.where(kind == 3, np.maximum(beard_region, moustache) * np.clip(0.8 + 0.2 * strands, 0, 1),
                                        0.0)))
    _paint(image, hair_colour * 0.75 * shade[..., None], facial * p.beard_density)


def _eye_region(image, y, x, shade, brow_strands, p, v, s):
    """Eye shadow, brows and eyes, painted in place into `image` (a band of rows) with that band's
    canonical positions `y`, `x` and light `shade`."""
    # Make-up: eye shadow, before the eyes.
    for ex, ey in _EYES:
        lid = _gauss((x - ex) ** 2 / 3.0 + (y - ey + 4.0) ** 2, 2.0)
        _paint(image, p.eye_shadow_colour * shade[..., None], 0.5 * lid * p.eye_shadow)

    # Brows: strands along an arch, raised by the expression.
    for (ex, ey), side in zip(_EYES, (-1.0, 1.0)):
        base_y = ey - p.brow_height - v.brow_raise
        points = [(base_y - p.brow_arch * (1.0 - f * f) + side * f * 0.1 * p.brow_length, ex + f * p.brow_length)
                  for f in (-1.0, -0.35, 0.35, 1.0)]
        d = np.full(y.shape, 1e3, np.float32)
        for k in range(3):
            inner = 1.0 - 0.3 * (k if side < 0 else 2 - k) / 2.0
            d = np.minimum(d, _segment_distance(y, x, *points[k], *points[k + 1], p.brow_thickness * 0.5 * inner))
        alpha = _coverage(d, s * 0.7) * np.clip(0.8 + 0.2 * brow_strands, 0, 1)
        _paint(image, p.brow * shade[..., None], alpha)

    # Eyes: sclera shaded to its corners, a textured iris, pupil, highlight, lash line and crease.
    for ex, ey in _EYES:
        eye_d, upper, lower, t = _eye(y, x, ex, ey, p, v)
        inside = _coverage(eye_d, s)
        sclera = np.array([0.95, 0.92, 0.89], np.float32) * (1 - 0.3 * t * t)[..., None] * np.sqrt(shade)[..., None]
        _paint(image, sclera, inside)
        iy, ix = ey + v.gaze_y, ex + v.gaze_x
        radius = np.sqrt((y - iy) ** 2 + (x - ix) ** 2)
        angle = np.arctan2(y - iy, x - ix)
        fibres = sum(np.sin(k * angle + 1.7 * k) for k in (7, 11, 17, 23)) / 4.0
        iris_colour = p.iris * (0.8 + 0.25 * fibres - 0.35 * np.clip(radius / p.iris_r, 0, 1) ** 4)[..., None]
        iris_d = np.maximum(radius - p.iris_r, eye_d)
        _paint(image, iris_colour * shade[..., None], _coverage(iris_d, s))
        _paint(image, np.array([0.02, 0.02, 0.02]), _coverage(np.maximum(radius - p.iris_r * 0.42, eye_d), s))
        light = v.light
        hy, hx = iy - 1.0 - 0.6 * light[..., 1], ix + 0.9 * light[..., 0]
        _paint(image, np.array([1.0, 1.0, 1.0]),
                       0.9 * _coverage(np.maximum(np.hypot(y - hy, x - hx) - 0.65, eye_d), s))
        lid_shadow = inside * _smoothstep((upper + 1.6 - y) / 1.6)
        _paint(image, np.zeros(3), 0.35 * lid_shadow)
        lash = np.maximum(np.abs(y - upper - 0.2) - (0.5 + 0.4 * p.eyeliner), np.abs(x - ex) - p.eye_width - 0.8)
        _paint(image, np.array([0.05, 0.04, 0.04]), 0.95 * _coverage(lash, s))
        crease = np.maximum(np.abs(y - upper + 3.2 + 0.3 * v.brow_raise) - 0.4, np.abs(x - ex) - p.eye_width * 0.8)
        _paint(image, p.skin * 0.55, 0.3 * _coverage(crease, s * 0.7))
        lower_line = np.maximum(np.abs(y - lower - 0.5) - 0.35, np.abs(x - ex) - p.eye_width * 0.9)
        _paint(image, p.skin * 0.45, 0.55 * _coverage(lower_line, s))


def _mouth(image, y, x, shade, p, v, s):
    """The mouth, in place into `image` (a band of rows)."""
    # Mouth: lips through the template's corners; a smile curves them, an open mouth shows teeth.
    half = _MOUTH_HALF * p.mouth_scale
    t = np.clip((x - _MOUTH_X) / half, -1.0, 1.0)
    bulge = 1.0 - t * t
    line = _MOUTH_Y + 2.6 * v.smile * bulge  # the corners stay at the template's points
    gap_top = line - 2.2 * v.mouth_open * bulge
    gap_bottom = line + 4.2 * v.mouth_open * bulge
    beyond = np.abs(x - _MOUTH_X) - half
    thickness = bulge ** 0.35  # lips stay visible to the corners (where the template's points are)
    upper_lip = np.maximum(np.maximum(gap_top - p.upper_lip * thickness - y, y - gap_top), beyond)
    lower_lip = np.maximum(np.maximum(gap_bottom - y, y - gap_bottom - p.lower_lip * thickness), beyond)
    gap = np.maximum(np.maximum(gap_top - y, y - gap_bottom), beyond)
    opened = v.mouth_open > 0
    _paint(image, np.array([0.18, 0.04, 0.05]), _coverage(gap, s) * opened)
    teeth = np.maximum(gap, y - (gap_top + 2.0 * v.mouth_open))
    tooth_gaps = 0.85 + 0.15 * np.abs(np.sin(np.pi * (x - _MOUTH_X) / 2.6))
    _paint(image, np.array([0.90, 0.87, 0.80]) * (tooth_gaps * shade)[..., None], _coverage(teeth, s) * opened)
    _paint(image, p.lip * 0.85 * shade[..., None], _coverage(upper_lip, s))
    gloss = 1.0 + 0.25 * _gauss((x - _MOUTH_X) ** 2 / 6.0 + (y - gap_bottom - p.lower_lip * 0.45) ** 2, 0.9)
    _paint(image, p.lip * (gloss * shade)[..., None], _coverage(lower_lip, s))
    lip_line = np.maximum(np.abs(y - line) - 0.5, beyond)
    _paint(image, p.lip * 0.3, 0.95 * _coverage(lip_line, s) * (~opened))
    for corner in (-1.0, 1.0):  # the commissures: small shadows at the mouth's ends
        shadow = _gauss((x - _MOUTH_X - corner * half) ** 2 + (y - line) ** 2 * 2.0, 1.1)
        _paint(image, p.lip * 0.25, 0.8 * shadow)


def _glasses(image, y, x, shade, p, v, s):
    """Glasses, in place into `image` (a band of rows)."""
    # Glasses: part of the face, not an occlusion -- frames, bridge, temples, lens tint, a reflection.
    worn = ((p.glasses_owner * v.glasses) + v.other_glasses) > 0
    frames = np.full(y.shape, 1e3, np.float32)
    lens = np.zeros(y.shape, np.float32)
    for ex, ey in _EYES:
        box = _rounded_box_distance(y, x, ey + 0.5, ex, p.glasses_height / 2.0, p.eye_width + 5.0, 3.5)
        frames = np.minimum(frames, np.abs(box) - p.glasses_thickness / 2.0)
        lens = np.maximum(lens, _coverage(box, s))
    bridge_y = (_EYES[0][1] + _EYES[1][1]) / 2.0 - 1.0
    inner = _EYES[0][0] + p.eye_width + 5.0, _EYES[1][0] - p.eye_width - 5.0
    frames = np.minimum(frames, _segment_distance(y, x, bridge_y, inner[0], bridge_y, inner[1], p.glasses_thickness / 2.0))
    for side, ex in ((-1.0, _EYES[0][0] - p.eye_width - 5.0), (1.0, _EYES[1][0] + p.eye_width + 5.0)):
        frames = np.minimum(frames, _segment_distance(y, x, bridge_y - 1.0, ex, bridge_y - 2.0, _CX + side * (p.face_rx + 1.0),
                                                      p.glasses_thickness / 2.4))
    tint = np.where(p.glasses_kind == 3, 0.8, np.where(p.glasses_kind == 2, 0.3, 0.06))
    _paint(image, p.glasses_colour * 0.4, lens * tint * worn)
    glare = np.abs((x - _CX) * 0.6 + (y - bridge_y) * 0.8 - 6.0 * v.light[..., :1][..., 0]) < 1.6
    _paint(image, np.ones(3), 0.22 * lens * glare * worn)
    _paint(image, p.glasses_colour * (0.8 + 0.3 * shade)[..., None], _coverage(frames, s) * worn)


def render_faces(seed, identities, indices, changes=None):
    """uint8 faces `(B, 112, 112, 3)` for parallel lists of identity and image numbers.
    changes: optional per-image dicts overriding `image_variation` entries (e.g. {"eye_open":
    0.12} for a blink of the same image in a video)."""
    identities = [int(i) for i in identities]
    indices = [int(i) for i in indices]
    params = [identity_parameters(seed, i) for i in identities]
    p = _stack(params)
    changes = changes or [{}] * len(identities)
    v = _stack([{**image_variation(seed, i, j), **c} for i, j, c in zip(identities, indices, changes)])
    batch = len(identities)
    y, x = _warped_grid(v, p)
    s = v.scale
    style = p.hair_style
    textures = np.stack([_sample(_identity_textures(int(q["texture_seed"]), int(q["hair_style"]) == 4), y[n], x[n])
                         for n, q in enumerate(params)])
    pores, blotches, freckles, strands, brow_strands, stubble = (textures[..., k] for k in range(6))
    image = np.stack([_background(v, n) for n in range(batch)])
    for n in range(batch):
        _side_prop(image[n], v, n)

    # Shoulders in clothing (plain, striped, or with a round patch on one side), the neck
    # (shadowed under the jaw), the ears (and earrings).
    b, yb, xb = _band(SHOULDER_ROWS, y, x)
    shoulders = _coverage(_ellipse_distance(yb, xb, v.shoulder_top + 48.0, _CX, 48.0, v.shoulder_width), s)
    stripes = np.where(v.clothing_kind == 1, 0.8 + 0.2 * np.sign(np.sin(np.pi * (xb + 0.4 * yb) / v.stripe)), 1.0)
    cloth = v.clothing * (stripes * (0.85 + 0.15 * np.clip(1 - np.abs(xb - _CX) / 70.0, 0, 1)))[..., None]
    _paint(image[:, b], cloth * (1 + 0.05 * pores[:, b, :, None]), shoulders)
    if (v.clothing_kind == 2).any():
        patch_d = _ellipse_distance(yb, xb, v.shoulder_top + 15.0, _CX + v.patch_x, 5.5, 5.5)
        worn = shoulders * (v.clothing_kind == 2)
        _paint(image[:, b], v.patch[..., 0, :], _coverage(patch_d, s) * worn)
        _paint(image[:, b], v.patch[..., 1, :], _coverage(patch_d + 2.0, s) * worn)
    lit = v.light_colour * (1.0 + 0.25 * v.light[..., :1] * np.clip((x - _CX) / 60.0, -1, 1)[..., None])
    b, yb, xb = _band(NECK_ROWS, y, x)
    neck_d = np.maximum(np.abs(xb - _CX) - p.face_rx * 0.55, p.face_cy + p.face_ry * 0.45 - yb)
    jaw_shadow = 0.55 + 0.3 * _smoothstep((yb - p.face_cy - p.face_ry) / 14.0)
    _paint(image[:, b], p.skin * (jaw_shadow[..., None] * lit[:, b]), _coverage(neck_d, s))
    long_hair = (style == 1) | (style == 6)
    hair_colour = p.hair * (0.75 + 0.25 * np.clip(strands, -2, 2)[..., None])
    if long_hair.any():
        back = _ellipse_distance(y, x, p.face_cy + 8.0 + 10.0 * (style == 1), _CX,
                                 p.face_ry + 10.0 + 12.0 * (style == 1), p.face_rx + 8.0 + p.hair_volume)
        image = _paint(image, hair_colour * 0.7, _coverage(back, s) * long_hair)
    b, yb, xb = _band(EAR_ROWS, y, x)
    for side in (-1.0, 1.0):
        ear_x, ear_ry = _CX + side * (p.face_rx - 0.5), 9.0 * p.ear_size
        ear = _ellipse_distance(yb, xb, 64.0, ear_x, ear_ry, 5.0 * p.ear_size)
        _paint(image[:, b], p.skin * 0.85 * lit[:, b], _coverage(ear, s))
        inner = _ellipse_distance(yb, xb, 63.0, ear_x + side * 0.8, ear_ry * 0.6, 2.4 * p.ear_size)
        _paint(image[:, b], p.skin * 0.6 * lit[:, b], 0.7 * _coverage(inner, s * 0.6))
        if p.earrings.any():
            ring = _ellipse_distance(yb, xb, 64.0 + ear_ry + 1.2, ear_x, 1.4, 1.4)
            gold = np.array([0.85, 0.72, 0.35]) * (1.0 + 0.3 * (yb < 64.0 + ear_ry + 0.8))[..., None]
            _paint(image[:, b], gold, _coverage(ring, s) * p.earrings)

    # The face: skin lit by the image's light, warm in the shadows, with its own texture.
    face_d = _ellipse_distance(y, x, p.face_cy, _CX, p.face_ry, _face_half_width(y, p))
    face = _coverage(face_d, s)
    shade, specular = _lighting(_height(x, y, p, v), v)
    warm = np.stack([shade ** 0.8, shade ** 1.0, shade ** 1.15], axis=-1)
    skin = p.skin * warm * v.light_colour
    skin = skin * (1 + p.pores[..., None] * pores[..., None])
    skin = skin + p.blotches[..., None] * blotches[..., None] * np.array([0.06, -0.01, -0.02], np.float32)
    # Detail where it is (row bands of the image: the features move by a few pixels at most).
    (lx, ly), (rx, ry) = _EYES
    b, yb, xb = _band(CHEEK_ROWS, y, x)
    cheeks = sum(_gauss((xb - cx_) ** 2 + (yb - ly - 17.0) ** 2, 7.0) for cx_ in (lx - 2.0, rx + 2.0))
    skin[:, b] += (p.blush * cheeks)[..., None] * np.array([0.25, -0.05, -0.05], np.float32)
    upper_face = _smoothstep((ly + 25.0 - yb) / 10.0) * _smoothstep((yb - ly + 12.0) / 6.0)
    skin[:, b] *= 1 - 0.35 * (p.freckles * freckles[:, b] * upper_face)[..., None]
    b, yb, xb = _band(EYE_ROWS, y, x)
    under_eyes = sum(_gauss((xb - ex) ** 2 / 2.0 + (yb - ey - 5.0) ** 2, 2.5) for ex, ey in _EYES)
    crow = sum(np.clip(np.sin(1.6 * (yb - ey) + 0.4 * (xb - ex)) - 0.5, 0, 1) *
               _gauss((xb - ex - np.sign(ex - _CX) * 10.0) ** 2 + (yb - ey) ** 2, 3.0) for ex, ey in _EYES)
    skin[:, b] *= (1 - (0.05 + 0.08 * p.age) * under_eyes - 0.25 * p.age * crow)[..., None]
    b, yb, xb = _band(FOREHEAD_ROWS, y, x)
    forehead = _smoothstep((ly - 14.0 - yb) / 3.0) * _smoothstep((yb - p.hairline - 3.0) / 3.0)
    lines = np.clip(np.sin(1.1 * (yb + 0.8 * strands[:, b])) - 0.6, 0, 1) * forehead
    skin[:, b] *= (1 - 0.25 * p.age * lines)[..., None]
    skin = skin + specular[..., None] * v.light_colour
    image = _paint(image, skin, face)

    # Facial hair: stubble, a moustache or a beard, in strands of the hair colour.
    if (p.beard_kind > 0).any():
        b, yb, xb = _band(BEARD_ROWS, y, x)
        _facial_hair(image[:, b], yb, xb, face[:, b], shade[:, b], hair_colour[:, b], strands[:, b], stubble[:, b],
                     p, v, s)

    b = EYE_ROWS
    _eye_region(image[:, b], y[:, b], x[:, b], shade[:, b], brow_strands[:, b], p, v, s)

    # Nostrils, in the nose's shadow (its ridge and tip are in the height field).
    b, yb, xb = _band(NOSTRIL_ROWS, y, x)
    for direction in (-1.0, 1.0):
        nostril = _ellipse_distance(yb, xb, _TIP[1] + 3.0, _TIP[0] + direction * p.nose_width * 0.27, 1.2, 1.9)
        _paint(image[:, b], p.skin * 0.25, 0.85 * _coverage(nostril, s * 0.8))

    b = MOUTH_ROWS
    _mouth(image[:, b], y[:, b], x[:, b], shade[:, b], p, v, s)

    # Hair on top, in strands with a sheen; styles as v1 and a buzz cut and a bob.
    u = (x - _CX) / p.face_rx
    hairline = np.where(style == 3, p.hairline + 9.0 + 1.2 * np.sin(2.3 * x),
                        p.hairline + 13.0 * u * u + 3.0 * p.parting * u)
    outline_d = _ellipse_distance(y, x, p.face_cy - 6.0, _CX, p.face_ry + p.hair_volume, p.face_rx + p.hair_volume * 0.7)
    bumps = np.where(style == 4, 1.6 * np.sin(0.8 * x) * np.sin(0.8 * y), 0.0)
    hair_d = np.maximum(outline_d + bumps, np.minimum(y - hairline, -face_d + 0.5))
    hair_d = np.where(style == 2, np.maximum(hair_d, 0.8 * (p.face_rx * 0.55 - np.abs(x - _CX))), hair_d)
    side_hair = np.where(style == 6, np.maximum(np.abs(x - _CX) - p.face_rx - 4.0, -(np.abs(x - _CX) - p.face_rx + 7.0)),
                         1e3)
    hair_d = np.minimum(hair_d, np.maximum(np.maximum(side_hair, y - p.face_cy - p.face_ry * 0.6), p.face_cy - 30.0 - y))
    wisps = np.clip(0.8 + 0.25 * strands, 0, 1)
    hair_alpha = _coverage(hair_d + 0.35 * strands, s * 0.8) * wisps
    hair_alpha = np.where(style == 5, 0.6 * _coverage(np.maximum(outline_d, np.minimum(y - hairline, -face_d)), s)
                          * np.clip(0.5 + 0.4 * strands, 0, 1), hair_alpha)
    sheen = 1.0 + 0.35 * _gauss((y - p.face_cy + p.face_ry * 0.72) ** 2, 4.0) * np.clip(strands, 0, 2)
    image = _paint(image, hair_colour * (sheen * (0.8 + 0.2 * shade))[..., None], hair_alpha)

    # A hat above the brows: a cap (a brim, often a badge), a knit beanie, a uniform's peaked cap
    # (a crown wider than the head up to the top of the image, a dark band, a glossy visor, a
    # badge) or a hat with a brim all round; brims and visors shade the forehead.
    if v.hat.any():
        b, yb, xb = _band(HAT_ROWS, y, x)
        kind, line, across = v.hat_kind, v.hat_line, np.abs(xb - _CX)
        crown_width = p.face_rx + 1.0 + v.hat_flare * np.clip((line - yb) / 18.0, 0.0, 1.0)
        peaked_d = np.maximum(np.maximum(across - crown_width, yb - line), v.hat_top - yb)
        hat_d = np.where(kind == 2, peaked_d, np.maximum(outline_d[:, b] - 2.0, yb - line))
        knit = np.where(kind == 1, 0.85 + 0.15 * np.sin(1.6 * xb) * np.sin(0.9 * yb), 1.0 + 0.05 * pores[:, b])
        _paint(image[:, b], v.hat_colour * (knit * (0.8 + 0.2 * shade[:, b]))[..., None], _coverage(hat_d, s) * v.hat)
        band = np.maximum(np.abs(yb - line + 3.5) - 2.5, across - crown_width)
        _paint(image[:, b], v.hat_colour * 0.35, _coverage(band, s) * v.hat * (kind == 2))
        visor = np.maximum(_ellipse_distance(yb, xb, line, _CX, v.visor, p.face_rx * 0.8), line - yb)
        gloss = 0.07 + 0.3 * _gauss((yb - line - 0.35 * v.visor) ** 2, 0.8) * _gauss(across ** 2, 14.0)
        _paint(image[:, b], np.repeat(gloss[..., None], 3, axis=-1), _coverage(visor, s) * v.hat * (kind == 2))
        brim = np.where(kind == 3, np.maximum(np.abs(yb - line - 1.0 - 0.002 * across ** 2) - 2.0,
                                              across - p.face_rx - v.brim_width),
                        np.maximum(np.abs(yb - line - 1.5) - 2.0, across - p.face_rx - 4.0))
        _paint(image[:, b], v.hat_colour * 0.6, _coverage(brim, s) * v.hat * ((kind == 0) | (kind == 3)))
        brim_shadow = face[:, b] * _smoothstep((line + 12.0 - yb) / 8.0) * (yb > line) * v.hat * (kind != 1)
        _paint(image[:, b], np.zeros(3), 0.35 * brim_shadow)
        if v.badge.any() or v.visor_leaves.any():
            # A badge above the band, and on some peaked caps embroidered leaves along the visor: a
            # symmetric motif in the badge's colour, lit from above.
            badge_y = line - 6.0 - 0.55 * v.badge_size
            motif = (np.sin(v.badge_pattern[..., 0] * across * 1.3) * np.cos(v.badge_pattern[..., 1] * (yb - badge_y))
                     + 0.6 * np.sin(v.badge_pattern[..., 2] * (across + yb)))
            badge = _coverage(_ellipse_distance(yb, xb, badge_y, _CX, 0.6 * v.badge_size, v.badge_size), s) * v.badge
            leaves = _coverage(np.maximum(visor + 0.8, yb - line - 0.6 * v.visor), s) * v.visor_leaves
            lit_badge = v.badge_colour * (0.75 + 0.35 * np.clip(badge_y - yb, -3, 3) / 3.0)[..., None]
            _paint(image[:, b], lit_badge, np.maximum(badge, leaves) * np.clip(2.5 * (motif + 0.1), 0, 1) * v.hat)
        if v.crown_leaves.any():
            # Revision 4: gold leaves embroidered across a peaked cap's crown, above its band.
            leaf_y = line - 12.0  # above the band (rows line - 6 to line - 1)
            sprigs = np.sin(0.9 * across + 0.7 * (yb - leaf_y)) * np.sin(1.3 * (yb - leaf_y) - 0.5 * across)
            region = np.maximum(_ellipse_distance(yb, xb, leaf_y, _CX, 5.5, v.crown_leaves_width), peaked_d + 1.0)
            gold = np.array([0.88, 0.72, 0.32]) * (0.7 + 0.4 * np.clip(leaf_y - yb + 3.0, 0, 6) / 6.0)[..., None]
            _paint(image[:, b], gold, _coverage(region, s) * np.clip(3.0 * (sprigs - 0.15), 0, 1)
                   * v.hat * v.crown_leaves * (kind == 2))

    b = EYE_ROWS
    _glasses(image[:, b], y[:, b], x[:, b], shade[:, b], p, v, s)

    return np.stack([_camera(image[n], v, n, seed, i, j) for n, (i, j) in enumerate(zip(identities, indices))])
