"""The original Keras-GAN MLP GAN on Keras 2, set up to be timed: speed.py's yardstick.

eriklindernoren's Keras-GAN `gan/gan.py` (2018) no longer runs as written: Keras 2 is
now the `tf_keras` package. Its training here is the original's: the same networks, ONE
legacy Adam(0.0002, 0.5) shared by both compiled models (Keras 2 optimizers can serve
several models), `discriminator.trainable = False` set before the combined model is
compiled (Keras 2 freezes `trainable` at compile time, so D still learns through its
own model), `generator.predict` in every iteration, and pixels and labels in float64.
It trains for real; its result line says whether D and G moved.

What is restructured, so that it can be timed: the `GAN` class is split into module
functions (`build_generator`, `build_discriminator`, `build_gan` for its `__init__`,
`load_data`), and its `train` loop into `trainer`, a closure that runs one iteration
per call, timed by speed.py's `time_iterations` after warm-up. Keras comes from
`tf_keras`, imported inside the functions; MNIST from a local file, never downloaded.
The models print no summaries and no grids are drawn; the log line goes to stderr every
LOG_INTERVAL iterations, not to stdout every iteration. Flags replace the fixed 30,000
epochs (--iterations, --repeats, --warmup), add a seed (the original seeds nothing),
and --save keeps the run for evaluate.py.

    pip install -r benchmarks/requirements.txt
    MNIST_PATH=/path/to/mnist.npz python benchmarks/original_keras2.py

It prints, last, one line `SPEED_RESULT {json}` for speed.py: ms per iteration (one
figure per repeat), the losses of every iteration, and whether the weights moved.
"""

import json
import os
import sys

import numpy as np

from speed import RESULT, add_shared_flags, mnist_file, sanity, time_iterations

import inputs  # after speed, which puts the repository root on the path

LATENT_DIM = 100
IMG_SHAPE = (28, 28, 1)
BATCH_SIZE = 32
LOG_INTERVAL = 100  # the original printed every iteration; stderr, not timed apart


def build_generator():
    # tf_keras loads in seconds: imported here, so a bad flag is refused at once.
    from tf_keras.layers import BatchNormalization, Dense, Input, LeakyReLU, Reshape
    from tf_keras.models import Model, Sequential

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
    from tf_keras.layers import Dense, Flatten, Input, LeakyReLU
    from tf_keras.models import Model, Sequential

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
    from tf_keras.layers import Input
    from tf_keras.models import Model
    from tf_keras.optimizers.legacy import Adam

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


def load_data(path, source):
    """The original's X_train: [-1, 1] in float64, shape (60000, 28, 28, 1)."""
    X_train = inputs.read_keras_dataset("mnist", path)["x_train"]
    X_train = X_train / 127.5 - 1.0
    X_train = np.expand_dims(X_train, axis=3)
    return X_train


def trainer(generator, discriminator, combined, X_train, batch_size=BATCH_SIZE):
    """The original's training loop, one iteration per call; `log` keeps its losses."""
    # Adversarial ground truths
    valid = np.ones((batch_size, 1))
    fake = np.zeros((batch_size, 1))
    log = []  # [d_loss, d_acc, g_loss] of each iteration

    def iteration():
        # ---------------------
        #  Train Discriminator
        # ---------------------

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

        # ---------------------
        #  Train Generator
        # ---------------------

        noise = np.random.normal(0, 1, (batch_size, LATENT_DIM))

        # Train the generator (to have the discriminator label samples as valid)
        g_loss = combined.train_on_batch(noise, valid)

        # Plot the progress
        epoch = len(log)
        log.append([float(d_loss[0]), float(d_loss[1]), float(g_loss)])
        if epoch % LOG_INTERVAL == 0:
            print(
                "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"
                % (epoch, d_loss[0], 100 * d_loss[1], g_loss),
                file=sys.stderr,
                flush=True,
            )

    return iteration, log


def parse_args(argv=None):
    parser = inputs.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_flags(parser)
    parser.add_argument(
        "--seed",
        type=inputs.flag_type("SEED"),
        help="seed the random generators first (the original did not; default: none)",
    )
    parser.add_argument(
        "--save",
        metavar="DIR",
        help="write DIR/losses.csv and the generator, as a Keras 3 "
        "DIR/generator.keras that evaluate.py and sample.py read",
    )
    return parser.parse_args(argv)


def save_run(generator, log, folder):
    """The losses in gan.py's CSV layout, and the generator moved into gan.py's Keras 3
    generator (the same layers in the same order), checked to compute the same."""
    import csv

    import gan

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "losses.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "d_loss", "d_accuracy", "g_loss"])
        writer.writerows([i, *row] for i, row in enumerate(log))
    keras3 = gan.build_generator()
    keras3.set_weights(generator.get_weights())
    noise = np.random.default_rng(0).normal(size=(64, LATENT_DIM)).astype("float32")
    difference = np.abs(
        np.asarray(keras3(noise, training=False))
        - np.asarray(generator(noise, training=False))
    ).max()
    assert difference < 1e-5, f"the Keras 3 generator differs by {difference}"
    keras3.save(os.path.join(folder, "generator.keras"))


def main(argv=None):
    args = parse_args(argv)
    X_train = load_data(*mnist_file(args))  # bad input: InputError, one sentence
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up log
    if args.seed is not None:  # Python's, NumPy's and TensorFlow's generators
        import tf_keras

        tf_keras.utils.set_random_seed(args.seed)

    generator, discriminator, combined = build_gan()
    before = discriminator.get_weights(), generator.get_weights()
    iteration, log = trainer(generator, discriminator, combined, X_train)
    ms = time_iterations(iteration, args.iterations, args.repeats, args.warmup)
    result = {
        "backend": "tf_keras",
        "ms": ms,
        "losses": log,  # [d_loss, d_acc, g_loss] of every iteration, warm-up included
        "sanity": sanity(
            np.isfinite(log).all(),
            before,
            (discriminator.get_weights(), generator.get_weights()),
        ),
    }
    print(RESULT + json.dumps(result), flush=True)
    if args.save:
        save_run(generator, log, args.save)


if __name__ == "__main__":
    main()
