"""The README's comparison: the original on Keras 2, the naive Keras 3 port and gan.py.

Each argument is LABEL=FOLDER, one finished 30,001-iteration run: FOLDER/evaluate.json
(`python evaluate.py GENERATOR --json`), its losses (FOLDER/losses.csv,
FOLDER/images/losses.csv or the log lines in FOLDER/stdout.log) and its generator
(FOLDER/generator.keras or FOLDER/saved_model/generator.keras). Runs with one label are
one row, mean +- standard deviation. It prints the Markdown table; --picture PATH draws
the first run of each label on the same latent points, side by side.

    python benchmarks/compare.py original=runs/original naive=runs/naive \\
        gan.py=runs/gan-1337 gan.py=runs/gan-1 gan.py=runs/gan-2 --picture cmp.png
"""

import argparse
import csv
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import evaluate  # noqa: E402 (after the path)
import inputs  # noqa: E402
import sample  # noqa: E402

LAST = 1000  # D's accuracy over this many last iterations: where a frozen D shows
LOG_LINE = re.compile(r"(\d+) \[D loss: [-\d.naninf]+, acc\.: ([\d.]+)%\]")
FIGURES = [  # (JSON key, column, format)
    ("parzen_ll", "Parzen log-likelihood", "{:.1f}"),
    ("classifier_score", "Classifier score", "{:.2f}"),
    ("fid", "FID", "{:.2f}"),
    ("classes_covered", "Classes covered", "{:g}"),
    ("kl_uniform", "KL from uniform", "{:.3f}"),
]
PICTURE_SIDE = 8  # each model's panel: 8 x 8 samples


def first(folder, *names):
    for name in names:
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise inputs.InputError(f"{folder!r} has none of {', '.join(names)}")


def d_accuracies(folder):
    """D's accuracy of every iteration, from the CSV or the printed log."""
    path = first(folder, "losses.csv", "images/losses.csv", "stdout.log")
    with open(path, newline="") as f:
        if path.endswith(".csv"):
            return [float(row["d_accuracy"]) for row in csv.DictReader(f)]
        matches = (LOG_LINE.search(line) for line in f)
        return [float(m.group(2)) / 100 for m in matches if m]


def run_figures(folder):
    with open(os.path.join(folder, "evaluate.json")) as f:
        figures = json.load(f)
    accuracies = d_accuracies(folder)
    figures["d_accuracy"] = float(np.mean(accuracies[-LAST:]))
    return figures


def cell(values, style):
    if len(values) == 1:
        return style.format(values[0])
    return f"{style.format(np.mean(values))} +- {style.format(np.std(values, ddof=1))}"


def table(runs):
    """runs: {label: [figures of each run]} -> Markdown."""
    columns = [name for _, name, _ in FIGURES] + [f"D accuracy, last {LAST:,}"]
    lines = [
        "| Model | runs | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for label, figures in runs.items():
        cells = [cell([f[key] for f in figures], style) for key, _, style in FIGURES]
        accuracy = [100 * f["d_accuracy"] for f in figures]
        cells.append(cell(accuracy, "{:.1f}") + "%")
        lines.append(f"| {label} | {len(figures)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def picture(folders, path, seed=evaluate.SEED):
    """The first run of each label, on the same latent points, side by side."""
    noise = evaluate.latent_points(PICTURE_SIDE**2, seed)
    panels = []
    for folder in folders.values():
        generator_path = first(folder, "generator.keras", "saved_model/generator.keras")
        generator = evaluate.load_generator(generator_path)
        images = evaluate.images_from_noise(generator, noise)
        images = sample.rgb(sample.as_images(images, generator.output_shape[1:]))
        panels.append(sample.mosaic(images, cols=PICTURE_SIDE))
    canvas = sample.mosaic(panels, cols=len(panels), gap=12)
    title = "   |   ".join(folders) + f"   (the same {PICTURE_SIDE**2} latent points)"
    sample.safekeeping.save_figure(sample.show(canvas, title)[0], path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="LABEL=FOLDER")
    parser.add_argument("--picture", metavar="PATH", help="also draw the samples")
    args = parser.parse_args(argv)
    runs = {}
    for spec in args.runs:
        label, _, folder = spec.partition("=")
        runs.setdefault(label, []).append(folder)
    print(table({label: [run_figures(f) for f in fs] for label, fs in runs.items()}))
    if args.picture:
        picture({label: folders[0] for label, folders in runs.items()}, args.picture)


if __name__ == "__main__":
    main()
