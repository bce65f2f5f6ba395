"""benchmarks/: bad flags are refused like gan.py's, each measurement runs and is
reported, the fused step computes what gan.py computes, and the Keras 2 original
trains for real."""

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import gan  # loads Keras once, up front: draw_inputs uses gan
import keras
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
        (["--backends", "bogus"], "argument --backends: invalid choice: 'bogus'"),
        (["--backends", "jax,torch"], "argument --backends: invalid choice: 'jax,"),
        (["--backends"], "argument --backends: expected at least one argument"),
        (["--yardsticks", "floor"], "argument --yardsticks: invalid choice: 'floor'"),
        (["--full-run-args", "'--seed"], "argument --full-run-args: invalid split"),
        (["--repeats", "0"], "--repeats 0 times nothing"),
    ],
)
def test_nonsense_flags_are_refused_in_one_sentence(argv, words, capsys):
    message = refusal(argv, capsys)
    assert message.startswith("speed.py: error: ")
    assert words in message
    assert message.endswith("; see --help")


def test_no_mnist_file_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("MNIST_PATH", "")
    assert refusal([], capsys) == (
        "speed.py: error: no MNIST file: set MNIST_PATH or --mnist-path to a "
        "local mnist.npz in Keras's layout (benchmarks do not download it)"
    )


def test_a_missing_mnist_file_is_refused_before_any_measurement(monkeypatch, capsys):
    monkeypatch.setattr(speed, "measure", pytest.fail)  # nothing may start
    message = refusal(["--mnist-path", "/no/such/mnist.npz"], capsys)
    assert message.startswith("speed.py: error: MNIST file '/no/such/mnist.npz' ")
    assert message.endswith("; download it again or fix MNIST_PATH (--mnist-path)")


def test_backends_and_yardsticks_are_lists_in_a_fixed_order(monkeypatch):
    monkeypatch.setattr(speed, "installed", lambda name: name != "torch")
    args = speed.parse_args(["--backends", "jax", "tensorflow", "jax"])
    assert args.backends == ["tensorflow", "jax"]  # speed.ALL_BACKENDS's order, once
    assert speed.parse_args(["--backends", "all"]).backends == ["tensorflow", "jax"]
    assert speed.parse_args([]).yardsticks == ["original", "fused"]
    assert speed.parse_args(["--yardsticks", "none"]).yardsticks == []
    assert speed.parse_args(["--yardsticks", "fused", "original"]).yardsticks == [
        "original",
        "fused",
    ]
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert speed.parse_args([]).backends == ["jax"]
    monkeypatch.setenv("KERAS_BACKEND", "numpy")  # not one speed.py measures
    assert speed.parse_args([]).backends == ["tensorflow"]


def test_an_uninstalled_backend_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(speed, "installed", lambda name: name == "tensorflow")
    message = refusal(["--backends", "tensorflow", "torch"], capsys)
    assert "argument --backends: 'torch' is not installed; `pip install torch`" in (
        message
    )


@pytest.mark.slow  # its own process
def test_the_command_line_refuses_with_one_line_and_no_traceback():
    done = subprocess.run(
        [sys.executable, str(SPEED), "--iterations", "0"],
        env=conftest.child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "speed.py: error: argument --iterations: must be at least 1, got 0; see --help"
    ]


def test_time_iterations_times_each_repeat_after_an_untimed_warmup(monkeypatch):
    clock = [0.0]  # seconds, moved only by the steps
    monkeypatch.setattr(speed.time, "perf_counter", lambda: clock[0])
    # 4 slow warm-up steps, then 3 repeats of 7 steps at 1, 2 and 4 ms each.
    costs = iter([5.0] * 4 + [0.001] * 7 + [0.002] * 7 + [0.004] * 7)

    def step():
        clock[0] += next(costs)

    ms = speed.time_iterations(step, 7, 3, 4)
    assert ms == pytest.approx([1.0, 2.0, 4.0])
    assert next(costs, None) is None  # every step ran, and no more


def test_a_result_line_is_read_and_a_failure_is_one_line():
    done = subprocess.CompletedProcess([], 0, 'noise\nSPEED_RESULT {"ms": [1.5]}\n', "")
    assert speed.result_of(done) == {"ms": [1.5]}
    crashed = subprocess.CompletedProcess([], 1, "", "Traceback\n...\nValueError: x\n")
    assert speed.result_of(crashed) == {"error": "exit 1: ValueError: x"}


def test_memory_compares_the_first_and_last_window_and_peaks_at_a_sample(monkeypatch):
    readings = iter([100, 101, 103, 104, 102, 105, 108, 107, 106, 106])  # MiB

    def resident_mib(field="VmRSS"):  # the kernel's VmHWM can lag behind VmRSS
        return 50.0 if field == "VmHWM" else next(readings)

    monkeypatch.setattr(speed, "resident_mib", resident_mib)
    steps = []
    result = speed.memory_over_iterations(lambda: steps.append(1), 20)
    assert len(steps) == 20
    assert [i for i, _ in result["samples"]] == list(range(2, 21, 2))  # 10 samples
    assert result["window"] == 10
    assert result["first_mib"] == pytest.approx(102.0)  # iterations 1 to 10
    assert result["last_mib"] == pytest.approx(106.4)  # iterations 11 to 20
    assert result["peak_mib"] == 108.0  # the highest reading, not the lagging VmHWM


TRAINS = {"losses_finite": True, "d_changed": True, "g_changed": True}


def fake_measurements(commands):
    """A stand-in for subprocess.run: each measuring script's result line, by what it
    is, and each command it was given in `commands`."""

    def run(command, **kwargs):
        commands.append(command)
        if "--memory" in command:
            result = dict(iterations=20, window=10, first_mib=900.0, last_mib=902.5)
            result.update(peak_mib=1000.0, samples=[], sanity=TRAINS)
        elif command[1] == speed.ORIGINAL:
            result = {"ms": [110.0, 90.0, 100.0], "losses": [[0.7, 0.5, 0.7]]}
            result["sanity"] = TRAINS
        elif "torch" in command:
            return subprocess.CompletedProcess(command, 1, "", "x\nValueError: y\n")
        else:  # tensorflow: fast, but G does not learn
            result = {"ms": [20.0, 25.0, 30.0], "sanity": dict(TRAINS, g_changed=False)}
        return subprocess.CompletedProcess(
            command, 0, speed.RESULT + json.dumps(result), ""
        )

    return run


def test_each_measurement_runs_in_turn_and_the_report_is_a_table(monkeypatch, capsys):
    monkeypatch.setattr(speed, "installed", lambda name: name != "jax")
    commands = []
    monkeypatch.setattr(speed.subprocess, "run", fake_measurements(commands))
    args = speed.parse_args(["--backends", "torch", "tensorflow", "--memory", "20"])
    args.mnist_path = "/data/mnist.npz"
    report = speed.measure_all(args)

    shared = ["--iterations=200", "--repeats=5", "--warmup=50"]
    shared += ["--mnist-path", "/data/mnist.npz"]
    worker = [sys.executable, speed.SCRIPT, "--worker"]
    assert commands == [
        [sys.executable, speed.ORIGINAL, *shared],
        [*worker, "loop", "--backend", "tensorflow", *shared],
        [*worker, "loop", "--backend", "torch", *shared],
        [*worker, "memory", "--backend", "tensorflow", "--memory", "20", *shared],
    ]
    original, tensorflow, torch = report["results"]
    assert "losses" not in original  # the original's every iteration: not reported
    assert (original["median"], original["min"], original["max"]) == (100, 90, 110)
    assert tensorflow["speedup"] == 4.0  # 100 ms / 25 ms
    assert tensorflow["minutes"] == pytest.approx(30001 * 25 / 60000)
    assert torch["error"] == "exit 1: ValueError: y"
    assert report["notes"] == ["jax is not installed: no fused step"]
    assert json.loads(json.dumps(report))["results"][1]["speedup"] == 4.0  # --json

    speed.print_report(report)
    printed = capsys.readouterr().out.splitlines()
    table = printed[printed.index("") + 1 :]
    assert table[:7] == [
        "5 repeats of 200 iterations after 50 warm-up; ms per iteration, minutes "
        "for 30,001 iterations",
        "             backend       median     min     max  minutes  vs orig.",
        "original     tf_keras      100.00   90.00  110.00     50.0      1.0x",
        "gan.py loop  tensorflow     25.00   20.00   30.00     12.5      4.0x",
        "  WARNING: this does not train: {'losses_finite': True, 'd_changed': True, "
        "'g_changed': False}",
        "gan.py loop  torch       failed: exit 1: ValueError: y",
        "",
    ]
    assert table[7:] == [
        "Memory, gan.py tensorflow, 20 iterations: peak 1000 MiB; mean resident "
        "900.0 MiB in the first 10, 902.5 MiB in the last 10 (+2.5 MiB)",
        "Note: jax is not installed: no fused step",
    ]


@pytest.mark.slow
def test_a_worker_trains_gan_py_and_reports_its_times_and_memory(
    mnist_path, monkeypatch, capsys
):
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())  # the worker sets it
    common = ["--backend", keras.backend.backend(), "--mnist-path", mnist_path]
    speed.main(["--worker", "loop", "--iterations", "3", "--repeats", "2", *common])
    speed.main(["--worker", "memory", "--memory", "20", "--warmup", "2", *common])
    loop, memory = (
        speed.result_of(subprocess.CompletedProcess([], 0, line, ""))
        for line in capsys.readouterr().out.splitlines()
    )
    assert len(loop["ms"]) == 2 and all(ms > 0 for ms in loop["ms"])
    assert loop["sanity"] == memory["sanity"] == TRAINS
    assert [i for i, _ in memory["samples"]] == list(range(2, 21, 2))  # 10 samples
    assert memory["window"] == 10
    assert memory["peak_mib"] >= max(mib for _, mib in memory["samples"]) > 0


def test_draw_inputs_draws_in_train_iterations_order():
    x_train = np.arange(50, dtype="float32").reshape(50, 1, 1, 1)
    np.random.seed(3)
    real, noise_d, noise_g = speed.draw_inputs(x_train, 4)
    np.random.seed(3)
    index = np.random.randint(0, 50, 4)
    first, second = np.random.normal(0, 1, (2, 4, gan.LATENT_DIM))
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
generator, discriminator, combined = gan.build_gan()
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
    pytest.importorskip("jax", reason="the fused step is a jax.jit function")
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
