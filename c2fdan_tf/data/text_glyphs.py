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


def render_word(word, height=REFERENCE_HEIGHT):
    """Binary ink mask (0/255) of `word`, cropped to its ink box, `height` rows."""
    font = ImageFont.load_default(size=_FONT_SIZE)
    left, top, right, bottom = font.getbbox(word)
    canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), word, fill=255, font=font)
    ink = canvas.point(lambda v: 255 if v >= 128 else 0)
    box = ink.getbbox()
    if box is None:
        raise ValueError(f"Word {word!r} renders no ink with the built-in font.")
    ink = ink.crop(box)
    width = max(1, round(ink.width * height / ink.height))
    coverage = np.asarray(ink.resize((width, height), Image.Resampling.BOX), np.uint8)
    return np.where(coverage >= 128, 255, 0).astype(np.uint8)


def _max_pool(mask, factor):
    """Max-pools a 0/255 mask by `factor` (width padded up to a multiple)."""
    h, w = mask.shape
    padded = np.zeros((h, -(-w // factor) * factor), np.uint8)
    padded[:, :w] = mask
    return padded.reshape(h // factor, factor, -1, factor).max(axis=(1, 3))


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
        level0 = render_word(word)
        for level in range(NUM_LEVELS):
            glyph = _max_pool(level0, 2**level)
            offsets[level, w], widths[level, w] = position, glyph.shape[1]
            pieces.append(glyph.ravel())
            position += glyph.size
    return GlyphBank(words, np.concatenate(pieces), offsets, widths, heights)
