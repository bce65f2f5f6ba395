"""sample.py's walks and pictures from an untrained generator (refusals: evaluate)."""

import os
import time

import keras
import numpy as np
import pytest
from PIL import Image

import evaluate
import gan
import inputs
import sample
from helpers import ROOT, run, save_generator, save_tiny_mnist

PICTURES = sample.PICTURES


@pytest.fixture(scope="module")
def generator_path(tmp_path_factory):
    """A generator.keras of this GAN's shapes, untrained."""
    return save_generator(tmp_path_factory.mktemp("model") / "generator.keras")


@pytest.fixture(scope="module")
def mnist_file(tmp_path_factory):
    return save_tiny_mnist(tmp_path_factory.mktemp("data"), n=120)


def run_sample(folder, monkeypatch, argv):
    """sample.main(argv) run in a new folder; the three pictures' pixels."""
    os.mkdir(folder)
    monkeypatch.chdir(folder)
    sample.main(argv)
    return [np.asarray(Image.open(folder / gan.IMAGES_DIR / n)) for n in PICTURES]


# Interpolation: linear walks in z -----------------------------------------------------
def test_walks_and_their_images_start_and_end_at_their_ends_in_equal_steps():
    ends = evaluate.latent_points(6, seed=3)
    z = sample.walks(ends[:3], ends[3:], steps=5)
    assert z.shape == (3, 5, gan.LATENT_DIM)
    np.testing.assert_array_equal(z[:, 0], ends[:3])
    np.testing.assert_array_equal(z[:, -1], ends[3:])
    step = (ends[3:] - ends[:3]) / 4
    np.testing.assert_allclose(np.diff(z, axis=1), np.stack([step] * 4, 1), atol=1e-6)
    keras.utils.set_random_seed(1)
    generator = gan.build_generator()
    rows = evaluate.images_from_noise(generator, z.reshape(-1, gan.LATENT_DIM))
    rows = rows.reshape(3, 5, -1)
    ends_images = evaluate.images_from_noise(generator, ends)
    np.testing.assert_allclose(rows[:, 0], ends_images[:3], atol=1e-6)
    np.testing.assert_allclose(rows[:, -1], ends_images[3:], atol=1e-6)
    assert not np.allclose(rows[:, 0], rows[:, -1], atol=1e-3)  # they do move


# The three pictures -------------------------------------------------------------------
def test_three_pictures_and_the_same_seed_makes_the_same_ones(
    tmp_path, monkeypatch, capsys, generator_path, mnist_file
):
    argv = [generator_path, "--mnist-path", mnist_file, "--n", "3"]
    first = run_sample(tmp_path / "a", monkeypatch, argv)
    assert capsys.readouterr() == (
        # images/samples.png, images/interpolation.png, images/nearest.png
        f"Wrote {', '.join(os.path.join(gan.IMAGES_DIR, n) for n in PICTURES)}.\n",
        inputs.platform_line() + "\n",  # what it runs on, once the inputs are checked
    )
    again = run_sample(tmp_path / "b", monkeypatch, argv)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    folder = tmp_path / "a" / gan.IMAGES_DIR
    assert sorted(os.listdir(folder)) == sorted(PICTURES)  # nothing half-written
    assert all(os.path.getsize(folder / name) < 2**20 for name in PICTURES)
    # Another seed, another grid size: every picture changes, the grid by one column.
    other = run_sample(tmp_path / "c", monkeypatch, [*argv, "--n", "4", "--seed", "7"])
    for a, c in zip(first[1:], other[1:]):
        assert a.shape == c.shape and not np.array_equal(a, c)
    # The canvas is n images and n - 1 gaps wide, sample.SCALE screen pixels a pixel.
    for grid, n in [(first[0], 3), (other[0], 4)]:
        assert grid.shape[1] == (n * (28 + sample.GAP) - sample.GAP) * sample.SCALE
    # A generator whose training diverged: found while drawing, one sentence still.
    keras.utils.set_random_seed(0)
    generator = gan.build_generator()
    last = generator.layers[-2]  # the tanh Dense layer
    last.bias.assign(np.full(last.bias.shape, np.nan, "float32"))
    generator.save(tmp_path / "nan.keras")
    with pytest.raises(SystemExit, match="NaN or infinite pixels") as stop:
        sample.main([str(tmp_path / "nan.keras"), "--mnist-path", mnist_file])
    assert "\n" not in stop.value.code


def test_every_distance_in_nearest_png_lies_inside_the_picture():
    n = sample.NEAREST_ROWS * sample.NEAREST_PAIRS
    rng = np.random.default_rng(1)
    neighbours = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    distances = 10 * rng.random(n)
    fig = sample.nearest_figure(rng.random((n, 784)), neighbours, distances, seed=0)
    fig.draw_without_rendering()
    texts = fig.axes[0].texts
    assert [t.get_text() for t in texts] == [f"{d:.2f}" for d in distances]
    for text in [*texts, *fig.texts]:  # the title too
        box = text.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, text.get_text()
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, text.get_text()


# The script itself, on real MNIST -----------------------------------------------------
@pytest.mark.slow
def test_the_scripts_on_real_mnist(tmp_path, generator_path, mnist_path):
    def run_script(script, *args):
        return run(ROOT / script, args, tmp_path, MNIST_PATH=mnist_path, timeout=300)

    started = time.monotonic()
    result = run_script("sample.py", generator_path)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 120
    assert result.stdout.startswith(f"Wrote {gan.IMAGES_DIR}/samples.png")
    for name in PICTURES:
        assert 0 < os.path.getsize(tmp_path / gan.IMAGES_DIR / name) < 2**20
    # Bad input in a process of its own: one sentence, no traceback.
    for script, *bad in [("sample.py", "--n", "0"), ("evaluate.py", "no.keras")]:
        result = run_script(script, *bad)
        assert result.returncode != 0 and result.stdout == ""
        assert result.stderr.strip().splitlines()[-1].startswith(f"{script}: error: ")
        assert "Traceback" not in result.stderr
