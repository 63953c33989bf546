"""Writes the evaluation report: report.json, report.md, plots and an example grid."""

import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from c2fdan_tf.data.benchmark_occlusions import Condition, middle_size_conditions
from c2fdan_tf.data.occluders.paper import BENCHMARK_SIZES, FORMS, POSITIONS
from c2fdan_tf.evaluation.methods import LABELS, REGISTRY

PAPER_REFERENCE = (
    "Paper (MegaFace, D = 1 M, real faces): TPIR rank-1 non-occluded 52.32 %, occluded 29.34 %, "
    "BVMR 36.55 %, C2FDAN 42.48 %; SSIM occluded 0.8526, C2FDAN 0.9639."
)


def _write_atomic(path, text):
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _fmt(value, scale=1.0, digits=2):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value * scale:.{digits}f}"


def markdown_table(summary, methods, title=None):
    """Table I layout: rows = methods (those in `summary`); TPIR rank-1 and verification per form,
    PSNR, SSIM, the text occluders' residual, mask IoU, landmark NME."""
    methods = [m for m in methods if summary.get(m)]  # a row with no metric (not run here) is left out
    distractors = max((summary[m].get("distractors", 0) for m in methods), default=0)
    header = (
        "| method | TPIR@1 rect. (%) | TPIR@1 text (%) | TPIR@1 avg (%) | verif. rect. (%) | verif. text (%) "
        "| verif. avg (%) | PSNR (dB) | SSIM | text left | mask IoU | landm. NME (%) |"
    )
    lines = ([f"### {title}", ""] if title else []) + [header, "|---" + "|---:" * 11 + "|"]
    for method in methods:
        entry = summary.get(method, {})
        tpir, verification = entry.get("tpir_rank1", {}), entry.get("verification", {})
        clean_tpir, clean_verification = tpir.get("clean"), verification.get("clean")
        row = [
            LABELS.get(method, method),
            _fmt(tpir.get("rectangle", clean_tpir), 100), _fmt(tpir.get("text", clean_tpir), 100),
            _fmt(tpir.get("average"), 100),
            _fmt(verification.get("rectangle", clean_verification), 100),
            _fmt(verification.get("text", clean_verification), 100), _fmt(verification.get("average"), 100),
            _fmt(entry.get("psnr", {}).get("average")), _fmt(entry.get("ssim", {}).get("average"), digits=4),
            _fmt(entry.get("occluder_residual", {}).get("text"), digits=3),
            _fmt(entry.get("mask_iou", {}).get("average"), digits=3),
            _fmt(entry.get("landmark_nme", {}).get("average"), 100),
        ]
        lines.append("| " + " | ".join(row) + " |")
    ran = lambda key: any(key in summary.get(m, {}) for m in methods)  # noqa: E731
    caption = []
    if ran("tpir_rank1"):
        caption.append(f"TPIR at rank 1 with {distractors:,} distractors (the occluded image in the gallery, the "
                       "probe clean)")
    if ran("verification"):
        caption.append("10-fold verification accuracy, both images of a pair occluded alike")
    if "resnet50_occ" in methods:
        caption.append("ResNet-50-occ: the occluded faces as they are, recognized by the extractor trained with "
                       "occlusion augmentation (recognition only)")
    if "bvmr" in methods:
        caption.append("BVMR: Hertz et al. 2019's blind motif removal, its reconstruction blended by its own mask")
    if ran("psnr"):
        caption.append("PSNR/SSIM of the whole 112×112 face against the ground truth")
    if ran("occluder_residual"):
        caption.append("text left: of the drawn words' contrast with the true face, the share still there inside "
                       "the true mask (sum of |result − truth| over sum of |occluded − truth|; 1 = untouched, "
                       "0 = gone)")
    if ran("landmark_nme"):
        caption.append("landmark NME: mean distance of the 68 face-api.js landmarks from the clean face's, over "
                       "its inter-ocular distance (Fig. 8; the paper used 196 insightface points)")
    protocols = "; ".join(caption) or "no protocol ran"
    lines += ["", f"{protocols}; per form averaged over the sizes and positions; '—': not measured."]
    return "\n".join(lines)


def ablation_table(rows):
    """One Table I for several checkpoints: the baselines of the first, then each
    checkpoint's C2FDAN (final and coarse). rows: [(name, description, summary, methods)]."""
    first_summary, first_methods = rows[0][2], rows[0][3]
    baselines = [m for m in first_methods if not REGISTRY[m].needs_generator]
    summary, order, labels = {}, [], {}
    for method in baselines:
        summary[method] = first_summary[method]
        order.append(method)
    for name, description, run_summary, methods in rows:
        for method in ("c2fdan_coarse", "c2fdan"):
            if method in methods:
                key = f"{method}@{name}"
                summary[key] = run_summary[method]
                order.append(key)
                labels[key] = f"{LABELS[method]} — {name}" + (f" ({description})" if description else "")
    table = markdown_table(summary, order, title="Ablation (Table I)")
    for key, label in labels.items():
        table = table.replace(f"| {key} |", f"| {label} |")
    return table


def _rank1_max_d(curves):
    return curves[max(curves, key=int)][0]


def _where(values, **attributes):
    """The values of the conditions (by name) with the given form, size and/or position."""
    return [v for name, v in values.items() if name != "clean" and Condition.parse(name).matches(**attributes)]


def plot_identification(report, methods, path):
    """Fig. 7 style: per form, TPIR vs rank, vs distractors, vs size and vs position."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["identification"]
    fig, axes = plt.subplots(len(FORMS), 4, figsize=(18, 4.2 * len(FORMS)), squeeze=False)
    for row, form in enumerate(FORMS):
        ax_rank, ax_d, ax_size, ax_position = axes[row]
        for method in methods:
            conditions = {c: v for c, v in results.get(method, {}).items()
                          if c == "clean" or Condition.parse(c).form == form}
            if not conditions:
                continue
            label = LABELS.get(method, method)
            # Average the curves over the conditions of the form.
            d_values = sorted({int(d) for curves in conditions.values() for d in curves})
            max_d = str(d_values[-1])
            ranks = np.mean([curves[max_d] for curves in conditions.values()], axis=0) * 100
            ax_rank.plot(range(1, len(ranks) + 1), ranks, marker="o", label=label)
            by_d = [np.mean([curves[str(d)][0] for curves in conditions.values()]) * 100 for d in d_values]
            ax_d.plot(d_values, by_d, marker="o", label=label)
            if "clean" in conditions:
                continue
            sizes = BENCHMARK_SIZES[form]
            by_size = [np.mean([_rank1_max_d(v) for v in _where(conditions, size=s)]) * 100 for s in sizes]
            ax_size.plot(sizes, by_size, marker="o", label=label)
            by_position = [np.mean([_rank1_max_d(v) for v in _where(conditions, position=p)]) * 100
                           for p in POSITIONS]
            ax_position.plot(POSITIONS, by_position, marker="o", label=label)
        ax_rank.set(title=f"{form}: TPIR vs rank", xlabel="rank", ylabel="TPIR (%)")
        ax_d.set(title=f"{form}: TPIR@1 vs distractors", xlabel="distractors D", ylabel="TPIR@1 (%)", xscale="log")
        ax_size.set(title=f"{form}: TPIR@1 vs size", xlabel="area ratio a" if form == "rectangle" else "height ratio h",
                    ylabel="TPIR@1 (%)")
        ax_position.set(title=f"{form}: TPIR@1 vs position", xlabel="position", ylabel="TPIR@1 (%)")
        for ax in (ax_rank, ax_d, ax_size, ax_position):
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_tpir_vs_area(report, methods, path):
    """Fig. 1 (right) style: TPIR@1 against the occluded area of rectangles (a = 0: clean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["identification"]
    clean = results.get("non_occluded", {}).get("clean")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    areas = (0.0,) + BENCHMARK_SIZES["rectangle"]
    for method in methods:
        if method == "non_occluded":
            continue
        conditions = results.get(method, {})
        values = [_rank1_max_d(clean) * 100 if clean else np.nan]
        for a in BENCHMARK_SIZES["rectangle"]:
            picked = [_rank1_max_d(v) for v in _where(conditions, form="rectangle", size=a)]
            values.append(np.mean(picked) * 100 if picked else np.nan)
        ax.plot(areas, values, marker="o", label=LABELS.get(method, method))
    ax.set(xlabel="occluded area ratio a (rectangles)", ylabel="TPIR@1 (%)", title="Recognition vs occluded area")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_reconstruction(report, methods, path):
    """SSIM, PSNR (and landmark NME when measured) against size and position, per form (Fig. 7-8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["reconstruction"]
    metrics = ("ssim", "psnr") + (("landmark_nme",) if any(
        "landmark_nme" in v for per_method in results.values() for v in per_method.values()) else ())
    fig, axes = plt.subplots(len(metrics), 2 * len(FORMS), figsize=(18, 3.75 * len(metrics)), squeeze=False)
    for f, form in enumerate(FORMS):
        for r, metric in enumerate(metrics):
            ax_size, ax_position = axes[r][2 * f], axes[r][2 * f + 1]
            for method in methods:
                conditions = {c: v for c, v in results.get(method, {}).items() if Condition.parse(c).form == form}
                if not conditions:
                    continue
                label = LABELS.get(method, method)
                sizes = BENCHMARK_SIZES[form]
                ax_size.plot(sizes, [np.mean([v[metric] for v in _where(conditions, size=s)]) for s in sizes],
                             marker="o", label=label)
                ax_position.plot(POSITIONS, [np.mean([v[metric] for v in _where(conditions, position=p)])
                                             for p in POSITIONS], marker="o", label=label)
            ax_size.set(title=f"{form}: {metric.upper()} vs size", ylabel=metric.upper())
            ax_position.set(title=f"{form}: {metric.upper()} vs position", ylabel=metric.upper())
            ax_size.grid(alpha=0.3)
            ax_position.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


EXAMPLE_COLUMNS = (
    ("occluded", "occluded"), ("predicted_mask", "predicted mask"), ("bvmr", "BVMR"), ("c2fdan_coarse", "coarse"),
    ("c2fdan", "final"), ("telea_predicted_mask", "Telea (pred.)"), ("truth", "ground truth"),
)


def example_grid(rows, columns=None):
    """uint8 picture: one row per condition, columns as EXAMPLE_COLUMNS (or the
    listed keys of it), with labels."""
    wanted = columns or [key for key, _ in EXAMPLE_COLUMNS]
    columns = [(key, title) for key, title in EXAMPLE_COLUMNS if key in wanted and any(key in r for r in rows)]
    header, label_width, size = 18, 150, 112
    canvas = Image.new("RGB", (label_width + size * len(columns), header + size * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=12)
    for c, (_, title) in enumerate(columns):
        draw.text((label_width + c * size + 4, 2), title, fill="black", font=font)
    for r, row in enumerate(rows):
        draw.text((4, header + r * size + size // 2 - 6), row["condition"], fill="black", font=font)
        for c, (key, _) in enumerate(columns):
            if key not in row:
                continue
            image = np.asarray(row[key], np.float32)
            if image.shape[-1] == 1:
                image = np.repeat(image, 3, axis=-1)
            tile = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
            canvas.paste(tile, (label_width + c * size, header + r * size))
    return np.asarray(canvas)


def renderer_landmark_line(report, methods):
    """Synthetic faces: each method's five-point error against where the renderer drew the
    points (and the landmark net's own error on the clean faces), or None."""
    values = {m: report["summary"].get(m, {}).get("landmark_error_vs_renderer", {}).get("average") for m in methods}
    values = {m: v for m, v in values.items() if v is not None}
    if not values or "clean_landmark_error_vs_renderer" not in report:
        return None
    listed = ", ".join(f"{LABELS.get(m, m)} {v * 100:.2f} %" for m, v in values.items())
    return (f"Landmark error against the renderer's own five points (eye centres, nose tip, mouth corners; the "
            f"face-api.js net's five points, over the true inter-ocular distance): clean faces "
            f"{report['clean_landmark_error_vs_renderer'] * 100:.2f} % (the net's own error), {listed}.")


def write_report(report, methods, out_dir, metadata):
    """report.json (every number + metadata), report.md, plots and examples.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {key: value for key, value in report.items() if key != "examples"}
    data["metadata"] = metadata
    _write_atomic(out_dir / "report.json", json.dumps(data, indent=1, default=float))
    files = []
    if report["identification"]:
        plot_identification(report, methods, out_dir / "identification.png")
        plot_tpir_vs_area(report, methods, out_dir / "tpir_vs_area.png")
        files += ["identification.png", "tpir_vs_area.png"]
    if report["reconstruction"]:
        plot_reconstruction(report, methods, out_dir / "reconstruction.png")
        files.append("reconstruction.png")
    middle = {c.name for c in middle_size_conditions()}
    chosen = [r for r in report["examples"] if r["condition"] in middle] or report["examples"]
    if chosen:
        Image.fromarray(example_grid(chosen)).save(out_dir / "examples.png")
        files.append("examples.png")
    lines = [
        f"# C2FDAN evaluation: {metadata.get('benchmark', {}).get('name', '')}",
        "",
        f"Checkpoint: `{metadata.get('checkpoint', {}).get('path')}` "
        f"(sha256 {str(metadata.get('checkpoint', {}).get('sha256'))[:12]}…); identity metrics by "
        f"{metadata.get('recognizer', {}).get('description', 'no recognizer')}.",
        "",
        markdown_table(report["summary"], methods),
        "",
    ]
    renderer = renderer_landmark_line(report, methods)
    lines += [renderer, ""] if renderer else []
    lines += [PAPER_REFERENCE, ""] + [f"![{name}]({name})" for name in files]
    _write_atomic(out_dir / "report.md", "\n".join(lines) + "\n")
    return out_dir / "report.md"
