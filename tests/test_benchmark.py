"""benchmarks/: its flags are refused like gan.py's, its fused step computes what gan.py
computes, and its Keras 2 original trains for real."""

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import gan  # noqa: F401  (loads Keras once, up front: draw_inputs uses gan)
from benchmarks import speed
import conftest
from conftest import ROOT, run_python

SPEED = ROOT / "benchmarks" / "speed.py"
ORIGINAL = ROOT / "benchmarks" / "original_keras2.py"


def refusal(argv, capsys):
    """speed.main(argv), expected to stop before measuring: its one-line message."""
    return conftest.refusal(speed.main, argv, capsys, "speed.py")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--iterations", "0"], "argument --iterations: must be at least 1, got 0"),
        (["--iterations", "1e3"], "argument --iterations: expected a whole number"),
        (["--iterations", "10000000"], "argument --iterations: must be at most"),
        (["--repeats", "-1"], "argument --repeats: must be at least 0, got -1"),
        (["--warmup", "-5"], "argument --warmup: must be at least 0, got -5"),
        (["--memory", "3"], "argument --memory: must be at least 20, got 3"),
        (["--backends", "bogus"], "argument --backends: 'bogus' is not one of"),
        (["--backends", "jax,"], "argument --backends: '' is not one of"),
        (["--yardsticks", "floor"], "argument --yardsticks: 'floor' is not one of"),
        (["--full-run-args", "'--seed"], "argument --full-run-args: cannot split"),
        (["--repeats", "0"], "--repeats 0 times nothing"),
    ],
)
def test_nonsense_flags_are_refused_in_one_sentence(argv, words, capsys):
    message = refusal(argv, capsys)
    assert message.startswith("speed.py: error: ")
    assert words in message
    assert message.endswith("; see --help")
    assert "\n" not in message


def test_no_mnist_file_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("MNIST_PATH", "")
    assert refusal([], capsys) == (
        "speed.py: error: no MNIST file: set MNIST_PATH or --mnist-path to a "
        "local mnist.npz in Keras's layout (benchmarks do not download it)"
    )


def test_a_missing_mnist_file_is_refused(capsys):
    assert refusal(["--mnist-path", "/no/such/mnist.npz"], capsys) == (
        "speed.py: error: MNIST file '/no/such/mnist.npz' does not exist; "
        "download it again or fix --mnist-path"
    )


def test_backends_and_yardsticks_are_read_as_lists(monkeypatch):
    args = speed.parse_args(["--backends", "jax, tensorflow", "--yardsticks", "none"])
    assert args.backends == ["tensorflow", "jax"]  # in speed.ALL_BACKENDS's order
    assert args.yardsticks == []
    monkeypatch.setattr(speed, "installed", lambda name: name != "torch")
    assert speed.parse_args(["--backends", "all"]).backends == ["tensorflow", "jax"]
    assert speed.parse_args([]).yardsticks == ["original", "fused"]


def test_an_uninstalled_backend_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(speed, "installed", lambda name: name == "tensorflow")
    message = refusal(["--backends", "tensorflow,torch"], capsys)
    assert "argument --backends: 'torch' is not installed; `pip install torch`" in (
        message
    )


def test_the_command_line_refuses_with_one_line_and_no_traceback():
    done = subprocess.run(
        [sys.executable, str(SPEED), "--iterations", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "speed.py: error: argument --iterations: must be at least 1, got 0; see --help"
    ]


def test_time_iterations_times_only_after_warmup():
    calls = []
    ms = speed.time_iterations(lambda: calls.append(1), 7, 3, 4)
    assert len(calls) == 4 + 3 * 7
    assert len(ms) == 3 and all(m >= 0 for m in ms)


def test_a_result_line_is_read_and_a_failure_is_one_line():
    done = subprocess.CompletedProcess([], 0, 'noise\nSPEED_RESULT {"ms": [1.5]}\n', "")
    assert speed.result_of(done) == {"ms": [1.5]}
    crashed = subprocess.CompletedProcess([], 1, "", "Traceback\n...\nValueError: x\n")
    assert speed.result_of(crashed) == {"error": "exit 1: ValueError: x"}


def test_draw_inputs_draws_in_train_iterations_order():
    x_train = np.arange(50, dtype="float32").reshape(50, 1, 1, 1)
    np.random.seed(3)
    real, noise_d, noise_g = speed.draw_inputs(x_train, 4)
    np.random.seed(3)
    index = np.random.randint(0, 50, 4)
    first, second = np.random.normal(0, 1, (2, 4, 100))
    assert np.array_equal(real[:, 0, 0, 0], index.astype("float32"))
    assert np.array_equal(noise_d, first.astype("float32"))
    assert np.array_equal(noise_g, second.astype("float32"))


# -----------------------------------------------------------------------------
# The fused step is gan.py's iteration, to float tolerance.

FUSED_CHECK = """
import json
import numpy as np
import keras
import gan
from benchmarks import speed

ITERATIONS = 6
x_train = np.random.default_rng(0).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")
keras.utils.set_random_seed(gan.SEED)
generator = gan.build_generator()
discriminator = gan.build_discriminator()
combined = gan.build_combined(generator, discriminator)
step, state = speed.fused_step(generator, discriminator)  # the same weights

np.random.seed(7)
ours = [
    [float(v) for v in gan.train_iteration(
        generator, discriminator, combined, x_train, gan.BATCH_SIZE)]
    for _ in range(ITERATIONS)
]
np.random.seed(7)
fused = []
for _ in range(ITERATIONS):
    state, logs = step(state, *speed.draw_inputs(x_train, gan.BATCH_SIZE))
    fused.append(np.asarray(logs).tolist())

def values(variables):
    return [np.asarray(v).tolist() for v in variables]

# D has no non-trainable weights; gan.py leaves it frozen, so all of them are these.
weights = dict(
    g=[values(state[0]), values(generator.trainable_variables)],
    g_other=[values(state[1]), values(generator.non_trainable_variables)],
    d=[values(state[2]), values(discriminator.variables)],
)
print("REPORT" + json.dumps(dict(ours=ours, fused=fused, weights=weights)))
"""


@pytest.fixture(scope="module")
def fused_report():
    pytest.importorskip("jax")
    result = run_python(FUSED_CHECK, "jax")
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT") :])


TOLERANCE = 1e-5  # float32 arithmetic, summed in another order at most


@pytest.mark.slow
def test_fused_step_computes_gan_py_iterations_losses(fused_report):
    ours, fused = np.array(fused_report["ours"]), np.array(fused_report["fused"])
    assert ours.shape == fused.shape == (6, 3)
    # Six different iterations (a test on a constant would prove nothing) ...
    assert len(np.unique(ours[:, 0])) == 6 and len(np.unique(ours[:, 2])) == 6
    # ... and the same [d_loss, d_acc, g_loss] from both, updates included.
    np.testing.assert_allclose(fused, ours, rtol=0, atol=TOLERANCE)


@pytest.mark.slow
def test_fused_step_ends_with_gan_py_iterations_weights(fused_report):
    for name, (fused, ours) in fused_report["weights"].items():
        assert len(fused) == len(ours) > 0, name
        for a, b in zip(fused, ours):
            np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE, err_msg=name)


# -----------------------------------------------------------------------------
# The Keras 2 original trains for real.


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("tf_keras") is None, reason="tf_keras is not installed"
)
def test_the_original_trains_and_reports_its_speed(mnist_path):
    command = [sys.executable, str(ORIGINAL), "--seed", "1", "--warmup", "0"]
    command += ["--iterations", "50", "--repeats", "2", "--mnist-path", mnist_path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = speed.result_of(done)
    assert result["backend"] == "tf_keras"
    assert len(result["ms"]) == 2 and all(m > 0 for m in result["ms"])
    assert result["sanity"] == {
        "losses_finite": True,
        "d_changed": True,
        "g_changed": True,
    }
    d_loss, d_acc, g_loss = np.array(result["losses"]).T
    assert len(d_loss) == 100
    # As the original on Keras 2 does: D wins at once (its loss falls from about
    # 0.8 to near 0, its accuracy to about 100%) and G's loss climbs to 3 to 5.
    # A D that never learns stays near log 2 = 0.69 and 50%.
    assert d_loss[0] > 0.5
    assert d_loss[20:].mean() < 0.3
    assert d_acc[20:].mean() > 0.9
    assert g_loss[20:].mean() > 2 * g_loss[0]
    # The original's log line, every LOG_INTERVAL (100) iterations, on stderr.
    log = re.findall(
        r"^(\d+) \[D loss: [\d.]+, acc\.: [\d.]+%\] \[G loss: [\d.]+\]$",
        done.stderr,
        re.MULTILINE,
    )
    assert log == ["0"]
