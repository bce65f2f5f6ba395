"""How good are the GAN's samples? By the GAN paper's measure and a digit classifier's.

Goodfellow et al. (2014), "Generative Adversarial Nets", Table 1, scored MNIST
generators with a Gaussian Parzen window: fit it to 10,000 generated samples, report
the mean log-likelihood of the 10,000 MNIST test images under it. This script repeats
that protocol for a generator saved by gan.py, and adds four figures from a small
digit classifier (trained once, cached in saved_model/): the classifier score (the
Inception Score with this classifier), the Frechet distance of its features (FID with
this classifier), how many digit classes the samples cover, and how far the histogram
of their classes is from uniform. The same figures for 10,000 real MNIST images that
the classifier never saw give the ceiling. Last, whether the generator copies its
training set: how close its samples come to their nearest training image, beside how
close unseen test images come.

Run it with `python evaluate.py [GENERATOR]`; `--json` prints one JSON object instead of
the table. What it runs on and its progress go to stderr, the figures to stdout.
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
    inputs.ExitOnStop("stopped; its files are whole")
inputs.load_keras()
import keras
from keras import layers

import gan
import safekeeping
from inputs import InputError

# -----------------------------------------------------------------------------
# Constants

GENERATOR_PATH = os.path.join(gan.MODEL_DIR, "generator.keras")
SEED = 1337  # the noise the samples come from: same generator, same seed, same figures
N_SAMPLES = 10000  # generated images: the Parzen centres and the classifier's inputs

# The paper's protocol (Goodfellow's parzen_ll.py): sigma from this grid, chosen by the
# mean log-likelihood of the first 1,000 images of training indices 50,000-59,999.
SIGMAS = np.logspace(-1, 0, 10)
VALIDATION = slice(50000, 51000)
PARZEN_BATCH = 500  # test points per matrix product: 500 x 10,000 float64 is 40 MB

# The real row: 10,000 training images take the samples' place. Test images against
# themselves would give a trivial FID of 0; these are other digits by other writers.
# The classifier learns the other 50,000, so that it scores digits it never saw, as
# it does the samples.
REAL_SAMPLES = slice(0, 10000)
CLASSIFIER_IMAGES = slice(10000, None)

# The digit classifier: trained once, seeded, must reach 99% test accuracy. The cache
# is named for its 50,000 images: one from before, trained on all 60,000 (the real
# row's among them), is not reused.
CLASSIFIER_PATH = os.path.join(gan.MODEL_DIR, "mnist_classifier_50k.keras")
CLASSIFIER_SEED = 2014
CLASSIFIER_EPOCHS = 10  # 99.4% test accuracy
CLASSIFIER_BATCH_SIZE = 128
MIN_TEST_ACCURACY = 0.99
FEATURES_LAYER = "features"  # the penultimate layer: what the Frechet distance compares
NUM_CLASSES = 10
COVERAGE = 0.01  # a class counts as covered when it gets at least 1% of the samples
PREDICT_BATCH = 500  # images per call of the generator or the classifier
NEIGHBOUR_BATCH = 500  # queries per matrix product: 500 x 60,000 float32 is 120 MB

# Goodfellow et al. (2014), Table 1, MNIST: Parzen log-likelihood and standard error.
PAPER_TABLE_1 = {
    "Adversarial nets": (225, 2),
    "Deep GSN": (214, 1.1),
    "DBN": (138, 2),
    "Stacked CAE": (121, 1.6),
}


def log(message):
    print(message, file=sys.stderr, flush=True)  # stdout holds only the figures


# -----------------------------------------------------------------------------
# Data: MNIST as uint8, images flattened to [0, 1] only where a figure needs them, and
# the generator under test


def load_mnist(path, source="MNIST_PATH"):
    """{"x_train", "y_train", "x_test", "y_test"} as uint8 arrays, all 60,000 training
    images: the Parzen protocol picks sigma on training images 50,000-50,999."""
    mnist = inputs.read_mnist(path, source, splits=("train", "test"), labels=True)
    if (n_train := len(mnist["x_train"])) < VALIDATION.stop:
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


def slice_name(part):
    """slice(0, 10000) -> "x_train[:10000]": which training images, from their slice."""
    return f"x_train[{part.start or ''}:{'' if part.stop is None else part.stop}]"


def load_model(path, refusal, fix, check=lambda model: None):
    """The Keras model at path, if check(model) raises nothing; else one sentence: the
    refusal, the kind of error, the fix."""
    try:
        model = keras.saving.load_model(path, compile=False)
        check(model)
    except Exception as err:
        raise InputError(f"{refusal} ({type(err).__name__}); {fix}") from None
    return model


def load_generator(path):
    """The Keras model at path, checked to map (LATENT_DIM,) noise to 28x28x1 images."""
    fix = "train one with `python gan.py` or pass the path of a generator.keras"
    inputs.check_readable_file(path, "generator file", fix)
    damaged = f"generator file {inputs.shown(path)} is damaged or not a Keras model"
    generator = load_model(path, damaged, "pass the generator.keras that gan.py saves")
    expected_in, expected_out = (None, gan.LATENT_DIM), (None, *gan.IMG_SHAPE)
    try:
        shape_in, shape_out = generator.input_shape, generator.output_shape
    except (AttributeError, ValueError, RuntimeError):
        shape_in = shape_out = "unknown"
    if (shape_in, shape_out) != (expected_in, expected_out):
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
    float64, PREDICT_BATCH at a time in inference mode (BatchNorm's moving statistics):
    a plain call, as predict() spends a second tracing a function."""
    starts = range(0, len(noise), PREDICT_BATCH)
    images = [generator(noise[i : i + PREDICT_BATCH], training=False) for i in starts]
    images = np.concatenate([keras.ops.convert_to_numpy(x) for x in images])
    images = images.astype("float64").reshape(len(noise), -1)
    if not np.all(np.isfinite(images)):
        raise InputError(
            "the generator makes images with NaN or infinite pixels (did its training "
            "diverge?); train it again, or pass another generator"
        )
    return 0.5 * images + 0.5


# -----------------------------------------------------------------------------
# Parzen window log-likelihood (Goodfellow et al. 2014, after Breuleux et al. 2011)


def parzen_by_sigma(x, centres, sigmas, batch_size=PARZEN_BATCH):
    """log p(x) = logmeanexp_j(-|x - mu_j|^2 / (2 sigma^2)) - D log(sigma sqrt(2 pi))
    for each row x of x and each sigma, mu_j the rows of centres: shape (len(sigmas),
    len(x)). The distances are the costly part: each batch's serve every sigma."""
    sigmas = np.asarray(sigmas, dtype="float64")
    dim = centres.shape[1]
    centres_sq = np.sum(centres**2, axis=1)
    log_norm = np.log(len(centres)) + dim * np.log(sigmas * np.sqrt(2 * np.pi))
    result = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        # |x - mu|^2 = |x|^2 + |mu|^2 - 2 x.mu: a matrix product, no n x N x D array.
        sq = np.sum(batch**2, axis=1)[:, None] + centres_sq - 2.0 * batch @ centres.T
        np.maximum(sq, 0.0, out=sq)  # round-off can dip just below zero
        for i, sigma in enumerate(sigmas):
            # log sum exp, less each row's largest term first: far from every centre,
            # exp of the raw terms underflows to 0 and the log-likelihood to -inf.
            terms = sq / (-2.0 * sigma**2)
            top = terms.max(axis=1, keepdims=True)
            log_sum = top[:, 0] + np.log(np.exp(terms - top).sum(axis=1))
            result[i, start : start + batch_size] = log_sum - log_norm[i]
    return result


def parzen_score(centres, validation, test):
    """The mean log-likelihood of test, its standard error, and sigma: the grid's
    sigma under which the validation images are likeliest on average."""
    mean_ll = parzen_by_sigma(validation, centres, SIGMAS).mean(axis=1)
    sigma = float(SIGMAS[np.argmax(mean_ll)])
    ll = parzen_by_sigma(test, centres, [sigma])[0]
    # np.std with ddof=0, as the paper's script: std / sqrt(number of test images).
    se = float(ll.std() / np.sqrt(len(ll)))
    return {"parzen_ll": float(ll.mean()), "parzen_se": se, "parzen_sigma": sigma}


# -----------------------------------------------------------------------------
# The digit classifier (a small convnet, trained once and cached) and its figures


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
    classifier.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return classifier


def check_classifier(model):
    model.get_layer(FEATURES_LAYER)  # a ValueError where it has none
    if model.output_shape != (None, NUM_CLASSES):
        raise ValueError(f"output shape {model.output_shape}")


def train_classifier(x_train, y_train):
    keras.utils.set_random_seed(CLASSIFIER_SEED)
    classifier = build_classifier()
    log(f"Training the digit classifier: {CLASSIFIER_EPOCHS} epochs, then cached.")
    images = to_unit_interval(x_train, "float32").reshape(-1, *gan.IMG_SHAPE)
    progress = 1 if sys.stderr.isatty() else 2  # a log file gets one line an epoch
    # Keras's progress bar writes to stdout, which belongs to the figures.
    with contextlib.redirect_stdout(sys.stderr):
        classifier.fit(
            images, y_train, CLASSIFIER_BATCH_SIZE, CLASSIFIER_EPOCHS, verbose=progress
        )
    return classifier


def load_or_train_classifier(mnist, path=CLASSIFIER_PATH):
    """The cached classifier at path; trained on the CLASSIFIER_IMAGES of MNIST's
    training images, and saved there, first if missing."""
    if os.path.exists(path):
        bad = f"cached classifier {inputs.shown(path)} is not this script's classifier"
        fix = "delete it and run again to retrain it"
        return load_model(path, bad, fix, check_classifier)
    # Before the minutes of training, not after: the cache's folder must take it.
    inputs.make_output_dirs([os.path.dirname(path) or "."])
    part = CLASSIFIER_IMAGES
    classifier = train_classifier(mnist["x_train"][part], mnist["y_train"][part])
    # Written beside and renamed into place: an interrupted save never leaves a
    # half-written file that the next run would take for the cache.
    with safekeeping.atomic_write(path) as temporary:
        classifier.save(temporary)
    log(f"Saved the classifier to {path}.")
    return classifier


def classifier_outputs(classifier, images):
    """(penultimate features, class probabilities) for rows of pixels in [0, 1]."""
    features = classifier.get_layer(FEATURES_LAYER).output
    both = keras.Model(classifier.inputs, [features, classifier.output])
    images = np.asarray(images, "float32").reshape(-1, *gan.IMG_SHAPE)
    outputs = both.predict(images, batch_size=PREDICT_BATCH, verbose=0)
    return tuple(np.asarray(x, "float64") for x in outputs)


def classifier_score(probabilities):
    """exp(mean over images of KL(p(y|x) || p(y))), p(y) the mean prediction: 1 when
    every image gets the same prediction, NUM_CLASSES when each prediction is certain
    and the classes are equally common. Rewards sharp, varied samples."""
    p_yx = np.asarray(probabilities, dtype="float64")
    p_y = p_yx.mean(axis=0, keepdims=True)
    # 0 log 0 = 0: a class the classifier rules out adds nothing.
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p_yx > 0, p_yx * (np.log(p_yx) - np.log(p_y)), 0.0)
    return float(np.exp(np.mean(np.sum(terms, axis=1))))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two sets of feature rows:
    |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr(sqrtm(S_a S_b))."""
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    shift = np.sum((features_a.mean(axis=0) - features_b.mean(axis=0)) ** 2)
    cross = 2.0 * trace_sqrt_product(cov_a, cov_b)
    return float(shift + np.trace(cov_a) + np.trace(cov_b) - cross)


def trace_sqrt_product(cov_a, cov_b):
    """tr(sqrtm(S_a S_b)) with NumPy alone: S_a S_b has the eigenvalues of the
    symmetric sqrt(S_a) S_b sqrt(S_a), so eigh is enough; any below 0 are round-off."""
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh(0.5 * (m + m.T))
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def class_balance(probabilities):
    """Of the histogram of the images' most probable classes: how many digits get at
    least COVERAGE of the images (10: no missing mode), and its KL divergence from
    uniform in nats (0 when balanced, log(10) = 2.30 for one digit)."""
    predicted = np.argmax(probabilities, axis=1)
    h = np.bincount(predicted, minlength=NUM_CLASSES) / len(predicted)
    kl = float(np.sum(h[h > 0] * np.log(h[h > 0] * NUM_CLASSES)))
    return {"classes_covered": int(np.sum(h >= COVERAGE)), "kl_uniform": kl}


# -----------------------------------------------------------------------------
# Nearest training images: does the generator copy its training set?


def nearest_neighbours(queries, references, batch_size=NEIGHBOUR_BATCH):
    """(index, L2 distance) of each query's nearest reference.

    Rows are flattened and taken as float32. The search is the argmin of a float32
    matrix product, |b|^2 - 2ab (|a|^2 is the same for all of a query's references),
    batch_size queries at a time; the winner's distance is then measured again as
    |a - b| in float64, exactly (0 for a query that finds itself). Round-off moves
    each float32 score by about 1e-4 on MNIST (0.07 at most), so the reference taken
    is the nearest, or one whose squared distance is larger by twice that at most.
    """
    queries = np.asarray(queries, dtype="float32").reshape(len(queries), -1)
    references = np.asarray(references, dtype="float32").reshape(len(references), -1)
    references_sq = np.einsum("ij,ij->i", references, references)
    indices = np.empty(len(queries), dtype="int64")
    for start in range(0, len(queries), batch_size):
        scores = (-2.0 * queries[start : start + batch_size]) @ references.T
        scores += references_sq  # in place: never a second such matrix
        indices[start : start + batch_size] = np.argmin(scores, axis=1)
    differences = queries.astype("float64") - references[indices]
    return indices, np.sqrt(np.einsum("ij,ij->i", differences, differences))


def memorization(samples, train, test):
    """The median L2 distance from each sample to its nearest training image, the same
    for the test images, and their ratio; all rows of pixels in [0, 1]. A ratio near
    or above 1: the samples are no closer to the training set than unseen real digits
    are. Well below 1: the generator copies training images."""
    distances = (nearest_neighbours(x, train)[1] for x in (samples, test))
    ours, unseen = (float(np.median(d)) for d in distances)
    return {"samples": ours, "test_images": unseen, "ratio": ours / unseen}


# -----------------------------------------------------------------------------
# One row of figures, and the whole evaluation


def score(samples, validation, test, classifier, test_features):
    """All seven figures for one set of samples (rows of pixels in [0, 1])."""
    features, probabilities = classifier_outputs(classifier, samples)
    return {
        **parzen_score(samples, validation, test),
        "classifier_score": classifier_score(probabilities),
        "fid": frechet_distance(features, test_features),
        **class_balance(probabilities),
    }


def evaluate(generator, classifier, mnist, seed=SEED):
    """Every figure for the generator's N_SAMPLES samples (noise seed `seed`), and for
    the real row, the training images mnist["x_train"][REAL_SAMPLES] in their place;
    sigma is picked on the training images mnist["x_train"][VALIDATION]."""
    x_train, x_test = mnist["x_train"], mnist["x_test"]
    test = to_unit_interval(x_test)
    test_features, test_probabilities = classifier_outputs(classifier, test)
    accuracy = float(np.mean(np.argmax(test_probabilities, axis=1) == mnist["y_test"]))
    log(f"Classifier test accuracy: {accuracy:.2%}.")
    if accuracy < MIN_TEST_ACCURACY:
        log(
            f"WARNING: THE CLASSIFIER IS BELOW {MIN_TEST_ACCURACY:.0%} TEST ACCURACY: "
            f"its figures are not trustworthy. Delete {CLASSIFIER_PATH}, raise "
            "CLASSIFIER_EPOCHS and run again."
        )
    against = (to_unit_interval(x_train[VALIDATION]), test, classifier, test_features)
    log(f"Scoring {N_SAMPLES:,} generated samples (noise seed {seed}).")
    samples = images_from_noise(generator, latent_points(N_SAMPLES, seed))
    figures = score(samples, *against)
    real_name = slice_name(REAL_SAMPLES)
    log(f"Scoring the real row: {real_name} in the samples' place.")
    real = to_unit_interval(x_train[REAL_SAMPLES])
    figures["real"] = {"images": real_name, **score(real, *against)}
    log(f"Measuring the distance to the nearest of {len(x_train):,} training images.")
    train = to_unit_interval(x_train, "float32")
    figures["memorization"] = memorization(samples, train, test)
    figures.update(seed=seed, n_samples=N_SAMPLES, n_test=len(test), n_train=len(train))
    figures.update(classifier_images=slice_name(CLASSIFIER_IMAGES))
    figures.update(classifier_test_accuracy=accuracy, paper_table_1=dict(PAPER_TABLE_1))
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

    real_name, copying = figures["real"]["images"], figures["memorization"]
    lines = [
        f"Samples: {figures['n_samples']:,} from {generator_path} (noise seed "
        f"{figures['seed']}). Real row: the training images {real_name} in their "
        f"place, which the classifier never saw (it learned "
        f"{figures['classifier_images']}). Both are scored against the "
        f"{figures['n_test']:,} MNIST test images; the classifier's test accuracy is "
        f"{100 * figures['classifier_test_accuracy']:.2f}%.",
        "",
        "| Model | Parzen log-likelihood | sigma | Classifier score | FID "
        "| Classes covered | KL from uniform |",
        "|---|---|---|---|---|---|---|",
        row("This generator", figures),
        row(f"Real MNIST ({real_name})", figures["real"]),
    ]
    for name, (ll, se) in PAPER_TABLE_1.items():
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


def add_generator_arguments(parser):
    """GENERATOR, --seed and --mnist-path: evaluate.py's and sample.py's arguments."""
    add, seed = parser.add_argument, inputs.flag_type("SEED")
    add("generator", nargs="?", default=GENERATOR_PATH, help="default %(default)s")
    add("--seed", type=seed, default=SEED, help="noise seed (default %(default)s)")
    inputs.add_mnist_path(parser)


def parse_args(argv=None):
    parser = inputs.ArgumentParser(description=__doc__.splitlines()[0])
    add_generator_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # The cheap checks first: a wrong path fails in a second, not after training.
    generator = load_generator(args.generator)
    mnist = load_mnist(*inputs.mnist_path(args, gan.MNIST_PATH))
    log(inputs.platform_line())  # "is my GPU used?", as gan.py says it
    classifier = load_or_train_classifier(mnist)
    figures = evaluate(generator, classifier, mnist, args.seed)
    if args.json:
        print(json.dumps({"generator": args.generator, **figures}, indent=2))
    else:
        print(format_table(figures, args.generator))


if __name__ == "__main__":
    main()
