"""The files the wild occluders are drawn from, all from packages the project declares.

- Fonts: the DejaVu and STIX families in matplotlib's wheel (`mpl-data/fonts/ttf`;
  DejaVu: Bitstream Vera licence, STIX: SIL OFL 1.1).
- Colour emoji: Noto Color Emoji (SIL OFL 1.1) from Debian's fonts-noto-color-emoji,
  installed by `make setup`; `C2FDAN_EMOJI_FONT` names another copy.
- Natural photos for textured objects and fills: scikit-image's bundled sample images
  (coffee: CC0, Rachel Michetti; chelsea: CC0, Stefan van der Walt; rocket: public
  domain, SpaceX; hubble_deep_field: public domain, NASA; brick, grass, gravel: CC0,
  CC0Textures). Never the astronaut: it is a face, used to measure on real photos.
Nothing is downloaded; a missing file is an `OccluderAssetError` naming it and its package.
"""

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
TEXT_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
              "DejaVuSansMono-Bold.ttf", "STIXGeneralBol.ttf")
NATURAL_PHOTOS = ("coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg", "brick.png", "grass.png",
                  "gravel.png")


class OccluderAssetError(ValueError):
    """A file an occluder family is drawn from is missing or unreadable (one line)."""


def font_file(name):
    """A font of matplotlib's wheel by file name."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.is_file():
        raise OccluderAssetError(f"The font {path} is missing (it ships in matplotlib's wheel; reinstall "
                                 "matplotlib with `make setup`).")
    return path


def text_font(name, size):
    return ImageFont.truetype(str(font_file(name)), size)


def emoji_font():
    """Noto Color Emoji at the only size its bitmaps have (109 px)."""
    path = Path(os.environ.get("C2FDAN_EMOJI_FONT", EMOJI_FONT))
    if not path.is_file():
        raise OccluderAssetError(f"The emoji occluders need the colour emoji font {path} (Debian's "
                                 "fonts-noto-color-emoji: `make setup` installs it; or set C2FDAN_EMOJI_FONT).")
    try:
        return ImageFont.truetype(str(path), 109)
    except OSError as error:
        raise OccluderAssetError(f"Cannot read the emoji font {path}: {error}.") from None


def natural_photo(name):
    """One of scikit-image's bundled sample photos as uint8 RGB."""
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as error:
        raise OccluderAssetError(f"Cannot read the sample photo {path} (scikit-image's wheel; `make setup`): "
                                 f"{error}.") from None
