"""The README's claim: the naive Keras 3 port trains no D, gan.py trains both."""

import sys

import keras
import numpy as np
import pytest

import gan
from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import naive_keras3  # noqa: E402

ON_TF = keras.backend.backend() == "tensorflow"  # in this process, as gan.py picked it


def snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def moved(before, model):
    return [not np.array_equal(b, a) for b, a in zip(before, model.get_weights())]


# The original passes input_dim/input_shape to its first layers; Keras 3 only warns.
@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.skipif(not ON_TF, reason="on JAX it stops at its first combined step")
def test_the_naive_port_never_moves_its_discriminator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it writes images/0.png
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), np.uint8)
    monkeypatch.setattr(naive_keras3, "load_training_images", lambda: images)
    keras.utils.set_random_seed(0)
    naive = naive_keras3.GAN()
    d_before, g_before = snapshot(naive.discriminator), snapshot(naive.generator)
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        naive.train(epochs=3, batch_size=8, sample_interval=100)
    assert not any(moved(d_before, naive.discriminator))  # frozen for good
    assert any(moved(g_before, naive.generator))  # G learns to fool a fixed D


def test_gan_py_moves_both_networks():
    keras.utils.set_random_seed(0)
    generator, discriminator, combined = gan.build_gan()
    x_train = np.random.default_rng(0).uniform(-1, 1, (64, *gan.IMG_SHAPE))
    d_before, g_before = snapshot(discriminator), snapshot(generator)
    for _ in range(3):
        gan.train_iteration(generator, discriminator, combined, x_train, 8)
    assert all(moved(d_before, discriminator))
    assert any(moved(g_before, generator))
