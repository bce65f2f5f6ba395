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
from conftest import refusal, save_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

D = 784


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
    ll = evaluate.parzen_log_likelihood(x, x.copy(), sigma)
    # exp(0) = 1 for the only kernel: all that is left is the normaliser.
    assert ll[0] == pytest.approx(-log_norm(sigma), abs=1e-9)


def test_parzen_far_points_do_not_underflow():
    centres = np.zeros((3, D))
    x = np.full((2, D), 10.0)  # squared distance 78,400: exp(-3.9e6) is 0 in float64
    ll = evaluate.parzen_log_likelihood(x, centres, 0.1)
    expected = -D * 100.0 / (2 * 0.1**2) - log_norm(0.1)
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, expected, rtol=1e-12)


def test_parzen_mixes_kernels_by_their_mean():
    # Two centres at squared distances 0 and 2 from x (sigma 1): log((1 + e^-1) / 2).
    x = np.zeros((1, 2))
    centres = np.array([[0.0, 0.0], [1.0, 1.0]])
    ll = evaluate.parzen_log_likelihood(x, centres, 1.0)
    expected = np.log((1 + np.exp(-1.0)) / 2) - log_norm(1.0, dim=2)
    assert ll[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_parzen_batches_agree_with_the_formula(batch_size):
    rng = np.random.default_rng(1)
    x, centres = rng.random((23, 50)), rng.random((40, 50))
    ll = evaluate.parzen_log_likelihood(x, centres, 0.2, batch_size=batch_size)
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
def test_select_sigma_picks_the_grid_value_built_for(index):
    # One centre, validation points all at distance r: the mean log-likelihood
    # -r^2 / (2 sigma^2) - D log sigma peaks at sigma = r / sqrt(D).
    sigma = evaluate.SIGMAS[index]
    directions = np.random.default_rng(3).normal(size=(20, D))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    validation = directions * sigma * np.sqrt(D)
    chosen = evaluate.select_sigma(np.zeros((1, D)), validation)
    assert chosen == pytest.approx(sigma)


def test_parzen_score_reports_mean_and_standard_error():
    rng = np.random.default_rng(4)
    centres, validation, test = (
        rng.random((30, 20)),
        rng.random((10, 20)),
        rng.random((16, 20)),
    )
    mean, se, sigma = evaluate.parzen_score(centres, validation, test)
    ll = naive_parzen(test, centres, sigma)
    assert sigma in evaluate.SIGMAS
    assert mean == pytest.approx(ll.mean())
    assert se == pytest.approx(ll.std() / 4.0)  # std / sqrt(16)


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


def test_frechet_distance_with_covariances_that_do_not_commute():
    # cov_b = cov_a^-1/2 M^2 cov_a^-1/2 makes tr sqrtm(cov_a cov_b) = tr M exactly.
    rng = np.random.default_rng(7)
    a, m = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov_a, m = a @ a.T + np.eye(5), m @ m.T + np.eye(5)
    w, v = np.linalg.eigh(cov_a)
    inv_sqrt_a = (v / np.sqrt(w)) @ v.T
    cov_b = inv_sqrt_a @ m @ m @ inv_sqrt_a
    mean_a, mean_b = np.zeros(5), np.ones(5)
    expected = 5.0 + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(m)
    got = evaluate.gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b)
    assert got == pytest.approx(expected, rel=1e-9)
    assert evaluate.gaussian_frechet_distance(
        mean_b, cov_b, mean_a, cov_a
    ) == pytest.approx(expected, rel=1e-9)


def test_balanced_classes_are_all_covered_and_uniform():
    histogram = evaluate.class_histogram(np.eye(10)[np.arange(1000) % 10])
    assert evaluate.classes_covered(histogram) == 10
    assert evaluate.kl_from_uniform(histogram) == pytest.approx(0.0, abs=1e-12)


def test_one_class_covers_one_and_is_log_ten_from_uniform():
    histogram = evaluate.class_histogram(np.eye(10)[np.full(300, 4)])
    assert evaluate.classes_covered(histogram) == 1
    assert evaluate.kl_from_uniform(histogram) == pytest.approx(np.log(10))


def test_a_class_needs_one_percent_to_count_as_covered():
    counts = np.array([10, 9] + [0] * 8)  # of 1,000: 1.0% and 0.9%
    labels = np.concatenate(
        [np.full(c, k) for k, c in enumerate(counts)] + [np.full(981, 5)]
    )
    histogram = evaluate.class_histogram(np.eye(10)[labels])
    assert evaluate.classes_covered(histogram) == 2  # class 0 and class 5, not class 1


def test_classifier_gives_features_and_probabilities():
    classifier = evaluate.build_classifier()
    images = np.random.default_rng(8).random((6, D))
    features, probabilities = evaluate.classifier_outputs(classifier, images)
    assert features.shape == (6, 128)
    assert probabilities.shape == (6, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# -----------------------------------------------------------------------------
# Samples and the whole evaluation, small


def test_samples_are_seeded_and_in_unit_range():
    keras.utils.set_random_seed(0)
    generator = gan.build_generator()
    first = evaluate.generate_samples(generator, n=8, seed=11)
    np.random.seed(99)  # other users of NumPy's global generator must not matter
    again = evaluate.generate_samples(generator, n=8, seed=11)
    other = evaluate.generate_samples(generator, n=8, seed=12)
    assert first.shape == (8, D)
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_evaluate_reports_every_figure_for_both_rows():
    rng = np.random.default_rng(9)
    mnist = {
        "x_train": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "x_test": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 30),
    }
    keras.utils.set_random_seed(0)
    figures = evaluate.evaluate(
        gan.build_generator(),
        evaluate.build_classifier(),
        mnist,
        n_samples=40,
        real_samples=slice(0, 40),
        validation=slice(40, 60),
    )
    keys = {
        "parzen_ll",
        "parzen_se",
        "parzen_sigma",
        "classifier_score",
        "fid",
        "classes_covered",
        "kl_uniform",
    }
    assert keys <= figures.keys()
    assert keys | {"images"} == figures["real"].keys()
    for row in (figures, figures["real"]):
        assert all(np.isfinite(row[key]) for key in keys)
    assert figures["n_samples"] == 40 and figures["n_train"] == 60
    assert figures["memorization"].keys() == {"samples", "test_images", "ratio"}
    assert np.isfinite(list(figures["memorization"].values())).all()
    assert json.loads(json.dumps(figures))["real"]["images"] == "x_train[:40]"
    table = evaluate.format_table(figures, "g.keras")
    assert "| This generator |" in table and "225 +- 2" in table
    assert "| Real MNIST (x_train[:40]) |" in table
    copying = figures["memorization"]
    assert f"| This generator | {copying['samples']:.3f} |" in table


@pytest.mark.parametrize(
    "part, name",
    [
        (slice(0, 10000), "x_train[:10000]"),
        (slice(None, 40), "x_train[:40]"),
        (slice(50000, 51000), "x_train[50000:51000]"),
        (slice(5, None, 2), "x_train[5::2]"),
    ],
)
def test_the_real_rows_label_is_its_slice(part, name):
    assert evaluate.slice_name("x_train", part) == name
    images = np.arange(60000)
    assert np.array_equal(eval(name, {"x_train": images}), images[part])


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
def test_random_queries_agree_with_brute_force(batch_size):
    rng = np.random.default_rng(11)
    references, queries = rng.random((400, D)), rng.random((25, D))
    indices, distances = evaluate.nearest_neighbours(
        queries, references, batch_size=batch_size
    )
    expected_indices, expected_distances = brute_force_nearest(queries, references)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-12)
    assert indices.dtype == np.int64 and distances.dtype == np.float64


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0]])
def test_near_ties_are_settled_in_float64(order):
    # Three references 1e-3, 0.9995e-3 and 1.0005e-3 away in one pixel: their float32
    # scores (about -|q|^2 = -260, spaced 3e-5 apart) cannot tell them apart.
    query = np.random.default_rng(12).random(D).astype("float32")
    query[0] = 0.5
    references = np.tile(query, (3, 1))
    references[:, 0] += np.array([1e-3, 0.9995e-3, 1.0005e-3], "float32")
    indices, distances = evaluate.nearest_neighbours(query[None], references[order])
    assert order[indices[0]] == 1
    expected = abs(float(references[1, 0]) - float(query[0]))
    assert distances[0] == pytest.approx(expected, rel=1e-12)


def test_the_round_off_bound_covers_the_float32_scores():
    rng = np.random.default_rng(13)
    queries, references = (
        rng.random((50, D), "float32"),
        rng.random((300, D), "float32"),
    )
    references_sq = np.einsum("ij,ij->i", references, references)
    scores = (-2.0 * queries) @ references.T + references_sq
    q64, r64 = queries.astype("float64"), references.astype("float64")
    exact = np.sum(r64**2, axis=1) - 2.0 * q64 @ r64.T
    bound = evaluate.ranking_error_bound(queries, references_sq)
    error = np.abs(scores - exact).max(axis=1)
    assert np.all(error > 0) and np.all(error <= bound)
    assert np.all(bound < 0.1)  # small enough to leave few candidates


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
    samples = evaluate.generate_samples(ReplayGenerator(train[100:300]), n=200)
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
    samples = evaluate.generate_samples(ReplayGenerator(test[:150]), n=150)
    figures = evaluate.memorization(
        samples,
        evaluate.to_unit_interval(train, "float32"),
        evaluate.to_unit_interval(test),
    )
    assert 0.9 < figures["ratio"] < 1.1
    assert figures["ratio"] == figures["samples"] / figures["test_images"]


@pytest.mark.slow
def test_real_mnist_neighbours_are_exact(mnist_path):
    mnist = inputs.read_mnist(mnist_path, splits=("train", "test"))
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
# Command line: bad input is one sentence and a non-zero exit


def error_of(argv, capsys):
    return refusal(evaluate.main, argv, capsys, "evaluate.py")


def test_missing_generator_file(tmp_path, capsys):
    assert "does not exist" in error_of([str(tmp_path / "nope.keras")], capsys)


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


def test_a_broken_cached_classifier_is_reported(tmp_path):
    path = tmp_path / "mnist_classifier.keras"
    path.write_text("half a file")
    with pytest.raises(inputs.InputError, match="delete it"):
        evaluate.load_or_train_classifier(None, None, path=str(path))


def test_the_classifier_is_cached_whole_and_then_reused(tmp_path, monkeypatch):
    trained = []

    def train_quickly(x_train, y_train):
        trained.append(len(x_train))
        return evaluate.build_classifier()

    monkeypatch.setattr(evaluate, "train_classifier", train_quickly)
    path = tmp_path / "cache" / "mnist_classifier.keras"
    evaluate.load_or_train_classifier(np.zeros(3), None, path=str(path))
    assert os.listdir(path.parent) == ["mnist_classifier.keras"]  # no temporaries
    again = evaluate.load_or_train_classifier(np.zeros(3), None, path=str(path))
    assert trained == [3]
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


def test_mnist_is_read_with_labels_and_both_splits(tmp_path):
    path = write_mnist(tmp_path / "mnist.npz", n_train=evaluate.VALIDATION.stop)
    mnist = evaluate.load_mnist(path)
    assert mnist.keys() == {"x_train", "y_train", "x_test", "y_test"}
    assert len(mnist["x_train"]) == 51000 and len(mnist["y_test"]) == 5


def test_too_few_training_images_for_the_parzen_protocol(tmp_path):
    path = write_mnist(tmp_path / "mnist.npz", n_train=100)
    with pytest.raises(inputs.InputError, match="100 training images.*--mnist-path"):
        evaluate.load_mnist(path, "--mnist-path")


def test_a_bad_mnist_file_is_one_sentence(tmp_path, capsys):
    path = tmp_path / "mnist.npz"
    path.write_text("not a zip")
    message = error_of(
        [str(tmp_path / "nope.keras"), "--mnist-path", str(path)], capsys
    )
    assert "generator file" in message  # the generator is checked first
    generator = str(tmp_path / "generator.keras")
    keras.utils.set_random_seed(0)
    gan.build_generator().save(generator)
    message = error_of([generator, "--mnist-path", str(path)], capsys)
    assert "MNIST file" in message and "--mnist-path" in message


@pytest.mark.parametrize("flag", [["--seed", "-1"], ["--seed", "x"], ["--nope"]])
def test_a_bad_flag_is_one_sentence(flag, capsys):
    message = error_of(flag, capsys)
    assert "\n" not in message  # one sentence
    assert capsys.readouterr().out == ""


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
        timeout=120,
    )
    assert result.returncode != 0
    assert "evaluate.py: error: generator file" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
