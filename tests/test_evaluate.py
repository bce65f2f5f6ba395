"""Tests for evaluate.py: the maths against known answers, the command line's errors.

Small synthetic arrays only, no classifier training; the tests marked slow start a
process or read real MNIST.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras
from keras import layers

import evaluate
import gan
import inputs
from conftest import (
    child_env,
    refusal,
    save_generator,
    save_model,
    stopped_with_ctrl_c,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

D = 784


@pytest.fixture(autouse=True)
def as_the_script(monkeypatch):
    """Errors name the script from sys.argv[0], as `python evaluate.py` sets it."""
    monkeypatch.setattr(sys, "argv", ["evaluate.py"])


def parzen(x, centres, sigma, batch_size=evaluate.PARZEN_BATCH):
    """log p(x) for each row of x under one sigma."""
    return evaluate.parzen_by_sigma(x, centres, [sigma], batch_size)[0]


def log_norm(sigma, dim=D):
    return dim * np.log(sigma * np.sqrt(2 * np.pi))


def naive_parzen(x, centres, sigma):
    """The formula written out, one test point at a time."""
    out = []
    for point in x:
        terms = -np.sum((point - centres) ** 2, axis=1) / (2 * sigma**2)
        top = terms.max()
        out.append(
            top + np.log(np.mean(np.exp(terms - top))) - log_norm(sigma, x.shape[1])
        )
    return np.array(out)


# -----------------------------------------------------------------------------
# Parzen window


@pytest.mark.parametrize("sigma", [0.1, 0.3, 1.0])
def test_parzen_one_centre_at_the_point_itself(sigma):
    x = np.random.default_rng(0).random((1, D))
    ll = parzen(x, x.copy(), sigma)
    # exp(0) = 1 for the only kernel: all that is left is the normaliser.
    assert ll[0] == pytest.approx(-log_norm(sigma), abs=1e-9)


def test_parzen_far_points_do_not_underflow():
    centres = np.zeros((3, D))
    x = np.full((2, D), 10.0)  # squared distance 78,400: exp(-3.9e6) is 0 in float64
    ll = parzen(x, centres, 0.1)
    expected = -D * 100.0 / (2 * 0.1**2) - log_norm(0.1)
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, expected, rtol=1e-12)


def test_parzen_mixes_kernels_by_their_mean():
    # Two centres at squared distances 0 and 2 from x (sigma 1): log((1 + e^-1) / 2).
    x = np.zeros((1, 2))
    centres = np.array([[0.0, 0.0], [1.0, 1.0]])
    ll = parzen(x, centres, 1.0)
    expected = np.log((1 + np.exp(-1.0)) / 2) - log_norm(1.0, dim=2)
    assert ll[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_parzen_batches_agree_with_the_formula(batch_size):
    rng = np.random.default_rng(1)
    x, centres = rng.random((23, 50)), rng.random((40, 50))
    ll = parzen(x, centres, 0.2, batch_size=batch_size)
    np.testing.assert_allclose(ll, naive_parzen(x, centres, 0.2), rtol=1e-10)


def test_parzen_several_sigmas_match_one_at_a_time():
    rng = np.random.default_rng(2)
    x, centres = rng.random((5, 30)), rng.random((8, 30))
    sigmas = [0.1, 0.5]
    both = evaluate.parzen_by_sigma(x, centres, sigmas)
    assert both.shape == (2, 5)
    for row, sigma in zip(both, sigmas):
        np.testing.assert_allclose(row, naive_parzen(x, centres, sigma), rtol=1e-10)


@pytest.mark.parametrize("index", [0, 3, 6, 9])
def test_sigma_is_the_grid_value_the_data_was_built_for(index):
    # One centre, validation points all at distance r: the mean log-likelihood
    # -r^2 / (2 sigma^2) - D log sigma peaks at sigma = r / sqrt(D).
    sigma = evaluate.SIGMAS[index]
    directions = np.random.default_rng(3).normal(size=(20, D))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    validation = directions * sigma * np.sqrt(D)
    chosen = evaluate.parzen_score(np.zeros((1, D)), validation, validation)
    assert chosen["parzen_sigma"] == pytest.approx(sigma)


def test_parzen_score_reports_mean_and_standard_error():
    rng = np.random.default_rng(4)
    centres, validation, test = (
        rng.random((30, 20)),
        rng.random((10, 20)),
        rng.random((16, 20)),
    )
    figures = evaluate.parzen_score(centres, validation, test)
    ll = naive_parzen(test, centres, figures["parzen_sigma"])
    assert figures["parzen_sigma"] in evaluate.SIGMAS
    assert figures["parzen_ll"] == pytest.approx(ll.mean())
    assert figures["parzen_se"] == pytest.approx(ll.std() / 4.0)  # std / sqrt(16)


# -----------------------------------------------------------------------------
# Classifier figures


def test_classifier_score_is_one_for_identical_predictions():
    probabilities = np.tile([0.7, 0.2, 0.1] + [0.0] * 7, (50, 1))
    assert evaluate.classifier_score(probabilities) == pytest.approx(1.0)


def test_classifier_score_is_ten_for_confident_balanced_predictions():
    probabilities = np.eye(10)[np.arange(100) % 10]
    assert evaluate.classifier_score(probabilities) == pytest.approx(10.0)


def test_classifier_score_drops_when_a_class_is_missing():
    probabilities = np.eye(10)[np.arange(90) % 9]  # confident, but only nine digits
    assert evaluate.classifier_score(probabilities) == pytest.approx(9.0)


def test_frechet_distance_of_a_set_to_itself_is_zero():
    features = np.random.default_rng(5).normal(size=(500, 16)) @ np.diag(
        np.arange(1, 17)
    )
    assert evaluate.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_sees_a_shifted_mean():
    features = np.random.default_rng(6).normal(size=(200, 4))
    shifted = features + np.array([3.0, 0.0, 4.0, 0.0])
    assert evaluate.frechet_distance(features, shifted) == pytest.approx(25.0)


def test_the_trace_term_with_covariances_that_do_not_commute():
    # cov_b = cov_a^-1/2 M^2 cov_a^-1/2 makes tr sqrtm(cov_a cov_b) = tr M exactly.
    rng = np.random.default_rng(7)
    a, m = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov_a, m = a @ a.T + np.eye(5), m @ m.T + np.eye(5)
    w, v = np.linalg.eigh(cov_a)
    inv_sqrt_a = (v / np.sqrt(w)) @ v.T
    cov_b = inv_sqrt_a @ m @ m @ inv_sqrt_a
    assert not np.allclose(cov_a @ cov_b, cov_b @ cov_a)
    expected = np.trace(m)
    assert evaluate.trace_sqrt_product(cov_a, cov_b) == pytest.approx(expected, 1e-9)
    assert evaluate.trace_sqrt_product(cov_b, cov_a) == pytest.approx(expected, 1e-9)


def test_balanced_classes_are_all_covered_and_uniform():
    balance = evaluate.class_balance(np.eye(10)[np.arange(1000) % 10])
    assert balance["classes_covered"] == 10
    assert balance["kl_uniform"] == pytest.approx(0.0, abs=1e-12)


def test_one_class_covers_one_and_is_log_ten_from_uniform():
    # Confident or not, an image counts for its most probable class.
    probabilities = np.full((300, 10), 0.05)
    probabilities[:, 4] = 0.55
    balance = evaluate.class_balance(probabilities)
    assert balance["classes_covered"] == 1
    assert balance["kl_uniform"] == pytest.approx(np.log(10))


def test_a_class_needs_one_percent_to_count_as_covered():
    counts = np.array([10, 9] + [0] * 8)  # of 1,000: 1.0% and 0.9%
    labels = np.concatenate(
        [np.full(c, k) for k, c in enumerate(counts)] + [np.full(981, 5)]
    )
    balance = evaluate.class_balance(np.eye(10)[labels])
    assert balance["classes_covered"] == 2  # class 0 and class 5, not class 1


def test_classifier_outputs_are_its_features_layer_and_output_per_image():
    # Rows of 784 pixels must reach the classifier as the 28 x 28 images they are
    # (row-major), and the features must be the named penultimate layer's.
    keras.utils.set_random_seed(8)
    classifier = evaluate.build_classifier()
    images = np.random.default_rng(8).random((6, 28, 28, 1))
    features, probabilities = evaluate.classifier_outputs(
        classifier, images.reshape(6, D)
    )
    layer = classifier.get_layer(evaluate.FEATURES_LAYER).output
    expected = keras.Model(classifier.input, [layer, classifier.output])(images)
    np.testing.assert_allclose(features, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities, expected[1], rtol=1e-5, atol=1e-7)
    assert features.shape == (6, 128) and features.dtype == np.float64


# -----------------------------------------------------------------------------
# Samples and the whole evaluation, small


def test_latent_points_depend_on_the_seed_alone():
    first = evaluate.latent_points(8, seed=11)
    np.random.seed(99)  # other users of NumPy's global generator must not matter
    np.testing.assert_array_equal(evaluate.latent_points(8, seed=11), first)
    assert not np.array_equal(evaluate.latent_points(8, seed=12), first)
    assert first.shape == (8, gan.LATENT_DIM) and first.dtype == np.float32


def small_mnist(monkeypatch, seed):
    """A 60 + 40 image MNIST, and evaluate.py's sizes shrunk to fit it: 40 samples,
    the real row x_train[:40], sigma picked on x_train[40:60]."""
    monkeypatch.setattr(evaluate, "N_SAMPLES", 40)
    monkeypatch.setattr(evaluate, "REAL_SAMPLES", slice(0, 40))
    monkeypatch.setattr(evaluate, "VALIDATION", slice(40, 60))
    return {
        "x_train": toy_digits(60, seed),
        "x_test": toy_digits(40, seed + 1),
        "y_test": np.arange(40) % 10,
    }


def test_a_generator_that_replays_the_real_row_scores_as_the_real_row(monkeypatch):
    mnist = small_mnist(monkeypatch, seed=9)
    keras.utils.set_random_seed(0)
    classifier = evaluate.build_classifier()
    real_row = mnist["x_train"][:40]
    figures = evaluate.evaluate(ReplayGenerator(real_row), classifier, mnist)
    real = figures.pop("real")
    assert real.pop("images") == "x_train[:40]"
    for name, value in real.items():
        assert figures[name] == pytest.approx(value, rel=1e-4), name
    assert figures["memorization"]["samples"] < 1e-5  # they are training images
    table = evaluate.format_table({**figures, "real": real | {"images": "R"}}, "g")
    assert f"| This generator | {real['parzen_ll']:.1f} +- " in table
    assert f"| Real MNIST (R) | {real['parzen_ll']:.1f} +- " in table
    assert "| Adversarial nets (Goodfellow et al. 2014) | 225 +- 2 |" in table
    learned = evaluate.slice_name(evaluate.CLASSIFIER_IMAGES)
    assert figures["classifier_images"] == learned
    assert f"which the classifier never saw (it learned {learned})" in table


def test_a_generator_that_replays_the_test_images_has_their_features(monkeypatch):
    # Samples that are the test images themselves: FID 0 against the test images,
    # as far from the training set as the test images (ratio 1); the real row is not.
    mnist = small_mnist(monkeypatch, seed=10)
    keras.utils.set_random_seed(0)
    generator = ReplayGenerator(mnist["x_test"])
    figures = evaluate.evaluate(generator, evaluate.build_classifier(), mnist, seed=3)
    assert figures["fid"] == pytest.approx(0.0, abs=1e-6)
    assert figures["real"]["fid"] > 1e-3
    assert figures["memorization"]["ratio"] == pytest.approx(1.0, rel=1e-6)
    parsed = json.loads(json.dumps(figures))
    assert parsed["seed"] == 3 and parsed["n_samples"] == 40
    assert parsed["n_train"] == 60 and parsed["n_test"] == 40


@pytest.mark.parametrize(
    "part, name",
    [
        (slice(0, 10000), "x_train[:10000]"),
        (slice(None, 40), "x_train[:40]"),
        (slice(10000, None), "x_train[10000:]"),
        (slice(50000, 51000), "x_train[50000:51000]"),
    ],
)
def test_an_image_sets_label_is_its_slice(part, name):
    assert evaluate.slice_name(part) == name
    images = np.arange(60000)
    assert np.array_equal(eval(name, {"x_train": images}), images[part])


def test_the_classifier_never_saw_the_real_rows_images(tmp_path, monkeypatch):
    # Each training image carries its index in two pixels; the classifier is trained
    # as load_or_train_classifier trains it, only recording what it was given.
    index = np.arange(60000)
    x_train = np.zeros((60000, 28, 28), np.uint8)
    x_train[:, 0, 0], x_train[:, 0, 1] = index % 256, index // 256
    mnist = {"x_train": x_train, "y_train": index % 10}
    given = []

    def train(images, labels, num_classes):
        given.append(images[:, 0, 0] + 256 * images[:, 0, 1].astype(int))
        return evaluate.build_classifier()

    monkeypatch.setattr(evaluate, "train_classifier", train)
    evaluate.load_or_train_classifier(mnist, path=str(tmp_path / "classifier.keras"))
    learned = set(given[0].tolist())
    real_row = set(index[evaluate.REAL_SAMPLES].tolist())
    assert real_row and learned == set(index.tolist()) - real_row  # all the others


# -----------------------------------------------------------------------------
# Nearest training images and the memorization figures


def brute_force_nearest(queries, references):
    """Every distance in float64, one query at a time."""
    queries = np.asarray(queries, "float32").astype("float64")
    references = np.asarray(references, "float32").astype("float64")
    found = [np.sum((references - q) ** 2, axis=1) for q in queries]
    return np.argmin(found, axis=1), np.sqrt(np.min(found, axis=1))


def test_a_training_image_finds_itself_at_distance_zero():
    rng = np.random.default_rng(10)
    train = evaluate.to_unit_interval(
        rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), "float32"
    )
    picks = [0, 17, 299]
    # What the float32 search alone makes of a row and itself: |a|^2 + |b|^2 - 2ab is
    # not 0, so only the float64 re-measure makes this test pass.
    sq = np.einsum("ij,ij->i", train, train)
    naive = sq[picks] + ((-2.0 * train[picks]) @ train.T + sq)[[0, 1, 2], picks]
    assert np.any(naive != 0)
    indices, distances = evaluate.nearest_neighbours(train[picks], train)
    assert indices.tolist() == picks
    assert distances.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_queries_agree_with_brute_force(batch_size):
    references = evaluate.to_unit_interval(toy_digits(400, seed=11), "float32")
    queries = evaluate.to_unit_interval(toy_digits(25, seed=12))
    indices, distances = evaluate.nearest_neighbours(
        queries, references, batch_size=batch_size
    )
    expected_indices, expected_distances = brute_force_nearest(queries, references)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-12)
    assert indices.dtype == np.int64 and distances.dtype == np.float64


class ReplayGenerator:
    """A stand-in generator whose "samples" are the given images, in tanh's range."""

    def __init__(self, images):
        self.images = images.reshape(-1, *gan.IMG_SHAPE).astype("float32") / 127.5 - 1
        self.given = 0

    def __call__(self, noise, training=False):
        assert not training  # inference mode: BatchNorm's moving statistics
        batch = self.images[self.given : self.given + len(noise)]
        self.given += len(noise)
        return batch


def test_images_come_in_batches_in_order_in_unit_range():
    digits = toy_digits(2 * evaluate.PREDICT_BATCH + 7, seed=0)
    images = evaluate.images_from_noise(ReplayGenerator(digits), np.zeros(len(digits)))
    assert images.shape == (len(digits), D)
    np.testing.assert_allclose(images, digits.reshape(len(digits), -1) / 255, atol=1e-6)


def toy_digits(n, seed):
    """Toy "digits": ten blurry prototypes plus per-image noise, as uint8 images."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(0).random((10, 28, 28)) * 255
    noise = rng.normal(0, 60, (n, 28, 28))
    return np.clip(prototypes[rng.integers(0, 10, n)] + noise, 0, 255).astype("uint8")


def test_a_generator_that_copies_training_images_scores_about_zero():
    train, test = toy_digits(500, seed=1), toy_digits(300, seed=2)
    samples = evaluate.images_from_noise(ReplayGenerator(train[100:300]), np.zeros(200))
    figures = evaluate.memorization(
        samples,
        evaluate.to_unit_interval(train, "float32"),
        evaluate.to_unit_interval(test),
    )
    assert figures["samples"] < 1e-5
    assert figures["test_images"] > 5
    assert figures["ratio"] < 1e-6


def test_a_generator_that_returns_unseen_digits_scores_about_one():
    train, test = toy_digits(500, seed=1), toy_digits(300, seed=2)
    samples = evaluate.images_from_noise(ReplayGenerator(test[:150]), np.zeros(150))
    figures = evaluate.memorization(
        samples,
        evaluate.to_unit_interval(train, "float32"),
        evaluate.to_unit_interval(test),
    )
    assert 0.9 < figures["ratio"] < 1.1
    assert figures["ratio"] == figures["samples"] / figures["test_images"]


@pytest.mark.slow
def test_real_mnist_neighbours_are_exact(mnist_path):
    mnist = inputs.read_keras_dataset("mnist", mnist_path, ("train", "test"))
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


# -----------------------------------------------------------------------------
# Command line: bad input is one sentence and a non-zero exit, with nothing before it


def error_of(argv, capsys):
    return refusal(evaluate.main, argv, capsys, "evaluate.py")


def test_missing_generator_file(tmp_path, capsys):
    message = error_of([str(tmp_path / "nope.keras")], capsys)
    assert "generator file" in message and "No such file or directory" in message


def test_generator_file_that_is_not_a_model(tmp_path, capsys):
    path = tmp_path / "generator.keras"
    path.write_text("not a model")
    assert "is damaged or not a Keras model" in error_of([str(path)], capsys)


def test_generator_with_the_wrong_output_shape(tmp_path, capsys):
    path = str(tmp_path / "generator.keras")
    save_model(path, gan.LATENT_DIM, [layers.Dense(10)])
    message = error_of([path], capsys)
    assert "(None, 10)" in message and "(None, 28, 28, 1)" in message


def test_generator_with_the_wrong_input_shape(tmp_path, capsys):
    path = str(tmp_path / "generator.keras")
    save_model(path, 50, [layers.Dense(784), layers.Reshape((28, 28, 1))])
    message = error_of([path], capsys)
    assert "(None, 50)" in message and f"(None, {gan.LATENT_DIM})" in message


@pytest.mark.parametrize("damage", ["half a file", "another model"])
def test_a_cached_classifier_that_is_not_this_ones_is_reported(tmp_path, damage):
    path = tmp_path / "mnist_classifier.keras"
    if damage == "half a file":
        path.write_text("half a file")
    else:  # a Keras model, but with no features layer and 3 classes
        save_model(path, 784, [layers.Dense(3, activation="softmax")])
    with pytest.raises(inputs.InputError, match="delete it and run again"):
        evaluate.load_or_train_classifier({}, path=str(path))


def test_the_classifier_is_cached_whole_and_then_reused(tmp_path, monkeypatch):
    trained = []

    def train_quickly(x_train, y_train, num_classes):
        trained.append(len(x_train))
        return evaluate.build_classifier()

    monkeypatch.setattr(evaluate, "train_classifier", train_quickly)
    path = tmp_path / "cache" / "mnist_classifier.keras"
    mnist = {"x_train": np.zeros(60003), "y_train": np.zeros(60003)}
    evaluate.load_or_train_classifier(mnist, path=str(path))
    assert os.listdir(path.parent) == ["mnist_classifier.keras"]  # no temporaries
    again = evaluate.load_or_train_classifier(mnist, path=str(path))
    assert trained == [50003]  # x_train[10000:]
    assert again.output_shape == (None, 10)


def write_mnist(path, n_train, n_test=5):
    rng = np.random.default_rng(14)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return str(path)


@pytest.fixture(scope="module")
def big_enough_mnist(tmp_path_factory):
    """An mnist.npz of random digits with the 51,000 training images evaluate.py
    needs at the least."""
    path = tmp_path_factory.mktemp("data") / "mnist.npz"
    return write_mnist(path, n_train=evaluate.VALIDATION.stop)


def test_mnist_is_read_with_labels_and_both_splits(big_enough_mnist):
    mnist = evaluate.load_data("mnist", (28, 28, 1), big_enough_mnist)
    assert mnist.keys() == {"x_train", "y_train", "x_test", "y_test", "classes"}
    assert mnist["x_train"].shape[1:] == (28, 28, 1)
    assert len(mnist["x_train"]) == 51000 and len(mnist["y_test"]) == 5


def test_too_few_training_images_for_the_parzen_protocol(tmp_path):
    path = write_mnist(tmp_path / "mnist.npz", n_train=100)
    with pytest.raises(inputs.InputError, match="100 training images.*--mnist-path"):
        evaluate.load_data("mnist", (28, 28, 1), path, "--mnist-path")


def test_a_bad_mnist_file_is_one_sentence(tmp_path, capsys):
    generator_path = save_generator(tmp_path / "generator.keras")
    path = tmp_path / "mnist.npz"
    path.write_text("not a zip")
    message = error_of(
        [str(tmp_path / "nope.keras"), "--mnist-path", str(path)], capsys
    )
    assert "generator file" in message  # the generator is checked first
    message = error_of([generator_path, "--mnist-path", str(path)], capsys)
    assert "MNIST file" in message and "--mnist-path" in message


@pytest.mark.parametrize("flag", [["--seed", "-1"], ["--seed", "x"], ["--nope"]])
def test_a_bad_flag_is_one_sentence(flag, capsys):
    assert "\n" not in error_of(flag, capsys)


class StopHere(Exception):
    pass


def test_the_platform_line_comes_once_the_inputs_are_checked(
    tmp_path, monkeypatch, capsys, big_enough_mnist
):
    def stop_here(*args):
        raise StopHere

    monkeypatch.setattr(evaluate, "load_or_train_classifier", stop_here)
    generator = save_generator(tmp_path / "generator.keras")
    with pytest.raises(StopHere):
        evaluate.main([generator, "--mnist-path", big_enough_mnist])
    assert capsys.readouterr() == ("", inputs.platform_line() + "\n")


# -----------------------------------------------------------------------------
# The script itself, in its own process


@pytest.mark.slow
def test_command_line_error_has_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "evaluate.py"),
            str(tmp_path / "nope.keras"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode != 0
    assert "evaluate.py: error: generator file" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    "cached, after",
    [
        (False, "Training the digit classifier"),
        (True, f"Scoring {evaluate.N_SAMPLES:,} generated samples"),
    ],
)
def test_ctrl_c_says_its_files_are_whole(tmp_path, mnist_path, cached, after):
    os.makedirs(tmp_path / gan.MODEL_DIR)
    save_generator(tmp_path / evaluate.GENERATOR_PATH)
    if cached:  # untrained: its figures do not matter, only how far the run gets
        evaluate.build_classifier().save(tmp_path / evaluate.CLASSIFIER_PATH)
    status, out, err = stopped_with_ctrl_c(
        "evaluate.py", [], tmp_path, mnist_path, after
    )
    assert (status, out) == (130, "")  # 128 + SIGINT
    assert err[-1] == "evaluate.py: stopped; its files are whole"
    assert any(line.startswith(f"Keras {keras.__version__}, ") for line in err)
    # An interrupted training leaves no cache behind, to be taken for a whole one.
    assert os.path.exists(tmp_path / evaluate.CLASSIFIER_PATH) == cached
