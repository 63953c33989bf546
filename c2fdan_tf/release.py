"""The packaged model's recipe: train the `release` preset end to end, resumably.

    python release.py --workdir=runs/release      # run it in the background with a log

Stages extractor, coarse and full (train.py's, `training.stages.run_stage`) into WORKDIR;
running the same command again after an interruption resumes the stage that was running
from its last backup (every 300 steps in the preset) and skips the finished ones.

WORKDIR/wall_time.json keeps the training's wall time across interruptions: every
invocation adds the seconds it was running, in small increments, so a run that was
killed still counts what it did and a suspended one (SIGSTOP) does not count its pause.
"""

import json
import threading
import time
from pathlib import Path

from c2fdan_tf.console import fit_verbosity
from c2fdan_tf.training.stages import run_stage

RELEASE_STAGES = ("extractor", "coarse", "full")
_TICK_SECONDS = 5.0
# A gap between ticks longer than this was a pause (SIGSTOP, a laptop asleep), not work.
_PAUSE_SECONDS = 30.0


class WallTimeLedger:
    """WORKDIR/wall_time.json: {"invocations": [{"started": epoch, "seconds": s, "stages": {..}}]};
    seconds are added every few seconds by a daemon thread, pauses left out."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.data = json.loads(self.path.read_text())
            self.data["invocations"]  # noqa: B018 (a file of another shape starts afresh)
        except (OSError, ValueError, KeyError, TypeError):
            self.data = {"invocations": []}
        self.entry = {"started": time.time(), "seconds": 0.0, "stages": {}}
        self.data["invocations"].append(self.entry)
        self.stage = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._write()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._tick()

    def _run(self):
        while not self._stop.wait(_TICK_SECONDS):
            self._tick()

    def _tick(self):
        with self._lock:
            now = time.monotonic()
            gap, self._last = now - self._last, now
            if gap > _PAUSE_SECONDS:
                gap = _TICK_SECONDS
            self.entry["seconds"] += gap
            if self.stage is not None:
                self.entry["stages"][self.stage] = self.entry["stages"].get(self.stage, 0.0) + gap
            self._write()

    def _write(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data, indent=1))
        temporary.replace(self.path)

    def set_stage(self, stage):
        self._tick()
        with self._lock:
            self.stage = stage

    def totals(self):
        """{"total": s, <stage>: s} over every invocation so far."""
        with self._lock:
            totals = {"total": sum(entry["seconds"] for entry in self.data["invocations"])}
            for entry in self.data["invocations"]:
                for stage, seconds in entry["stages"].items():
                    totals[stage] = totals.get(stage, 0.0) + seconds
            return totals


def train_release(config, workdir, log=print):
    """Trains (or resumes) the release stages into `workdir`; returns the ledger's totals."""
    workdir = Path(workdir)
    with WallTimeLedger(workdir / "wall_time.json") as ledger:
        for stage in RELEASE_STAGES:
            ledger.set_stage(stage)
            log(f"\n=== training: {stage} ===")
            result = run_stage(config, stage, workdir, verbose=fit_verbosity(), log=log)
            log(f"stage {stage}: {'already finished, reused' if result.skipped else 'trained'}; "
                f"{ledger.totals().get(stage, 0.0) / 60:.1f} min of wall time in all its runs")
        ledger.set_stage(None)
        totals = ledger.totals()
    log(f"training: {totals['total'] / 60:.1f} min of wall time over "
        f"{len(ledger.data['invocations'])} run(s) of this command")
    return totals
