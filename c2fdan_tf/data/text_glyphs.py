"""Words rendered once into a bank of glyph masks that graph ops scale and place.

Each word is drawn with Pillow's built-in scalable font (no system fonts
needed), binarised, cropped to its ink box and stored at heights 64, 32, 16 and
8 pixels (a mip pyramid), all levels of all words in one flat uint8 buffer of
0/255. Smaller levels are max-pooled from the largest, so every level keeps the
word's full ink extent and its thin strokes; sampling the level just above the
target height gives text of exactly the requested height without per-sample
Python.
"""

import dataclasses
import functools
import importlib.resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REFERENCE_HEIGHT = 64
NUM_LEVELS = 4
_FONT_SIZE = 96


def default_word_list_path():
    return importlib.resources.files("c2fdan_tf.data") / "words_bip39_english.txt"


def load_words(path=None):
    """Words from a text file, one per line (default: the BIP-39 English list)."""
    path = Path(path) if path is not None else default_word_list_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"Cannot read word list {path}: {error}") from None
    words = [line.strip() for line in text.splitlines() if line.strip()]
    if not words:
        raise ValueError(f"Word list {path} has no words.")
    return words


_THRESHOLD = [0] * 128 + [255] * 128  # a lookup table: ink where the coverage is >= 128


@functools.lru_cache(maxsize=1)
def _font():
    return ImageFont.load_default(size=_FONT_SIZE)  # loaded once, not once per word


def render_word(word, height=REFERENCE_HEIGHT):
    """Binary ink mask (0/255) of `word`, cropped to its ink box, `height` rows."""
    font = _font()
    left, top, right, bottom = font.getbbox(word)
    canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), word, fill=255, font=font)
    ink = canvas.point(_THRESHOLD)
    box = ink.getbbox()
    if box is None:
        raise ValueError(f"Word {word!r} renders no ink with the built-in font.")
    ink = ink.crop(box)
    width = max(1, round(ink.width * height / ink.height))
    coverage = np.asarray(ink.resize((width, height), Image.Resampling.BOX), np.uint8)
    return np.where(coverage >= 128, 255, 0).astype(np.uint8)


def _max_pool2(mask):
    """Max-pools a 0/255 mask by 2 (width padded up to even). Applied l times, it equals one
    pool by 2^l with the width padded up to a multiple of 2^l (a padded column is 0, never a max)."""
    if mask.shape[1] % 2:
        mask = np.pad(mask, ((0, 0), (0, 1)))
    return np.maximum(np.maximum(mask[0::2, 0::2], mask[0::2, 1::2]), np.maximum(mask[1::2, 0::2], mask[1::2, 1::2]))


@dataclasses.dataclass(frozen=True)
class GlyphBank:
    """All words at all levels in one buffer.

    glyph (level l, word w) is `flat[offsets[l, w] : offsets[l, w] + heights[l] * widths[l, w]]`,
    row-major with its own width.
    """

    words: tuple
    flat: np.ndarray  # uint8, 0 or 255
    offsets: np.ndarray  # (levels, words) int64
    widths: np.ndarray  # (levels, words) int32
    heights: np.ndarray  # (levels,) int32

    @property
    def aspect(self):
        """Width / height of every word's ink box at the reference level."""
        return self.widths[0] / float(self.heights[0])


@functools.lru_cache(maxsize=4)
def build_glyph_bank(words):
    words = tuple(words)
    heights = np.array([REFERENCE_HEIGHT >> level for level in range(NUM_LEVELS)], np.int32)
    pieces, offsets, widths = [], np.zeros((NUM_LEVELS, len(words)), np.int64), np.zeros(
        (NUM_LEVELS, len(words)), np.int32
    )
    position = 0
    for w, word in enumerate(words):
        glyph = render_word(word)
        for level in range(NUM_LEVELS):
            glyph = glyph if level == 0 else _max_pool2(glyph)
            offsets[level, w], widths[level, w] = position, glyph.shape[1]
            pieces.append(glyph.ravel())
            position += glyph.size
    return GlyphBank(words, np.concatenate(pieces), offsets, widths, heights)
