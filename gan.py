"""The classic MLP GAN on MNIST (Goodfellow et al., 2014), in Keras 3.

A faithful port of eriklindernoren's Keras-GAN `gan/gan.py`: the same networks, the
same optimizer, the same training loop, made correct on Keras 3 (README.md, "What
changed from the original, and why"). Run it with `python gan.py`; tune it by editing
the constants below or, for one run, with flags (`python gan.py --help`). Watch
`images/*.png`.
"""

import argparse
import csv
import os
import signal
import sys

import numpy as np

# Quiets most of TensorFlow's C++ start-up log (a CUDA probe "error" on CPU-only
# machines among it); set TF_CPP_MIN_LOG_LEVEL=0 to see it all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
from keras import layers
import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt
from PIL import Image, ImageDraw

# -----------------------------------------------------------------------------
# Constants: every knob of a run. Flags override some of them for one run.
ITERATIONS = 30001  # the original calls these "epochs": each is one batch per phase
BATCH_SIZE = 32
SAMPLE_INTERVAL = 500  # print losses and save a grid every this many iterations
LATENT_DIM = 100
IMG_SHAPE = (28, 28, 1)
LEARNING_RATE = 0.0002
BETA_1 = 0.5
SEED = 1337
CHECKPOINT_INTERVAL = 1000  # --resume continues from the last of these
FIXED_GRID_NOISE = True  # False: fresh noise for every grid, as the original
GRID_ROWS, GRID_COLS = 5, 5
GIF_FRAME_MS = 200
IMAGES_DIR = "images"  # grids, losses.csv, losses.png, progress.gif
MODEL_DIR = "saved_model"  # generator.keras at the end
CHECKPOINT_PATH = os.path.join(MODEL_DIR, "checkpoint.npz")
# XLA-compile the train steps. Keras's "auto" leaves XLA off for TensorFlow on a CPU,
# where it makes these small steps about 20% faster; JAX compiles anyway, and torch
# stays eager, as Keras leaves it.
JIT_COMPILE = keras.backend.backend() != "torch"
# A local mnist.npz in Keras's layout; empty means keras.datasets.mnist.load_data().
MNIST_PATH = os.environ.get("MNIST_PATH", "")


class InputError(Exception):
    """Bad input from the user: reported as one sentence, before training starts."""


# -----------------------------------------------------------------------------
# Data


def load_mnist(path=MNIST_PATH):
    """MNIST training images scaled to [-1, 1], shape (60000, 28, 28, 1), float32."""
    if path:
        x_train = read_mnist_npz(path)
    else:
        (x_train, _), _ = download_mnist()
    # float32 once, up front and in place (no float64 copies): the loop only indexes it.
    x_train = x_train.astype("float32")[..., np.newaxis]
    x_train /= 127.5
    x_train -= 1.0
    return x_train


def download_mnist():
    """keras.datasets.mnist.load_data(), or one sentence naming the offline fix."""
    try:
        return keras.datasets.mnist.load_data()
    except Exception:
        raise InputError(
            "could not download MNIST (no network?); set MNIST_PATH or "
            "--mnist-path to a local mnist.npz in Keras's layout"
        ) from None


def read_mnist_npz(path):
    """x_train from an .npz in keras.datasets.mnist's layout, checked."""
    if not os.path.isfile(path):
        raise InputError(f"MNIST file {path!r} does not exist; fix MNIST_PATH")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x_train" not in data.files:
                raise InputError(
                    f"MNIST file {path!r} has no 'x_train' array (it has "
                    f"{sorted(data.files)}); use one in keras.datasets.mnist's layout"
                )
            x_train = data["x_train"]
    except InputError:
        raise
    except Exception as err:
        raise InputError(
            f"MNIST file {path!r} is not a readable .npz ({type(err).__name__}: "
            f"{err}); download it again or fix MNIST_PATH"
        ) from None
    if x_train.ndim != 3 or x_train.shape[1:] != IMG_SHAPE[:2] or len(x_train) == 0:
        raise InputError(
            f"MNIST file {path!r} has x_train of shape {x_train.shape}; expected "
            f"(N, {IMG_SHAPE[0]}, {IMG_SHAPE[1]}) grayscale images"
        )
    if x_train.dtype != np.uint8:
        raise InputError(
            f"MNIST file {path!r} has x_train of dtype {x_train.dtype}; expected "
            "uint8 pixels in 0..255"
        )
    return x_train


def sample_noise(n):
    """Latent points z ~ N(0, 1), drawn from NumPy's seeded global generator."""
    return np.random.normal(0, 1, (n, LATENT_DIM)).astype("float32")


# -----------------------------------------------------------------------------
# Generator: z -> 28x28x1 image in [-1, 1]


def build_generator():
    noise = keras.Input(shape=(LATENT_DIM,))
    x = noise
    for units in (256, 512, 1024):
        x = layers.Dense(units)(x)
        x = layers.LeakyReLU(negative_slope=0.2)(x)
        x = layers.BatchNormalization(momentum=0.8)(x)
    x = layers.Dense(int(np.prod(IMG_SHAPE)), activation="tanh")(x)
    img = layers.Reshape(IMG_SHAPE)(x)
    return keras.Model(noise, img, name="generator")


# -----------------------------------------------------------------------------
# Discriminator: image -> probability that it is real


def build_discriminator():
    img = keras.Input(shape=IMG_SHAPE)
    x = layers.Flatten()(img)
    x = layers.Dense(512)(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Dense(256)(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    validity = layers.Dense(1, activation="sigmoid")(x)
    discriminator = keras.Model(img, validity, name="discriminator")
    discriminator.compile(
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
        metrics=["accuracy"],
        jit_compile=JIT_COMPILE,
    )
    return discriminator


# -----------------------------------------------------------------------------
# Combined model: z -> G -> D, trained to make D say "real"


def build_combined(generator, discriminator):
    z = keras.Input(shape=(LATENT_DIM,))
    validity = discriminator(generator(z))
    combined = keras.Model(z, validity, name="combined")
    # Its own Adam: Keras 3 optimizers cannot be shared between compiled models.
    combined.compile(
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
        jit_compile=JIT_COMPILE,
    )
    return combined


# -----------------------------------------------------------------------------
# The two training phases. Keras 3 reads `trainable` when a model's train function
# first runs, not when it is compiled, so each phase says which weights it may move.


def train_discriminator(generator, discriminator, real_images):
    """One step on real images (label 1), one on generated ones (label 0).

    Returns (loss, accuracy), each the mean of the two steps.
    """
    batch_size = len(real_images)
    # Inference mode: making D's fake batch must not move G's BatchNorm statistics.
    fake_images = generator.predict_on_batch(sample_noise(batch_size))
    discriminator.trainable = True
    loss_real, acc_real = discriminator.train_on_batch(real_images, ones(batch_size))
    loss_fake, acc_fake = discriminator.train_on_batch(fake_images, zeros(batch_size))
    return 0.5 * (loss_real + loss_fake), 0.5 * (acc_real + acc_fake)


def train_generator(combined, discriminator, batch_size):
    """One step of z -> G -> D on fresh noise labelled real; only G learns."""
    discriminator.trainable = False
    return combined.train_on_batch(sample_noise(batch_size), ones(batch_size))


def ones(n):
    return np.ones((n, 1), dtype="float32")


def zeros(n):
    return np.zeros((n, 1), dtype="float32")


# -----------------------------------------------------------------------------
# Sampling: a 5x5 grid of generated digits


def sample_images(generator, iteration, noise=None):
    """Saves images/<iteration>.png; `noise` (25 latent points) defaults to fresh."""
    if noise is None:
        noise = sample_noise(GRID_ROWS * GRID_COLS)
    images = 0.5 * generator.predict_on_batch(noise) + 0.5  # [-1, 1] -> [0, 1]
    fig, axs = plt.subplots(GRID_ROWS, GRID_COLS)
    for ax, image in zip(axs.flat, images):
        ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    fig.savefig(os.path.join(IMAGES_DIR, f"{iteration}.png"))
    plt.close(fig)


# -----------------------------------------------------------------------------
# Watching a run: the loss history as CSV and a plot, the grids as an animation


class LossLog:
    """Every iteration's losses, in memory (for checkpoints and the plot) and as CSV."""

    COLUMNS = ("iteration", "d_loss", "d_accuracy", "g_loss")

    def __init__(self, iterations, history=None):
        self.history = np.full((iterations, 3), np.nan)
        done = 0 if history is None else min(len(history), iterations)
        if done:
            self.history[:done] = history[:done]
        # Rewritten from the history, so rows after a checkpoint do not repeat.
        self.file = open(os.path.join(IMAGES_DIR, "losses.csv"), "w", newline="")
        self.csv = csv.writer(self.file)
        self.csv.writerow(self.COLUMNS)
        self.csv.writerows([i, *row] for i, row in enumerate(self.history[:done]))

    def add(self, iteration, d_loss, d_acc, g_loss):
        self.history[iteration] = d_loss, d_acc, g_loss
        self.csv.writerow((iteration, d_loss, d_acc, g_loss))

    def upto(self, iteration):
        return self.history[: iteration + 1]

    def close(self):
        self.file.close()


def plot_losses(history):
    """images/losses.png: raw values faint, a moving average on top."""
    window = max(1, len(history) // 100)
    kernel = np.ones(window) / window
    steps = np.arange(len(history))
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    for ax, column, label in [
        (ax_loss, 0, "D loss"),
        (ax_loss, 2, "G loss"),
        (ax_acc, 1, "D accuracy"),
    ]:
        raw = history[:, column]
        (line,) = ax.plot(steps, raw, alpha=0.2, linewidth=0.5)
        smooth = np.convolve(raw, kernel, mode="valid")
        ax.plot(steps[window - 1 :], smooth, color=line.get_color(), label=label)
        ax.legend(loc="upper right")
    ax_loss.set_ylabel("binary cross-entropy")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_xlabel("iteration")
    fig.savefig(os.path.join(IMAGES_DIR, "losses.png"))
    plt.close(fig)


def make_progress_gif(last_iteration, sample_interval):
    """images/progress.gif: the saved grids in order, labelled with their iteration."""
    frames = []
    for iteration in range(0, last_iteration + 1, sample_interval):
        path = os.path.join(IMAGES_DIR, f"{iteration}.png")
        if os.path.exists(path):
            frame = Image.open(path).convert("L")
            ImageDraw.Draw(frame).text((10, 10), f"iteration {iteration}", fill=0)
            frames.append(frame)
    if frames:
        frames[0].save(
            os.path.join(IMAGES_DIR, "progress.gif"),
            save_all=True,
            append_images=frames[1:],
            duration=GIF_FRAME_MS,
            loop=0,
        )


# -----------------------------------------------------------------------------
# Checkpoints: everything needed to continue a run exactly, in one file


def save_checkpoint(models, iteration, loss_log, grid_noise, path=CHECKPOINT_PATH):
    arrays = {
        "iteration": np.array(iteration),
        "history": loss_log.upto(iteration),
        "grid_noise": grid_noise,
        "latent_dim": np.array(LATENT_DIM),
        "img_shape": np.array(IMG_SHAPE),
    }
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    arrays["numpy_random_keys"] = keys
    arrays["numpy_random_rest"] = np.array([pos, has_gauss, cached_gaussian])
    for name, variables in checkpointed_variables(models).items():
        for i, variable in enumerate(variables):
            arrays[f"{name}/{i}"] = keras.ops.convert_to_numpy(variable)
    # Write aside, then rename: a run killed mid-write keeps the last good checkpoint.
    partial = path + ".partial"
    with open(partial, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def load_checkpoint(path=CHECKPOINT_PATH):
    """The arrays of a checkpoint, checked against this file's architecture."""
    if not os.path.exists(path):
        raise InputError(
            f"--resume found no checkpoint at {path!r}; run without --resume first"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            checkpoint = {key: data[key] for key in data.files}
        iteration = int(checkpoint["iteration"])
        latent_dim, img_shape = (
            int(checkpoint["latent_dim"]),
            tuple(checkpoint["img_shape"]),
        )
    except Exception as err:
        raise InputError(
            f"checkpoint {path!r} is damaged ({type(err).__name__}); "
            "delete it to start over"
        ) from None
    if (latent_dim, img_shape) != (LATENT_DIM, IMG_SHAPE):
        raise InputError(
            f"checkpoint {path!r} was made with LATENT_DIM={latent_dim}, "
            f"IMG_SHAPE={img_shape}, not {LATENT_DIM}, {IMG_SHAPE}; restore those "
            "constants or delete it to start over"
        )
    checkpoint["iteration"] = iteration
    return checkpoint


def restore_checkpoint(models, checkpoint, path=CHECKPOINT_PATH):
    for name, variables in checkpointed_variables(models).items():
        for i, variable in enumerate(variables):
            value = checkpoint.get(f"{name}/{i}")
            if value is None or value.shape != tuple(variable.shape):
                raise InputError(
                    f"checkpoint {path!r} does not fit this file's {name} (made with "
                    "other layer sizes?); restore them or delete it to start over"
                )
            variable.assign(value)
    rest = checkpoint["numpy_random_rest"]
    np.random.set_state(
        (
            "MT19937",
            checkpoint["numpy_random_keys"],
            int(rest[0]),
            int(rest[1]),
            rest[2],
        )
    )


def checkpointed_variables(models):
    generator, discriminator, combined = models
    # Optimizers make their slots lazily; build them now, for the weights each trains.
    if not discriminator.optimizer.built:
        discriminator.optimizer.build(discriminator.trainable_variables)
    if not combined.optimizer.built:
        combined.optimizer.build(generator.trainable_variables)
    return {
        "generator": generator.variables,
        "discriminator": discriminator.variables,
        "discriminator_optimizer": discriminator.optimizer.variables,
        "combined_optimizer": combined.optimizer.variables,
    }


# -----------------------------------------------------------------------------
# The loop


def train(
    x_train,
    iterations=ITERATIONS,
    batch_size=BATCH_SIZE,
    sample_interval=SAMPLE_INTERVAL,
    checkpoint_interval=CHECKPOINT_INTERVAL,
    seed=SEED,
    checkpoint=None,
):
    """Trains from scratch, or from `checkpoint` (see load_checkpoint).

    Returns the last iteration run, short of `iterations - 1` if Ctrl-C stopped it.
    """
    keras.utils.set_random_seed(seed)  # Python, NumPy and backend generators
    generator = build_generator()
    discriminator = build_discriminator()
    combined = build_combined(generator, discriminator)
    models = generator, discriminator, combined
    # The same 25 latent points in every grid show one set of digits forming.
    grid_noise = np.random.default_rng(seed).normal(
        size=(GRID_ROWS * GRID_COLS, LATENT_DIM)
    )
    grid_noise = grid_noise.astype("float32")

    start, history = 0, None
    if checkpoint is not None:
        restore_checkpoint(models, checkpoint)
        start, history = checkpoint["iteration"] + 1, checkpoint["history"]
        grid_noise = checkpoint["grid_noise"]
    loss_log = LossLog(iterations, history)
    progbar = (
        keras.utils.Progbar(
            iterations - start,
            unit_name="iteration",
            stateful_metrics=["D loss", "D acc", "G loss"],
        )
        if sys.stdout.isatty()
        else None
    )

    iteration = start - 1
    with stop_on_ctrl_c() as stop:
        for iteration in range(start, iterations):
            real_images = x_train[np.random.randint(0, len(x_train), batch_size)]
            d_loss, d_acc = train_discriminator(generator, discriminator, real_images)
            g_loss = train_generator(combined, discriminator, batch_size)

            loss_log.add(iteration, d_loss, d_acc, g_loss)
            if progbar:
                progbar.update(
                    iteration - start + 1,
                    [("D loss", d_loss), ("D acc", d_acc), ("G loss", g_loss)],
                )
            if iteration % sample_interval == 0:
                if progbar:
                    sys.stdout.write("\r\033[K")  # the log line replaces the bar
                print(
                    "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
                    % (iteration, d_loss, 100 * d_acc, g_loss),
                    flush=True,
                )
                sample_images(
                    generator, iteration, grid_noise if FIXED_GRID_NOISE else None
                )
                plot_losses(loss_log.upto(iteration))
            if (iteration + 1) % checkpoint_interval == 0:
                save_checkpoint(models, iteration, loss_log, grid_noise)
            if stop.requested:
                break

    if iteration >= start and (iteration + 1) % checkpoint_interval:
        save_checkpoint(models, iteration, loss_log, grid_noise)  # where it ended
    loss_log.close()
    if iteration >= 0:
        plot_losses(loss_log.upto(iteration))
        make_progress_gif(iteration, sample_interval)
    generator.save(os.path.join(MODEL_DIR, "generator.keras"))
    return iteration


class stop_on_ctrl_c:
    """The first Ctrl-C asks the loop to stop after this iteration; a second aborts."""

    requested = False

    def __enter__(self):
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        self.previous = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


# -----------------------------------------------------------------------------
# Command line: flags override the constants above for one run.


def whole_number(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=whole_number(1), default=ITERATIONS)
    parser.add_argument("--batch-size", type=whole_number(1), default=BATCH_SIZE)
    parser.add_argument(
        "--sample-interval", type=whole_number(1), default=SAMPLE_INTERVAL
    )
    parser.add_argument(
        "--checkpoint-interval", type=whole_number(1), default=CHECKPOINT_INTERVAL
    )
    parser.add_argument("--seed", type=whole_number(0), default=SEED)
    parser.add_argument(
        "--resume", action="store_true", help=f"continue from {CHECKPOINT_PATH}"
    )
    parser.add_argument(
        "--mnist-path", default=MNIST_PATH, help="local mnist.npz (env MNIST_PATH)"
    )
    args = parser.parse_args(argv)
    return args


def check_constants(args):
    """The constants can be edited too: refuse nonsense before building anything."""
    for name, value, minimum in [
        ("ITERATIONS (--iterations)", args.iterations, 1),
        ("BATCH_SIZE (--batch-size)", args.batch_size, 1),
        ("SAMPLE_INTERVAL (--sample-interval)", args.sample_interval, 1),
        ("CHECKPOINT_INTERVAL (--checkpoint-interval)", args.checkpoint_interval, 1),
        ("SEED (--seed)", args.seed, 0),
        ("LATENT_DIM", LATENT_DIM, 1),
    ]:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InputError(
                f"{name} must be a whole number >= {minimum}, got {value!r}"
            )
    if not (isinstance(LEARNING_RATE, (int, float)) and LEARNING_RATE > 0):
        raise InputError(
            f"LEARNING_RATE must be a positive number, got {LEARNING_RATE!r}"
        )
    if not (isinstance(BETA_1, (int, float)) and 0 <= BETA_1 < 1):
        raise InputError(f"BETA_1 must be a number in [0, 1), got {BETA_1!r}")


def make_output_dirs(*folders):
    """Creates the output folders (IMAGES_DIR, MODEL_DIR unless named) and checks
    that files can be written there, so a bad one fails before training."""
    for folder in folders or (IMAGES_DIR, MODEL_DIR):
        try:
            os.makedirs(folder, exist_ok=True)
            probe = os.path.join(folder, ".write-test")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as err:
            raise InputError(
                f"cannot write to output folder {folder!r} ({err.strerror}); "
                "make it writable or run from another folder"
            ) from None


def main(argv=None):
    args = parse_args(argv)
    try:
        check_constants(args)
        make_output_dirs()
        checkpoint = load_checkpoint() if args.resume else None
        x_train = load_mnist(args.mnist_path)
        # A checkpoint that does not fit the models is refused before iteration one.
        last = train(
            x_train,
            args.iterations,
            args.batch_size,
            args.sample_interval,
            args.checkpoint_interval,
            args.seed,
            checkpoint,
        )
    except InputError as err:
        sys.exit(f"gan.py: error: {err}")
    if last < args.iterations - 1:
        flags = [
            a for a in (argv if argv is not None else sys.argv[1:]) if a != "--resume"
        ]
        print(f"Stopped after iteration {last}. To continue:")
        print(" ".join(["python", "gan.py", *flags, "--resume"]))
        sys.exit(130)


if __name__ == "__main__":
    main()
