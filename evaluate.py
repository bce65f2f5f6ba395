"""How good are the GAN's samples? By the GAN paper's measure and a digit classifier's.

Goodfellow et al. (2014), Table 1: the mean log-likelihood of the 10,000 test images
under a Gaussian Parzen window fitted to 10,000 samples. A small digit classifier,
trained once and cached, adds the Inception Score, FID and the classes the samples
cover; real images it never saw give the ceiling. Last: do the samples copy their
nearest training image? `python evaluate.py [GENERATOR]` prints Markdown tables
(--json: JSON) to stdout, what it runs on and its progress to stderr.
"""

import contextlib
import hashlib
import json
import os
import sys
from collections import namedtuple

import inputs  # first: it refuses a too old Python before NumPy loads
import numpy as np

if __name__ == "__main__":  # before Keras loads; what it writes goes aside first
    inputs.ExitOnStop("stopped; its files are whole")
inputs.load_keras()
import keras
from keras import layers

import gan
import pictures
import safekeeping

GENERATOR_PATH = os.path.join(gan.MODEL_DIR, "generator.keras")
SEED = 1337  # same generator, same seed, same figures
N_SAMPLES = 10000  # the Parzen centres and the classifier's inputs

SIGMAS = np.logspace(-1, 0, 10)  # the paper's grid (Goodfellow's parzen_ll.py)
VALIDATION = slice(50000, 51000)  # the training images that pick sigma, as the paper's
PARZEN_BATCH = 500  # test points per matrix product: 500 x 10,000 float64 is 40 MB
REAL_SAMPLES = slice(0, 10000)  # the real row (the test images would give FID 0)
CLASSIFIER_IMAGES = slice(10000, None)  # so it scores unseen digits, as the samples
CLASSIFIER_SEED = 2014  # the digit classifier: trained once, seeded, then cached
CLASSIFIER_EPOCHS = 10  # 99.4% test accuracy
CLASSIFIER_BATCH_SIZE = 128
MIN_TEST_ACCURACY = 0.99
FEATURES_LAYER = "features"  # the penultimate layer: what the Frechet distance compares
MIN_CLASSIFIER_SIZE = 10  # pixels a side: what its two convolutions and poolings need
COVERAGE = 0.01  # a class counts as covered when it gets at least 1% of the samples
FEW_IMAGES = 200  # fewer, and FID's 128 features or a class's 1% mean little
PREDICT_BATCH = 500  # images per call of the generator or the classifier
NEIGHBOUR_BATCH = 500  # queries per matrix product: 500 x 60,000 float32 is 120 MB
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}  # a folder: its name

PAPER_TABLE_1 = {  # Goodfellow et al. (2014), Table 1, MNIST: log-likelihood, its SE
    "Adversarial nets": (225, 2), "Deep GSN": (214, 1.1),
    "DBN": (138, 2), "Stacked CAE": (121, 1.6),
}  # fmt: skip

Available = namedtuple("Available", "test classifier left_out")  # what the data allow
TrainingParts = namedtuple("TrainingParts", "real classifier validation")  # x_train's


def log(message):
    print(message, file=sys.stderr, flush=True)  # stdout holds only the figures


# --- Data as uint8, flattened to [0, 1] only where a figure needs it; the generator
def load_data(data, shape, path=""):
    """Both splits, labels where the data have them; a folder's shuffled (seed 0)."""
    arrays = pictures.read_data(data, shape, path, ("train", "test"), True)
    n_train = len(arrays["x_train"])
    if data not in inputs.KERAS_DATASETS:  # sorted by class: training_parts' slices
        order = np.random.default_rng(0).permutation(n_train)  # need a mix of all
        arrays.update({k: arrays[k][order] for k in arrays if k.endswith("train")})
    elif n_train < VALIDATION.stop:
        where = inputs.shown(path) if path else f"keras.datasets.{data}"
        raise inputs.InputError(
            f"{data} file {where} has {n_train} training images; the Parzen protocol "
            "needs all 60,000 (it picks sigma on indices 50,000-50,999), so fix "
            f"{inputs.with_flag(inputs.KERAS_DATASETS[data])}"
        )
    return arrays


def available(arrays):
    test, labels = "x_test" in arrays, "classes" in arrays
    big_enough = min(arrays["x_train"].shape[1:3]) >= MIN_CLASSIFIER_SIZE
    lines = [] if test else ["no test images: Parzen, FID and memorization left out"]
    if not (labels and big_enough):
        why = "images too small for it" if labels else "no labels"
        lines.append(f"{why}: the classifier's figures (score, FID, classes) left out")
    return Available(test, labels and big_enough, lines)


def training_parts(n):
    """MNIST's slices for n = 60,000 training images, the same shares of fewer."""
    if n >= VALIDATION.stop:
        return TrainingParts(REAL_SAMPLES, CLASSIFIER_IMAGES, VALIDATION)
    sixth = n // 6
    validation = slice(5 * sixth, 5 * sixth + 1000)
    return TrainingParts(slice(0, sixth), slice(sixth, None), validation)


def to_unit_interval(images, dtype="float64"):
    """uint8 images -> rows of pixels in [0, 1] (float64: the paper's scaling)."""
    return images.reshape(len(images), -1).astype(dtype) / np.array(255, dtype)


def slice_name(part):
    """slice(0, 10000) -> "x_train[:10000]": which training images, from their slice."""
    return f"x_train[{part.start or ''}:{'' if part.stop is None else part.stop}]"


def load_generator(path, shape=gan.IMG_SHAPE):
    """The Keras model at path, checked to map (LATENT_DIM,) noise to `shape` images."""
    fix = "train one with `python gan.py` or pass the path of a generator.keras"
    inputs.check_readable_file(path, "generator file", fix)
    try:
        generator = keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise inputs.InputError(
            f"generator file {inputs.shown(path)} is damaged or not a Keras model "
            f"({type(err).__name__}); pass the generator.keras that gan.py saves"
        ) from None
    expected, found = ((None, gan.LATENT_DIM), (None, *shape)), ("unknown",) * 2
    with contextlib.suppress(AttributeError, ValueError, RuntimeError):
        found = generator.input_shape, generator.output_shape
    if found != expected:
        raise inputs.InputError(
            f"generator file {inputs.shown(path)} maps {found[0]} to {found[1]}; "
            f"this GAN's generator maps {expected[0]} noise to {expected[1]} images"
        )
    return generator


def latent_points(n, seed):
    """n latent points z ~ N(0, 1), float32, that depend on the seed alone."""
    noise = np.random.default_rng(seed).standard_normal((n, gan.LATENT_DIM))
    return noise.astype("float32")


def images_from_noise(generator, noise):
    """Float64 rows in [0, 1], in inference mode; called, not predict(): no tracing."""
    starts = range(0, len(noise), PREDICT_BATCH)
    images = [generator(noise[i : i + PREDICT_BATCH], training=False) for i in starts]
    images = np.concatenate([keras.ops.convert_to_numpy(x) for x in images])
    images = images.astype("float64").reshape(len(noise), -1)
    if not np.all(np.isfinite(images)):
        raise inputs.InputError(
            "the generator makes images with NaN or infinite pixels (did its training "
            "diverge?); train it again, or pass another generator"
        )
    return 0.5 * images + 0.5


# --- Parzen window log-likelihood (Goodfellow et al. 2014, after Breuleux et al. 2011)
def parzen_by_sigma(x, centres, sigmas, batch_size=PARZEN_BATCH):
    """log p(x) = logmeanexp_j(-|x - mu_j|^2 / (2 sigma^2)) - D log(sigma sqrt(2 pi))
    for each sigma and each row of x, mu_j the centres: shape (len(sigmas), len(x))."""
    sigmas, dim = np.asarray(sigmas, dtype="float64"), centres.shape[1]
    centres_sq = np.sum(centres**2, axis=1)
    log_norm = np.log(len(centres)) + dim * np.log(sigmas * np.sqrt(2 * np.pi))
    result = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        # |x - mu|^2 = |x|^2 + |mu|^2 - 2 x.mu: a matrix product, no n x N x D array.
        sq = np.sum(batch**2, axis=1)[:, None] + centres_sq - 2.0 * batch @ centres.T
        np.maximum(sq, 0.0, out=sq)  # round-off can dip just below zero
        for i, sigma in enumerate(sigmas):
            # Less each row's largest term first: else exp underflows, log to -inf.
            terms = sq / (-2.0 * sigma**2)
            top = terms.max(axis=1, keepdims=True)
            log_sum = top[:, 0] + np.log(np.exp(terms - top).sum(axis=1))
            result[i, start : start + batch_size] = log_sum - log_norm[i]
    return result


def parzen_score(centres, validation, test):
    """Test's mean log-likelihood and its SE, at the sigma best for validation."""
    mean_ll = parzen_by_sigma(validation, centres, SIGMAS).mean(axis=1)
    sigma = float(SIGMAS[np.argmax(mean_ll)])
    ll = parzen_by_sigma(test, centres, [sigma])[0]
    se = float(ll.std() / np.sqrt(len(ll)))  # ddof=0, as the paper's script
    return {"parzen_ll": float(ll.mean()), "parzen_se": se, "parzen_sigma": sigma}


# --- The digit classifier (a small convnet, trained once and cached) and its figures
def build_classifier(shape=gan.IMG_SHAPE, num_classes=10):
    images = keras.Input(shape=shape)
    x = layers.Conv2D(32, 3, activation="relu")(images)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.5)(x)
    probabilities = layers.Dense(num_classes, activation="softmax")(x)
    classifier = keras.Model(images, probabilities, name="mnist_classifier")
    classifier.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return classifier


def train_classifier(x_train, y_train, num_classes):
    keras.utils.set_random_seed(CLASSIFIER_SEED)
    classifier = build_classifier(x_train.shape[1:], num_classes)
    log(f"Training the digit classifier: {CLASSIFIER_EPOCHS} epochs, then cached.")
    images = to_unit_interval(x_train, "float32").reshape(x_train.shape)
    progress = 1 if sys.stderr.isatty() else 2  # a log file gets one line an epoch
    with contextlib.redirect_stdout(sys.stderr):  # Keras's progress bar: not stdout
        classifier.fit(
            images, y_train, CLASSIFIER_BATCH_SIZE, CLASSIFIER_EPOCHS, verbose=progress
        )
    return classifier


def classifier_path(data, shape, arrays):
    """The classifier's cache: its name changes with the data, their classes, shape."""
    key = repr((data, shape, len(arrays["x_train"]), arrays["classes"]))
    name = f"classifier_{hashlib.sha1(key.encode()).hexdigest()[:10]}.keras"
    return os.path.join(gan.MODEL_DIR, name)


def load_or_train_classifier(data, path):
    """The classifier cached at path; if missing, trained on its training_parts."""
    num_classes = len(data["classes"])
    if os.path.exists(path):
        try:
            classifier = keras.saving.load_model(path, compile=False)
            classifier.get_layer(FEATURES_LAYER)  # a ValueError where it has none
            if classifier.output_shape != (None, num_classes):
                raise ValueError(f"output shape {classifier.output_shape}")
        except Exception as err:
            raise inputs.InputError(
                f"cached classifier {inputs.shown(path)} is not this script's "
                f"classifier ({type(err).__name__}); delete it and run again to "
                "retrain it"
            ) from None
        return classifier
    # Before the minutes of training, not after: the cache's folder must take it.
    inputs.make_output_dirs([os.path.dirname(path) or "."])
    x_train, y_train = data["x_train"], data["y_train"]
    part = training_parts(len(x_train)).classifier
    classifier = train_classifier(x_train[part], y_train[part], num_classes)
    # Aside, then renamed: a half-written file would pass for the cache next time.
    with safekeeping.atomic_write(path) as temporary:
        classifier.save(temporary)
    log(f"Saved the classifier to {path}.")
    return classifier


def classifier_outputs(classifier, images):
    """(penultimate features, class probabilities) for rows of pixels in [0, 1]."""
    features = classifier.get_layer(FEATURES_LAYER).output
    images = np.asarray(images, "float32").reshape(-1, *classifier.input_shape[1:])
    both = keras.Model(classifier.inputs, [features, classifier.output])
    outputs = both.predict(images, batch_size=PREDICT_BATCH, verbose=0)
    return tuple(np.asarray(x, "float64") for x in outputs)


def classifier_score(probabilities):
    """exp(mean KL(p(y|x) || p(y))): 1 if all look alike, at best the classes' count."""
    p_yx = np.asarray(probabilities, dtype="float64")
    p_y = p_yx.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 = 0
        terms = np.where(p_yx > 0, p_yx * (np.log(p_yx) - np.log(p_y)), 0.0)
    return float(np.exp(np.mean(np.sum(terms, axis=1))))


def frechet_distance(features_a, features_b):
    """Of two feature sets: |mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b))."""
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    shift = np.sum((features_a.mean(axis=0) - features_b.mean(axis=0)) ** 2)
    cross = 2.0 * trace_sqrt_product(cov_a, cov_b)
    return float(shift + np.trace(cov_a) + np.trace(cov_b) - cross)


def trace_sqrt_product(cov_a, cov_b):
    """tr(sqrtm(S_a S_b)) by eigh: S_a S_b has sqrt(S_a) S_b sqrt(S_a)'s eigenvalues."""
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh(0.5 * (m + m.T))
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def class_balance(probabilities):
    """Of the histogram of the images' classes: how many get COVERAGE (10: no missing
    mode), its KL divergence from uniform (0 when balanced, log(10) for one digit)."""
    predicted, n_classes = np.argmax(probabilities, axis=1), probabilities.shape[1]
    h = np.bincount(predicted, minlength=n_classes) / len(predicted)
    kl = float(np.sum(h[h > 0] * np.log(h[h > 0] * n_classes)))
    return {"classes_covered": int(np.sum(h >= COVERAGE)), "kl_uniform": kl}


# --- Nearest training images: does the generator copy its training set?
def nearest_neighbours(queries, references, batch_size=NEIGHBOUR_BATCH):
    """(index, L2 distance) of each query's nearest reference: the argmin of |b|^2 - 2ab
    in float32 (round-off: ~1e-4 on MNIST), the winner's distance exactly (float64)."""
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
    """The samples' and the test images' median distance to their nearest training
    image, and their ratio (1 or more: as far as unseen images; far less: copies)."""
    distances = (nearest_neighbours(x, train)[1] for x in (samples, test))
    ours, unseen = (float(np.median(d)) for d in distances)
    return {"samples": ours, "test_images": unseen, "ratio": ours / unseen}


# --- The whole evaluation, and its Markdown tables, ready for the README
def evaluate(generator, classifier, data, seed=SEED, name="mnist"):
    """Every figure the data allow, for N_SAMPLES samples and for the real row."""
    x_train, can = data["x_train"], available(data)
    parts = training_parts(len(x_train))
    real, validation = (to_unit_interval(x_train[p]) for p in parts[::2])
    test = to_unit_interval(data["x_test"]) if can.test else None
    accuracy = None
    if classifier is not None:  # its accuracy on images it never saw
        seen, labels = test, data.get("y_test")
        if not can.test:
            seen, labels = real, data["y_train"][parts.real]
        test_features, probabilities = classifier_outputs(classifier, seen)
        accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
        log(f"Classifier test accuracy: {accuracy:.2%}.")
        if name == "mnist" and accuracy < MIN_TEST_ACCURACY:
            log(
                f"WARNING: THE CLASSIFIER IS BELOW {MIN_TEST_ACCURACY:.0%} TEST "
                f"ACCURACY: its figures are not trustworthy. Delete its cache in "
                f"{gan.MODEL_DIR}/, raise CLASSIFIER_EPOCHS and run again."
            )

    def row(images):
        figures = parzen_score(images, validation, test) if can.test else {}
        if classifier is not None:
            features, probabilities = classifier_outputs(classifier, images)
            figures["classifier_score"] = classifier_score(probabilities)
            if can.test:
                figures["fid"] = frechet_distance(features, test_features)
            figures.update(class_balance(probabilities))
        return figures

    log(f"Scoring {N_SAMPLES:,} generated samples (noise seed {seed}).")
    samples = images_from_noise(generator, latent_points(N_SAMPLES, seed))
    figures, real_name = row(samples), slice_name(parts.real)
    log(f"Scoring the real row: {real_name} in the samples' place.")
    figures["real"] = {"images": real_name, **row(real)}
    n_train, n_test = len(x_train), len(test) if can.test else 0
    if can.test:
        log(f"Measuring the distance to the nearest of {n_train:,} training images.")
        train = to_unit_interval(x_train, "float32")
        figures["memorization"] = memorization(samples, train, test)
    figures.update(seed=seed, n_samples=N_SAMPLES, n_test=n_test, n_train=n_train)
    figures.update(classifier_images=slice_name(parts.classifier))
    figures.update(classifier_test_accuracy=accuracy)
    if name == "mnist":
        figures["paper_table_1"] = dict(PAPER_TABLE_1)
    rows = {"generator's row": N_SAMPLES, "real row": len(real), "test set": n_test}
    caveats = [
        f"{n:,} images in the {what}: too few (under {FEW_IMAGES}) to mean much"
        for what, n in rows.items()
        if 0 < n < FEW_IMAGES
    ]
    return {**figures, "data": name, "left_out": can.left_out, "caveats": caveats}


def format_table(figures, generator_path):
    def row(*cells):
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    data, n_test, real = figures["data"], figures["n_test"], figures["real"]["images"]
    accuracy = figures["classifier_test_accuracy"]
    title = TITLES.get(data) or os.path.basename(os.path.normpath(data))
    intro = (
        f"Samples: {figures['n_samples']:,} from {generator_path} (noise seed "
        f"{figures['seed']}). Real row: the training images {real}"
        f"{'' if data in TITLES else ' (shuffled, seed 0)'} in their place"
    )
    if accuracy is not None:
        learned = figures["classifier_images"]
        intro += f", which the classifier never saw (it learned {learned})"
    if n_test:
        intro += f". Both are scored against the {n_test:,} {title} test images"
    if accuracy is not None:
        intro += "; the classifier's test" if n_test else ". The classifier's"
        intro += f" accuracy{'' if n_test else ' on the real row'} is {accuracy:.2%}"
    lines = [
        intro + ".\n",
        "| Model | Parzen log-likelihood | sigma | Classifier score | FID "
        "| Classes covered | KL from uniform |\n|---|---|---|---|---|---|---|",
    ]
    forms = {"parzen_sigma": ".3f", "classifier_score": ".2f", "fid": ".2f"}
    forms.update(classes_covered="d", kl_uniform=".3f")
    ours = {"This generator": figures, f"Real {title} ({real})": figures["real"]}
    for name, f in ours.items():
        ll = f"{f['parzen_ll']:.1f} +- {f['parzen_se']:.1f}" if "parzen_ll" in f else ""
        cells = (format(f[k], form) if k in f else "" for k, form in forms.items())
        lines.append(row(name, ll, *cells))
    for name, (ll, se) in figures.get("paper_table_1", {}).items():
        paper = f"{name} (Goodfellow et al. 2014)"
        lines.append(row(paper, f"{ll} +- {se}", *[""] * 5))
    lines += figures["left_out"] + figures["caveats"]
    if "memorization" in figures:
        unseen = "digits" if data == "mnist" else "images"
        distances = (f"{d:.3f}" for d in figures["memorization"].values())
        lines += [
            "\nMemorization: the median L2 distance (pixels in [0, 1]) from each image "
            f"to its nearest of the {figures['n_train']:,} training images; a ratio "
            f"near or above 1 means no closer than unseen {unseen}, well below 1 means "
            "copying.\n",
            "| Memorization | samples | test images | ratio |\n|---|---|---|---|",
            row("This generator", *distances),
        ]
    return "\n".join(lines)


def generator_parser(doc):
    """GENERATOR, --seed, --data, the datasets' paths: evaluate.py's and sample.py's."""
    parser = inputs.ArgumentParser(description=doc.splitlines()[0])
    add = parser.add_argument
    add("generator", nargs="?", default=GENERATOR_PATH, help="default %(default)s")
    add("--seed", type=int, default=SEED, help="noise seed (default %(default)s)")
    add("--data", help="the run's DATA (default: its checkpoint's, else gan.py's)")
    for constant in inputs.KERAS_DATASETS.values():  # --mnist-path: MNIST_PATH
        add(inputs.flag(constant), default=getattr(gan, constant), help=constant)
    return parser


def run_data(args):
    """(DATA, IMG_SHAPE, .npz) of the generator's run: its checkpoint's, or gan.py's."""
    inputs.check_whole_number("--seed", args.seed, *inputs.RANGES["SEED"])
    checkpoint = os.path.join(os.path.dirname(args.generator), "checkpoint.npz")
    saved = {}
    if os.path.isfile(checkpoint):
        saved = safekeeping.read_checkpoint(checkpoint)["settings"]
    data = args.data or saved.get("DATA", gan.DATA)
    inputs.check_data(data)
    shape = tuple(saved.get("IMG_SHAPE", gan.IMG_SHAPE))
    return data, shape, vars(args).get(inputs.KERAS_DATASETS.get(data, "").lower(), "")


def main(argv=None):
    parser = generator_parser(__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    # The cheap checks first: a wrong path fails in a second, not after training.
    data, shape, path = run_data(args)
    generator = load_generator(args.generator, shape)
    arrays = load_data(data, shape, path)
    can = available(arrays)
    if not (can.test or can.classifier):
        print(
            "Nothing to measure: every figure needs test images (a test/ folder) or "
            f"labels (class subfolders, images at least {MIN_CLASSIFIER_SIZE} pixels a "
            f"side), and {os.path.basename(os.path.normpath(data))} has neither."
        )
        return
    log(inputs.platform_line())  # "is my GPU used?", as gan.py says it
    cache = classifier_path(data, shape, arrays) if can.classifier else None
    classifier = load_or_train_classifier(arrays, cache) if cache else None
    figures = evaluate(generator, classifier, arrays, args.seed, data)
    if args.json:
        print(json.dumps({"generator": args.generator, **figures}, indent=2))
    else:
        print(format_table(figures, args.generator))


if __name__ == "__main__":
    main()
