"""How fast is gan.py's training loop? Times it per backend, beside two yardsticks.

- "gan.py loop": `gan.train_iteration`, the iteration `python gan.py` runs, on real
  MNIST after warm-up, in repeats; the median counts.
- "fused step": the same arithmetic (G forward, two D updates, one G update through D)
  as one `jax.jit` function on the same inputs, the practical floor of this CPU;
  tests/test_benchmark.py checks that its losses and weights are gan.py's.
- "original": eriklindernoren's Keras-GAN script on Keras 2 (`tf_keras`), trained as it
  was written: benchmarks/original_keras2.py.

Each measurement runs in its own subprocess (Keras picks its backend at import), one
after another, so the figures are side by side. It reads a local mnist.npz (Keras's
layout) and never downloads one:

    MNIST_PATH=/path/to/mnist.npz python benchmarks/speed.py --backends tensorflow jax

`--memory N` adds the resident memory of N iterations; `--full-run` times a whole
`python gan.py` run and reports its peak resident memory. `--help` lists all flags.
"""

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]  # the repository root, where gan.py is
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import inputs

ORIGINAL = SCRIPT.parent / "original_keras2.py"
FULL_ITERATIONS = 30001  # a default `python gan.py` run
ALL_BACKENDS = ("tensorflow", "jax", "torch")
YARDSTICKS = ("original", "fused")
PACKAGES = ("keras", "tensorflow", "jax", "jaxlib", "torch", "tf_keras", "numpy")
TIMING = ("iterations", "repeats", "warmup")  # the flags the measuring scripts share
RSS_EVERY = 100  # --memory: read resident memory every this many iterations
RSS_WINDOW = 1000  # --memory: compare the first and the last this many iterations
RESULT = "SPEED_RESULT "  # a measuring script's one line of JSON starts with this


def installed(module):
    return importlib.util.find_spec(module) is not None


# -----------------------------------------------------------------------------
# What the measuring scripts share. A bad flag is one sentence, as gan.py's are.


def add_shared_flags(parser, min_repeats=1):
    """The flags of every measuring script: speed.py, its workers, the original."""
    for flag, low, high, default, what in (
        ("--iterations", 1, 100_000, 200, "timed iterations per repeat"),
        ("--repeats", min_repeats, 1000, 5, "runs of --iterations; the median counts"),
        ("--warmup", 0, 100_000, 50, "untimed iterations first"),
    ):
        what += f" (default: {default})"
        parser.add_argument(
            flag, type=inputs.whole_number(low, high), default=default, help=what
        )
    inputs.add_mnist_path(parser)


def mnist_file(args):
    """(path, source) of the local MNIST file; benchmarks never download it."""
    path, source = inputs.mnist_path(args)
    if not path:
        raise inputs.InputError(
            "no MNIST file: set MNIST_PATH or --mnist-path to a local mnist.npz in "
            "Keras's layout (benchmarks do not download it)"
        )
    return path, source


def parse_args(argv=None):
    parser = inputs.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add_shared_flags(parser, min_repeats=0)
    backend = os.environ.get("KERAS_BACKEND")
    backend = backend if backend in ALL_BACKENDS else "tensorflow"
    add(
        "--backends",
        choices=(*ALL_BACKENDS, "all"),
        default=[backend],
        nargs="+",
        metavar="NAME",
        help="gan.py's loop on these: tensorflow, jax, torch, or all that are "
        "installed (default: $KERAS_BACKEND if one of these, else tensorflow)",
    )
    add(
        "--yardsticks",
        choices=(*YARDSTICKS, "none"),
        default=YARDSTICKS,
        nargs="+",
        metavar="NAME",
        help="beside it: original (the Keras 2 script, needs tf_keras), fused "
        "(needs jax), or none (default: original fused)",
    )
    add(
        "--memory",
        type=inputs.whole_number(20, 10_000_000),
        metavar="N",
        help="resident memory over N iterations of gan.py's loop (first backend); "
        "with --repeats 0, only this",
    )
    add(
        "--full-run",
        action="store_true",
        help="time a whole `python gan.py`, report its peak memory (first backend)",
    )
    add("--full-run-args", type=shlex.split, default=[], help="e.g. '--iterations 300'")
    add("--json", action="store_true", help="print one JSON object instead")
    add("--worker", choices=["loop", "fused", "memory"], help=argparse.SUPPRESS)
    add("--backend", choices=ALL_BACKENDS, default="tensorflow", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats == 0 and args.memory is None and not args.full_run:
        parser.error("--repeats 0 times nothing; use it with --memory or --full-run")
    if "all" in args.backends:  # none installed: the default is refused below
        args.backends = [name for name in ALL_BACKENDS if installed(name)] or [backend]
    for name in args.backends:
        if not installed(name):
            parser.error(
                f"argument --backends: {name!r} is not installed; `pip install {name}`"
            )
    # In ALL_BACKENDS's and YARDSTICKS's order, each once; "none" is none of them.
    args.backends = [name for name in ALL_BACKENDS if name in args.backends]
    args.yardsticks = [name for name in YARDSTICKS if name in args.yardsticks]
    return args


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


def sanity(finite, before, after):
    """Does it train? Its losses all finite, and D's and G's weights moved: `before`
    and `after` each hold (D's, G's)."""
    d, g = (
        any(not np.array_equal(b, np.asarray(a)) for b, a in zip(old, new))
        for old, new in zip(before, after)
    )
    return {"losses_finite": bool(finite), "d_changed": d, "g_changed": g}


# -----------------------------------------------------------------------------
# The workers: each is a fresh interpreter on one Keras backend.


def draw_inputs(x_train, batch_size):
    """One iteration's random inputs (real batch, D's noise, G's noise), drawn from
    NumPy's global generator in the order `gan.train_iteration` draws them."""
    import gan

    real = x_train[np.random.randint(0, len(x_train), batch_size)]
    noise_d = gan.sample_noise(batch_size)  # train_discriminator's fake batch
    noise_g = gan.sample_noise(batch_size)  # train_generator's
    return real, noise_d, noise_g


def fused_step(generator, discriminator):
    """One iteration of gan.py as a single `jax.jit` function; needs KERAS_BACKEND=jax.

    Returns (step, state): `step(state, real, noise_d, noise_g)` returns the new state
    and the iteration's [d_loss, d_acc, g_loss], as `gan.train_iteration` returns them.
    `state` holds copies of the models' weights and fresh Adam slots, as gan.py's
    compiled models start: (G trainable, G non-trainable, D trainable, D
    non-trainable, D's Adam, G's Adam), each a tuple in its `variables` order. The step
    donates its state (XLA updates it in place): pass each state once. It calls clones
    of the models through Keras's stateless API: gan.py's arithmetic, models untouched.
    """
    import gan
    import jax
    import keras
    from keras import ops

    def clone(model):  # own variables and `trainable`, so gan.py's phases don't matter
        twin = keras.models.clone_model(model)
        twin.trainable = True
        for copy, original in zip(twin.variables, model.variables):
            copy.assign(original)
        optimizer = keras.optimizers.Adam(gan.LEARNING_RATE, beta_1=gan.BETA_1)
        optimizer.build(twin.trainable_variables)
        return twin, optimizer

    (G, g_optimizer), (D, d_optimizer) = clone(generator), clone(discriminator)

    def bce(labels, predictions):  # compile(loss="binary_crossentropy"): batch mean
        return ops.mean(keras.losses.binary_crossentropy(labels, predictions))

    def d_loss(d_trainable, d_other, images, labels):
        predictions, d_other = D.stateless_call(
            d_trainable, d_other, images, training=True
        )
        # metrics=["accuracy"]: binary, threshold 0.5
        accuracy = ops.mean(ops.cast(ops.equal(labels, predictions > 0.5), "float32"))
        return bce(labels, predictions), (d_other, accuracy)

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
            d_trainable, d_slots = d_optimizer.stateless_apply(
                d_slots, grads, d_trainable
            )
            d_logs.append(ops.stack([loss, acc]))
        # train_generator: D frozen, so gradients for G's weights only.
        (loss, g_other), grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_trainable, g_other, d_trainable, d_other, noise_g
        )
        g_trainable, g_slots = g_optimizer.stateless_apply(g_slots, grads, g_trainable)
        state = g_trainable, g_other, d_trainable, d_other, d_slots, g_slots
        return state, ops.concatenate([0.5 * (d_logs[0] + d_logs[1]), loss[None]])

    def copies(variables):  # the step donates its state: never the models' buffers
        return tuple(jax.numpy.array(v.value, copy=True) for v in variables)

    models = [(m.trainable_variables, m.non_trainable_variables) for m in (G, D)]
    optimizers = (d_optimizer.variables, g_optimizer.variables)
    state = tuple(copies(part) for part in (*models[0], *models[1], *optimizers))
    return jax.jit(step, donate_argnums=0), state


def resident_mib(field="VmRSS"):
    """This process's resident memory in MiB: now (VmRSS) or its peak (VmHWM)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024


def memory_over_iterations(step, iterations):
    """Resident memory every RSS_EVERY iterations: the means of the first and the last
    RSS_WINDOW, and the worker's peak, warm-up included."""
    every = min(RSS_EVERY, max(1, iterations // 10))  # short runs: still 10 samples
    window = min(RSS_WINDOW, iterations // 2)
    samples = []  # (iteration, MiB)
    for i in range(1, iterations + 1):
        step()
        if i % every == 0:
            samples.append((i, resident_mib()))
    first = statistics.mean(mib for i, mib in samples if i <= window)
    last = statistics.mean(mib for i, mib in samples if i > iterations - window)
    result = dict(iterations=iterations, window=window, first_mib=first, last_mib=last)
    return dict(result, peak_mib=resident_mib("VmHWM"), samples=samples)


def run_worker(args, path, source):
    """One worker: gan.py's loop ("loop", "memory") or the fused step ("fused") on one
    backend, from gan.py's freshly built models; prints its result line."""
    os.environ["KERAS_BACKEND"] = args.backend  # before anything imports Keras
    import gan
    import keras

    x_train = gan.load_mnist(path, source)
    keras.utils.set_random_seed(gan.SEED)
    models = generator, discriminator, _ = gan.build_gan()
    fused, state = None, None
    if args.worker == "fused":
        fused, state = fused_step(generator, discriminator)

    def weights():  # D's and G's, to see that they move
        if fused:
            return state[2], state[0]
        return discriminator.weights, generator.weights

    before, finite = [[np.asarray(w).copy() for w in ws] for ws in weights()], True

    def step():
        nonlocal state, finite
        if fused:
            state, losses = fused(state, *draw_inputs(x_train, gan.BATCH_SIZE))
        else:
            losses = gan.train_iteration(*models, x_train, gan.BATCH_SIZE)
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


# -----------------------------------------------------------------------------
# The parent: starts the measuring scripts one at a time, then prints the report.


def result_of(done):
    """The JSON of a finished measurement's SPEED_RESULT line, or {"error": ...}."""
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    last_line = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {done.returncode}: {last_line[0]}"}


def measure(name, kind, backend, args, *flags):
    """One measuring script in a fresh interpreter, the original or a worker of
    `kind`, with the shared flags; its result as a row of the report."""
    print(f"measuring {name} on {backend} ...", file=sys.stderr, flush=True)
    script = [SCRIPT, "--worker", kind, "--backend", backend, *flags]
    command = [sys.executable, *([ORIGINAL] if kind == "original" else script)]
    command += [f"--{key}={getattr(args, key)}" for key in TIMING]
    command += ["--mnist-path", args.mnist_path]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    row = {"name": name, "backend": backend, **result_of(done)}
    row.pop("losses", None)  # the original's, of every iteration
    if "ms" in row:
        row.update(median=statistics.median(row["ms"]), min=min(row["ms"]))
        row.update(max=max(row["ms"]), minutes=FULL_ITERATIONS * row["median"] / 60000)
    return row


def measure_full_run(backend, args):
    """`python gan.py` in a scratch folder: its wall time and peak resident memory."""
    gan_args = shlex.join(args.full_run_args)
    print(f"full run: python gan.py {gan_args} on {backend} ...", file=sys.stderr)
    env = dict(os.environ, KERAS_BACKEND=backend, MNIST_PATH=args.mnist_path)
    command = [sys.executable, ROOT / "gan.py", *args.full_run_args]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        # gan.py's log goes to our stderr, so that stdout stays the report.
        child = subprocess.Popen(command, cwd=folder, env=env, stdout=sys.stderr)
        # wait4 gives this child's own peak; RUSAGE_CHILDREN would mix in the workers'.
        _, status, usage = os.wait4(child.pid, 0)
        minutes = (time.perf_counter() - start) / 60
    row = {"backend": backend, "args": gan_args, "minutes": minutes}
    row.update(exit=os.waitstatus_to_exitcode(status), peak_mib=usage.ru_maxrss / 1024)
    return row


def machine():
    cpu = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        models = [line.split(":")[1].strip() for line in f if "model name" in line]
        cpu = models[0] if models else cpu
    return {"cpu": cpu, "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}


def versions():
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    return found


def measure_all(args):
    """Every measurement asked for, one after another; the report as a dict."""
    report = {"machine": machine(), "versions": versions(), "notes": []}
    report["settings"] = {key: getattr(args, key) for key in TIMING}
    plan = [("gan.py loop", "loop", name) for name in args.backends]  # kind, backend
    if "original" in args.yardsticks:
        plan.insert(0, ("original", "original", "tf_keras"))
    if "fused" in args.yardsticks:
        plan.append(("fused step", "fused", "jax"))
    rows = report["results"] = []
    for name, kind, backend in plan if args.repeats else []:
        if installed(backend):  # tf_keras and jax too: the yardsticks need them
            rows.append(measure(name, kind, backend, args))
        else:
            report["notes"].append(f"{backend} is not installed: no {name}")
    timed = [row for row in rows if "ms" in row]
    original = [row["median"] for row in timed if row["name"] == "original"]
    for row in timed:
        row["speedup"] = original[0] / row["median"] if original else None
    first, memory = args.backends[0], ("--memory", str(args.memory))
    if args.memory:
        report["memory"] = measure("memory", "memory", first, args, *memory)
    if args.full_run:
        report["full_run"] = measure_full_run(first, args)
    report["machine"]["load_after"] = os.getloadavg()[0]
    return report


def print_report(report):
    m, s = report["machine"], report["settings"]
    load = f"load average {m['load_before']:.2f} before, {m['load_after']:.2f} after"
    print(f"Machine: {m['cpu']}, {m['cpus']} CPUs; {load}")
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
        figures = [f"{r[key]:.2f}" for key in ("median", "min", "max")]
        figures += [
            f"{r['minutes']:.1f}",
            f"{r['speedup']:.1f}x" if r["speedup"] else "-",
        ]
        print(line.format(r["name"], r["backend"], *figures))
        if not all(r["sanity"].values()):
            print(f"  WARNING: this does not train: {r['sanity']}")
    r = report.get("memory")
    if r and "error" in r:
        print(f"\nMemory, gan.py {r['backend']}: failed: {r['error']}")
    elif r:
        print(
            f"\nMemory, gan.py {r['backend']}, {r['iterations']} iterations: peak "
            f"{r['peak_mib']:.0f} MiB; mean resident {r['first_mib']:.1f} MiB in the "
            f"first {r['window']}, {r['last_mib']:.1f} MiB in the last {r['window']} "
            f"({r['last_mib'] - r['first_mib']:+.1f} MiB)"
        )
    if r := report.get("full_run"):
        print(
            f"\nFull run, python gan.py {r['args']} on {r['backend']}: exit "
            f"{r['exit']}, {r['minutes']:.2f} minutes wall, peak resident "
            f"{r['peak_mib']:.0f} MiB"
        )
    for note in report["notes"]:
        print("Note: " + note)


def main(argv=None):
    args = parse_args(argv)
    path, source = mnist_file(args)  # bad input raises InputError: one sentence
    if args.worker:
        return run_worker(args, path, source)
    inputs.read_mnist(path, source)  # a bad file is refused now, not in each worker
    args.mnist_path = os.path.abspath(path)  # the workers run elsewhere
    report = measure_all(args)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
