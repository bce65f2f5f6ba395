"""The classic MLP GAN on MNIST (Goodfellow et al., 2014), in Keras 3.

A faithful port of eriklindernoren's Keras-GAN `gan/gan.py`: the same networks, the
same optimizer, the same training loop, made correct on Keras 3 (README.md, "What
changed from the original, and why"). Run it with `python gan.py`; tune it by editing
the constants below or, for one run, with flags (`python gan.py --help`); DATA and
IMG_SHAPE point it at Fashion-MNIST or a folder of your own pictures, grey or colour.
Watch `images/*.png`. What keeps a run safe and watchable is in inputs.py and
safekeeping.py.
"""

import os
import sys

import inputs  # first: it refuses a too old Python before NumPy loads
import numpy as np

if __name__ == "__main__":  # until the run's own handlers: nothing is written yet
    inputs.ExitOnStop("stopped while starting; nothing was written")
inputs.load_keras()  # quietly; a missing backend or a too old Keras is one sentence
import keras
from keras import layers

from matplotlib.figure import Figure  # not pyplot: a notebook keeps its own backend

import safekeeping

# -----------------------------------------------------------------------------
# Constants: every knob of a run. Flags override some of them for one run.
DATA = "mnist"  # or "fashion_mnist" (Keras's datasets), or a folder of your images
ITERATIONS = 30001  # the original calls these "epochs": each is one batch per phase
BATCH_SIZE = 32
SAMPLE_INTERVAL = 500  # print losses and save a grid every this many iterations
LATENT_DIM = 100
IMG_SHAPE = (28, 28, 1)  # (height, width, channels: 1 grey, 3 colour); data fit it
LEARNING_RATE = 0.0002
BETA_1 = 0.5
SEED = 1337
CHECKPOINT_INTERVAL = 1000  # --resume continues from the last of these
FIXED_GRID_NOISE = True  # False: fresh noise for every grid, as the original
GRID_ROWS, GRID_COLS = 5, 5
GIF_FRAME_MS = 200
IMAGES_DIR = "images"  # grids, losses.csv, losses.png, progress.gif
MODEL_DIR = "saved_model"  # generator.keras at the end, checkpoint.npz on the way
CHECKPOINT_PATH = os.path.join(MODEL_DIR, "checkpoint.npz")
# XLA-compile the train steps. Keras's "auto" leaves XLA off for TensorFlow on a CPU,
# where it makes these small steps about 20% faster; JAX compiles anyway, and torch
# stays eager, as Keras leaves it.
JIT_COMPILE = keras.backend.backend() != "torch"
# Keras's datasets offline: a local .npz in Keras's layout; empty means download.
MNIST_PATH = os.environ.get("MNIST_PATH", "")
FASHION_MNIST_PATH = os.environ.get("FASHION_MNIST_PATH", "")

# -----------------------------------------------------------------------------
# Data


def load_images(data=DATA, path=""):
    """The training images of `data` (inputs.read_data: Keras's dataset, from the .npz
    at `path` if given, or a folder), fitted to IMG_SHAPE and scaled to [-1, 1]."""
    x_train = inputs.read_data(data, IMG_SHAPE, path)["x_train"]
    # float32 once, up front and in place (no float64 copies): the loop only indexes it.
    x_train = x_train.astype("float32")
    x_train /= 127.5
    x_train -= 1.0
    return x_train


def sample_noise(n):
    """Latent points z ~ N(0, 1), drawn from NumPy's seeded global generator."""
    return np.random.normal(0, 1, (n, LATENT_DIM)).astype("float32")


# -----------------------------------------------------------------------------
# Generator: z -> image of IMG_SHAPE (28x28x1 for MNIST) in [-1, 1]


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


def build_gan():
    """The generator, the discriminator and the combined model, as the original."""
    generator = build_generator()
    discriminator = build_discriminator()
    return generator, discriminator, build_combined(generator, discriminator)


# -----------------------------------------------------------------------------
# The two training phases. Keras 3 reads `trainable` when a model's train function
# first runs, not when it is compiled, so each phase says which weights it may move.


def train_on_batch(model, x, y):
    """This batch's loss (and accuracy), as Keras 3.15 returns them. Before 3.15 it
    returned the means over every call since compile, so there the metrics restart."""
    if inputs.keras_version() >= (3, 15):
        return model.train_on_batch(x, y)
    model.reset_metrics()
    return keras.tree.map_structure(float, model.train_on_batch(x, y))  # not float32


def train_discriminator(generator, discriminator, real_images):
    """One step on real images (label 1), one on fakes (label 0); mean loss, acc."""
    n = len(real_images)
    valid, fake = np.ones((n, 1), "float32"), np.zeros((n, 1), "float32")
    # Inference mode: making D's fake batch must not move G's BatchNorm statistics.
    fake_images = generator.predict_on_batch(sample_noise(n))
    discriminator.trainable = True
    loss_real, acc_real = train_on_batch(discriminator, real_images, valid)
    loss_fake, acc_fake = train_on_batch(discriminator, fake_images, fake)
    return 0.5 * (loss_real + loss_fake), 0.5 * (acc_real + acc_fake)


def train_generator(combined, discriminator, batch_size):
    """One step of z -> G -> D on fresh noise labelled real; only G learns."""
    discriminator.trainable = False
    valid = np.ones((batch_size, 1), "float32")
    return train_on_batch(combined, sample_noise(batch_size), valid)


def train_iteration(generator, discriminator, combined, x_train, batch_size):
    """One iteration: D on a random real batch and a fake one, then G through D."""
    real_images = x_train[np.random.randint(0, len(x_train), batch_size)]
    d_loss, d_acc = train_discriminator(generator, discriminator, real_images)
    g_loss = train_generator(combined, discriminator, batch_size)
    return d_loss, d_acc, g_loss


# -----------------------------------------------------------------------------
# Sampling: a 5x5 grid of generated images


def sample_images(generator, iteration, noise=None):
    """Saves images/<iteration>.png; `noise` (25 latent points) defaults to fresh."""
    if noise is None:
        noise = sample_noise(GRID_ROWS * GRID_COLS)
    images = 0.5 * generator.predict_on_batch(noise) + 0.5  # [-1, 1] -> [0, 1]
    images = np.clip(images, 0, 1)  # float32 tanh can overshoot by 1e-7
    fig = Figure()
    axs = fig.subplots(GRID_ROWS, GRID_COLS, squeeze=False)  # 2-D, even 1 x 1
    for ax, image in zip(axs.flat, images):
        image = image if image.shape[-1] == 3 else image[:, :, 0]  # colour or grey
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    safekeeping.save_figure(fig, os.path.join(IMAGES_DIR, f"{iteration}.png"))


# -----------------------------------------------------------------------------
# The loop


def train(x_train, config, checkpoint=None):
    """Trains from scratch, or on from `checkpoint`, with `config` (the constants);
    returns the safekeeping.Run, which says where it ended and why."""
    iterations, batch_size = config["ITERATIONS"], config["BATCH_SIZE"]
    keras.utils.set_random_seed(config["SEED"])  # Python, NumPy and backend generators
    generator, discriminator, combined = models = build_gan()
    print(inputs.platform_line())  # "is my GPU used?"
    generator.summary()
    discriminator.summary()
    with safekeeping.Run(models, config, checkpoint) as run:
        grid_noise = run.fixed_noise if config["FIXED_GRID_NOISE"] else None
        for iteration in range(run.start, iterations):
            d_loss, d_acc, g_loss = train_iteration(
                generator, discriminator, combined, x_train, batch_size
            )
            run.record(d_loss, d_acc, g_loss)
            if iteration % config["SAMPLE_INTERVAL"] == 0:
                run.print(
                    "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
                    % (iteration, d_loss, 100 * d_acc, g_loss)
                )
                sample_images(generator, iteration, grid_noise)
                run.write_csv()
                run.plot_losses()
            if (iteration + 1) % config["CHECKPOINT_INTERVAL"] == 0 or run.stop_signals:
                run.save_checkpoint(iteration)
            if run.stop_signals:
                break
    return run


def main(argv=None):
    args = inputs.parse_args(globals(), argv)  # --batch-size overrides BATCH_SIZE, ...
    config = inputs.run_config(globals(), args)
    inputs.check_config(config)  # bad input raises InputError: one sentence, exit 1
    with safekeeping.output_folders(IMAGES_DIR, MODEL_DIR):  # one run at a time
        checkpoint = safekeeping.checkpoint_to_continue(config, args)  # or None
        path, source = inputs.dataset_path(args, config["DATA"], config)
        x_train = load_images(config["DATA"], path)
        inputs.check_batch_size(config["BATCH_SIZE"], len(x_train))
        run = train(x_train, config, checkpoint)
    if run.stop_signals:
        run.print(run.stop_report("gan.py", argv))
        if not inputs.ipython():  # a notebook's cell ends without an error
            sys.exit(128 + run.stop_signals[0])  # 130 after Ctrl-C, 143 after SIGTERM


if __name__ == "__main__":
    main()
