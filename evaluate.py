"""How good are the GAN's samples? By the GAN paper's measure and a digit classifier's.

Goodfellow et al. (2014), "Generative Adversarial Nets", Table 1, scored MNIST
generators with a Gaussian Parzen window: fit it to 10,000 generated samples, report
the mean log-likelihood of the 10,000 MNIST test images under it. This script repeats
that protocol for a generator saved by gan.py, and adds four figures from a small
digit classifier (trained once, cached in saved_model/): the classifier score (the
Inception Score with this classifier), the Frechet distance of its features (FID with
this classifier), how many digit classes the samples cover, and how far the histogram
of their classes is from uniform. The same figures for real MNIST images give the
ceiling.

Run it with `python evaluate.py [GENERATOR]`; `--json` prints one JSON object instead of
the table. Progress goes to stderr, the figures to stdout.
"""

import argparse
import contextlib
import json
import os
import sys

import numpy as np

import gan  # first: it quiets TensorFlow's start-up log before Keras loads
import keras
from keras import layers

# -----------------------------------------------------------------------------
# Constants

GENERATOR_PATH = os.path.join(gan.MODEL_DIR, "generator.keras")
CLASSIFIER_PATH = os.path.join(gan.MODEL_DIR, "mnist_classifier.keras")
SEED = 1337  # the noise the samples come from: same generator, same seed, same figures
N_SAMPLES = 10000  # generated images: the Parzen centres and the classifier's inputs

# The paper's protocol (Goodfellow's parzen_ll.py): sigma from this grid, chosen by the
# mean log-likelihood of the first 1,000 images of training indices 50,000-59,999.
SIGMAS = np.logspace(-1, 0, 10)
VALIDATION = slice(50000, 51000)
PARZEN_BATCH = 500  # test points per matrix product: 500 x 10,000 float64 is 40 MB

# The real row: 10,000 training images take the samples' place. Test images against
# themselves would give a trivial FID of 0; these are other digits by other writers.
REAL_SAMPLES = slice(0, 10000)
REAL_NAME = "x_train[:10000]"

# The digit classifier: trained once, seeded, must reach 99% test accuracy.
CLASSIFIER_SEED = 2014
CLASSIFIER_EPOCHS = 10  # 99.3% test accuracy; 4 epochs stop just short of 99%
CLASSIFIER_BATCH_SIZE = 128
MIN_TEST_ACCURACY = 0.99
FEATURES_LAYER = "features"  # the penultimate layer: what the Frechet distance compares
NUM_CLASSES = 10
COVERAGE = 0.01  # a class counts as covered when it gets at least 1% of the samples
PREDICT_BATCH = 500

# Goodfellow et al. (2014), Table 1, MNIST: Parzen log-likelihood and standard error.
PAPER_TABLE_1 = [
    ("Adversarial nets", 225, 2),
    ("Deep GSN", 214, 1.1),
    ("DBN", 138, 2),
    ("Stacked CAE", 121, 1.6),
]


def log(message):
    """Progress goes to stderr, so that stdout holds only the figures (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


# -----------------------------------------------------------------------------
# Data: MNIST as uint8, images flattened to [0, 1] only where a figure needs them


def load_mnist_arrays(path=gan.MNIST_PATH):
    """(x_train, y_train), (x_test, y_test) as uint8, from path or keras.datasets."""
    if not path:
        return gan.download_mnist()
    x_train = gan.read_mnist_npz(path)  # its checks: exists, readable, shape, dtype
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [
                k for k in ("y_train", "x_test", "y_test") if k not in data.files
            ]
            if missing:
                raise gan.InputError(
                    f"MNIST file {path!r} has no {missing} (it has "
                    f"{sorted(data.files)}); use an npz in keras.datasets.mnist's "
                    "layout"
                )
            y_train, x_test, y_test = data["y_train"], data["x_test"], data["y_test"]
    except gan.InputError:
        raise
    except Exception as err:
        raise gan.InputError(
            f"MNIST file {path!r} is not a readable .npz ({type(err).__name__}: "
            f"{err}); download it again or fix MNIST_PATH"
        ) from None
    check_split(path, "test", x_test, y_test)
    check_split(path, "train", x_train, y_train)
    if len(x_train) < VALIDATION.stop:
        raise gan.InputError(
            f"MNIST file {path!r} has {len(x_train)} training images; the Parzen "
            f"protocol needs all 60,000 (it picks sigma on indices 50,000-50,999)"
        )
    return (x_train, y_train), (x_test, y_test)


def check_split(path, split, images, labels):
    if images.ndim != 3 or images.shape[1:] != gan.IMG_SHAPE[:2] or len(images) == 0:
        raise gan.InputError(
            f"MNIST file {path!r} has x_{split} of shape {images.shape}; expected "
            f"(N, {gan.IMG_SHAPE[0]}, {gan.IMG_SHAPE[1]}) grayscale images"
        )
    if images.dtype != np.uint8:
        raise gan.InputError(
            f"MNIST file {path!r} has x_{split} of dtype {images.dtype}; expected "
            "uint8 pixels in 0..255"
        )
    if (
        labels.shape != (len(images),)
        or not np.issubdtype(labels.dtype, np.integer)
        or labels.min() < 0
        or labels.max() >= NUM_CLASSES
    ):
        raise gan.InputError(
            f"MNIST file {path!r} has y_{split} of shape {labels.shape} and dtype "
            f"{labels.dtype}; expected one digit 0..9 per image of x_{split}"
        )


def to_unit_interval(images):
    """uint8 images -> rows of 784 pixels in [0, 1], float64 (the paper's scaling)."""
    return images.reshape(len(images), -1).astype("float64") / 255.0


# -----------------------------------------------------------------------------
# The generator under test


def load_generator(path):
    """The Keras model at path, checked to map (LATENT_DIM,) noise to 28x28x1 images."""
    if not os.path.isfile(path):
        problem = "is a folder" if os.path.isdir(path) else "does not exist"
        raise gan.InputError(
            f"generator file {path!r} {problem}; train one with `python gan.py` "
            "or pass the path of a generator.keras"
        )
    try:
        generator = keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise gan.InputError(
            f"generator file {path!r} is not a Keras model ({type(err).__name__}); "
            "pass the generator.keras that gan.py saves"
        ) from None
    expected_in, expected_out = (None, gan.LATENT_DIM), (None, *gan.IMG_SHAPE)
    try:
        shape_in, shape_out = generator.input_shape, generator.output_shape
    except (AttributeError, ValueError, RuntimeError):
        shape_in = shape_out = "unknown"
    if shape_in != expected_in or shape_out != expected_out:
        raise gan.InputError(
            f"generator file {path!r} maps {shape_in} to {shape_out}; a generator maps "
            f"{expected_in} noise to {expected_out} images"
        )
    return generator


def generate_samples(generator, n=N_SAMPLES, seed=SEED):
    """n generated images as rows of 784 pixels in [0, 1], float64.

    The noise comes from its own seeded NumPy Generator: the figures depend on the
    seed alone, not on what else ran before in this process.
    """
    noise = np.random.default_rng(seed).standard_normal((n, gan.LATENT_DIM))
    images = generator.predict(
        noise.astype("float32"), batch_size=PREDICT_BATCH, verbose=0
    )
    images = np.asarray(images, dtype="float64").reshape(n, -1)
    return 0.5 * images + 0.5  # tanh's [-1, 1] -> [0, 1], as gan.py shows them


# -----------------------------------------------------------------------------
# Parzen window log-likelihood (Goodfellow et al. 2014, after Breuleux et al. 2011)


def parzen_log_likelihoods(x, centres, sigmas, batch_size=PARZEN_BATCH):
    """log p(x) for each row of x under a Gaussian Parzen window on the rows of centres.

    log p(x) = logmeanexp_j(-|x - mu_j|^2 / (2 sigma^2)) - D log(sigma sqrt(2 pi)).
    Returns shape (len(sigmas), len(x)): the distances are the costly part, so each
    batch's are computed once and reused for every sigma.
    """
    x = np.asarray(x, dtype="float64")
    centres = np.asarray(centres, dtype="float64")
    sigmas = np.asarray(sigmas, dtype="float64").reshape(-1)
    dim = centres.shape[1]
    centres_sq = np.sum(centres**2, axis=1)
    log_norm = np.log(len(centres)) + dim * np.log(sigmas * np.sqrt(2 * np.pi))
    result = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        # |x - mu|^2 = |x|^2 + |mu|^2 - 2 x.mu: a matrix product, no n x N x D array.
        sq_dist = (
            np.sum(batch**2, axis=1)[:, None] + centres_sq - 2.0 * batch @ centres.T
        )
        np.maximum(sq_dist, 0.0, out=sq_dist)  # round-off can dip just below zero
        for i, sigma in enumerate(sigmas):
            log_kernels = sq_dist / (-2.0 * sigma**2)
            result[i, start : start + batch_size] = (
                log_sum_exp(log_kernels) - log_norm[i]
            )
    return result


def log_sum_exp(a):
    """log sum_j exp(a[i, j]) for each row i.

    Subtracting the row's largest term first: far from every centre, exp of the raw
    terms underflows to 0 and the log-likelihood to -inf.
    """
    a_max = np.max(a, axis=1, keepdims=True)
    return a_max[:, 0] + np.log(np.sum(np.exp(a - a_max), axis=1))


def parzen_log_likelihood(x, centres, sigma, batch_size=PARZEN_BATCH):
    """log p(x) for each row of x under one sigma."""
    return parzen_log_likelihoods(x, centres, [sigma], batch_size)[0]


def select_sigma(centres, validation, sigmas=SIGMAS):
    """The grid's sigma under which the validation images are likeliest on average."""
    mean_ll = parzen_log_likelihoods(validation, centres, sigmas).mean(axis=1)
    return float(sigmas[np.argmax(mean_ll)])


def parzen_score(centres, validation, test):
    """(mean log-likelihood of test, its standard error, sigma chosen on validation)."""
    sigma = select_sigma(centres, validation)
    ll = parzen_log_likelihood(test, centres, sigma)
    # np.std with ddof=0, as the paper's script: std / sqrt(number of test images).
    return float(ll.mean()), float(ll.std() / np.sqrt(len(ll))), sigma


# -----------------------------------------------------------------------------
# The digit classifier: a small convnet, trained once and cached


def build_classifier():
    images = keras.Input(shape=gan.IMG_SHAPE)
    x = layers.Conv2D(32, 3, activation="relu")(images)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.5)(x)
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    classifier = keras.Model(images, probabilities, name="mnist_classifier")
    classifier.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(1e-3),
        metrics=["accuracy"],
    )
    return classifier


def as_classifier_input(images):
    """Rows of 784 pixels in [0, 1] -> the classifier's (n, 28, 28, 1) float32."""
    return np.asarray(images, dtype="float32").reshape(-1, *gan.IMG_SHAPE)


def train_classifier(x_train, y_train):
    """A classifier trained on all 60,000 training images, seeded."""
    keras.utils.set_random_seed(CLASSIFIER_SEED)
    classifier = build_classifier()
    log(
        f"Training the digit classifier: {CLASSIFIER_EPOCHS} epochs, once, then cached."
    )
    progress = 1 if sys.stderr.isatty() else 2  # a log file gets one line an epoch
    # Keras's progress bar writes to stdout, which belongs to the figures.
    with contextlib.redirect_stdout(sys.stderr):
        classifier.fit(
            as_classifier_input(to_unit_interval(x_train)),
            y_train,
            batch_size=CLASSIFIER_BATCH_SIZE,
            epochs=CLASSIFIER_EPOCHS,
            verbose=progress,
        )
    return classifier


def load_or_train_classifier(x_train, y_train, path=CLASSIFIER_PATH):
    """The cached classifier at path; trained and saved there first if missing."""
    if os.path.exists(path):
        try:
            classifier = keras.saving.load_model(path, compile=False)
            classifier.get_layer(FEATURES_LAYER)
        except Exception as err:
            raise gan.InputError(
                f"cached classifier {path!r} is not this script's classifier "
                f"({type(err).__name__}); delete it and run again to retrain it"
            ) from None
        if classifier.output_shape != (None, NUM_CLASSES):
            raise gan.InputError(
                f"cached classifier {path!r} has output shape "
                f"{classifier.output_shape}; delete it and run again to retrain it"
            )
        return classifier
    gan.make_output_dirs(os.path.dirname(path) or ".")
    classifier = train_classifier(x_train, y_train)
    # A temporary name in the same folder, then a rename: an interrupted save never
    # leaves a half-written file that the next run would take for the cache.
    temporary = os.path.join(
        os.path.dirname(path), f".tmp-{os.getpid()}-classifier.keras"
    )
    try:
        classifier.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    log(f"Saved the classifier to {path}.")
    return classifier


def classifier_outputs(classifier, images):
    """(penultimate features, class probabilities) for rows of pixels in [0, 1]."""
    both = keras.Model(
        classifier.inputs,
        [classifier.get_layer(FEATURES_LAYER).output, classifier.output],
    )
    features, probabilities = both.predict(
        as_classifier_input(images), batch_size=PREDICT_BATCH, verbose=0
    )
    return np.asarray(features, "float64"), np.asarray(probabilities, "float64")


# -----------------------------------------------------------------------------
# Figures from the classifier's outputs


def classifier_score(probabilities):
    """exp(mean over images of KL(p(y|x) || p(y))), p(y) the mean prediction.

    1 when every image gets the same prediction; NUM_CLASSES when each prediction is
    certain and the classes are equally common. Rewards sharp, varied samples.
    """
    p_yx = np.asarray(probabilities, dtype="float64")
    p_y = p_yx.mean(axis=0, keepdims=True)
    # 0 log 0 = 0: a class the classifier rules out adds nothing.
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p_yx > 0, p_yx * (np.log(p_yx) - np.log(p_y)), 0.0)
    return float(np.exp(np.mean(np.sum(terms, axis=1))))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two sets of feature rows.

    |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr(sqrtm(S_a S_b)).
    """
    features_a = np.asarray(features_a, dtype="float64")
    features_b = np.asarray(features_b, dtype="float64")
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a = np.cov(features_a, rowvar=False)
    cov_b = np.cov(features_b, rowvar=False)
    return gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b)


def gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b):
    return float(
        np.sum((mean_a - mean_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2.0 * trace_sqrt_product(cov_a, cov_b)
    )


def trace_sqrt_product(cov_a, cov_b):
    """tr(sqrtm(S_a S_b)) with NumPy alone.

    S_a S_b has the eigenvalues of the symmetric sqrt(S_a) S_b sqrt(S_a), so eigh is
    enough; eigenvalues below zero are round-off and clipped.
    """
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh(0.5 * (m + m.T))
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def class_histogram(probabilities):
    """The fraction of images whose most probable class is each digit."""
    predicted = np.argmax(probabilities, axis=1)
    return np.bincount(predicted, minlength=NUM_CLASSES) / len(predicted)


def classes_covered(histogram):
    """How many digits get at least COVERAGE of the images: 10 means no missing mode."""
    return int(np.sum(np.asarray(histogram) >= COVERAGE))


def kl_from_uniform(histogram):
    """KL(histogram || uniform), nats: 0 when balanced, log(10) = 2.30 for one digit."""
    h = np.asarray(histogram, dtype="float64")
    h = h[h > 0]
    return float(np.sum(h * np.log(h * NUM_CLASSES)))


# -----------------------------------------------------------------------------
# One row of figures, and the whole evaluation


def score(samples, validation, test, classifier, test_features):
    """All seven figures for one set of samples (rows of pixels in [0, 1])."""
    parzen_ll, parzen_se, parzen_sigma = parzen_score(samples, validation, test)
    features, probabilities = classifier_outputs(classifier, samples)
    histogram = class_histogram(probabilities)
    return {
        "parzen_ll": parzen_ll,
        "parzen_se": parzen_se,
        "parzen_sigma": parzen_sigma,
        "classifier_score": classifier_score(probabilities),
        "fid": frechet_distance(features, test_features),
        "classes_covered": classes_covered(histogram),
        "kl_uniform": kl_from_uniform(histogram),
    }


def evaluate(generator, classifier, x_train, x_test, y_test, seed=SEED):
    validation = to_unit_interval(x_train[VALIDATION])
    test = to_unit_interval(x_test)
    test_features, test_probabilities = classifier_outputs(classifier, test)
    accuracy = float(np.mean(np.argmax(test_probabilities, axis=1) == y_test))
    log(f"Classifier test accuracy: {100 * accuracy:.2f}%.")
    if accuracy < MIN_TEST_ACCURACY:
        log(
            f"WARNING: THE CLASSIFIER IS BELOW {100 * MIN_TEST_ACCURACY:.0f}% TEST "
            f"ACCURACY: its figures are not trustworthy. Delete {CLASSIFIER_PATH}, "
            "raise CLASSIFIER_EPOCHS and run again."
        )

    log(f"Scoring {N_SAMPLES:,} generated samples (noise seed {seed}).")
    figures = score(
        generate_samples(generator, N_SAMPLES, seed),
        validation,
        test,
        classifier,
        test_features,
    )
    log(f"Scoring the real row: {REAL_NAME} in the samples' place.")
    real = to_unit_interval(x_train[REAL_SAMPLES])
    figures["real"] = {
        "images": REAL_NAME,
        **score(real, validation, test, classifier, test_features),
    }
    figures.update(
        seed=seed,
        n_samples=N_SAMPLES,
        n_test=len(x_test),
        classifier_test_accuracy=accuracy,
        paper_table_1={name: [ll, se] for name, ll, se in PAPER_TABLE_1},
    )
    return figures


# -----------------------------------------------------------------------------
# Output: a Markdown table, ready for the README


def format_table(figures, generator_path):
    def row(name, f):
        return (
            f"| {name} | {f['parzen_ll']:.1f} +- {f['parzen_se']:.1f} "
            f"| {f['parzen_sigma']:.3f} | {f['classifier_score']:.2f} | {f['fid']:.2f} "
            f"| {f['classes_covered']} | {f['kl_uniform']:.3f} |"
        )

    lines = [
        f"Samples: {figures['n_samples']:,} from {generator_path} (noise seed "
        f"{figures['seed']}). Real row: the training images {REAL_NAME} in their "
        f"place. Both are scored against the {figures['n_test']:,} MNIST test images; "
        "the classifier's test accuracy is "
        f"{100 * figures['classifier_test_accuracy']:.2f}%.",
        "",
        "| Model | Parzen log-likelihood | sigma | Classifier score | FID "
        "| Classes covered | KL from uniform |",
        "|---|---|---|---|---|---|---|",
        row("This generator", figures),
        row(f"Real MNIST ({REAL_NAME})", figures["real"]),
    ]
    for name, ll, se in PAPER_TABLE_1:
        lines.append(f"| {name} (Goodfellow et al. 2014) | {ll} +- {se} | | | | | |")
    return "\n".join(lines)


# -----------------------------------------------------------------------------
# Command line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "generator",
        nargs="?",
        default=GENERATOR_PATH,
        help=f"a generator saved by gan.py (default {GENERATOR_PATH})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=gan.whole_number(0), default=SEED)
    parser.add_argument(
        "--mnist-path", default=gan.MNIST_PATH, help="local mnist.npz (env MNIST_PATH)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        # The generator first: a wrong path fails in a second, not after training.
        generator = load_generator(args.generator)
        (x_train, y_train), (x_test, y_test) = load_mnist_arrays(args.mnist_path)
        classifier = load_or_train_classifier(x_train, y_train)
    except gan.InputError as err:
        sys.exit(f"evaluate.py: error: {err}")
    figures = evaluate(generator, classifier, x_train, x_test, y_test, args.seed)
    if args.json:
        print(json.dumps({"generator": args.generator, **figures}, indent=2))
    else:
        print(format_table(figures, args.generator))


if __name__ == "__main__":
    main()
