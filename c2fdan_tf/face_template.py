"""The 112x112 aligned-face template shared by data, models and evaluation.

Knows nothing of models or data; only geometry (see shared/design/architecture.md).
"""

IMAGE_SIZE = 112

# The five-point template of ArcFace/insightface at 112x112, (x, y) in pixels.
# "Left" is the image's left.
LANDMARKS = {
    "left_eye": (38.2946, 51.6963),
    "right_eye": (73.5318, 51.5014),
    "nose": (56.0252, 71.7366),
    "left_mouth": (41.5493, 92.3655),
    "right_mouth": (70.7299, 92.2041),
}

# The order of the five points wherever they travel as a list (MTCNN's, the phone app's JSON).
TEMPLATE_ORDER = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")

REGION_SIZE = 28
# Region boxes as (y0, x0) of a 28x28 crop [y0:y0+28, x0:x0+28].
REGION_BOXES = {
    "left_eye": (38, 24),
    "right_eye": (38, 60),
    "nose": (58, 42),
    "mouth": (78, 42),
}

# The face as an ellipse (centre y, centre x, radius y, radius x) in pixels: used to
# place "outside" occlusions and by the synthetic faces [decision].
FACE_ELLIPSE = (62.0, 56.0, 50.0, 38.0)
