"""How fast is gan.py's training loop? Times it per backend, beside two yardsticks.

- "gan.py loop": `gan.train_iteration`, the one iteration `python gan.py` runs (a real
  batch, `train_discriminator`, `train_generator`), on real MNIST, after warm-up, in
  repeats; the median counts.
- "fused step": the same arithmetic as one iteration as a single `jax.jit` function
  (G forward, two D updates, one G update through D) on the same inputs: the practical
  floor of this CPU. tests/test_benchmark.py checks that its losses are gan.py's.
- "original": eriklindernoren's Keras-GAN script as written, on Keras 2 (`tf_keras`):
  benchmarks/original_keras2.py.

Every measurement runs in its own subprocess (Keras picks its backend at import), one
after another, so the figures are side by side on the same machine. It reads a local
mnist.npz (Keras's layout) and never downloads one:

    MNIST_PATH=/path/to/mnist.npz python benchmarks/speed.py --backends all

`--memory N` adds the resident memory of N iterations; `--full-run` times a whole
`python gan.py` run and reports its peak resident memory. `--help` lists all flags.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
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
from inputs import InputError

# -----------------------------------------------------------------------------
# Constants

ORIGINAL = SCRIPT.parent / "original_keras2.py"
FULL_ITERATIONS = 30001  # a default `python gan.py` run
ALL_BACKENDS = ("tensorflow", "jax", "torch")
YARDSTICKS = ("original", "fused")
PACKAGES = ("keras", "tensorflow", "jax", "jaxlib", "torch", "tf_keras", "numpy")
RSS_EVERY = 100  # --memory: read resident memory every this many iterations
RSS_WINDOW = 1000  # --memory: compare the first and the last this many iterations
RESULT = "SPEED_RESULT "  # a worker's one line of JSON for the parent starts with this


def installed(module):
    return importlib.util.find_spec(module) is not None


# -----------------------------------------------------------------------------
# Flags: each bad one is refused with one sentence, as gan.py's are.


def names(choices, all_word=None, none_word=None, available=lambda name: True):
    """An argparse type: a comma list of `choices` (in their order, each once);
    `all_word` means every available one, `none_word` none."""

    def parse(text):
        text = text.strip()
        if text == none_word:
            return []
        if text == all_word:
            found = [name for name in choices if available(name)]
            if not found:
                raise argparse.ArgumentTypeError(
                    f"none of {', '.join(choices)} is installed"
                )
            return found
        given = [name.strip() for name in text.split(",")]
        words = ", ".join(choices + tuple(w for w in (all_word, none_word) if w))
        for name in given:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"{name!r} is not one of {words}")
            if not available(name):
                raise argparse.ArgumentTypeError(
                    f"{name!r} is not installed; `pip install {name}`"
                )
        return [name for name in choices if name in given]

    return parse


def command_line(text):
    """An argparse type: flags as a shell would split them."""
    try:
        return shlex.split(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"cannot split {text!r}: {err}") from None


def add_timing_flags(parser, min_repeats=1):
    """The flags speed.py's workers and original_keras2.py share."""
    add = parser.add_argument
    add(
        "--iterations",
        type=inputs.whole_number(1, 100_000),
        default=200,
        help="timed iterations per repeat (default: 200)",
    )
    add(
        "--repeats",
        type=inputs.whole_number(min_repeats, 1000),
        default=5,
        help="timed runs of --iterations each; the median counts (default: 5)"
        + ("; 0 times nothing, for --memory or --full-run" if min_repeats == 0 else ""),
    )
    add(
        "--warmup",
        type=inputs.whole_number(0, 100_000),
        default=50,
        help="untimed iterations first (default: 50)",
    )


def check_mnist_path(path):
    if not path:
        raise InputError(
            "no MNIST file: set MNIST_PATH or --mnist-path to a local mnist.npz in "
            "Keras's layout (benchmarks do not download it)"
        )


def parse_args(argv=None):
    parser = inputs.ArgumentParser(prog="speed.py", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add_timing_flags(parser, min_repeats=0)
    add(
        "--backends",
        type=names(ALL_BACKENDS, "all", available=installed),
        default=os.environ.get("KERAS_BACKEND") or "tensorflow",
        help="gan.py's loop on these: a comma list of tensorflow, jax, torch, or "
        "'all' that are installed (default: $KERAS_BACKEND, else tensorflow)",
    )
    add(
        "--yardsticks",
        type=names(YARDSTICKS, none_word="none"),
        default="original,fused",
        help="beside it, a comma list of: original (the Keras 2 script, needs "
        "tf_keras), fused (needs jax); or none (default: original,fused)",
    )
    add("--mnist-path", help="a local mnist.npz (default: $MNIST_PATH)")
    add(
        "--memory",
        type=inputs.whole_number(20, 10_000_000),
        metavar="N",
        help="resident memory over N iterations of gan.py's loop (first backend)",
    )
    add(
        "--full-run",
        action="store_true",
        help="time a whole `python gan.py`, report its peak memory (first backend)",
    )
    add(
        "--full-run-args",
        type=command_line,
        default=[],
        help="its flags, e.g. '--iterations 300'",
    )
    add("--json", action="store_true", help="print one JSON object instead")
    add("--worker", choices=["loop", "fused", "memory"], help=argparse.SUPPRESS)
    add("--backend", choices=ALL_BACKENDS, default="tensorflow", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats == 0 and args.memory is None and not args.full_run:
        parser.error("--repeats 0 times nothing; use it with --memory or --full-run")
    return args


# -----------------------------------------------------------------------------
# Timing


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


# -----------------------------------------------------------------------------
# What the workers time. Each worker is a fresh interpreter on one Keras backend.


def snapshot(weights):
    return [np.array(w) for w in weights]


def moved(before, after):
    return any(not np.array_equal(b, np.asarray(a)) for b, a in zip(before, after))


def gan_loop(x_train):
    """(step, sanity): one `gan.train_iteration` per call, on gan.py's own models."""
    import gan
    import keras

    keras.utils.set_random_seed(gan.SEED)
    generator = gan.build_generator()
    discriminator = gan.build_discriminator()
    combined = gan.build_combined(generator, discriminator)
    d_before, g_before = snapshot(discriminator.weights), snapshot(generator.weights)
    finite = True

    def step():
        nonlocal finite
        losses = gan.train_iteration(
            generator, discriminator, combined, x_train, gan.BATCH_SIZE
        )
        finite = finite and bool(np.isfinite(losses).all())

    def sanity():
        return {
            "losses_finite": finite,
            "d_changed": moved(d_before, discriminator.weights),
            "g_changed": moved(g_before, generator.weights),
        }

    return step, sanity


def draw_inputs(x_train, batch_size):
    """One iteration's random inputs (real batch, D's noise, G's noise), drawn from
    NumPy's global generator in the order `gan.train_iteration` draws them."""
    import gan

    real = x_train[np.random.randint(0, len(x_train), batch_size)]
    noise_d = gan.sample_noise(batch_size)  # train_discriminator's fake batch
    noise_g = gan.sample_noise(batch_size)  # train_generator's
    return real, noise_d, noise_g


def fused_step(generator, discriminator):
    """One iteration of gan.py as a single `jax.jit` function over explicit state.

    Returns (step, state): `step(state, real, noise_d, noise_g)` returns the new state
    and the iteration's [d_loss, d_acc, g_loss], as `gan.train_iteration` returns them.
    `state` starts from copies of the models' current weights, with fresh Adam(
    LEARNING_RATE, BETA_1) slots for D and for G, as gan.py's compiled models start:
    (G trainable, G non-trainable, D trainable, D non-trainable, D's Adam, G's Adam),
    each a tuple in the order of the models' (and optimizers') `variables`. The step
    donates its state (XLA updates it in place): pass each state once.
    Needs KERAS_BACKEND=jax. It calls clones of the models through Keras's stateless
    API, so the arithmetic is gan.py's own and the models themselves stay untouched.
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
        return twin

    generator, discriminator = clone(generator), clone(discriminator)
    d_optimizer = keras.optimizers.Adam(gan.LEARNING_RATE, beta_1=gan.BETA_1)
    g_optimizer = keras.optimizers.Adam(gan.LEARNING_RATE, beta_1=gan.BETA_1)
    d_optimizer.build(discriminator.trainable_variables)
    g_optimizer.build(generator.trainable_variables)

    def bce(labels, predictions):  # compile(loss="binary_crossentropy"): batch mean
        return ops.mean(keras.losses.binary_crossentropy(labels, predictions))

    def accuracy(labels, predictions):  # metrics=["accuracy"]: binary, threshold 0.5
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

    def step(state, real, noise_d, noise_g):
        g_trainable, g_other, d_trainable, d_other, d_slots, g_slots = state
        # train_discriminator: G in inference mode, as predict_on_batch, then one D
        # update on the real batch (label 1) and one on the fake batch (label 0).
        fake, _ = generator.stateless_call(g_trainable, g_other, noise_d)
        d_logs = []
        for images, label in ((real, 1.0), (fake, 0.0)):
            labels = ops.full((images.shape[0], 1), label)
            (loss, (d_other, acc)), grads = jax.value_and_grad(d_loss, has_aux=True)(
                d_trainable, d_other, images, labels
            )
            d_trainable, d_slots = d_optimizer.stateless_apply(
                d_slots, grads, d_trainable
            )
            d_logs.append((loss, acc))
        (loss_real, acc_real), (loss_fake, acc_fake) = d_logs
        # train_generator: D frozen, so gradients for G's weights only.
        (loss, g_other), grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_trainable, g_other, d_trainable, d_other, noise_g
        )
        g_trainable, g_slots = g_optimizer.stateless_apply(g_slots, grads, g_trainable)
        state = g_trainable, g_other, d_trainable, d_other, d_slots, g_slots
        logs = [0.5 * (loss_real + loss_fake), 0.5 * (acc_real + acc_fake), loss]
        return state, ops.stack(logs)

    def copies(variables):  # the step donates its state: never the models' buffers
        return tuple(jax.numpy.array(v.value, copy=True) for v in variables)

    state = (
        copies(generator.trainable_variables),
        copies(generator.non_trainable_variables),
        copies(discriminator.trainable_variables),
        copies(discriminator.non_trainable_variables),
        copies(d_optimizer.variables),
        copies(g_optimizer.variables),
    )
    return jax.jit(step, donate_argnums=0), state


def fused_loop(x_train):
    """(step, sanity): one fused step per call, from gan.py's freshly built models."""
    import gan
    import keras

    keras.utils.set_random_seed(gan.SEED)
    generator, discriminator = gan.build_generator(), gan.build_discriminator()
    compiled, state = fused_step(generator, discriminator)
    d_before, g_before = snapshot(state[2]), snapshot(state[0])
    finite = True

    def step():
        nonlocal state, finite
        state, logs = compiled(state, *draw_inputs(x_train, gan.BATCH_SIZE))
        logs = np.asarray(logs)  # to the host every iteration, as gan.py's losses
        finite = finite and bool(np.isfinite(logs).all())

    def sanity():
        return {
            "losses_finite": finite,
            "d_changed": moved(d_before, state[2]),
            "g_changed": moved(g_before, state[0]),
        }

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
    import gan

    x_train = gan.load_mnist(args.mnist_path, "--mnist-path")
    step, sanity = (fused_loop if args.worker == "fused" else gan_loop)(x_train)
    result = {"backend": args.backend}
    if args.worker == "memory":
        for _ in range(args.warmup):
            step()
        result.update(memory_over_iterations(step, args.memory))
    else:
        result["ms"] = time_iterations(step, args.iterations, args.repeats, args.warmup)
    result["sanity"] = sanity()
    print(RESULT + json.dumps(result), flush=True)


# -----------------------------------------------------------------------------
# The parent: starts the workers one at a time, then prints the report.


def run_measurement(what, command, env=None):
    """Runs one measuring script in a fresh interpreter; its result line as a dict,
    or {"error": ...}."""
    print(f"measuring {what} ...", file=sys.stderr, flush=True)
    env = dict(os.environ, **(env or {}))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return result_of(done)


def result_of(done):
    """The JSON of a finished measurement's SPEED_RESULT line, or {"error": ...}."""
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    last_line = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {done.returncode}: {last_line[0]}"}


def timing_flags(args):
    return [f"--{k}={getattr(args, k)}" for k in ("iterations", "repeats", "warmup")]


def spawn_worker(kind, backend, args, extra=()):
    command = [sys.executable, str(SCRIPT), "--worker", kind, "--backend", backend]
    command += [*timing_flags(args), "--mnist-path", args.mnist_path, *extra]
    result = run_measurement(
        f"{kind} on {backend}", command, {"KERAS_BACKEND": backend}
    )
    return {"backend": backend, **result}


def measure_original(args):
    command = [sys.executable, str(ORIGINAL), *timing_flags(args)]
    command += ["--mnist-path", args.mnist_path]
    result = run_measurement("the original on tf_keras", command)
    result.pop("losses", None)
    return {"backend": "tf_keras", **result}


def measure_full_run(backend, args):
    """`python gan.py` in a scratch folder: its wall time and peak resident memory."""
    gan_args = shlex.join(args.full_run_args)
    print(f"full run: python gan.py {gan_args} on {backend} ...", file=sys.stderr)
    env = dict(os.environ, KERAS_BACKEND=backend, MNIST_PATH=args.mnist_path)
    command = [sys.executable, str(ROOT / "gan.py"), *args.full_run_args]
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
            found = [line.split(":")[1].strip() for line in f if "model name" in line]
        cpu = found[0] if found else cpu
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


def measure_all(args):
    """Every measurement asked for, one after another; the report as a dict."""
    report = {"machine": machine(), "versions": versions(), "notes": []}
    report["settings"] = {k: vars(args)[k] for k in ("iterations", "repeats", "warmup")}
    rows = []
    if args.repeats and "original" in args.yardsticks:
        if installed("tf_keras"):
            rows.append({"name": "original", **measure_original(args)})
        else:
            report["notes"].append("tf_keras is not installed: no original")
    if args.repeats:
        for backend in args.backends:
            rows.append({"name": "gan.py loop", **spawn_worker("loop", backend, args)})
    if args.repeats and "fused" in args.yardsticks:
        if installed("jax"):
            rows.append({"name": "fused step", **spawn_worker("fused", "jax", args)})
        else:
            report["notes"].append("jax is not installed: no fused step")
    original = [
        statistics.median(r["ms"])
        for r in rows
        if r["name"] == "original" and "ms" in r
    ]
    report["results"] = [add_statistics(r, original and original[0]) for r in rows]
    if args.memory:
        extra = ["--memory", str(args.memory)]
        report["memory"] = spawn_worker("memory", args.backends[0], args, extra)
    if args.full_run:
        report["full_run"] = measure_full_run(args.backends[0], args)
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
    if "full_run" in report:
        r = report["full_run"]
        print(
            f"\nFull run, python gan.py {r['args']} on {r['backend']}: exit "
            f"{r['exit']}, {r['minutes']:.2f} minutes wall, peak resident "
            f"{r['peak_mib']:.0f} MiB"
        )
    for note in report["notes"]:
        print("Note: " + note)


def main(argv=None):
    args = parse_args(argv)
    source = inputs.mnist_source(args)
    args.mnist_path = args.mnist_path or os.environ.get("MNIST_PATH", "")
    try:
        check_mnist_path(args.mnist_path)
        if args.worker:
            return run_worker(args)
        inputs.read_mnist(args.mnist_path, source)  # a bad file: one sentence, now
    except InputError as err:
        sys.exit(f"speed.py: error: {err}")
    args.mnist_path = os.path.abspath(args.mnist_path)  # the workers run elsewhere
    report = measure_all(args)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
