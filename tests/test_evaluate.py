"""evaluate.py: its maths against known answers; both scripts' refusals."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import keras
from PIL import Image
from keras import layers
import evaluate
import gan
import inputs
import sample
from helpers import ROOT, refusal, save_generator, save_model, stop_with_ctrl_c
from helpers import write_pictures

D = 784


def parzen(x, centres, sigma, batch_size=evaluate.PARZEN_BATCH):
    """log p(x) for each row of x under one sigma."""
    return evaluate.parzen_by_sigma(x, centres, [sigma], batch_size)[0]


def log_norm(sigma, dim=D):
    return dim * np.log(sigma * np.sqrt(2 * np.pi))


def naive_parzen(x, centres, sigma):
    """The formula written out, one test point at a time."""
    terms = [-np.sum((p - centres) ** 2, axis=1) / (2 * sigma**2) for p in x]
    means = [t.max() + np.log(np.mean(np.exp(t - t.max()))) for t in terms]
    return np.array(means) - log_norm(sigma, x.shape[1])


def toy_digits(n, seed):
    """Toy "digits": ten blurry prototypes plus per-image noise, as uint8 images."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(0).random((10, 28, 28)) * 255
    noise = rng.normal(0, 60, (n, 28, 28))
    return np.clip(prototypes[rng.integers(0, 10, n)] + noise, 0, 255).astype("uint8")


class ReplayGenerator:
    """A stand-in generator whose "samples" are the given images, in tanh's range."""

    def __init__(self, images):
        self.images = images.reshape(-1, *gan.IMG_SHAPE).astype("float32") / 127.5 - 1

    def __call__(self, noise, training=False):
        assert not training  # inference mode: BatchNorm's moving statistics
        batch, self.images = self.images[: len(noise)], self.images[len(noise) :]
        return batch


# Parzen window ------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [0.1, 0.3, 1.0])
def test_parzen_known_answers(sigma):
    # One centre at the point itself: exp(0) = 1, all that is left is the normaliser.
    x = np.random.default_rng(0).random((1, D))
    assert parzen(x, x.copy(), sigma)[0] == pytest.approx(-log_norm(sigma), abs=1e-9)
    # Two centres at squared distances 0 and 2: the kernels mix by their mean.
    ll = parzen(np.zeros((1, 2)), np.array([[0.0, 0.0], [1.0, 1.0]]), sigma)
    expected = np.log((1 + np.exp(-1.0 / sigma**2)) / 2) - log_norm(sigma, dim=2)
    assert ll[0] == pytest.approx(expected, abs=1e-12)
    # Squared distance 78,400 from every centre: exp(-39,200) is 0 in float64.
    ll = parzen(np.full((2, D), 10.0), np.zeros((3, D)), sigma)
    expected = -D * 100.0 / (2 * sigma**2) - log_norm(sigma)
    np.testing.assert_allclose(ll, expected, rtol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_parzen_batches_and_sigmas_agree_with_the_formula(batch_size):
    rng = np.random.default_rng(1)
    x, centres, sigmas = rng.random((23, 50)), rng.random((40, 50)), [0.2, 0.5]
    by_sigma = evaluate.parzen_by_sigma(x, centres, sigmas, batch_size)
    assert by_sigma.shape == (2, 23)
    for row, sigma in zip(by_sigma, sigmas):
        np.testing.assert_allclose(row, naive_parzen(x, centres, sigma), rtol=1e-10)
    # parzen_score: the mean and standard error at the sigma it picked
    centres, validation, test = (rng.random((n, 20)) for n in (30, 10, 16))
    figures = evaluate.parzen_score(centres, validation, test)
    ll = naive_parzen(test, centres, figures["parzen_sigma"])
    assert figures["parzen_sigma"] in evaluate.SIGMAS
    assert figures["parzen_ll"] == pytest.approx(ll.mean())
    assert figures["parzen_se"] == pytest.approx(ll.std() / 4.0)  # std / sqrt(16)


@pytest.mark.parametrize("index", [0, 3, 6, 9])
def test_sigma_is_the_grid_value_the_data_was_built_for(index):
    # One centre, all points at distance r: -r^2/(2 sigma^2) - D log sigma peaks at
    # sigma = r / sqrt(D).
    sigma = evaluate.SIGMAS[index]
    directions = np.random.default_rng(3).normal(size=(20, D))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    validation = directions * sigma * np.sqrt(D)
    chosen = evaluate.parzen_score(np.zeros((1, D)), validation, validation)
    assert chosen["parzen_sigma"] == pytest.approx(sigma)


# Classifier figures -------------------------------------------------------------------
@pytest.mark.parametrize(
    "probabilities, score",
    [
        (np.tile([0.7, 0.2, 0.1] + [0.0] * 7, (50, 1)), 1.0),  # the same prediction
        (np.eye(10)[np.arange(100) % 10], 10.0),  # confident and balanced
        (np.eye(10)[np.arange(90) % 9], 9.0),  # confident, but only nine digits
    ],
)
def test_classifier_score(probabilities, score):
    assert evaluate.classifier_score(probabilities) == pytest.approx(score)


def test_frechet_distance_and_its_trace_term():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(500, 16)) @ np.diag(np.arange(1, 17))
    assert evaluate.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    shifted = features + np.array([3.0, 0.0, 4.0] + [0.0] * 13)
    assert evaluate.frechet_distance(features, shifted) == pytest.approx(25.0)
    # Covariances that do not commute: cov_b = cov_a^-1/2 M^2 cov_a^-1/2 makes
    # tr sqrtm(cov_a cov_b) = tr M exactly.
    a, m = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov_a, m = a @ a.T + np.eye(5), m @ m.T + np.eye(5)
    w, v = np.linalg.eigh(cov_a)
    cov_b = (v / np.sqrt(w)) @ v.T @ m @ m @ (v / np.sqrt(w)) @ v.T
    assert not np.allclose(cov_a @ cov_b, cov_b @ cov_a)
    for pair in [(cov_a, cov_b), (cov_b, cov_a)]:
        assert evaluate.trace_sqrt_product(*pair) == pytest.approx(np.trace(m), 1e-9)


@pytest.mark.parametrize(
    "probabilities, covered, kl",
    [
        (np.eye(10)[np.arange(1000) % 10], 10, 0.0),
        # Confident or not, an image counts for its most probable class.
        (np.full((300, 10), 0.05) + 0.5 * np.eye(10)[4], 1, np.log(10)),
        # Of 1,000: class 0 has 1.0%, class 1 0.9%, so class 0 and class 5 count.
        (np.eye(10)[np.repeat([0, 1, 5], [10, 9, 981])], 2, None),
    ],
)
def test_class_balance(probabilities, covered, kl):
    balance = evaluate.class_balance(probabilities)
    assert balance["classes_covered"] == covered
    if kl is not None:
        assert balance["kl_uniform"] == pytest.approx(kl, abs=1e-12)


def test_classifier_outputs_are_its_features_layer_and_output_per_image():
    # Rows of 784 pixels reach it as 28 x 28 images; features: the named layer's.
    keras.utils.set_random_seed(8)
    classifier = evaluate.build_classifier()
    images = np.random.default_rng(8).random((6, 28, 28, 1))
    outputs = evaluate.classifier_outputs(classifier, images.reshape(6, D))
    layer = classifier.get_layer(evaluate.FEATURES_LAYER).output
    expected = keras.Model(classifier.input, [layer, classifier.output])(images)
    for output, wanted in zip(outputs, expected):
        np.testing.assert_allclose(output, wanted, rtol=1e-5, atol=1e-6)
    assert outputs[0].shape == (6, 128) and outputs[0].dtype == np.float64


# Samples and the whole evaluation, small ----------------------------------------------
def test_latent_points_depend_on_the_seed_alone_and_come_back_as_images():
    first = evaluate.latent_points(8, seed=11)
    np.random.seed(99)  # other users of NumPy's global generator must not matter
    np.testing.assert_array_equal(evaluate.latent_points(8, seed=11), first)
    assert not np.array_equal(evaluate.latent_points(8, seed=12), first)
    assert first.shape == (8, gan.LATENT_DIM) and first.dtype == np.float32
    # In batches, in order, in [0, 1].
    digits = toy_digits(2 * evaluate.PREDICT_BATCH + 7, seed=0)
    images = evaluate.images_from_noise(ReplayGenerator(digits), np.zeros(len(digits)))
    np.testing.assert_allclose(images, digits.reshape(len(digits), -1) / 255, atol=1e-6)


def small_mnist(monkeypatch, seed):
    """A 60 + 40 image MNIST, evaluate.py's sizes shrunk to fit: 40 samples, 40 real."""
    monkeypatch.setattr(evaluate, "N_SAMPLES", 40)
    monkeypatch.setattr(evaluate, "REAL_SAMPLES", slice(0, 40))
    monkeypatch.setattr(evaluate, "VALIDATION", slice(40, 60))
    mnist = {"x_train": toy_digits(60, seed), "x_test": toy_digits(40, seed + 1)}
    return mnist | {"y_test": np.arange(40) % 10, "classes": list("0123456789")}


def test_generators_that_replay_the_real_row_or_the_test_images(monkeypatch):
    mnist = small_mnist(monkeypatch, seed=9)
    keras.utils.set_random_seed(0)
    classifier = evaluate.build_classifier()
    generator = ReplayGenerator(mnist["x_train"][:40])
    figures = evaluate.evaluate(generator, classifier, mnist)
    real = figures.pop("real")
    assert real.pop("images") == "x_train[:40]"
    for name, value in real.items():  # the samples score as the real row
        assert figures[name] == pytest.approx(value, rel=1e-4), name
    assert figures["memorization"]["samples"] < 1e-5  # they are training images
    table = evaluate.format_table({**figures, "real": real | {"images": "R"}}, "g")
    assert f"| This generator | {real['parzen_ll']:.1f} +- " in table
    assert f"| Real MNIST (R) | {real['parzen_ll']:.1f} +- " in table
    assert "| Adversarial nets (Goodfellow et al. 2014) | 225 +- 2 | | | | | |" in table
    learned = evaluate.slice_name(evaluate.CLASSIFIER_IMAGES)
    assert figures["classifier_images"] == learned
    assert f"which the classifier never saw (it learned {learned})" in table
    # Samples that are the test images: FID 0, memorization ratio 1; the real row not.
    generator = ReplayGenerator(mnist["x_test"])
    figures = json.loads(json.dumps(evaluate.evaluate(generator, classifier, mnist, 3)))
    assert figures["fid"] == pytest.approx(0.0, abs=1e-6)
    assert figures["real"]["fid"] > 1e-3
    assert figures["memorization"]["ratio"] == pytest.approx(1.0, rel=1e-6)
    sizes = [figures[k] for k in ("seed", "n_samples", "n_train", "n_test")]
    assert sizes == [3, 40, 60, 40]


def test_rows_on_too_few_images_say_so_and_missing_figures_are_named(monkeypatch):
    mnist = small_mnist(monkeypatch, seed=11)
    del mnist["x_test"], mnist["y_test"], mnist["classes"]  # no test split, no labels
    figures = evaluate.evaluate(ReplayGenerator(mnist["x_train"]), None, mnist)
    assert figures["left_out"] == [
        "no test images: Parzen, FID and memorization left out",
        "no labels: the classifier's figures (score, FID, classes) left out",
    ]
    assert figures["caveats"] == [
        f"40 images in the {row}: too few (under {evaluate.FEW_IMAGES}) to mean much"
        for row in ("generator's row", "real row")
    ]
    table = evaluate.format_table(figures, "g").splitlines()
    assert table[-4:] == figures["left_out"] + figures["caveats"]
    monkeypatch.setattr(evaluate, "FEW_IMAGES", 40)  # 40 are enough for 40
    figures = evaluate.evaluate(ReplayGenerator(mnist["x_train"]), None, mnist)
    assert figures["caveats"] == []


def test_the_classifier_never_saw_the_real_row_and_is_cached(tmp_path, monkeypatch):
    # Each training image carries its index in two pixels; training records them.
    index = np.arange(60003)
    x_train = np.zeros((60003, 28, 28), np.uint8)
    x_train[:, 0, 0], x_train[:, 0, 1] = index % 256, index // 256
    mnist = {"x_train": x_train, "y_train": index % 10, "classes": list("0123456789")}
    given = []

    def train(images, labels, num_classes):
        given.append(images[:, 0, 0] + 256 * images[:, 0, 1].astype(int))
        return evaluate.build_classifier()

    monkeypatch.setattr(evaluate, "train_classifier", train)
    path = tmp_path / "cache" / "classifier.keras"
    evaluate.load_or_train_classifier(mnist, path=str(path))
    real_row = set(index[evaluate.REAL_SAMPLES].tolist())
    assert real_row and set(given[0].tolist()) == set(index.tolist()) - real_row
    assert os.listdir(path.parent) == ["classifier.keras"]  # no temporaries
    again = evaluate.load_or_train_classifier(mnist, path=str(path))
    assert len(given) == 1 and again.output_shape == (None, 10)  # reused


def test_each_datas_classifier_and_image_set_has_a_name_of_its_own():
    mnist = {"x_train": np.zeros((60000, 28, 28, 1)), "classes": list("0123456789")}
    other = [mnist | {"classes": ["a"]}, mnist | {"x_train": mnist["x_train"][1:]}]
    keys = [("mnist", mnist), ("fashion_mnist", mnist)]
    keys += [("mnist", other[0]), ("mnist", other[1])]  # MNIST's like any other's
    paths = {evaluate.classifier_path(data, (28, 28, 1), a) for data, a in keys}
    paths.add(evaluate.classifier_path("mnist", (32, 32, 1), mnist))
    assert len(paths) == 5 and {os.path.dirname(p) for p in paths} == {gan.MODEL_DIR}
    # An image set's label is its slice.
    images, parts = np.arange(60000), [slice(0, 10000), slice(None, 40)]
    names = ["x_train[:10000]", "x_train[:40]", "x_train[10000:]", "x_train[5:51]"]
    for part, name in zip(parts + [slice(10000, None), slice(5, 51)], names):
        assert evaluate.slice_name(part) == name
        assert np.array_equal(eval(name, {"x_train": images}), images[part])


# Nearest training images and the memorization figures ---------------------------------
def brute_force_nearest(queries, references):
    """Every distance in float64, one query at a time."""
    queries = np.asarray(queries, "float32").astype("float64")
    references = np.asarray(references, "float32").astype("float64")
    found = [np.sum((references - q) ** 2, axis=1) for q in queries]
    return np.argmin(found, axis=1), np.sqrt(np.min(found, axis=1))


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_queries_agree_with_brute_force_and_find_themselves(batch_size):
    references = evaluate.to_unit_interval(toy_digits(400, seed=11), "float32")
    queries = evaluate.to_unit_interval(toy_digits(25, seed=12))
    found = evaluate.nearest_neighbours(queries, references, batch_size=batch_size)
    expected_indices, expected_distances = brute_force_nearest(queries, references)
    np.testing.assert_array_equal(found[0], expected_indices)
    np.testing.assert_allclose(found[1], expected_distances, rtol=1e-12)
    assert found[0].dtype == np.int64 and found[1].dtype == np.float64
    # What the float32 search alone makes of a row and itself: |a|^2 + |b|^2 - 2ab is
    # not 0, so only the float64 re-measure finds a training image at distance 0.
    picks, sq = [0, 17, 399], np.einsum("ij,ij->i", references, references)
    naive = ((-2.0 * references[picks]) @ references.T + sq)[[0, 1, 2], picks]
    assert np.any(sq[picks] + naive != 0)
    found = evaluate.nearest_neighbours(references[picks], references, batch_size)
    assert found[0].tolist() == picks and found[1].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("copies", [True, False])
def test_memorization_of_copies_is_about_zero_of_unseen_digits_about_one(copies):
    train, test = toy_digits(500, seed=1), toy_digits(300, seed=2)
    replayed = train[100:300] if copies else test[:150]
    samples = evaluate.images_from_noise(ReplayGenerator(replayed), replayed)
    train, test = evaluate.to_unit_interval(train, "float32"), test.reshape(300, -1)
    figures = evaluate.memorization(samples, train, test / 255)
    assert figures["ratio"] == figures["samples"] / figures["test_images"]
    if copies:
        assert figures["samples"] < 1e-5 < 5 < figures["test_images"]
    assert figures["ratio"] < 1e-6 if copies else 0.9 < figures["ratio"] < 1.1


@pytest.mark.slow
def test_real_mnist_neighbours_are_exact(mnist_path):
    mnist = evaluate.load_data("mnist", (28, 28, 1), mnist_path)
    train = evaluate.to_unit_interval(mnist["x_train"], "float32")
    picks = [0, 1, 59999, 31337]
    indices, distances = evaluate.nearest_neighbours(train[picks], train)
    assert distances.tolist() == [0.0] * 4
    assert np.array_equal(train[indices], train[picks])  # itself, or a duplicate
    test = evaluate.to_unit_interval(mnist["x_test"][:20], "float32")
    indices, distances = evaluate.nearest_neighbours(test, train)
    expected_indices, expected_distances = brute_force_nearest(test, train)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-12)


# Command line: bad input is one sentence and a non-zero exit, with nothing before it
def write_mnist(path, n_train, n_test=5):
    rng, arrays = np.random.default_rng(14), {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[f"x_{split}"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"y_{split}"] = rng.integers(0, 10, n).astype(np.uint8)
    np.savez(path, **arrays)
    return str(path)


@pytest.fixture(scope="module")
def big_enough_mnist(tmp_path_factory):
    """An mnist.npz of the 51,000 random training digits evaluate.py needs at least."""
    path = tmp_path_factory.mktemp("data") / "mnist.npz"
    return write_mnist(path, n_train=evaluate.VALIDATION.stop)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """Files for the refusals: a generator, models of other shapes, broken files."""
    folder = tmp_path_factory.mktemp("bad")
    generator = Path(save_generator(folder / "generator.keras")).read_bytes()
    (folder / "half.keras").write_bytes(generator[:5000])  # as a killed download
    (folder / "text.keras").write_text("not a model")
    (folder / "mnist.npz").write_text("not a zip")
    save_model(folder / "out.keras", gan.LATENT_DIM, [layers.Dense(10)])
    reshape = layers.Reshape((28, 28, 1))
    save_model(folder / "in.keras", 50, [layers.Dense(784), reshape])
    write_mnist(folder / "small.npz", n_train=100)
    return folder


# Refused by both scripts: the generator is checked before the data.
GOOD = "{bad}/generator.keras"
BOTH = [
    ("", [f"generator file {evaluate.GENERATOR_PATH!r}", "No such file", "gan.py"]),
    ("{bad}/half.keras", ["is damaged or not a Keras model"]),
    ("{bad}/text.keras", ["is damaged or not a Keras model"]),
    ("{bad}/out.keras", ["to (None, 10)", "(None, 28, 28, 1) images"]),
    ("{bad}/in.keras", ["maps (None, 50)", f"(None, {gan.LATENT_DIM})"]),
    ("nope.keras --mnist-path {bad}/mnist.npz", ["generator file 'nope.keras'"]),
    (GOOD + " --mnist-path {bad}/mnist.npz", ["MNIST file", "--mnist-path"]),
    ("--seed -1", ["--seed must be at least 0, got -1"]),
    ("--seed 1.5", ["--seed: invalid int value: '1.5'"]),
    ("--colour", ["unrecognized arguments: --colour"]),
]


REFUSALS = [(script, *case) for script in (evaluate, sample) for case in BOTH] + [
    (evaluate, GOOD + " --mnist-path {bad}/small.npz", ["has 100 training images"]),
    (sample, "--n 0", ["--n must be at least 1, got 0"]),
    (sample, "--n abc", ["--n: invalid int value: 'abc'"]),
    (sample, "--n 101", ["--n must be at most 100"]),
    (sample, GOOD + " images", ["cannot write to output folder"]),
]


@pytest.mark.parametrize("script, argv, says", REFUSALS)
def test_one_sentence_refusals(script, argv, says, bad, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if argv.endswith(" images"):  # a file where sample.py's folder should be
        (tmp_path / gan.IMAGES_DIR).write_text("not a folder")
        argv = argv.removesuffix(" images")
    name = f"{script.__name__}.py"
    message = refusal(script.main, argv.format(bad=bad).split(), capsys, name)
    assert all(words in message for words in says), message
    fix = "so fix MNIST_PATH (--mnist-path)"
    assert "small.npz" not in argv or message.endswith(fix)
    if argv.startswith("--"):  # refused before anything was made
        assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("damage", ["half a file", "another model"])
def test_a_cached_classifier_that_is_not_this_ones_is_reported(tmp_path, damage):
    path = tmp_path / "mnist_classifier.keras"
    if damage == "half a file":
        path.write_text("half a file")
    else:  # a Keras model, but with no features layer and 3 classes
        save_model(path, 784, [layers.Dense(3, activation="softmax")])
    with pytest.raises(inputs.InputError, match="delete it and run again"):
        evaluate.load_or_train_classifier({"classes": list("0123")}, path=str(path))


def test_the_platform_line_comes_once_the_inputs_are_checked(
    tmp_path, monkeypatch, capsys, big_enough_mnist
):
    read = []

    def stop_here(arrays, path):
        read.append(arrays)
        raise LookupError("stopped here")

    monkeypatch.setattr(evaluate, "load_or_train_classifier", stop_here)
    generator = save_generator(tmp_path / "generator.keras")
    with pytest.raises(LookupError, match="stopped here"):
        evaluate.main([generator, "--mnist-path", big_enough_mnist])
    assert capsys.readouterr() == ("", inputs.platform_line() + "\n")
    # MNIST was read with its labels and both splits.
    assert read[0].keys() == {"x_train", "y_train", "x_test", "y_test", "classes"}
    assert read[0]["x_train"].shape == (51000, 28, 28, 1)


def test_a_folder_with_nothing_to_measure_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_pictures(tmp_path / "plain", toy_digits(12, seed=13))  # no labels, no test
    generator = save_generator(tmp_path / "generator.keras")
    assert evaluate.main([generator, "--data", "plain"]) is None  # exit status 0
    out, err = capsys.readouterr()
    assert out.startswith("Nothing to measure: ") and out.count("\n") == 1
    assert "plain has neither" in out and "|" not in out and err == ""


SCORING = f"Scoring {evaluate.N_SAMPLES:,} generated samples"
STOPS = [(evaluate, False, "Training the digit classifier"), (evaluate, True, SCORING)]


@pytest.mark.slow  # sample.py: stopped while it draws, right after the platform line
@pytest.mark.parametrize("script, cached, after", [*STOPS, (sample, False, "Keras ")])
def test_ctrl_c_says_its_files_are_whole(tmp_path, mnist_path, script, cached, after):
    os.makedirs(tmp_path / gan.MODEL_DIR)
    save_generator(tmp_path / evaluate.GENERATOR_PATH)
    mnist = evaluate.load_data("mnist", (28, 28, 1), mnist_path)
    cache = tmp_path / evaluate.classifier_path("mnist", (28, 28, 1), mnist)
    if cached:  # untrained: its figures do not matter, only how far the run gets
        evaluate.build_classifier().save(cache)
    name, wait = f"{script.__name__}.py", int(script is evaluate)
    args = ["--n", "100"] if script is sample else []  # draws for seconds, not one
    status, out, err = stop_with_ctrl_c(
        ROOT / name, args, tmp_path, after, wait, MNIST_PATH=mnist_path
    )
    assert (status, out) == (130, "")  # 128 + SIGINT
    assert err[-1] == f"{name}: stopped; its files are whole"
    assert any(line.startswith(f"Keras {keras.__version__}, ") for line in err)
    # An interrupted training leaves no cache behind, to be taken for a whole one.
    assert os.path.exists(cache) == cached
    for picture in os.listdir(tmp_path / gan.IMAGES_DIR) if script is sample else []:
        assert picture in sample.PICTURES  # whole, or not there at all
        Image.open(tmp_path / gan.IMAGES_DIR / picture).load()
