"""Each training phase moves its own network only, on every backend: the naive Keras 3
port's trap (`trainable` read at the first train call leaves D frozen for good)."""

import json

import keras
import numpy as np
import pytest

import gan
from helpers import backends, run

PHASE_CHECK = """
import json, warnings
import numpy as np
import keras
import gan

keras.utils.set_random_seed(0)
generator, discriminator, combined = gan.build_gan()
real = np.random.uniform(-1, 1, (16, *gan.IMG_SHAPE)).astype("float32")

def snapshot(weights):
    return [keras.ops.convert_to_numpy(w).copy() for w in weights]

def moved(before, weights):
    return [bool(np.any(b != a)) for b, a in zip(before, snapshot(weights))]

report = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for call in range(3):
        g, d = snapshot(generator.weights), snapshot(discriminator.weights)
        loss, acc = gan.train_discriminator(generator, discriminator, real)
        d_phase = dict(d_moved=moved(d, discriminator.weights),
                       g_moved=moved(g, generator.weights))
        g = snapshot(generator.trainable_weights)
        g_all, d = snapshot(generator.weights), snapshot(discriminator.weights)
        g_loss = gan.train_generator(combined, discriminator, 16)
        g_phase = dict(g_moved=moved(g, generator.trainable_weights),
                       d_moved=moved(d, discriminator.weights))
        report.append(dict(d_phase=d_phase, g_phase=g_phase,
                           losses=[float(loss), float(acc), float(g_loss)]))
messages = [str(w.message) for w in caught]
print("REPORT" + json.dumps(dict(calls=report, warnings=messages)))
"""


PHASES = [("d_phase", "d_moved", "g_moved", 6), ("g_phase", "g_moved", "d_moved", 14)]


@pytest.mark.slow  # a fresh interpreter per backend
@pytest.mark.parametrize("backend", backends("tensorflow", "jax", "torch"))
def test_each_phase_moves_every_weight_it_trains_and_no_other(backend):
    result = run(PHASE_CHECK, backend=backend)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("REPORT")][-1]
    report = json.loads(line[len("REPORT") :])
    for call in report["calls"]:
        for phase, own, other, weights in PHASES:
            assert len(call[phase][own]) == weights  # D's all, G's trainable ones
            assert all(call[phase][own]), call
            assert not any(call[phase][other]), call
    assert not [m for m in report["warnings"] if "trainable" in m]


def test_losses_of_batch_are_this_batchs_loss_and_accuracy_not_a_running_mean():
    """Each batch's own, not train_on_batch's running means of Keras before 3.15."""
    keras.utils.set_random_seed(0)
    discriminator = gan.build_discriminator()
    rng = np.random.default_rng(0)
    for step in range(4):
        images = rng.uniform(-1, 1, (16, *gan.IMG_SHAPE)).astype("float32")
        labels = np.full((16, 1), step % 2, "float32")  # each batch its own answer
        before = keras.ops.convert_to_numpy(discriminator(images))  # no dropout, BN
        bce = keras.losses.binary_crossentropy(labels, before)
        accuracy = np.mean((before > 0.5) == labels)
        loss, acc = gan.losses_of_batch(discriminator, images, labels)
        assert np.isclose(loss, keras.ops.convert_to_numpy(bce).mean(), rtol=1e-4), step
        assert acc == accuracy, step
