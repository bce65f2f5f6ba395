"""How fast is gan.py's training loop? Times it per backend, beside two yardsticks.

- "gan.py loop": `gan.train_iteration`, the iteration `python gan.py` runs;
- "fused step": the same arithmetic as one `jax.jit` function, this CPU's floor;
- "original": the Keras-GAN script on Keras 2: benchmarks/original_keras2.py.

Each in its own process, one after another, on a local mnist.npz (never downloaded):
    MNIST_PATH=/path/to/mnist.npz python benchmarks/speed.py --backends tensorflow jax

--backends: tensorflow, jax, torch, or all installed (default: $KERAS_BACKEND, else
tensorflow); --yardsticks: original (needs tf_keras), fused (needs jax) or none;
--memory N: resident memory over N iterations of gan.py's loop on the first backend
(with --repeats 0, only this). For a whole run: `/usr/bin/time -v python gan.py`.
"""

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]  # where gan.py is
sys.path.insert(0, str(ROOT))
ORIGINAL = SCRIPT.parent / "original_keras2.py"
FULL_ITERATIONS = 30001  # a default `python gan.py` run
ALL_BACKENDS, YARDSTICKS = ("tensorflow", "jax", "torch"), ("original", "fused")
PACKAGES = ("keras", "tensorflow", "jax", "jaxlib", "torch", "tf_keras", "numpy")
TIMING = ("iterations", "repeats", "warmup")  # the flags the measuring scripts share
RSS_EVERY = 100  # --memory: read resident memory every this many iterations
RSS_WINDOW = 1000  # --memory: compare the first and the last this many iterations
RESULT = "SPEED_RESULT "  # a measuring script's one line of JSON starts with this


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add_shared_flags(parser)
    backend = os.environ.get("KERAS_BACKEND")
    backend = backend if backend in ALL_BACKENDS else "tensorflow"
    choices = (*ALL_BACKENDS, "all")
    add("--backends", nargs="+", choices=choices, default=[backend], metavar="NAME")
    choices = (*YARDSTICKS, "none")
    add("--yardsticks", nargs="+", choices=choices, default=YARDSTICKS, metavar="NAME")
    add("--memory", type=int, metavar="N", help="resident memory over N iterations")
    add("--worker", choices=["loop", "fused", "memory"], help=argparse.SUPPRESS)
    add("--backend", choices=ALL_BACKENDS, default="tensorflow", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.mnist_path = mnist_file(parser, args)
    if "all" in args.backends:
        args.backends = [name for name in ALL_BACKENDS if find_spec(name)]
    # Each once, in a fixed order, whatever the user's; "none" is none of them.
    args.backends = [name for name in ALL_BACKENDS if name in args.backends]
    args.yardsticks = [name for name in YARDSTICKS if name in args.yardsticks]
    return args


# Shared with original_keras2.py, so that every measuring script is timed alike.
def add_shared_flags(parser):
    for flag, default, what in (
        ("--iterations", 200, "timed iterations per repeat"),
        ("--repeats", 5, "runs of --iterations; the median counts"),
        ("--warmup", 50, "untimed iterations first"),
    ):
        parser.add_argument(flag, type=int, default=default, help=what)
    parser.add_argument("--mnist-path", default=os.environ.get("MNIST_PATH"))


def mnist_file(parser, args):
    """--mnist-path or $MNIST_PATH, made absolute: the workers run elsewhere."""
    if not (args.mnist_path and os.path.isfile(args.mnist_path)):
        parser.error("set MNIST_PATH or --mnist-path to a local mnist.npz")
    return os.path.abspath(args.mnist_path)


def time_iterations(step, iterations, repeats, warmup):
    """Milliseconds per iteration of `step()`, one figure per repeat."""
    for _ in range(warmup):  # compiles, builds the optimizers, fills caches
        step()
    per_repeat = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            step()
        per_repeat.append((time.perf_counter() - start) / iterations * 1000)
    return per_repeat


def sanity(finite, before, after):
    """Does it train? `before` and `after` are each (D's weights, G's weights)."""
    d, g = (not all(map(np.array_equal, old, new)) for old, new in zip(before, after))
    return {"losses_finite": bool(finite), "d_changed": d, "g_changed": g}


# The workers: each a fresh interpreter, since Keras picks its backend at import.
def draw_inputs(x_train, batch_size):
    """(real batch, D's noise, G's noise), drawn as `gan.train_iteration` draws them."""
    import gan

    real = x_train[np.random.randint(0, len(x_train), batch_size)]
    return real, gan.sample_noise(batch_size), gan.sample_noise(batch_size)


def fused_step(generator, discriminator):
    """gan.py's iteration as one `jax.jit` function (KERAS_BACKEND=jax) on clones of the
    models. `step(state, real, noise_d, noise_g)` returns the next state and [d_loss,
    d_acc, g_loss]; it donates its state (XLA updates it in place): pass each once."""
    import gan
    import jax
    import keras
    from keras import ops

    def clone(model):  # own variables and `trainable`, so gan.py's phases don't matter
        twin = keras.models.clone_model(model)
        twin.trainable = True
        twin.set_weights(model.get_weights())
        optimizer = keras.optimizers.Adam(gan.LEARNING_RATE, beta_1=gan.BETA_1)
        optimizer.build(twin.trainable_variables)
        return twin, optimizer

    (G, g_adam), (D, d_adam) = clone(generator), clone(discriminator)
    bce = keras.losses.BinaryCrossentropy()  # compile(loss="binary_crossentropy")'s

    def d_loss(trainable, other, images, labels):
        predictions, other = D.stateless_call(trainable, other, images, training=True)
        accuracy = ops.mean(keras.metrics.binary_accuracy(labels, predictions))
        return bce(labels, predictions), (other, accuracy)

    def g_loss(g_trainable, g_other, d_trainable, d_other, noise):
        # Training mode: G's BatchNorm uses batch statistics and moves its averages.
        fake, g_other = G.stateless_call(g_trainable, g_other, noise, training=True)
        predictions, _ = D.stateless_call(d_trainable, d_other, fake, training=True)
        return bce(ops.ones_like(predictions), predictions), g_other

    def step(state, real, noise_d, noise_g):
        g_trainable, g_other, d_trainable, d_other, d_slots, g_slots = state
        # train_discriminator: G in inference mode, as predict_on_batch, then one D
        # update on the real batch (label 1) and one on the fake batch (label 0).
        fake, _ = G.stateless_call(g_trainable, g_other, noise_d)
        d_logs = []
        for images, label in ((real, 1.0), (fake, 0.0)):
            labels = ops.full((images.shape[0], 1), label)
            (loss, (d_other, acc)), grads = jax.value_and_grad(d_loss, has_aux=True)(
                d_trainable, d_other, images, labels
            )
            d_trainable, d_slots = d_adam.stateless_apply(d_slots, grads, d_trainable)
            d_logs.append(ops.stack([loss, acc]))
        # train_generator: D frozen, so gradients for G's weights only.
        (loss, g_other), grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_trainable, g_other, d_trainable, d_other, noise_g
        )
        g_trainable, g_slots = g_adam.stateless_apply(g_slots, grads, g_trainable)
        state = g_trainable, g_other, d_trainable, d_other, d_slots, g_slots
        return state, ops.concatenate([0.5 * (d_logs[0] + d_logs[1]), loss[None]])

    parts = (G.trainable_variables, G.non_trainable_variables, D.trainable_variables)
    parts += (D.non_trainable_variables, d_adam.variables, g_adam.variables)
    # Copies: the step donates its state, and must not free the models' buffers.
    state = tuple(tuple(ops.copy(v) for v in part) for part in parts)
    return jax.jit(step, donate_argnums=0), state


def resident_mib(field="VmRSS"):  # now; "VmHWM": the peak
    with open("/proc/self/status") as f:
        return next(int(s.split()[1]) for s in f if s.startswith(field)) / 1024


def memory_over_iterations(step, iterations):
    every = min(RSS_EVERY, max(1, iterations // 10))  # short runs: still 10 samples
    window = min(RSS_WINDOW, iterations // 2)
    samples = []  # (iteration, MiB)
    for i in range(1, iterations + 1):
        step()
        if i % every == 0:
            samples.append((i, resident_mib()))
    first = np.mean([mib for i, mib in samples if i <= window])
    last = np.mean([mib for i, mib in samples if i > iterations - window])
    result = dict(iterations=iterations, window=window, first_mib=first, last_mib=last)
    peak = max(resident_mib("VmHWM"), *(mib for _, mib in samples))  # VmHWM may lag
    return dict(result, peak_mib=peak, samples=samples)


def run_worker(args):
    """One measurement, `args.worker`, from freshly built models; prints its result."""
    os.environ["KERAS_BACKEND"] = args.backend  # before anything imports Keras
    import gan
    import keras

    gan.MNIST_PATH = args.mnist_path
    x_train, _ = gan.load_images()
    keras.utils.set_random_seed(gan.SEED)
    G, D, combined = gan.build_gan()
    fused, state = fused_step(G, D) if args.worker == "fused" else (None, None)

    def weights():  # D's and G's, to see that they move
        return (state[2], state[0]) if fused else (D.weights, G.weights)

    before = [[np.asarray(w).copy() for w in ws] for ws in weights()]
    finite = True

    def step():
        nonlocal state, finite
        if fused:
            state, losses = fused(state, *draw_inputs(x_train, gan.BATCH_SIZE))
        else:
            losses = gan.train_iteration(G, D, combined, x_train, gan.BATCH_SIZE)
        # To the host every iteration, as gan.py's losses are.
        finite = np.isfinite(np.asarray(losses)).all() and finite

    result = {"backend": args.backend}
    if args.worker == "memory":
        for _ in range(args.warmup):
            step()
        result.update(memory_over_iterations(step, args.memory))
    else:
        result["ms"] = time_iterations(step, args.iterations, args.repeats, args.warmup)
    result["sanity"] = sanity(finite, before, weights())
    print(RESULT + json.dumps(result), flush=True)


# The parent: starts the measuring scripts one at a time, then prints the report.
def result_of(done):
    """The JSON of a finished measurement's SPEED_RESULT line, or {"error": ...}."""
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line.removeprefix(RESULT))
    last_line = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {done.returncode}: {last_line[0]}"}


def measure(name, kind, backend, args, *flags):
    """The original, or a worker of `kind`, in a fresh interpreter; its report row."""
    print(f"measuring {name} on {backend} ...", file=sys.stderr, flush=True)
    script = [SCRIPT, "--worker", kind, "--backend", backend, *flags]
    command = [sys.executable, *([ORIGINAL] if kind == "original" else script)]
    command += [f"--{key}={getattr(args, key)}" for key in TIMING]
    command += ["--mnist-path", args.mnist_path]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    row = {"name": name, "backend": backend, **result_of(done)}
    row.pop("losses", None)  # the original's, of every iteration
    if "ms" in row:
        row.update(median=np.median(row["ms"]), min=min(row["ms"]))
        row.update(max=max(row["ms"]), minutes=FULL_ITERATIONS * row["median"] / 60000)
    return row


def machine():
    """The CPU, its count, the load average, and the versions that matter."""
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        cpu = next(line.split(":")[1].strip() for line in f if "model name" in line)
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    load = os.getloadavg()[0]
    return {"cpu": cpu, "cpus": os.cpu_count(), "load_before": load}, found


def measure_all(args):
    """Every measurement asked for, one after another; the report as a dict."""
    report = dict(zip(("machine", "versions"), machine()), notes=[])
    report["settings"] = {key: getattr(args, key) for key in TIMING}
    plan = [("gan.py loop", "loop", name) for name in args.backends]  # kind, backend
    if "original" in args.yardsticks:
        plan.insert(0, ("original", "original", "tf_keras"))
    if "fused" in args.yardsticks:
        plan.append(("fused step", "fused", "jax"))
    rows = report["results"] = []
    for name, kind, backend in plan if args.repeats else []:
        if find_spec(backend):  # tf_keras and jax too: the yardsticks need them
            rows.append(measure(name, kind, backend, args))
        else:
            report["notes"].append(f"{backend} is not installed: no {name}")
    timed = [row for row in rows if "ms" in row]
    original = [row["median"] for row in timed if row["name"] == "original"]
    for row in timed:
        row["speedup"] = original[0] / row["median"] if original else None
    if args.memory:  # on the first backend
        flags = ("--memory", str(args.memory))
        report["memory"] = measure("memory", "memory", args.backends[0], args, *flags)
    report["machine"]["load_after"] = os.getloadavg()[0]
    return report


def print_report(report):
    m, s = report["machine"], report["settings"]
    load = f"load average {m['load_before']:.2f} before, {m['load_after']:.2f} after"
    print(f"Machine: {m['cpu']}, {m['cpus']} CPUs; {load}")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    line = "{:<13}{:<12}{:>8.2f}{:>8.2f}{:>8.2f}{:>9.1f}{:>10}"  # a row of the table
    if report["results"]:
        print(
            f"\n{s['repeats']} repeats of {s['iterations']} iterations after "
            f"{s['warmup']} warm-up; ms per iteration, minutes for 30,001 iterations"
        )
        print("             backend       median     min     max  minutes  vs orig.")
    for r in report["results"]:
        if "error" in r:
            print(f"{r['name']:<13}{r['backend']:<12}failed: {r['error']}")
            continue
        figures = [r[key] for key in ("median", "min", "max", "minutes")]
        speedup = f"{r['speedup']:.1f}x" if r["speedup"] else "-"
        print(line.format(r["name"], r["backend"], *figures, speedup))
        if not all(r["sanity"].values()):
            print(f"  WARNING: this does not train: {r['sanity']}")
    if r := report.get("memory"):
        print(f"\nMemory, gan.py {r['backend']}", end="")
        print(
            f": failed: {r['error']}"
            if "error" in r
            else f", {r['iterations']} iterations: peak {r['peak_mib']:.0f} MiB; mean "
            f"resident {r['first_mib']:.1f} MiB in the first {r['window']}, "
            f"{r['last_mib']:.1f} MiB in the last {r['window']} "
            f"({r['last_mib'] - r['first_mib']:+.1f} MiB)"
        )
    for note in report["notes"]:
        print("Note: " + note)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    print_report(measure_all(args))


if __name__ == "__main__":
    main()
