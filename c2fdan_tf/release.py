"""The packaged model's recipe: train the `release` preset end to end, resumably.

    python release.py --workdir=runs/release      # run it in the background with a log

Stages extractor, coarse and full (train.py's, `training.stages.run_stage`) into WORKDIR;
running the same command again after an interruption resumes the stage that was running
from its last backup (every 300 steps in the preset) and skips the finished ones. Then
`package_release` exports the model and writes the package folder (c2fdan_tf/pretrained/).

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
        self.data = {"invocations": _invocations(self.path)}  # a file of another shape starts afresh
        self.entry = {"started": time.time(), "seconds": 0.0, "stages": {}, "commit": _commit()}
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
            return _totals(self.data)


def _totals(data):
    totals = {"total": sum(entry["seconds"] for entry in data["invocations"])}
    for entry in data["invocations"]:
        for stage, seconds in entry["stages"].items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    return totals


def _invocations(path):
    """The invocations a ledger file lists ([] if it is missing or not a ledger)."""
    try:
        invocations = json.loads(Path(path).read_text())["invocations"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return invocations if isinstance(invocations, list) else []


def _best_record(checkpoint):
    """{"monitor", "value", "epoch"} of a best checkpoint (its <prefix>_best.json), or {}."""
    try:
        return json.loads(Path(checkpoint).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def recorded_totals(workdir):
    """The ledger's totals of `workdir` without adding an invocation ({"total": 0.0} if none)."""
    return _totals({"invocations": _invocations(Path(workdir) / "wall_time.json")})


def trained_steps(workdir, stage):
    """(optimizer steps `stage` has trained in `workdir`, finished?): done.json's count, else the
    newest backup's step."""
    stage_dir = Path(workdir) / stage
    try:
        return json.loads((stage_dir / "done.json").read_text())["optimizer_iterations"], True
    except (OSError, ValueError, KeyError):
        pass
    try:
        return json.loads((stage_dir / "backup" / "progress.json").read_text())["step"], False
    except (OSError, ValueError, KeyError):
        return 0, False


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


# The package's size limit (issue 31): the .keras checkpoint, the phone's and edge runner's
# TFLite files and the face detector together.
PACKAGE_LIMIT_BYTES = 25_000_000
EXPORTED_FILES = ("c2fdan_int8.tflite", "c2fdan_fp16.tflite", "c2fdan_given_mask_fp32.tflite", "face_detector")


def _commit():
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def real_photo_agreement(keras_path, int8_path):
    """PSNR (dB) of the int8 TFLite model's completion against the Keras model's on a real photo:
    the astronaut with a subtitle-like bar over the mouth (`real_photos.barred_real_faces`)."""
    from c2fdan_tf.evaluation.real_photos import agreement_db, barred_real_faces
    from c2fdan_tf.inference import load_runner

    return agreement_db(load_runner(str(int8_path)), load_runner(str(keras_path), precision="float32"),
                        barred_real_faces(("astronaut",)))


def package_release(config, workdir, package_dir, totals, log=print):
    """Exports the full stage's best generator and writes the package folder: the .keras file,
    the TFLite files, the face detector and manifest.json (every file's SHA-256, the command,
    commit, versions, training time and the fixed benchmark's figures). Returns the manifest."""
    import dataclasses
    import json
    import shutil
    import tempfile

    from c2fdan_tf.export.calibration import occluded_faces
    from c2fdan_tf.export.exporter import export_artifacts
    from c2fdan_tf.models.architecture_version import ARCHITECTURE_VERSION
    from c2fdan_tf.models.checkpoints import file_sha256, load_generator, save_model
    from c2fdan_tf.pretrained_model import write_manifest
    from c2fdan_tf.training.workdir import stage_checkpoint

    workdir, package_dir = Path(workdir), Path(package_dir)
    checkpoint = stage_checkpoint(workdir, "full")
    generator = load_generator(checkpoint)  # float32, whatever it trained in
    seed, faces = config.data.seed, config.data.faces
    export_dir = workdir / "export"
    log(f"\n=== export of {checkpoint} ===")
    parity = occluded_faces("synth", "eval", 8, seed, benchmark=True, faces=faces)
    representative = occluded_faces("synth", "train", 64, seed, benchmark=False, faces=faces)["occluded"]
    source = {"checkpoint": str(checkpoint), "sha256": file_sha256(checkpoint), "config": generator.get_config()}
    exported = export_artifacts(generator, export_dir, parity, ("tflite", "tflite_fp16", "tflite_int8"),
                                representative, source, log=log)
    with tempfile.TemporaryDirectory(dir=package_dir.parent, prefix=f".{package_dir.name}.") as staging:
        staging = Path(staging)
        staging.chmod(0o755)  # a package folder, not a private temporary one
        save_model(generator, staging / "c2fdan.keras")
        for name in EXPORTED_FILES:
            (shutil.copytree if (export_dir / name).is_dir() else shutil.copy2)(export_dir / name, staging / name)
        log("=== the fixed benchmark (float32) ===")
        figures = _fixed_benchmark(staging / "c2fdan.keras", seed, faces)
        figures["int8_vs_keras_real_photo_db"] = real_photo_agreement(staging / "c2fdan.keras",
                                                                      staging / "c2fdan_int8.tflite")
        log("  " + _figures_line(figures))
        planned = {stage: getattr(config.schedule, stage).epochs * getattr(config.schedule, stage).steps_per_epoch
                   for stage in ("coarse", "full")}
        done = {stage: trained_steps(workdir, stage) for stage in planned}
        fields = {
            "format_version": 1,
            "model": {"width": generator.width, "attention": generator.get_config().get("attention"),
                      "architecture_version": ARCHITECTURE_VERSION, "parameters": int(generator.count_params())},
            "training": {"command": "python release.py --workdir=runs/release", "preset": "release",
                         "wall_seconds": totals["total"],
                         "stage_wall_seconds": {k: v for k, v in totals.items() if k != "total"},
                         "steps": sum(steps for steps, _ in done.values()),
                         "steps_by_stage": {stage: steps for stage, (steps, _) in done.items()},
                         "steps_planned": planned, "finished": all(finished for _, finished in done.values()),
                         # The packaged checkpoint: the full stage's best epoch by validation PSNR.
                         "checkpoint": _best_record(checkpoint),
                         "config": dataclasses.asdict(config),
                         "data": "the project's synthetic faces only (no real face data)"},
            "commit": _commit(),  # of the packaging; the training's, per run of the command, below
            "training_commits": sorted({entry.get("commit", "not recorded")
                                        for entry in _invocations(workdir / "wall_time.json")}),
            "renderer": _renderer_record(faces),
            "occlusions": {"mix": config.data.occluders, "face_texture": config.data.face_texture},
            "int8": exported["artifacts"]["tflite_int8"].get("int8_decision"),
            "benchmarks": {"fixed": figures},
            "license": "Apache-2.0 (the project's); the face detector's weights: MIT (THIRD_PARTY_NOTICES.md)",
        }
        manifest = write_manifest(staging, fields)
        total = sum(entry["size_bytes"] for entry in manifest["files"].values())
        if total > PACKAGE_LIMIT_BYTES:
            raise ValueError(f"the package would hold {total / 1e6:.1f} MB, over the {PACKAGE_LIMIT_BYTES / 1e6:.0f} MB "
                             "limit.")
        if package_dir.exists():
            shutil.rmtree(package_dir)
        staging.rename(package_dir)
        staging.mkdir()  # for TemporaryDirectory's clean-up
    log(f"packaged into {package_dir}: {len(manifest['files'])} files, {total / 1e6:.1f} MB; "
        f"figures: {json.dumps(figures)}")
    return manifest


def _renderer_record(faces):
    from c2fdan_tf.data.face_renderers import renderer

    return {"faces": faces, "version": renderer(faces).RENDERER_VERSION}


def _fixed_benchmark(keras_path, seed, faces):
    """The fixed benchmark's figures of a packaged .keras file (float32), with the renderer that
    drew its faces."""
    from c2fdan_tf.evaluation.fixed_benchmark import fixed_benchmark_figures

    return {**fixed_benchmark_figures(str(keras_path), seed=seed, faces=faces), "renderer": _renderer_record(faces)}


def _figures_line(figures):
    return ", ".join(f"{k} {v:.4f}" for k, v in figures.items() if not isinstance(v, dict))


def rerecord_fixed_benchmark(package_dir, log=print):
    """Measures the packaged model on the fixed benchmark as the current renderer draws it and
    writes the figures into its manifest (the files, and so their checksums, stay as they are):
    after a change of the renderer's look, which moves the figures without any change of the model."""
    from c2fdan_tf.pretrained_model import verify, write_manifest

    manifest = verify(package_dir)
    faces = manifest["renderer"]["faces"]
    recorded = manifest["benchmarks"]["fixed"]
    figures = _fixed_benchmark(Path(package_dir) / "c2fdan.keras", manifest["training"]["config"]["data"]["seed"], faces)
    figures["int8_vs_keras_real_photo_db"] = recorded["int8_vs_keras_real_photo_db"]  # real photos: no renderer
    was = recorded.get("renderer", {"faces": faces, "version": manifest["renderer"]["version"]})
    log(f"fixed benchmark, {faces} renderer version {was['version']} -> {figures['renderer']['version']}:")
    for name, value in figures.items():
        if isinstance(value, float) and name in recorded:
            log(f"  {name:<30} {recorded[name]:10.4f} -> {value:10.4f}")
    fields = {key: value for key, value in manifest.items() if key != "files"}
    fields["benchmarks"] = {**fields["benchmarks"], "fixed": figures}
    write_manifest(package_dir, fields)
    return figures
