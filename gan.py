"""The classic MLP GAN on MNIST (Goodfellow et al., 2014), in Keras 3.

A faithful port of eriklindernoren's Keras-GAN `gan/gan.py`: the same networks, the
same optimizer, the same training loop, made correct on Keras 3 (see "Keras 3 traps"
in README.md). Run it with `python gan.py`; tune it by editing the constants below or,
for one run, with flags (`python gan.py --help`). Watch `images/*.png`.
"""

import argparse
import os
import sys

import numpy as np

import keras
from keras import layers

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
IMAGES_DIR = "images"
MODEL_DIR = "saved_model"
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
        try:
            (x_train, _), _ = keras.datasets.mnist.load_data()
        except Exception as err:
            raise InputError(
                f"could not download MNIST ({type(err).__name__}); set MNIST_PATH "
                "(or --mnist-path) to a local mnist.npz in Keras's layout"
            ) from None
    # float32 once, up front: the loop then only indexes it.
    return (x_train.astype("float32") / 127.5 - 1.0)[..., np.newaxis]


def read_mnist_npz(path):
    """x_train from an .npz in keras.datasets.mnist's layout, checked."""
    if not os.path.isfile(path):
        raise InputError(f"MNIST file {path!r} does not exist; fix MNIST_PATH")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x_train" not in data.files:
                raise InputError(
                    f"MNIST file {path!r} has no 'x_train' array (it has "
                    f"{sorted(data.files)}); use an npz in keras.datasets.mnist's layout"
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


def sample_images(generator, iteration, rows=5, cols=5):
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    images = generator.predict_on_batch(sample_noise(rows * cols))
    images = 0.5 * images + 0.5  # [-1, 1] -> [0, 1]
    fig, axs = plt.subplots(rows, cols)
    for ax, image in zip(axs.flat, images):
        ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    fig.savefig(os.path.join(IMAGES_DIR, f"{iteration}.png"))
    plt.close(fig)


# -----------------------------------------------------------------------------
# The loop


def train(
    x_train,
    iterations=ITERATIONS,
    batch_size=BATCH_SIZE,
    sample_interval=SAMPLE_INTERVAL,
    seed=SEED,
):
    """Builds the three models and trains them; returns the generator."""
    keras.utils.set_random_seed(seed)  # Python, NumPy and backend generators
    generator = build_generator()
    discriminator = build_discriminator()
    combined = build_combined(generator, discriminator)

    for iteration in range(iterations):
        real_images = x_train[np.random.randint(0, len(x_train), batch_size)]
        d_loss, d_acc = train_discriminator(generator, discriminator, real_images)
        g_loss = train_generator(combined, discriminator, batch_size)

        if iteration % sample_interval == 0:
            print(
                "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
                % (iteration, d_loss, 100 * d_acc, g_loss),
                flush=True,
            )
            sample_images(generator, iteration)

    generator.save(os.path.join(MODEL_DIR, "generator.keras"))
    return generator


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
    parser.add_argument("--seed", type=whole_number(0), default=SEED)
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
        ("SEED (--seed)", args.seed, 0),
        ("LATENT_DIM", LATENT_DIM, 1),
    ]:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    if not (isinstance(LEARNING_RATE, (int, float)) and LEARNING_RATE > 0):
        raise InputError(f"LEARNING_RATE must be a positive number, got {LEARNING_RATE!r}")
    if not (isinstance(BETA_1, (int, float)) and 0 <= BETA_1 < 1):
        raise InputError(f"BETA_1 must be a number in [0, 1), got {BETA_1!r}")


def make_output_dirs():
    for folder in (IMAGES_DIR, MODEL_DIR):
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
        x_train = load_mnist(args.mnist_path)
    except InputError as err:
        sys.exit(f"gan.py: error: {err}")
    train(x_train, args.iterations, args.batch_size, args.sample_interval, args.seed)


if __name__ == "__main__":
    main()
