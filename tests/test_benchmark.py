"""What backs the README's Speed section: the table, the fused step, the original."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import speed
from helpers import ROOT, errors, run


def test_time_iterations_times_each_repeat_after_an_untimed_warmup(monkeypatch):
    clock = [0.0]  # seconds, moved only by the steps
    monkeypatch.setattr(speed.time, "perf_counter", lambda: clock[0])
    # 4 slow warm-up steps, then 3 repeats of 7 steps at 1, 2 and 4 ms each.
    costs = iter([5.0] * 4 + [0.001] * 7 + [0.002] * 7 + [0.004] * 7)

    def step():
        clock[0] += next(costs)

    assert speed.time_iterations(step, 7, 3, 4) == pytest.approx([1.0, 2.0, 4.0])
    assert next(costs, None) is None  # every step ran, and no more


def test_memory_compares_the_first_and_last_window_and_peaks_at_a_sample(monkeypatch):
    readings = iter([100, 101, 103, 104, 102, 105, 108, 107, 106, 106])  # MiB

    def resident_mib(field="VmRSS"):  # the kernel's VmHWM can lag behind VmRSS
        return 50.0 if field == "VmHWM" else next(readings)

    monkeypatch.setattr(speed, "resident_mib", resident_mib)
    steps = []
    result = speed.memory_over_iterations(lambda: steps.append(1), 20)
    assert len(steps) == 20 and result["window"] == 10
    assert [i for i, _ in result["samples"]] == list(range(2, 21, 2))  # 10 samples
    assert result["first_mib"] == pytest.approx(102.0)  # iterations 1 to 10
    assert result["last_mib"] == pytest.approx(106.4)  # iterations 11 to 20
    assert result["peak_mib"] == 108.0  # the highest reading, not the lagging VmHWM


TRAINS = {"losses_finite": True, "d_changed": True, "g_changed": True}


def test_measurements_run_in_turn_into_a_table(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(speed, "find_spec", lambda name: name != "jax")
    speed.machine()  # reads the CPU with a subprocess of its own: before the fake
    commands, done = [], subprocess.CompletedProcess

    def measured(command, **kwargs):  # each measuring script's result line
        commands.append(command)
        if "--memory" in command:
            result = dict(iterations=20, window=10, first_mib=900.0, last_mib=902.5)
            result.update(peak_mib=1000.0, samples=[], sanity=TRAINS)
        elif command[1] == speed.ORIGINAL:
            result = {"ms": [110.0, 90.0, 100.0], "losses": [[0.7, 0.5, 0.7]]}
            result["sanity"] = TRAINS
        elif "torch" in command:
            return done(command, 1, "", "x\nValueError: y\n")
        else:  # tensorflow: fast, but G does not learn
            result = {"ms": [20.0, 25.0, 30.0], "sanity": dict(TRAINS, g_changed=False)}
        return done(command, 0, speed.RESULT + json.dumps(result), "")

    monkeypatch.setattr(speed.subprocess, "run", measured)
    (tmp_path / "mnist.npz").write_bytes(b"")
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "mnist.npz"))
    argv = ["--backends", "torch", "tensorflow", "torch", "--memory", "20"]
    report = speed.measure_all(speed.parse_args(argv))
    shared = ["--iterations=200", "--repeats=5", "--warmup=50"]
    shared += ["--mnist-path", str(tmp_path / "mnist.npz")]
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


# The fused step is gan.py's iteration, to float tolerance. ----------------------------
FUSED_CHECK = """
import json
import numpy as np
import keras
import gan
from benchmarks import speed

x_train = np.random.default_rng(0).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")
keras.utils.set_random_seed(gan.SEED)
generator, discriminator, combined = gan.build_gan()
step, state = speed.fused_step(generator, discriminator)  # the same weights

np.random.seed(7)
models = generator, discriminator, combined
ours = [gan.train_iteration(*models, x_train, gan.BATCH_SIZE) for _ in range(6)]
np.random.seed(7)
fused = []
for _ in range(6):
    state, logs = step(state, *speed.draw_inputs(x_train, gan.BATCH_SIZE))
    fused.append(np.asarray(logs).tolist())
values = lambda variables: [np.asarray(v).tolist() for v in variables]
# D has no non-trainable weights; gan.py leaves it frozen, so all of them are these.
weights = dict(
    g=[values(state[0]), values(generator.trainable_variables)],
    g_other=[values(state[1]), values(generator.non_trainable_variables)],
    d=[values(state[2]), values(discriminator.variables)],
)
ours = [[float(v) for v in losses] for losses in ours]
print("REPORT" + json.dumps(dict(ours=ours, fused=fused, weights=weights)))
"""
TOLERANCE = 1e-5  # float32 arithmetic, summed in another order at most


@pytest.mark.slow
def test_fused_step_computes_gan_py_iterations_losses_and_weights():
    pytest.importorskip("jax", reason="the fused step is a jax.jit function")
    result = run(FUSED_CHECK, backend="jax")
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("REPORT")][-1]
    fused_report = json.loads(line[len("REPORT") :])
    ours, fused = np.array(fused_report["ours"]), np.array(fused_report["fused"])
    assert ours.shape == fused.shape == (6, 3)
    # Six different iterations (a test on a constant would prove nothing) ...
    assert len(np.unique(ours[:, 0])) == 6 and len(np.unique(ours[:, 2])) == 6
    # ... and the same [d_loss, d_acc, g_loss] from both, updates included ...
    np.testing.assert_allclose(fused, ours, rtol=0, atol=TOLERANCE)
    # ... ending with the same weights.
    for name, (fused, ours) in fused_report["weights"].items():
        assert len(fused) == len(ours) > 0, name
        for a, b in zip(fused, ours):
            np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE, err_msg=name)


# The Keras 2 original trains for real. ------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not speed.find_spec("tf_keras"), reason="no tf_keras here")
def test_the_original_trains_and_reports_its_speed(mnist_path):
    args = "--seed 1 --warmup 0 --iterations 50 --repeats 2 --mnist-path".split()
    done = run(speed.ORIGINAL, [*args, mnist_path])
    assert done.returncode == 0, done.stderr[-3000:]
    result = speed.result_of(done)
    assert result["backend"] == "tf_keras" and result["sanity"] == TRAINS
    assert len(result["ms"]) == 2 and all(m > 0 for m in result["ms"])
    d_loss, d_acc, g_loss = np.array(result["losses"]).T
    assert len(d_loss) == 100
    # As on Keras 2: D wins at once (loss 0.8 to near 0, accuracy to 100%), G's loss
    # climbs to 3 to 5; a D that never learns stays near log 2 = 0.69 and 50%.
    assert d_loss[0] > 0.5
    assert d_loss[20:].mean() < 0.3
    assert d_acc[20:].mean() > 0.9
    assert g_loss[20:].mean() > 2 * g_loss[0]
    # The original's log line, every LOG_INTERVAL (100) iterations, on stderr.
    log = r"^(\d+) \[D loss: [\d.]+, acc\.: [\d.]+%\] \[G loss: [\d.]+\]$"
    assert re.findall(log, done.stderr, re.MULTILINE) == ["0"]


@pytest.mark.slow
def test_the_script_trains_gan_py_and_prints_the_table(mnist_path):
    args = "--backends tensorflow --yardsticks none --iterations 2 --repeats 2"
    args += " --warmup 0 --memory 20"
    result = run(ROOT / "benchmarks" / "speed.py", args.split(), MNIST_PATH=mnist_path)
    assert result.returncode == 0 and errors(result.stderr) == [
        "measuring gan.py loop on tensorflow ...",
        "measuring memory on tensorflow ...",
    ]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Machine: ") and lines[1].startswith("Versions: ")
    header = "             backend       median     min     max  minutes  vs orig."
    row = lines[lines.index(header) + 1].split()
    assert row[:3] == ["gan.py", "loop", "tensorflow"] and row[-1] == "-"
    median, low, high, minutes = map(float, row[3:7])
    assert 0 < low <= median <= high
    assert minutes == pytest.approx(30001 * median / 60000, abs=0.06)
    # trains: no WARNING line follows; memory: 20 iterations, 10 in each window
    assert lines[-1].startswith("Memory, gan.py tensorflow, 20 iterations: peak ")
    assert "MiB in the first 10, " in lines[-1] and "WARNING" not in result.stdout
