"""The three models are the original's, layer for layer."""

import os

import keras
import numpy as np
import pytest

import gan
import inputs
from helpers import run

# The original's sizes and optimizer, whatever a learner edited at the top of gan.py.
pytestmark = pytest.mark.usefixtures("original_constants")


def layer_summary(model):
    layers = [x for x in model.layers if not isinstance(x, keras.layers.InputLayer)]
    return [(type(x).__name__, getattr(x, "units", None)) for x in layers]


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def assert_compiled_as_the_original(model):
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert np.isclose(float(model.optimizer.learning_rate), 0.0002)
    assert np.isclose(model.optimizer.beta_1, 0.5)
    assert model.loss == "binary_crossentropy"


def test_generator_layers_parameters_and_images():
    generator = gan.build_generator()
    block = [("LeakyReLU", None), ("BatchNormalization", None)]
    assert layer_summary(generator) == (
        [("Dense", 256), *block, ("Dense", 512), *block, ("Dense", 1024), *block]
        + [("Dense", 784), ("Reshape", None)]
    )
    assert generator.count_params() == 1_493_520
    assert count(generator.trainable_weights) == 1_489_936
    assert count(generator.non_trainable_weights) == 3_584
    for layer in generator.layers:
        if isinstance(layer, keras.layers.LeakyReLU):
            assert np.isclose(layer.negative_slope, 0.2)
        if isinstance(layer, keras.layers.BatchNormalization):
            assert np.isclose(layer.momentum, 0.8)
    assert generator.layers[-2].activation.__name__ == "tanh"
    images = generator.predict_on_batch(gan.sample_noise(7))  # each its own image
    assert images.shape == (7, 28, 28, 1)
    assert len({image.tobytes() for image in images}) == 7


def test_discriminator_layers_parameters_and_compile():
    discriminator = gan.build_discriminator()
    leaky = ("LeakyReLU", None)
    expected = [("Flatten", None), ("Dense", 512), leaky, ("Dense", 256), leaky]
    assert layer_summary(discriminator) == [*expected, ("Dense", 1)]
    assert discriminator.count_params() == 533_505
    assert discriminator.layers[-1].activation.__name__ == "sigmoid"
    assert_compiled_as_the_original(discriminator)
    images, labels = np.zeros((4, 28, 28, 1), "float32"), np.ones((4, 1))
    assert len(discriminator.test_on_batch(images, labels)) == 2  # [loss, accuracy]


def test_combined_chains_g_into_d_with_its_own_adam_and_a_grid(tmp_path, monkeypatch):
    generator, discriminator, combined = gan.build_gan()
    assert combined.input_shape == (None, 100)
    assert combined.output_shape == (None, 1)
    assert generator in combined.layers and discriminator in combined.layers
    assert combined.optimizer is not discriminator.optimizer
    assert_compiled_as_the_original(combined)
    z = gan.sample_noise(3)
    expected = discriminator.predict_on_batch(generator.predict_on_batch(z))
    np.testing.assert_allclose(combined.predict_on_batch(z), expected, atol=1e-6)
    # A 1x1 grid is drawn too.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gan, "GRID_ROWS", 1)
    monkeypatch.setattr(gan, "GRID_COLS", 1)
    os.makedirs(gan.IMAGES_DIR)
    gan.sample_images(generator, 7)
    assert os.path.getsize(os.path.join(gan.IMAGES_DIR, "7.png")) > 0


def test_tensorflow_errors_are_not_hidden_for_the_run(monkeypatch):
    """load_keras hides TF's INFO (level 1), not errors; a level the shell set stays."""
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    inputs.load_keras()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    inputs.load_keras()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


# TensorFlow brings up its devices at its first tensor: with CUDA's libraries and no
# GPU it logs "failed call to cuInit", an error that is none. Here it always does.
NOISY_DEVICES = """
import os
from tensorflow.python.eager import context
first = context.Context.ensure_initialized
def noisy(self):
    if self._context_handle is None:
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit\\n")
    return first(self)
context.Context.ensure_initialized = noisy
import gan
gan.build_gan()
"""


@pytest.mark.slow
def test_the_device_probe_happens_while_start_up_is_quiet():
    pytest.importorskip("tensorflow")
    result = run(NOISY_DEVICES)  # on TensorFlow
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cuInit" not in result.stderr
