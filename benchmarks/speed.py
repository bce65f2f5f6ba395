"""How fast is gan.py's training loop? Times it per backend, beside two yardsticks.

- "gan.py loop": the body of gan.train (a real batch, `train_discriminator`,
  `train_generator`) on real MNIST, after warm-up, in repeats; the median counts.
- "fused step": the same arithmetic as one iteration as a single `jax.jit` function
  (G forward, two D updates, one G update through D): the practical floor of this CPU.
- "original": the Keras-GAN script as written, on Keras 2 (`tf_keras`), when installed.

Every measurement runs in its own subprocess (Keras picks its backend at import), one
after another, so the figures are side by side on the same machine. Run it from the
repository root:

    MNIST_PATH=../shared/data/mnist.npz python benchmarks/speed.py --backends all

`--memory N` adds the resident memory of N iterations; `--full-run` times a whole
`python gan.py` run and reports its peak resident memory. `--help` lists all flags.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# -----------------------------------------------------------------------------
# Constants

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]  # the repository root, where gan.py is
ORIGINAL = ROOT.parent / "shared" / "bench" / "original_keras2.py"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
# MNIST_PATH, else ../shared's copy, else "" (Keras downloads MNIST). Made absolute,
# as the subprocesses run in other folders.
MNIST_PATH = os.environ.get("MNIST_PATH", "")
if not MNIST_PATH and SHARED_MNIST.is_file():
    MNIST_PATH = str(SHARED_MNIST)
MNIST_PATH = MNIST_PATH and os.path.abspath(MNIST_PATH)
FULL_ITERATIONS = 30001  # a default `python gan.py` run
ALL_BACKENDS = ("tensorflow", "jax", "torch")
PACKAGES = ("keras", "tensorflow", "jax", "jaxlib", "torch", "tf_keras", "numpy")
RSS_EVERY = 100  # --memory: read resident memory every this many iterations
RSS_WINDOW = 1000  # --memory: compare the first and the last this many iterations
JAX_TARGET = 1.3  # our JAX loop may take at most this many fused steps
TF_TARGET = 6.0  # the original must take at least this many of our TF iterations
RESULT = "SPEED_RESULT "  # a worker's one line of JSON for the parent starts with this


def installed(module):
    return importlib.util.find_spec(module) is not None


# -----------------------------------------------------------------------------
# Workers: each runs in a fresh interpreter on one backend and prints one JSON line.


def time_iterations(step, iterations, repeats, warmup):
    """Milliseconds per iteration of `step()`, one figure per repeat, after warm-up."""
    for _ in range(warmup):  # compiles, builds the optimizers, fills caches
        step()
    per_repeat = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            step()
        per_repeat.append((time.perf_counter() - start) / iterations * 1000)
    return per_repeat


def gan_loop_step():
    """One iteration of gan.train's loop body, exactly as gan.py runs it."""
    import gan
    import keras
    import numpy as np

    x_train = gan.load_mnist(MNIST_PATH)
    keras.utils.set_random_seed(gan.SEED)
    generator = gan.build_generator()
    discriminator = gan.build_discriminator()
    combined = gan.build_combined(generator, discriminator)

    def step():
        real = x_train[np.random.randint(0, len(x_train), gan.BATCH_SIZE)]
        gan.train_discriminator(generator, discriminator, real)
        gan.train_generator(combined, discriminator, gan.BATCH_SIZE)

    return step


def fused_step():
    """The same iteration as one compiled JAX function over explicit state.

    Built from gan.py's own models with Keras's stateless API, so the arithmetic is
    gan.py's; the inputs are drawn on the host, in the order gan.py's loop draws them.
    """
    import gan
    import jax
    import keras
    import numpy as np
    from keras import ops

    x_train = gan.load_mnist(MNIST_PATH)
    keras.utils.set_random_seed(gan.SEED)
    generator, discriminator = gan.build_generator(), gan.build_discriminator()
    d_optimizer = keras.optimizers.Adam(gan.LEARNING_RATE, beta_1=gan.BETA_1)
    g_optimizer = keras.optimizers.Adam(gan.LEARNING_RATE, beta_1=gan.BETA_1)
    d_optimizer.build(discriminator.trainable_variables)
    g_optimizer.build(generator.trainable_variables)

    def bce(labels, predictions):  # compile(loss="binary_crossentropy"): batch mean
        return ops.mean(keras.losses.binary_crossentropy(labels, predictions))

    def accuracy(labels, predictions):  # metrics=["accuracy"], as gan.py computes it
        return ops.mean(ops.cast(ops.equal(labels, predictions > 0.5), "float32"))

    def d_loss(d_trainable, d_other, images, labels):
        predictions, d_other = discriminator.stateless_call(
            d_trainable, d_other, images, training=True
        )
        return bce(labels, predictions), (d_other, accuracy(labels, predictions))

    def g_loss(g_trainable, g_other, d_trainable, d_other, noise):
        # Training mode: G's BatchNorm uses batch statistics and moves its averages.
        fake, g_other = generator.stateless_call(
            g_trainable, g_other, noise, training=True
        )
        predictions, _ = discriminator.stateless_call(
            d_trainable, d_other, fake, training=True
        )
        return bce(ops.ones_like(predictions), predictions), g_other

    def step_fn(state, real, noise_d, noise_g):
        g_trainable, g_other, d_trainable, d_other, d_slots, g_slots = state
        # Inference mode, as predict_on_batch: G's BatchNorm statistics stay put.
        fake, _ = generator.stateless_call(g_trainable, g_other, noise_d)
        logs = []
        for images, label in ((real, 1.0), (fake, 0.0)):
            labels = ops.full((images.shape[0], 1), label)
            (loss, (d_other, acc)), grads = jax.value_and_grad(d_loss, has_aux=True)(
                d_trainable, d_other, images, labels
            )
            d_trainable, d_slots = d_optimizer.stateless_apply(
                d_slots, grads, d_trainable
            )
            logs += [loss, acc]
        # D is frozen here: gradients for G's weights only, D's go in as constants.
        (loss, g_other), grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_trainable, g_other, d_trainable, d_other, noise_g
        )
        g_trainable, g_slots = g_optimizer.stateless_apply(g_slots, grads, g_trainable)
        state = g_trainable, g_other, d_trainable, d_other, d_slots, g_slots
        return state, ops.stack(logs + [loss])

    # Donated state: XLA updates the weights in place instead of copying them.
    compiled = jax.jit(step_fn, donate_argnums=0)
    values = lambda variables: tuple(v.value for v in variables)  # noqa: E731
    state = (
        values(generator.trainable_variables),
        values(generator.non_trainable_variables),
        values(discriminator.trainable_variables),
        values(discriminator.non_trainable_variables),
        values(d_optimizer.variables),
        values(g_optimizer.variables),
    )
    first_d_weights = [np.array(w) for w in state[2]]  # copies: the step donates them
    finite = True

    def step():
        nonlocal state, finite
        real = x_train[np.random.randint(0, len(x_train), gan.BATCH_SIZE)]
        noise_d = gan.sample_noise(gan.BATCH_SIZE)
        noise_g = gan.sample_noise(gan.BATCH_SIZE)
        state, logs = compiled(state, real, noise_d, noise_g)
        logs = np.asarray(logs)  # to the host every iteration, as gan.py logs them
        finite = finite and bool(np.isfinite(logs).all())

    def sanity():
        """Finite losses, and D's weights moved: the step really trains."""
        now = [np.asarray(w) for w in state[2]]
        moved = any(not np.allclose(a, b) for a, b in zip(first_d_weights, now))
        return {"losses_finite": finite, "d_changed": moved}

    return step, sanity


def resident_mib():
    """This process's resident memory now (VmRSS), in MiB."""
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


def memory_over_iterations(step, iterations):
    """Resident memory every RSS_EVERY iterations: the first and last RSS_WINDOW."""
    every = min(RSS_EVERY, max(1, iterations // 10))  # short runs: still 10 samples
    samples = []  # (iteration, MiB)
    for i in range(1, iterations + 1):
        step()
        if i % every == 0:
            samples.append((i, resident_mib()))
    window = min(RSS_WINDOW, iterations // 2)
    first = [mib for i, mib in samples if i <= window]
    last = [mib for i, mib in samples if i > iterations - window]
    return {
        "iterations": iterations,
        "window": window,
        "first_mib": statistics.mean(first),
        "last_mib": statistics.mean(last),
        # ru_maxrss (KiB on Linux): the peak of this whole worker, warm-up included.
        # The kernel updates it lazily, so a sample can be a little higher.
        "peak_mib": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            *(mib for _, mib in samples),
        ),
        "samples": samples,
    }


def run_worker(args):
    os.environ["KERAS_BACKEND"] = args.backend  # before anything imports Keras
    sys.path.insert(0, str(ROOT))
    result = {"backend": args.backend}
    step, sanity = fused_step() if args.worker == "fused" else (gan_loop_step(), None)
    if args.worker == "memory":
        for _ in range(args.warmup):
            step()
        result.update(memory_over_iterations(step, args.memory))
    else:
        result["ms"] = time_iterations(step, args.iterations, args.repeats, args.warmup)
    if sanity:
        result["sanity"] = sanity()
    print(RESULT + json.dumps(result), flush=True)


# -----------------------------------------------------------------------------
# The parent: starts the workers one at a time, then prints the report.


def spawn_worker(kind, backend, args):
    """Runs one worker in a fresh interpreter; its result, or {"error": ...}."""
    print(f"measuring {kind} on {backend} ...", file=sys.stderr, flush=True)
    command = [sys.executable, str(SCRIPT), "--worker", kind, "--backend", backend]
    for flag in ("iterations", "repeats", "warmup", "memory"):
        command += [f"--{flag}", str(getattr(args, flag))]
    env = dict(os.environ, KERAS_BACKEND=backend, MNIST_PATH=MNIST_PATH)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    return {"backend": backend, "error": failure(done)}


def failure(done):
    last_line = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return f"exit {done.returncode}: {last_line[0]}"


def measure_original(iterations):
    """The original on Keras 2. One figure: its own mean over iterations 2..N."""
    print(f"measuring the original, {iterations} iterations ...", file=sys.stderr)
    command = [sys.executable, str(ORIGINAL), str(iterations), "predict"]
    env = dict(os.environ, MNIST_PATH=MNIST_PATH)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    match = re.search(r"anchor predict: ([\d.]+) ms/it", done.stdout)
    if not match:
        return {"backend": "tf_keras", "error": failure(done)}
    return {"backend": "tf_keras", "ms": [float(match.group(1))]}


def measure_full_run(backend, gan_args):
    """`python gan.py` in a scratch folder: its wall time and peak resident memory."""
    print(f"full run: python gan.py {gan_args} on {backend} ...", file=sys.stderr)
    env = dict(os.environ, KERAS_BACKEND=backend, MNIST_PATH=MNIST_PATH)
    command = [sys.executable, str(ROOT / "gan.py"), *shlex.split(gan_args)]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        # gan.py's log goes to our stderr, so that stdout stays the report.
        child = subprocess.Popen(command, cwd=folder, env=env, stdout=sys.stderr)
        # wait4 gives this child's own peak; RUSAGE_CHILDREN would mix in the workers'.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
    return {
        "backend": backend,
        "args": gan_args,
        "exit": child.returncode,
        "minutes": seconds / 60,
        "peak_mib": usage.ru_maxrss / 1024,
    }


def machine():
    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":")[1].strip() for line in f if "model name" in line]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}


def versions():
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def add_statistics(row, original_ms):
    """Median, min and max ms per iteration, minutes for 30,001, speed-up."""
    if "ms" in row:
        ms = row["ms"]
        row.update(median=statistics.median(ms), min=min(ms), max=max(ms))
        row["minutes"] = FULL_ITERATIONS * row["median"] / 60000
        row["speedup"] = original_ms / row["median"] if original_ms else None
    return row


def ratio(rows, top, bottom):
    """Median over median of two rows, each (name, backend); None if one is missing."""
    median = {(r["name"], r["backend"]): r["median"] for r in rows if "median" in r}
    return median[top] / median[bottom] if top in median and bottom in median else None


def measure_all(args, backends):
    """Every measurement asked for, one after another; the report as a dict."""
    report = {"machine": machine(), "versions": versions(), "notes": []}
    report["settings"] = {k: vars(args)[k] for k in ("iterations", "repeats", "warmup")}
    rows = []
    if args.repeats:
        for backend in backends:
            rows.append({"name": "gan.py loop", **spawn_worker("loop", backend, args)})
        if installed("jax"):
            rows.append({"name": "fused step", **spawn_worker("fused", "jax", args)})
        else:
            report["notes"].append("jax is not installed: no fused reference step")
    if args.original_iterations:
        if installed("tf_keras") and ORIGINAL.is_file() and MNIST_PATH:
            rows.append(
                {"name": "original", **measure_original(args.original_iterations)}
            )
            report["notes"].append(
                f"the original is timed once, by itself: the mean of its "
                f"{args.original_iterations} iterations after the first (min = max)"
            )
        else:
            report["notes"].append(
                f"original skipped: it needs tf_keras, {ORIGINAL} and MNIST_PATH"
            )
    original = [r["ms"][0] for r in rows if r["name"] == "original" and "ms" in r]
    rows = report["results"] = [
        add_statistics(r, original and original[0]) for r in rows
    ]
    jax = ratio(rows, ("gan.py loop", "jax"), ("fused step", "jax"))
    tf = ratio(rows, ("original", "tf_keras"), ("gan.py loop", "tensorflow"))
    report["targets"] = {  # the two targets: [ratio, met], where measured
        f"gan.py jax / fused step <= {JAX_TARGET}": jax and [jax, jax <= JAX_TARGET],
        f"original / gan.py tensorflow >= {TF_TARGET}": tf and [tf, tf >= TF_TARGET],
    }
    if args.memory:
        report["memory"] = spawn_worker("memory", backends[0], args)
    if args.full_run:
        report["full_run"] = measure_full_run(backends[0], args.full_run_args)
    report["machine"]["load_after"] = os.getloadavg()[0]
    return report


def print_report(report):
    m, s = report["machine"], report["settings"]
    print(
        f"Machine: {m['cpu']}, {m['cpus']} CPUs; load average {m['load_before']:.2f} "
        f"before, {m['load_after']:.2f} after"
    )
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    line = "{:<13}{:<12}{:>8}{:>8}{:>8}{:>9}{:>10}"
    if report["results"]:
        print(
            f"\n{s['repeats']} repeats of {s['iterations']} iterations after "
            f"{s['warmup']} warm-up; ms per iteration, minutes for 30,001 iterations"
        )
        print(line.format("", "backend", "median", "min", "max", "minutes", "vs orig."))
    for r in report["results"]:
        if "error" in r:
            print(f"{r['name']:<13}{r['backend']:<12}failed: {r['error']}")
            continue
        numbers = [f"{r[key]:.2f}" for key in ("median", "min", "max")]
        numbers.append(f"{r['minutes']:.1f}")
        numbers.append(f"{r['speedup']:.1f}x" if r["speedup"] else "-")
        print(line.format(r["name"], r["backend"], *numbers))
        if not all(r.get("sanity", {}).values()):
            print(f"  WARNING: the fused step does not train: {r['sanity']}")
    print()
    for target, found in report["targets"].items():
        if found:
            print(f"{target}: {found[0]:.2f}, {'met' if found[1] else 'NOT met'}")
    r = report.get("memory")
    if r and "error" in r:
        print(f"Memory, gan.py {r['backend']}: failed: {r['error']}")
    elif r:
        print(
            f"Memory, gan.py {r['backend']}, {r['iterations']} iterations: peak "
            f"{r['peak_mib']:.0f} MiB; mean resident {r['first_mib']:.1f} MiB in the "
            f"first {r['window']}, {r['last_mib']:.1f} MiB in the last {r['window']} "
            f"({r['last_mib'] - r['first_mib']:+.1f} MiB)"
        )
    if "full_run" in report:
        r = report["full_run"]
        print(
            f"Full run, python gan.py {r['args']} on {r['backend']}: exit {r['exit']}, "
            f"{r['minutes']:.2f} minutes wall, peak resident {r['peak_mib']:.0f} MiB"
        )
    for note in report["notes"]:
        print("Note: " + note)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--iterations", type=int, default=200, help="timed iterations per repeat")
    add("--repeats", type=int, default=5, help="0 skips the timing")
    add("--warmup", type=int, default=50, help="untimed iterations before")
    add(
        "--backends",
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="comma list, or 'all' that are installed; default: KERAS_BACKEND",
    )
    add("--original-iterations", type=int, default=301, help="0 skips the original")
    add(
        "--memory",
        type=int,
        default=0,
        metavar="N",
        help="resident memory over N iterations of gan.py's loop (first backend)",
    )
    add(
        "--full-run",
        action="store_true",
        help="time a whole `python gan.py`, report its peak memory (first backend)",
    )
    add("--full-run-args", default="", help="its flags, e.g. '--iterations 300'")
    add("--json", action="store_true", help="print one JSON object instead")
    add("--worker", choices=["loop", "fused", "memory"], help=argparse.SUPPRESS)
    add("--backend", default="tensorflow", help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.worker:
        run_worker(args)
        return
    backends = args.backends.split(",")
    if args.backends == "all":
        backends = [name for name in ALL_BACKENDS if installed(name)]
    report = measure_all(args, backends)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
