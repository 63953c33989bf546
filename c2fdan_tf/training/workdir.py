"""A stage's folder in the work directory: what is finished, what can resume.

    WORKDIR/<stage>/  config.json (the resolved configuration), done.json (written
                      last: the stage finished), backup/ (while running: weights,
                      optimizer states and epoch for BackupAndRestore), log.csv,
                      samples/, tensorboard/, <prefix>_best.keras, <prefix>_last.keras
"""

import dataclasses
import json
import shutil
from pathlib import Path


@dataclasses.dataclass
class StageResult:
    stage: str
    directory: Path
    skipped: bool
    summary: dict


class StageDirectory:
    def __init__(self, workdir, stage):
        self.workdir = Path(workdir)
        self.stage = stage
        self.path = self.workdir / stage

    @property
    def backup(self):
        return self.path / "backup"

    def finished(self):
        """The summary of a finished stage, or None."""
        done = self.path / "done.json"
        return json.loads(done.read_text()) if done.exists() else None

    def prepare(self, config, restart=False):
        """Creates the folder (emptied first with `restart`) and writes config.json."""
        if restart and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.json").write_text(config.to_json())

    def resume_epoch(self):
        """Epochs already trained by an interrupted run (0 for a fresh one)."""
        try:
            return int(json.loads((self.backup / "training_metadata.json").read_text())["epoch"])
        except (OSError, ValueError, KeyError):
            return 0

    def finish(self, summary):
        (self.path / "done.json").write_text(json.dumps(summary, indent=1, default=float))
        return StageResult(self.stage, self.path, False, summary)


# The network each stage saves, as WORKDIR/<stage>/<prefix>_best.keras and <prefix>_last.keras.
CHECKPOINT_PREFIX = {"extractor": "extractor", "coarse": "generator", "full": "generator", "bvmr": "bvmr",
                     "extractor_occ": "extractor"}


def stage_checkpoint(workdir, stage, which="best"):
    """The path of stage `stage`'s best (or "last") checkpoint in `workdir`, existing or not."""
    return Path(workdir) / stage / f"{CHECKPOINT_PREFIX[stage]}_{which}.keras"


def best_checkpoint(workdir, stage):
    """WORKDIR/<stage>/<prefix>_best.keras if a previous stage left one, else None."""
    path = stage_checkpoint(workdir, stage)
    return path if path.exists() else None
