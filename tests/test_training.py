"""Real runs on real MNIST: the log, the grids, the saved generator, and learning."""

import re

import keras
import numpy as np
import pytest
from PIL import Image

import gan
import safekeeping
from helpers import CHECKPOINT, GAN, RUN_ARGS, backends, csv_rows, generator_weights
from helpers import loaded, log_lines, run

pytestmark = pytest.mark.slow  # real MNIST, real training

READ = "Read 60,000 pictures from mnist at (28, 28, 1): 60,000 train, 10 classes"
LOSS, ACC = r"(\d+\.\d{6})", r"(\d+\.\d{2})"
LOG_LINE = re.compile(rf"^(\d+) \[D loss: {LOSS}, acc\.: {ACC}%\] \[G loss: {LOSS}\]$")


def test_prints_the_summaries_then_each_iterations_own_losses(straight_run):
    """The original's log line every interval: the CSV's row, not running means."""
    cwd, lines, stdout = straight_run  # python gan.py RUN_ARGS: a line every 10
    read, platform = stdout.splitlines()[:2]  # what was read, then what it runs on
    assert (read, platform[:6]) == (READ, "Keras ")  # then versions and device
    summaries, _, _ = stdout.partition("0 [D loss")
    # What the notes' readers check against the original
    assert 'Model: "generator"' in summaries and 'Model: "discriminator"' in summaries
    # The counts of gan.py's constants as edited (the original's: test_models.py)
    generator, discriminator = gan.build_generator(), gan.build_discriminator()
    trainable = sum(int(np.prod(w.shape)) for w in generator.trainable_weights)
    for count in (generator.count_params(), trainable, discriminator.count_params()):
        assert f"{count:,}" in summaries
    assert f"{generator.count_params() - trainable:,}" in summaries
    numbers = [LOG_LINE.match(line).group(1) for line in lines]
    assert numbers == ["0", "10", "20", "30", "40", "50"]
    rows = csv_rows(cwd)[1:]
    for row in rows:  # D's accuracy: a share of 2 x 32 images (Keras < 3.15: means)
        correct = float(row[2]) * 2 * gan.BATCH_SIZE
        assert abs(correct - round(correct)) < 1e-4 and 0 <= float(row[2]) <= 1, row
    for line in lines:
        i, d_loss, acc, g_loss = LOG_LINE.match(line).groups()
        row = rows[int(i)]
        assert abs(float(d_loss) - float(row[1])) <= 6e-7  # %f: 6 decimals
        assert abs(float(g_loss) - float(row[3])) <= 6e-7
        assert abs(float(acc) - 100 * float(row[2])) <= 0.006  # %.2f%%


def test_saves_grids_csv_gif_and_the_trained_generator(straight_run):
    cwd = straight_run[0]
    grids = sorted(p.name for p in (cwd / gan.IMAGES_DIR).glob("[0-9]*.png"))
    assert grids == ["0.png", "10.png", "20.png", "30.png", "40.png", "50.png"]
    image = np.asarray(Image.open(cwd / gan.IMAGES_DIR / "50.png").convert("RGB"))
    assert image.shape == (480, 640, 3)
    assert np.array_equal(image[..., 0], image[..., 1])  # gray
    # GRID_ROWS x GRID_COLS tiles: as many separate runs of inked rows and columns
    ink = image[..., 0] < 250
    for axis, tiles in enumerate((gan.GRID_ROWS, gan.GRID_COLS)):
        filled = ink.any(axis=1 - axis).astype(int)
        assert np.count_nonzero(np.diff(filled) == 1) == tiles
    rows = csv_rows(cwd)  # one row per iteration, the GIF one frame per grid
    assert rows[0] == ["iteration", "d_loss", "d_accuracy", "g_loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(60))
    assert Image.open(cwd / gan.IMAGES_DIR / "progress.gif").n_frames == 6
    assert Image.open(cwd / gan.IMAGES_DIR / "losses.png").size[0] > 300
    generator = keras.saving.load_model(cwd / gan.MODEL_DIR / "generator.keras")
    assert generator.predict_on_batch(gan.sample_noise(8)).shape == (8, *gan.IMG_SHAPE)
    # The weights of the last iteration, as the checkpoint holds them
    checkpoint = safekeeping.read_checkpoint(str(cwd / CHECKPOINT))
    assert checkpoint["iteration"] == 59
    for i, weights in enumerate(generator.get_weights()):
        assert np.array_equal(weights, checkpoint[f"generator/{i}"])


def test_both_networks_learn_on_real_data(mnist_path, original_constants):
    """300 iterations: D tells real from fake (a frozen D would not), G nears MNIST."""
    x_train = loaded("mnist", MNIST_PATH=mnist_path)
    keras.utils.set_random_seed(3)
    generator, discriminator, combined = gan.build_gan()
    real_mean = x_train[:5000].mean(axis=0)
    z = gan.sample_noise(256)

    def distance_to_real_mean():
        return np.abs(generator.predict_on_batch(z).mean(axis=0) - real_mean).mean()

    start_distance = distance_to_real_mean()
    for _ in range(300):
        gan.train_iteration(generator, discriminator, combined, x_train, 32)

    # D: right about most real images (a sixth seen so far) and about fresh fakes
    real = x_train[np.random.randint(0, len(x_train), 256)]
    fake = generator.predict_on_batch(gan.sample_noise(256))
    d = discriminator.predict_on_batch
    assert (np.mean(d(real) > 0.5) + np.mean(d(fake) < 0.5)) / 2 > 0.8  # accuracy
    # G: its mean image moved well towards MNIST's (dark background, bright strokes)
    assert distance_to_real_mean() < 0.75 * start_distance


def test_same_seed_same_run_other_seed_other_run(tmp_path, mnist_path, straight_run):
    other_seed = str((gan.SEED + 1) % 2**32)  # not gan.py's SEED, whatever it is
    runs = []
    for folder, extra in [("a", []), ("c", ["--seed", other_seed])]:
        (tmp_path / folder).mkdir()
        result = run(GAN, RUN_ARGS + extra, tmp_path / folder, MNIST_PATH=mnist_path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append((log_lines(result.stdout), generator_weights(tmp_path / folder)))
    (lines_a, weights_a), (lines_c, weights_c) = runs
    assert len(lines_a) == 6 and lines_a == straight_run[1]
    same = zip(weights_a, generator_weights(straight_run[0]))
    assert all(np.array_equal(a, b) for a, b in same)
    assert lines_a != lines_c
    assert not all(np.array_equal(a, c) for a, c in zip(weights_a, weights_c))


@pytest.mark.parametrize("backend", backends("jax", "torch"))
def test_trains_on_jax_and_torch_without_tf_notes(tmp_path, mnist_path, backend):
    args = ["--iterations", "41", "--sample-interval", "10", "--seed", "5"]
    result = run(GAN, args, tmp_path, backend, MNIST_PATH=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # Keras seeds TensorFlow too: it loads, quietly
    lines = [LOG_LINE.match(line).group(1) for line in log_lines(result.stdout)]
    assert lines == "0 10 20 30 40".split()
    assert len(generator_weights(tmp_path)) == 20
