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

import inputs  # first: it refuses a too old Python before NumPy loads
import numpy as np

if __name__ == "__main__":  # before Keras loads; what it writes goes aside first
    inputs.ExitOnStop("stopped; its files are whole")
inputs.load_keras()
import evaluate
import gan
import pictures
import safekeeping
from matplotlib.figure import Figure  # not pyplot: a notebook keeps its own backend

OUTPUT_DIR = gan.IMAGES_DIR
PICTURES = ("samples.png", "interpolation.png", "nearest.png")
GRID_SIZE = 10  # samples.png is GRID_SIZE x GRID_SIZE (--n)
WALKS, WALK_STEPS = 8, 11  # interpolation.png: rows, images per row (both ends too)
WALK_STREAM = 1  # the walks' ends are drawn from (seed, 1): --n does not move them
NEAREST_ROWS, NEAREST_PAIRS = 8, 5  # nearest.png: rows of (sample, neighbour) pairs
GAP = 2  # white pixels between images
PAIR_GAP = 10  # and between pairs in nearest.png, with room for the distance
FRAME = (0.85, 0.1, 0.1)  # red: marks the training images in nearest.png
SCALE = 3  # screen pixels per image pixel
DPI = 100


def walks(starts, ends, steps=WALK_STEPS):
    """(rows, steps, LATENT_DIM): from each start to its end, both ends exactly."""
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[None, :, None]
    return (1 - t) * starts[:, None, :] + t * ends[:, None, :]


# --- Pictures: images laid out on one RGB canvas, shown by matplotlib
def as_images(rows, shape):
    """Rows of pixels in [0, 1] -> (n, *shape) images."""
    return np.asarray(rows).reshape(len(rows), *shape)


def rgb(images):
    """(n, h, w, 1 or 3) images in [0, 1] -> RGB, clipped: float32 tanh overshoots."""
    return np.broadcast_to(np.clip(images, 0.0, 1.0), (*images.shape[:-1], 3))


def mosaic(tiles, cols, gap=GAP):
    """Equal-sized (h, w, 3) tiles in rows of `cols`, on white, `gap` pixels apart."""
    rows = -(-len(tiles) // cols)
    h, w = tiles[0].shape[:2]
    canvas = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    for i, tile in enumerate(tiles):
        y, x = (h + gap) * (i // cols), (w + gap) * (i % cols)
        canvas[y : y + h, x : x + w] = tile
    return canvas


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


def nearest_figure(samples, neighbours, distances, seed):
    """Each sample beside its nearest training image (red frame), their L2 distance
    below the training image; neighbours: (n, *IMG_SHAPE) uint8."""
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
    n, seed = args.n, args.seed
    # Cheap checks first: a bad folder or generator fails before MNIST is read.
    inputs.check_whole_number("--n", n, *inputs.RANGES["GRID_ROWS"])
    data, shape, path = evaluate.run_data(args)
    inputs.make_output_dirs([OUTPUT_DIR])
    generator = evaluate.load_generator(args.generator, shape)
    x_train = pictures.read_data(data, shape, path)["x_train"]
    evaluate.log(inputs.platform_line())  # "is my GPU used?", as gan.py says it
    paths = [os.path.join(OUTPUT_DIR, name) for name in PICTURES]
    save = safekeeping.save_figure  # each picture as soon as it is drawn
    # The first of evaluate.py's samples for this seed; nearest.png shows the first
    # of samples.png's, so that each can be found in the grid.
    n_nearest = NEAREST_ROWS * NEAREST_PAIRS
    noise = evaluate.latent_points(max(n * n, n_nearest), seed)
    samples = evaluate.images_from_noise(generator, noise)
    grid = mosaic(rgb(as_images(samples[: n * n], shape)), cols=n)
    save(show(grid, f"{n * n} samples (noise seed {seed})")[0], paths[0])
    ends = evaluate.latent_points(2 * WALKS, [seed, WALK_STREAM])
    z = walks(ends[:WALKS], ends[WALKS:]).reshape(-1, gan.LATENT_DIM)
    walked = rgb(as_images(evaluate.images_from_noise(generator, z), shape))
    title = f"Linear walks in z: each row {WALK_STEPS} images in equal steps from one"
    title += f" random point to another (seed {seed})"
    save(show(mosaic(walked, cols=WALK_STEPS), title)[0], paths[1])
    train = evaluate.to_unit_interval(x_train, "float32")
    indices, distances = evaluate.nearest_neighbours(samples[:n_nearest], train)
    figure = nearest_figure(samples[:n_nearest], x_train[indices], distances, seed)
    save(figure, paths[2])
    print(f"Wrote {', '.join(paths)}.")


if __name__ == "__main__":
    main()
