# %% [markdown]
# # The classic GAN on MNIST, in Keras 3
#
# A generative adversarial network (Goodfellow et al., 2014) is two networks in a
# game. The generator G turns random noise z into images; the discriminator D says how
# likely an image is to be real rather than one of G's. D learns to tell them apart,
# G learns to fool D:
#
# $$\min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}}[\log D(x)] +
# \mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))]$$
#
# This is eriklindernoren's Keras-GAN `gan/gan.py`, as the "One Day One GAN, day 1"
# notes walk through it: two small perceptrons, trained on MNIST one batch at a time.
# Same networks, same optimizer, same loop and log line; what changed is only what
# Keras 3 needs to train it for real. Run it with `python gan.py`, in a notebook
# (`gan.ipynb`, made from this file), or cell by cell in an editor that knows `# %%`.

# %%
"""The classic MLP GAN on MNIST (Goodfellow et al., 2014), in Keras 3: eriklindernoren's
Keras-GAN `gan/gan.py`, made to train for real. `python gan.py` trains it (flags:
`python gan.py --help`); the constants below are its knobs. pictures.py reads the data;
inputs.py and safekeeping.py keep a run safe and watchable."""

import importlib.util
import os
import sys

if not all(importlib.util.find_spec(m) for m in ("inputs", "pictures", "safekeeping")):
    sys.exit(  # a notebook opened on its own, in Colab say
        "gan.py needs inputs.py, pictures.py and safekeeping.py beside it: upload them "
        "(Colab: the Files pane), or clone the repository and open the notebook there"
    )
import inputs  # first: it refuses a too old Python before NumPy loads
import numpy as np

if __name__ == "__main__":  # until the run's own handlers: nothing is written yet
    inputs.ExitOnStop("stopped while starting; nothing was written")
inputs.load_keras()  # quietly; a missing backend or a too old Keras is one sentence
import keras
from keras import layers
from matplotlib.figure import Figure  # not pyplot: a notebook keeps its own backend

import pictures
import safekeeping

# %% [markdown]
# ## Constants
#
# Every knob of a run. Edit them here, or override one for a single run: a flag
# (`python gan.py --batch-size 64`), or papermill's `-p BATCH_SIZE 64`, which sets
# this cell's values in a notebook.

# %% tags=["parameters"]
DATA = "mnist"  # or "fashion_mnist" (Keras's datasets), or a folder of your images
ITERATIONS = 30001  # the original calls these "epochs": each is one batch per phase
BATCH_SIZE = 32
SAMPLE_INTERVAL = 500  # print losses and save a grid every this many iterations
LATENT_DIM = 100
IMG_SHAPE = (28, 28, 1)  # (height, width, channels: 1 grey, 3 colour); data fit it
LEARNING_RATE = 0.0002
BETA_1 = 0.5
SEED = 1337
CHECKPOINT_INTERVAL = 1000  # a stopped run continues from the last of these
RESUME = False  # True: continue the stopped run whose checkpoint is in MODEL_DIR
START_OVER = False  # True: replace a stopped run instead of refusing to
FIXED_GRID_NOISE = True  # False: fresh noise for every grid, as the original
GRID_ROWS, GRID_COLS = 5, 5
GIF_FRAME_MS = 200
IMAGES_DIR = "images"  # grids, losses.csv, losses.png, progress.gif
MODEL_DIR = "saved_model"  # generator.keras at the end, checkpoint.npz on the way
# XLA-compile the train steps. Keras's "auto" leaves XLA off for TensorFlow on a CPU,
# where it makes these small steps about 20% faster; JAX compiles anyway, and torch
# stays eager, as Keras leaves it.
JIT_COMPILE = keras.backend.backend() in ("tensorflow", "jax")
# Keras's datasets offline: a local .npz in Keras's layout; empty means download.
MNIST_PATH = os.environ.get("MNIST_PATH", "")
FASHION_MNIST_PATH = os.environ.get("FASHION_MNIST_PATH", "")

# %% [markdown]
# ## Data
#
# The training images, scaled from [0, 255] to [-1, 1]: the range of the generator's
# tanh output, so that real and generated images look alike to D. The noise is
# z ~ N(0, 1), as in the notes.


# %%
def load_images():
    """The training images of DATA, fitted to IMG_SHAPE and scaled to [-1, 1], and
    the line that says what was read."""
    path = globals().get(inputs.KERAS_DATASETS.get(DATA), "")  # MNIST_PATH, say
    arrays = pictures.read_data(DATA, IMG_SHAPE, path)
    # float32 once, up front and in place (no float64 copies): the loop only indexes it.
    x_train = arrays["x_train"].astype("float32")
    x_train /= 127.5
    x_train -= 1.0
    return x_train, pictures.describe(DATA, arrays)


def sample_noise(n):
    """Latent points z ~ N(0, 1), drawn from NumPy's seeded global generator."""
    return np.random.normal(0, 1, (n, LATENT_DIM)).astype("float32")


# %% [markdown]
# ## Generator
#
# z -> three Dense layers of 256, 512 and 1,024 units, each with LeakyReLU and
# BatchNormalization -> one pixel per output, tanh -> an image of IMG_SHAPE.


# %%
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


# %% [markdown]
# ## Discriminator
#
# An image -> two Dense layers of 512 and 256 units with LeakyReLU -> the probability
# that it is real. It is compiled on its own: it learns in its own phase.


# %%
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


# %% [markdown]
# ## The combined model
#
# z -> G -> D, trained with the label "real": its loss is small when G fools D. Only
# G may learn here, or D would learn to call fakes real. The original freezes D with
# `discriminator.trainable = False` before compiling the combined model, and Keras 2
# read the flag then. Keras 3 reads it when a model's train function first runs, so
# that order leaves D frozen in its own phase too: a naive port prints losses and
# saves pictures while D never learns. Here each phase sets the flag itself.


# %%
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


# %% [markdown]
# ## The two training phases
#
# D learns from a real batch (label 1) and a batch of G's (label 0); then G learns,
# through the frozen D, from fresh noise labelled real. Each phase says which weights
# it may move before it trains.


# %%
def losses_of_batch(model, x, y):
    """This batch's loss (and accuracy), as Keras 3.15 returns them. Before 3.15
    train_on_batch returned the means over every call since compile, so there the
    metrics restart."""
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
    loss_real, acc_real = losses_of_batch(discriminator, real_images, valid)
    loss_fake, acc_fake = losses_of_batch(discriminator, fake_images, fake)
    return 0.5 * (loss_real + loss_fake), 0.5 * (acc_real + acc_fake)


def train_generator(combined, discriminator, batch_size):
    """One step of z -> G -> D on fresh noise labelled real; only G learns."""
    discriminator.trainable = False
    valid = np.ones((batch_size, 1), "float32")
    return losses_of_batch(combined, sample_noise(batch_size), valid)


def train_iteration(generator, discriminator, combined, x_train, batch_size):
    """One iteration: D on a random real batch and a fake one, then G through D."""
    real_images = x_train[np.random.randint(0, len(x_train), batch_size)]
    d_loss, d_acc = train_discriminator(generator, discriminator, real_images)
    g_loss = train_generator(combined, discriminator, batch_size)
    return d_loss, d_acc, g_loss


# %% [markdown]
# ## Sampling
#
# A 5x5 grid of G's images, saved as `images/<iteration>.png` (and shown in a
# notebook). By default every grid comes from the same 25 latent points, so that
# one set of digits is seen forming.


# %%
def sample_images(generator, iteration, noise=None):
    """Saves images/<iteration>.png; `noise` (25 latent points) defaults to fresh."""
    noise = sample_noise(GRID_ROWS * GRID_COLS) if noise is None else noise
    images = 0.5 * generator.predict_on_batch(noise) + 0.5  # [-1, 1] -> [0, 1]
    images = np.clip(images, 0, 1)  # float32 tanh can overshoot by 1e-7
    fig = Figure()
    axs = fig.subplots(GRID_ROWS, GRID_COLS, squeeze=False)  # 2-D, even 1 x 1
    for ax, image in zip(axs.flat, images):
        image = image if image.shape[-1] == 3 else image[:, :, 0]  # colour or grey
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    path = os.path.join(IMAGES_DIR, f"{iteration}.png")
    safekeeping.save_figure(fig, path, show=True)  # in a notebook, under the log line


# %% [markdown]
# ## The loop
#
# Each iteration trains both phases on one batch; every SAMPLE_INTERVAL iterations
# it prints the original's log line and saves a grid. The run records every loss,
# writes a checkpoint every CHECKPOINT_INTERVAL iterations, and stops cleanly after
# the current iteration on Ctrl-C (or a notebook's stop button).


# %%
def train(x_train, checkpoint=None):
    """Trains from scratch, or on from `checkpoint`; returns the safekeeping.Run,
    which says where it ended and why."""
    keras.utils.set_random_seed(SEED)  # Python, NumPy and backend generators
    generator, discriminator, combined = models = build_gan()
    print(inputs.platform_line())  # "is my GPU used?"
    generator.summary()
    discriminator.summary()
    with safekeeping.Run(models, globals(), checkpoint) as run:
        grid_noise = run.grid_noise if FIXED_GRID_NOISE else None
        for iteration in range(run.start, ITERATIONS):
            d_loss, d_acc, g_loss = train_iteration(
                generator, discriminator, combined, x_train, BATCH_SIZE
            )
            run.record(d_loss, d_acc, g_loss)
            if iteration % SAMPLE_INTERVAL == 0:
                run.print(
                    "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
                    % (iteration, d_loss, 100 * d_acc, g_loss)
                )
                sample_images(generator, iteration, grid_noise)
                run.write_losses()
            if (iteration + 1) % CHECKPOINT_INTERVAL == 0 or run.stop.signals:
                run.save_checkpoint()
            if run.stop.signals:
                break
    return run


def main(argv=None):
    """Trains with the constants above. `argv`, flags, overrides them for this run:
    by default the command line of `python gan.py` or `%run gan.py`, none in a
    notebook or after `import gan`."""
    here = os.path.realpath(globals().get("__file__", "."))  # none in a notebook
    if argv is None and os.path.realpath(sys.argv[0]) == here:
        argv = sys.argv[1:]
    with inputs.settings_for_run(globals(), argv or []):  # one sentence if nonsense
        with safekeeping.output_folders(IMAGES_DIR, MODEL_DIR):  # one run at a time
            checkpoint = safekeeping.checkpoint_to_continue(globals())
            if checkpoint is False:  # nothing left to do, and it said so
                return
            x_train, what_was_read = load_images()
            inputs.check_batch_size(BATCH_SIZE, len(x_train))
            print(what_was_read)
            run = train(x_train, checkpoint)
        if run.stop.signals:
            run.print(run.stop_report(argv, __name__))
            if not inputs.ipython_shell():  # a notebook's cell ends without an error
                sys.exit(128 + run.stop.signals[0])  # 130: Ctrl-C, 143: SIGTERM


# %% [markdown]
# ## Train
#
# About 15 minutes on a laptop's CPU for the 30,001 iterations. Watch the grids: the
# digits take shape within a few thousand iterations.

# %%
if __name__ == "__main__":
    main()
