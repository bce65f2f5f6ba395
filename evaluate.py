"""How good are the GAN's samples? By the GAN paper's measure and a digit classifier's.

Goodfellow et al. (2014), "Generative Adversarial Nets", Table 1, scored MNIST
generators with a Gaussian Parzen window: fit it to 10,000 generated samples, report
the mean log-likelihood of the 10,000 MNIST test images under it. This script repeats
that protocol for a generator saved by gan.py, and adds four figures from a small
digit classifier (trained once, cached in saved_model/): the classifier score (the
Inception Score with this classifier), the Frechet distance of its features (FID with
this classifier), how many digit classes the samples cover, and how far the histogram
of their classes is from uniform. The same figures for real MNIST images give the
ceiling. Last, whether the generator copies its training set: how close its samples
come to their nearest training image, beside how close unseen test images come.

Run it with `python evaluate.py [GENERATOR]`; `--json` prints one JSON object instead of
the table. Progress goes to stderr, the figures to stdout.
"""

import contextlib
import json
import os
import sys

import numpy as np

import inputs

# Before Keras loads. A Ctrl-C ends it at any time: every file it writes is written
# aside, then renamed into place.
if __name__ == "__main__":
    inputs.ExitOnStop.install("stopped; its files are whole")
inputs.load_keras()
import keras
from keras import layers

import gan
import safekeeping
from inputs import InputError

# -----------------------------------------------------------------------------
# Constants

GENERATOR_PATH = os.path.join(gan.MODEL_DIR, "generator.keras")
CLASSIFIER_PATH = os.path.join(gan.MODEL_DIR, "mnist_classifier.keras")
CLASSIFIER_MB = 16  # free space the cached classifier needs (it is about 3 MB)
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

# The digit classifier: trained once, seeded, must reach 99% test accuracy.
CLASSIFIER_SEED = 2014
CLASSIFIER_EPOCHS = 10  # 99.3% test accuracy; 4 epochs stop just short of 99%
CLASSIFIER_BATCH_SIZE = 128
MIN_TEST_ACCURACY = 0.99
FEATURES_LAYER = "features"  # the penultimate layer: what the Frechet distance compares
NUM_CLASSES = 10
COVERAGE = 0.01  # a class counts as covered when it gets at least 1% of the samples
PREDICT_BATCH = 500

# The nearest-neighbour search: queries per matrix product (500 x 60,000 float32 is
# 120 MB).
NEIGHBOUR_BATCH = 500

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


def load_mnist(path, source="MNIST_PATH"):
    """{"x_train", "y_train", "x_test", "y_test"} as uint8 arrays, all 60,000 training
    images: the Parzen protocol picks sigma on training images 50,000-50,999."""
    mnist = inputs.read_mnist(path, source, splits=("train", "test"), labels=True)
    n_train = len(mnist["x_train"])
    if n_train < VALIDATION.stop:
        where = inputs.shown(path) if path else "keras.datasets.mnist"
        raise InputError(
            f"MNIST file {where} has {n_train} training images; the Parzen protocol "
            f"needs all 60,000 (it picks sigma on indices 50,000-50,999), so fix "
            f"{source}"
        )
    return mnist


def to_unit_interval(images, dtype="float64"):
    """uint8 images -> rows of 784 pixels in [0, 1] (float64: the paper's scaling)."""
    return images.reshape(len(images), -1).astype(dtype) / np.array(255, dtype)


def slice_name(array_name, part):
    """slice(0, 10000) -> "x_train[:10000]": the real row's label, from its slice."""
    start = "" if part.start in (None, 0) else part.start
    stop = "" if part.stop is None else part.stop
    step = "" if part.step in (None, 1) else f":{part.step}"
    return f"{array_name}[{start}:{stop}{step}]"


# -----------------------------------------------------------------------------
# The generator under test


def load_generator(path):
    """The Keras model at path, checked to map (LATENT_DIM,) noise to 28x28x1 images."""
    fix = "train one with `python gan.py` or pass the path of a generator.keras"
    inputs.check_readable_file(path, "generator file", fix)
    try:
        generator = keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise InputError(
            f"generator file {inputs.shown(path)} is damaged or not a Keras model "
            f"({type(err).__name__}); pass the generator.keras that gan.py saves"
        ) from None
    expected_in, expected_out = (None, gan.LATENT_DIM), (None, *gan.IMG_SHAPE)
    try:
        shape_in, shape_out = generator.input_shape, generator.output_shape
    except (AttributeError, ValueError, RuntimeError):
        shape_in = shape_out = "unknown"
    if shape_in != expected_in or shape_out != expected_out:
        raise InputError(
            f"generator file {inputs.shown(path)} maps {shape_in} to {shape_out}; "
            f"this GAN's generator maps {expected_in} noise to {expected_out} images"
        )
    return generator


def latent_points(n, seed):
    """n latent points z ~ N(0, 1), float32, from their own seeded NumPy Generator:
    they depend on the seed alone, not on what else ran before in this process."""
    noise = np.random.default_rng(seed).standard_normal((n, gan.LATENT_DIM))
    return noise.astype("float32")


def images_from_noise(generator, noise):
    """The generator's images of these latent points as rows of 784 pixels in [0, 1],
    float64 (tanh's [-1, 1] mapped back, as gan.py shows them).

    Called in inference mode (BatchNorm's moving statistics), PREDICT_BATCH points at
    a time; a plain call, not predict(), which spends a second tracing a function.
    """
    images = [
        keras.ops.convert_to_numpy(
            generator(noise[i : i + PREDICT_BATCH], training=False)
        )
        for i in range(0, len(noise), PREDICT_BATCH)
    ]
    images = np.concatenate(images).astype("float64").reshape(len(noise), -1)
    if not np.all(np.isfinite(images)):
        raise InputError(
            "the generator makes images with NaN or infinite pixels (did its training "
            "diverge?); train it again, or pass another generator"
        )
    return 0.5 * images + 0.5


def generate_samples(generator, n=N_SAMPLES, seed=SEED):
    """n generated images as rows of 784 pixels in [0, 1], float64."""
    return images_from_noise(generator, latent_points(n, seed))


# -----------------------------------------------------------------------------
# Parzen window log-likelihood (Goodfellow et al. 2014, after Breuleux et al. 2011)


def parzen_by_sigma(x, centres, sigmas, batch_size=PARZEN_BATCH):
    """log p(x) for each row of x under a Gaussian Parzen window on the rows of centres,
    for each of several sigmas.

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
    return parzen_by_sigma(x, centres, [sigma], batch_size)[0]


def select_sigma(centres, validation, sigmas=SIGMAS):
    """The grid's sigma under which the validation images are likeliest on average."""
    mean_ll = parzen_by_sigma(validation, centres, sigmas).mean(axis=1)
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
            raise InputError(
                f"cached classifier {inputs.shown(path)} is not this script's "
                f"classifier ({type(err).__name__}); delete it and run again to "
                "retrain it"
            ) from None
        if classifier.output_shape != (None, NUM_CLASSES):
            raise InputError(
                f"cached classifier {inputs.shown(path)} has output shape "
                f"{classifier.output_shape}; delete it and run again to retrain it"
            )
        return classifier
    # Before the minutes of training, not after: the cache's folder must take it.
    inputs.make_output_dirs({os.path.dirname(path) or ".": CLASSIFIER_MB})
    classifier = train_classifier(x_train, y_train)
    # Written beside and renamed into place: an interrupted save never leaves a
    # half-written file that the next run would take for the cache.
    with safekeeping.atomic_write(path) as temporary:
        classifier.save(temporary)
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
# Nearest training images: does the generator copy its training set?


def nearest_neighbours(queries, references, batch_size=NEIGHBOUR_BATCH):
    """(index, L2 distance) of each query's nearest reference, exactly.

    Rows are flattened and taken as float32, as the search sees them. The search is
    a float32 matrix product, |b|^2 - 2ab (|a|^2 is the same for all of a query's
    references), batch_size queries at a time. Its round-off can swap two nearly
    tied references, so every reference that scores within twice the round-off
    bound of the lowest score is measured again as |a - b|^2 in float64: the
    nearest is always among them, and a self-distance comes out exactly 0.
    """
    queries = np.asarray(queries, dtype="float32").reshape(len(queries), -1)
    references = np.asarray(references, dtype="float32").reshape(len(references), -1)
    references_sq = np.einsum("ij,ij->i", references, references)
    indices = np.empty(len(queries), dtype="int64")
    squared = np.empty(len(queries), dtype="float64")
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        scores = (-2.0 * batch) @ references.T  # -2 is exact in float32
        scores += references_sq  # in place: never a second such matrix
        slack = ranking_error_bound(batch, references_sq)
        cutoff = (scores.min(axis=1) + 2.0 * slack).astype("float32")
        cutoff = np.nextafter(cutoff, np.float32(np.inf))  # rounded up, never down
        # flatnonzero: many times faster than a 2-D nonzero on a mostly-False mask.
        near = np.flatnonzero(scores <= cutoff[:, None])
        rows, cols = np.divmod(near, len(references))
        exact = paired_squared_distances(batch, references, rows, cols)
        # Per query (rows come out sorted), its candidate with the smallest distance.
        order = np.lexsort((exact, rows))
        first = order[np.unique(rows[order], return_index=True)[1]]
        indices[start : start + len(batch)] = cols[first]
        squared[start : start + len(batch)] = exact[first]
    return indices, np.sqrt(squared)


def ranking_error_bound(batch, references_sq):
    """For each query a, a bound on |float32 score - exact score| over all references b,
    where the score is |b|^2 - 2ab.

    A float32 sum of n products errs by at most about n u times the sum of their
    magnitudes (u = 2^-24, in any summation order), and those sums are at most |b|^2
    and |a| |b|; the final addition adds u times the operands. Doubled, to be safe.
    """
    n, u = batch.shape[1], float(np.finfo("float32").eps) / 2
    largest_sq = float(references_sq.max())
    norms = np.sqrt(np.einsum("ij,ij->i", batch, batch, dtype="float64"))
    return 2.0 * (n + 2) * u * (largest_sq + 2.0 * norms * np.sqrt(largest_sq))


def paired_squared_distances(a, b, rows, cols, chunk=4096):
    """|a[rows[i]] - b[cols[i]]|^2 for each i, in float64, chunk pairs at a time."""
    out = np.empty(len(rows), dtype="float64")
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        diff = a[rows[part]].astype("float64") - b[cols[part]]
        out[part] = np.einsum("ij,ij->i", diff, diff)
    return out


def memorization(samples, train_images, test_images):
    """The median L2 distance from each sample to its nearest training image, the same
    for the test images, and their ratio; all rows of pixels in [0, 1].

    A ratio near or above 1: the samples are no closer to the training set than
    unseen real digits are. Well below 1: the generator copies training images.
    """
    samples_median = float(np.median(nearest_neighbours(samples, train_images)[1]))
    test_median = float(np.median(nearest_neighbours(test_images, train_images)[1]))
    return {
        "samples": samples_median,
        "test_images": test_median,
        "ratio": samples_median / test_median,
    }


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


def evaluate(
    generator,
    classifier,
    mnist,
    seed=SEED,
    n_samples=N_SAMPLES,
    real_samples=REAL_SAMPLES,
    validation=VALIDATION,
):
    """Every figure for the generator's n_samples samples (noise seed `seed`), and for
    the real row, the training images mnist["x_train"][real_samples] in their place;
    sigma is picked on the training images mnist["x_train"][validation]."""
    x_train, x_test = mnist["x_train"], mnist["x_test"]
    validation_images = to_unit_interval(x_train[validation])
    test = to_unit_interval(x_test)
    test_features, test_probabilities = classifier_outputs(classifier, test)
    accuracy = float(np.mean(np.argmax(test_probabilities, axis=1) == mnist["y_test"]))
    log(f"Classifier test accuracy: {100 * accuracy:.2f}%.")
    if accuracy < MIN_TEST_ACCURACY:
        log(
            f"WARNING: THE CLASSIFIER IS BELOW {100 * MIN_TEST_ACCURACY:.0f}% TEST "
            "ACCURACY: its figures are not trustworthy. Delete the cached classifier "
            f"({CLASSIFIER_PATH}), raise CLASSIFIER_EPOCHS and run again."
        )

    log(f"Scoring {n_samples:,} generated samples (noise seed {seed}).")
    samples = generate_samples(generator, n_samples, seed)
    figures = score(samples, validation_images, test, classifier, test_features)
    real_name = slice_name("x_train", real_samples)
    log(f"Scoring the real row: {real_name} in the samples' place.")
    real = to_unit_interval(x_train[real_samples])
    figures["real"] = {
        "images": real_name,
        **score(real, validation_images, test, classifier, test_features),
    }
    log(f"Measuring the distance to the nearest of {len(x_train):,} training images.")
    figures["memorization"] = memorization(
        samples, to_unit_interval(x_train, "float32"), test
    )
    figures.update(
        seed=seed,
        n_samples=n_samples,
        n_test=len(x_test),
        n_train=len(x_train),
        classifier_test_accuracy=accuracy,
        paper_table_1={name: [ll, se] for name, ll, se in PAPER_TABLE_1},
    )
    return figures


# -----------------------------------------------------------------------------
# Output: Markdown tables, ready for the README


def format_table(figures, generator_path):
    def row(name, f):
        return (
            f"| {name} | {f['parzen_ll']:.1f} +- {f['parzen_se']:.1f} "
            f"| {f['parzen_sigma']:.3f} | {f['classifier_score']:.2f} | {f['fid']:.2f} "
            f"| {f['classes_covered']} | {f['kl_uniform']:.3f} |"
        )

    real_name = figures["real"]["images"]
    copying = figures["memorization"]
    lines = [
        f"Samples: {figures['n_samples']:,} from {generator_path} (noise seed "
        f"{figures['seed']}). Real row: the training images {real_name} in their "
        f"place. Both are scored against the {figures['n_test']:,} MNIST test images; "
        "the classifier's test accuracy is "
        f"{100 * figures['classifier_test_accuracy']:.2f}%.",
        "",
        "| Model | Parzen log-likelihood | sigma | Classifier score | FID "
        "| Classes covered | KL from uniform |",
        "|---|---|---|---|---|---|---|",
        row("This generator", figures),
        row(f"Real MNIST ({real_name})", figures["real"]),
    ]
    for name, ll, se in PAPER_TABLE_1:
        lines.append(f"| {name} (Goodfellow et al. 2014) | {ll} +- {se} | | | | | |")
    lines += [
        "",
        "Memorization: the median L2 distance (pixels in [0, 1]) from each image to "
        f"its nearest of the {figures['n_train']:,} training images; a ratio near or "
        "above 1 means no closer than unseen digits, well below 1 means copying.",
        "",
        "| Memorization | samples | test images | ratio |",
        "|---|---|---|---|",
        f"| This generator | {copying['samples']:.3f} | {copying['test_images']:.3f} "
        f"| {copying['ratio']:.3f} |",
    ]
    return "\n".join(lines)


# -----------------------------------------------------------------------------
# Command line


def argument_parser(prog, description):
    """The flags of the tools that study a saved generator (this one, sample.py)."""
    parser = inputs.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "generator",
        nargs="?",
        default=GENERATOR_PATH,
        help=f"a generator saved by gan.py (default {GENERATOR_PATH})",
    )
    parser.add_argument(
        "--seed",
        type=inputs.flag_type("SEED"),
        default=SEED,
        help=f"the latent points (default {SEED})",
    )
    parser.add_argument("--mnist-path", help="a local mnist.npz (default: $MNIST_PATH)")
    return parser


def parse_args(argv=None):
    parser = argument_parser("evaluate.py", __doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        # The generator first: a wrong path fails in a second, not after training.
        generator = load_generator(args.generator)
        mnist = load_mnist(args.mnist_path or gan.MNIST_PATH, inputs.mnist_source(args))
        classifier = load_or_train_classifier(mnist["x_train"], mnist["y_train"])
        figures = evaluate(generator, classifier, mnist, args.seed)
    except InputError as err:
        sys.exit(f"evaluate.py: error: {err}")
    if args.json:
        print(json.dumps({"generator": args.generator, **figures}, indent=2))
    else:
        print(format_table(figures, args.generator))


if __name__ == "__main__":
    main()
