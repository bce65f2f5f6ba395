"""The original Keras-GAN MLP GAN on Keras 2, set up to be timed: speed.py's yardstick.

eriklindernoren's Keras-GAN `gan/gan.py` (2018) on `tf_keras` (Keras 2 today), with the
original's training: its networks, ONE legacy Adam(0.0002, 0.5) for both models,
`discriminator.trainable = False` before the combined model is compiled (Keras 2 reads
it at compile time, so D still learns through its own model), `generator.predict` in
every iteration, float64 pixels and labels. The `GAN` class is split into functions and
its loop into `trainer`, one iteration per call, to be timed; no summaries or grids; the
log line to stderr every LOG_INTERVAL iterations. --seed adds a seed (the original has
none); --save DIR keeps DIR/losses.csv and DIR/generator.keras for evaluate.py.

    MNIST_PATH=/path/to/mnist.npz python benchmarks/original_keras2.py

Its last line, `SPEED_RESULT {json}`, is for speed.py: ms per iteration (one figure per
repeat), every iteration's losses, and whether the weights moved.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np

from speed import RESULT, add_shared_flags, mnist_file, sanity, time_iterations

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up log
import tf_keras
from tf_keras.layers import BatchNormalization, Dense, Flatten, Input, LeakyReLU
from tf_keras.layers import Reshape
from tf_keras.models import Model, Sequential
from tf_keras.optimizers.legacy import Adam

LATENT_DIM = 100
IMG_SHAPE = (28, 28, 1)
BATCH_SIZE = 32
LOG_INTERVAL = 100  # the original printed every iteration; stderr, not timed apart


def build_generator():
    model = Sequential()
    model.add(Dense(256, input_dim=LATENT_DIM))
    model.add(LeakyReLU(alpha=0.2))
    model.add(BatchNormalization(momentum=0.8))
    model.add(Dense(512))
    model.add(LeakyReLU(alpha=0.2))
    model.add(BatchNormalization(momentum=0.8))
    model.add(Dense(1024))
    model.add(LeakyReLU(alpha=0.2))
    model.add(BatchNormalization(momentum=0.8))
    model.add(Dense(np.prod(IMG_SHAPE), activation="tanh"))
    model.add(Reshape(IMG_SHAPE))

    noise = Input(shape=(LATENT_DIM,))
    img = model(noise)
    return Model(noise, img)


def build_discriminator():
    model = Sequential()
    model.add(Flatten(input_shape=IMG_SHAPE))
    model.add(Dense(512))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Dense(256))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Dense(1, activation="sigmoid"))

    img = Input(shape=IMG_SHAPE)
    validity = model(img)
    return Model(img, validity)


def build_gan():
    """The original's GAN.__init__: (generator, discriminator, combined), compiled."""
    optimizer = Adam(0.0002, 0.5)  # one instance for both models, as the original

    # Build and compile the discriminator
    discriminator = build_discriminator()
    discriminator.compile(
        loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"]
    )

    # Build the generator
    generator = build_generator()

    # The generator takes noise as input and generates imgs
    z = Input(shape=(LATENT_DIM,))
    img = generator(z)

    # For the combined model we will only train the generator
    discriminator.trainable = False

    # The discriminator takes generated images as input and determines validity
    validity = discriminator(img)

    # The combined model (stacked generator and discriminator)
    # Trains the generator to fool the discriminator
    combined = Model(z, validity)
    combined.compile(loss="binary_crossentropy", optimizer=optimizer)
    return generator, discriminator, combined


def load_data(path):
    """The original's X_train: [-1, 1] in float64, shape (60000, 28, 28, 1)."""
    with np.load(path) as mnist:  # what Keras 2's mnist.load_data reads
        X_train = mnist["x_train"] / 127.5 - 1.0
    X_train = np.expand_dims(X_train, axis=3)
    return X_train


def trainer(generator, discriminator, combined, X_train, batch_size=BATCH_SIZE):
    """The original's training loop, one iteration per call; `log` keeps its losses."""
    # Adversarial ground truths
    valid = np.ones((batch_size, 1))
    fake = np.zeros((batch_size, 1))
    log = []  # [d_loss, d_acc, g_loss] of each iteration

    def iteration():
        # Select a random batch of images
        idx = np.random.randint(0, X_train.shape[0], batch_size)
        imgs = X_train[idx]

        noise = np.random.normal(0, 1, (batch_size, LATENT_DIM))

        # Generate a batch of new images
        gen_imgs = generator.predict(noise, verbose=0)  # Keras 2.1: silent default

        # Train the discriminator
        d_loss_real = discriminator.train_on_batch(imgs, valid)
        d_loss_fake = discriminator.train_on_batch(gen_imgs, fake)
        d_loss = 0.5 * np.add(d_loss_real, d_loss_fake)

        noise = np.random.normal(0, 1, (batch_size, LATENT_DIM))

        # Train the generator (to have the discriminator label samples as valid)
        g_loss = combined.train_on_batch(noise, valid)

        # Plot the progress
        epoch = len(log)
        log.append([float(d_loss[0]), float(d_loss[1]), float(g_loss)])
        if epoch % LOG_INTERVAL == 0:
            line = "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
            print(line % (epoch, d_loss[0], 100 * d_loss[1], g_loss), file=sys.stderr)

    return iteration, log


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_flags(parser)
    parser.add_argument("--seed", type=int, help="seed the random generators first")
    parser.add_argument("--save", metavar="DIR", help="keep the run for evaluate.py")
    args = parser.parse_args(argv)
    args.mnist_path = mnist_file(parser, args)
    return args


def save_run(generator, log, folder):
    """The losses in gan.py's CSV layout, and the generator moved into gan.py's Keras 3
    generator (the same layers in the same order), checked to compute the same."""
    import gan  # speed put the repository root on the path

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "losses.csv"), "w", newline="") as f:
        header = ["iteration", "d_loss", "d_accuracy", "g_loss"]
        csv.writer(f).writerows([header, *([i, *row] for i, row in enumerate(log))])
    keras3 = gan.build_generator()
    keras3.set_weights(generator.get_weights())
    noise = np.random.default_rng(0).normal(size=(64, LATENT_DIM)).astype("float32")
    ours, theirs = (np.asarray(g(noise, training=False)) for g in (keras3, generator))
    difference = np.abs(ours - theirs).max()
    assert difference < 1e-5, f"the Keras 3 generator differs by {difference}"
    keras3.save(os.path.join(folder, "generator.keras"))


def main(argv=None):
    args = parse_args(argv)
    X_train = load_data(args.mnist_path)
    if args.seed is not None:  # Python's, NumPy's and TensorFlow's generators
        tf_keras.utils.set_random_seed(args.seed)

    generator, discriminator, combined = build_gan()
    before = discriminator.get_weights(), generator.get_weights()
    iteration, log = trainer(generator, discriminator, combined, X_train)
    ms = time_iterations(iteration, args.iterations, args.repeats, args.warmup)
    after = discriminator.get_weights(), generator.get_weights()
    # The losses of every iteration, warm-up included
    result = dict(backend="tf_keras", ms=ms, losses=log)
    result["sanity"] = sanity(np.isfinite(log).all(), before, after)
    print(RESULT + json.dumps(result), flush=True)
    if args.save:
        save_run(generator, log, args.save)


if __name__ == "__main__":
    main()
