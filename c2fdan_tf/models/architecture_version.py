"""Which layout of the networks a checkpoint holds.

Version 2 (second release) follows the paper where the first release departed from
it: the fine network's self-attention branch ends in an upsampling block with the
encoder skip, and the face feature extractor has a stride-1 face-recognition stem.
A first-release checkpoint (no version in its config) has other weights; loading it
fails with this message instead of a weight-count mismatch.
"""

ARCHITECTURE_VERSION = 2


def check_architecture_version(version, what):
    """ValueError unless `version` is the layout this code builds."""
    if version is None:
        version = 1
    if version != ARCHITECTURE_VERSION:
        raise ValueError(
            f"the {what} was saved with network layout {version} (c2fdan_tf "
            f"{'first release' if version == 1 else 'another version'}), this version builds layout "
            f"{ARCHITECTURE_VERSION}; retrain it with this version."
        )
