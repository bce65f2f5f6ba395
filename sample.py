"""Pictures of what a trained generator makes, after the GAN paper's Figures 2 and 3.

`python sample.py [GENERATOR]` writes three pictures into images/:
- samples.png: an n x n grid of samples (--n, default 10);
- interpolation.png (Figure 3): each row a linear walk in z from one random latent point
  to another, in equal steps, both ends included;
- nearest.png (Figure 2): samples, each beside its nearest training image (L2 in [0, 1]
  pixel space), framed in red, their distance below: a copy shows one picture twice.
The same generator and --seed give the same pictures. What it runs on goes to stderr,
the pictures' paths to stdout.
"""

import os
import sys

import inputs  # first: it refuses a too old Python before NumPy loads
import numpy as np

if __name__ == "__main__":  # before Keras loads; what it writes goes aside first
    inputs.ExitOnStop("stopped; its files are whole")
inputs.load_keras()
import evaluate
import gan
import safekeeping
from matplotlib.figure import Figure  # not pyplot: a notebook keeps its own backend

GENERATOR_PATH = evaluate.GENERATOR_PATH
OUTPUT_DIR = gan.IMAGES_DIR
PICTURES = ("samples.png", "interpolation.png", "nearest.png")
SEED = evaluate.SEED  # samples.png shows the first of the samples evaluate.py scores
GRID_SIZE = 10  # samples.png is GRID_SIZE x GRID_SIZE (--n)
WALKS, WALK_STEPS = 8, 11  # interpolation.png: rows, images per row (both ends too)
WALK_STREAM = 1  # the walks' ends are drawn from (seed, 1): --n does not move them
NEAREST_ROWS, NEAREST_PAIRS = 8, 5  # nearest.png: rows of (sample, neighbour) pairs
GAP = 2  # white pixels between images
PAIR_GAP = 10  # and between pairs in nearest.png, with room for the distance
FRAME = (0.85, 0.1, 0.1)  # red: marks the training images in nearest.png
SCALE = 3  # screen pixels per image pixel
DPI = 100

# -----------------------------------------------------------------------------
# Latent points and their images


def walks(starts, ends, steps=WALK_STEPS):
    """(rows, steps, LATENT_DIM): from each start to its end, both ends exactly."""
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[None, :, None]
    return (1 - t) * starts[:, None, :] + t * ends[:, None, :]


def as_images(rows, shape):
    """Rows of pixels in [0, 1] -> (n, *shape) images."""
    return np.asarray(rows).reshape(len(rows), *shape)


# -----------------------------------------------------------------------------
# Pictures: images laid out on one RGB canvas, shown by matplotlib


def mosaic(tiles, cols, gap=GAP):
    """Equal-sized (h, w, 3) tiles in rows of `cols`, on white, `gap` pixels apart."""
    rows = -(-len(tiles) // cols)
    h, w = tiles[0].shape[:2]
    canvas = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        canvas[y : y + h, x : x + w] = tile
    return canvas


def rgb(images):
    """(n, h, w, 1 or 3) images in [0, 1] -> RGB, clipped: a float32 tanh can
    overshoot by 1e-7."""
    return np.broadcast_to(np.clip(images, 0.0, 1.0), (*images.shape[:-1], 3))


def framed(image, colour):
    """An RGB image in a border GAP pixels wide."""
    out = np.empty((image.shape[0] + 2 * GAP, image.shape[1] + 2 * GAP, 3))
    out[...] = colour
    out[GAP:-GAP, GAP:-GAP] = image
    return out


def show(canvas, title):
    """A figure of the canvas at SCALE screen pixels per pixel, titled, and its axes."""
    height, width = (SCALE * n for n in canvas.shape[:2])
    total = height + 40  # screen pixels, with room for the title
    fig = Figure(figsize=(width / DPI, total / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, height / total))
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    fig.suptitle(title, fontsize=9, y=1 - 6 / total, va="top")
    return fig, ax


def samples_figure(samples, shape, n, seed):
    canvas = mosaic(rgb(as_images(samples, shape)), cols=n)
    return show(canvas, f"{n * n} samples (noise seed {seed})")[0]


def interpolation_figure(images, shape, seed):
    """images: (WALKS, WALK_STEPS, pixels), one walk a row."""
    rows, steps = images.shape[:2]
    tiles = rgb(as_images(images.reshape(rows * steps, -1), shape))
    canvas = mosaic(tiles, cols=steps)
    title = (
        f"Linear walks in z: each row {steps} images in equal steps from one random "
        f"point to another (seed {seed})"
    )
    return show(canvas, title)[0]


def nearest_figure(samples, neighbours, distances, seed):
    """Each sample beside its nearest training image (red frame), the L2 distance
    between them below the training image; both (n, *IMG_SHAPE)."""
    both = zip(rgb(as_images(samples, neighbours.shape[1:])), rgb(neighbours / 255))
    pairs = [np.hstack([framed(s, (1, 1, 1)), framed(t, FRAME)]) for s, t in both]
    canvas = mosaic(pairs, cols=NEAREST_PAIRS, gap=PAIR_GAP)
    # A gap's worth of white below the last row too: its distances go there.
    canvas = np.concatenate([canvas, np.ones((PAIR_GAP, *canvas.shape[1:]))])
    title = (
        "Samples, each beside its nearest training image (red) and their L2 "
        f"distance (seed {seed})"
    )
    fig, ax = show(canvas, title)
    h, w = pairs[0].shape[:2]
    for i, distance in enumerate(distances):
        r, c = divmod(i, NEAREST_PAIRS)
        x, y = c * (w + PAIR_GAP) + 0.75 * w, r * (h + PAIR_GAP) + h + 0.5
        ax.text(x, y, f"{distance:.2f}", fontsize=7, ha="center", va="top")
    return fig


def main(argv=None):
    parser = evaluate.generator_parser(__doc__)  # GENERATOR, --seed, --data, paths
    help = f"samples.png is n x n samples (default {GRID_SIZE})"
    parser.add_argument("--n", type=int, default=GRID_SIZE, help=help)
    args = parser.parse_args(argv)
    # Cheap checks first: a bad folder or generator fails before MNIST is read.
    inputs.check_whole_number("--n", args.n, *inputs.RANGES["GRID_ROWS"])
    data, shape, path = evaluate.run_data(args)
    inputs.make_output_dirs([OUTPUT_DIR])
    generator = evaluate.load_generator(args.generator, shape)
    x_train = inputs.read_data(data, shape, path)["x_train"]
    print(inputs.platform_line(), file=sys.stderr)  # "is my GPU used?", as gan.py
    paths = draw_pictures(generator, x_train, args.n, args.seed)
    print(f"Wrote {', '.join(paths)}.")


def draw_pictures(generator, x_train, n=GRID_SIZE, seed=SEED):
    """The three pictures, written into OUTPUT_DIR; returns their paths."""
    paths = [os.path.join(OUTPUT_DIR, name) for name in PICTURES]
    # The first of evaluate.py's samples for this seed; nearest.png shows the first
    # of samples.png's, so that each can be found in the grid.
    n_nearest = NEAREST_ROWS * NEAREST_PAIRS
    noise = evaluate.latent_points(max(n * n, n_nearest), seed)
    samples = evaluate.images_from_noise(generator, noise)
    shape = x_train.shape[1:]
    save = safekeeping.save_figure  # each as soon as it is drawn
    save(samples_figure(samples[: n * n], shape, n, seed), paths[0])

    ends = evaluate.latent_points(2 * WALKS, [seed, WALK_STREAM])
    z = walks(ends[:WALKS], ends[WALKS:]).reshape(-1, gan.LATENT_DIM)
    walked = evaluate.images_from_noise(generator, z).reshape(WALKS, WALK_STEPS, -1)
    save(interpolation_figure(walked, shape, seed), paths[1])

    train = evaluate.to_unit_interval(x_train, "float32")
    indices, distances = evaluate.nearest_neighbours(samples[:n_nearest], train)
    figure = nearest_figure(samples[:n_nearest], x_train[indices], distances, seed)
    save(figure, paths[2])
    return paths


if __name__ == "__main__":
    main()
