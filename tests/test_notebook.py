"""gan.py in a real Jupyter kernel, run as a notebook runs it (nbclient): `%run gan.py`
with flags and without trains and prints its log lines and Keras's progress bar, a
kernel interrupt stops it with the `%run ... --resume` line that continues it and no
error, `!python gan.py` works too, and the kernel is left as it was: its interrupt
handler, matplotlib's inline backend."""

import asyncio
import os
import re
import shlex
import sys

import pytest
from conftest import GAN

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

pytestmark = pytest.mark.slow

SETUP = """\
import signal, matplotlib
def kernel_state():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    return handlers, matplotlib.get_backend()
before = kernel_state()
before"""
# In the same cell as %run: after the cell, ipykernel puts its own handler back.
CHECK = "\nassert kernel_state() == before, (kernel_state(), before)"
LOG_LINE = r"\d+ \[D loss: [\d.]+, acc\.: [\d.]+%\] \[G loss: [\d.]+\] *"
BAR = re.compile(r" *\d+/\d+ ━")


def shown(cell):
    """A cell's stdout as Jupyter (or a terminal) shows it: colours dropped, each \\r
    back to the start of its line, writing over what is there."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    text = re.sub(r"\x1b\[[\d;]*m|\x08", "", text)
    lines = []
    for line in text.split("\n"):
        screen = ""
        for part in line.split("\r"):
            screen = part + screen[len(part) :]
        lines.append(screen)
    return lines


def check_lines(lines, iterations):
    """The log lines, whole (no end of a bar after one), and at most one bar left."""
    logs = [line for line in lines if "[D loss" in line]
    for line in logs:
        assert re.fullmatch(LOG_LINE, line), line
    assert [int(line.split()[0]) for line in logs] == iterations
    assert sum(bool(BAR.match(line)) for line in lines) <= 1, lines  # no flood


async def notebook(folder, mnist_path):
    """Runs the cells in one kernel in `folder`; returns each cell's shown lines."""
    nb = nbformat.v4.new_notebook()
    client = nbclient.NotebookClient(
        nb, timeout=600, resources={"metadata": {"path": str(folder)}}
    )
    env = dict(os.environ, MNIST_PATH=mnist_path, KERAS_BACKEND="tensorflow")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    async with client.async_setup_kernel(env=env):

        async def run(source, interrupt_after=None):
            """Executes a cell; interrupts the kernel once a line starts with
            `interrupt_after`, as Jupyter's stop button does."""
            cell = nbformat.v4.new_code_cell(source)
            nb.cells.append(cell)
            index = len(nb.cells) - 1
            task = asyncio.ensure_future(client.async_execute_cell(cell, index))
            while interrupt_after and not task.done():
                if any(line.startswith(interrupt_after) for line in shown(cell)):
                    await client.km.interrupt_kernel()
                    break
                await asyncio.sleep(0.1)
            await task  # raises CellExecutionError if the cell ends in an error
            assert not [o for o in cell.outputs if o.output_type == "error"]
            return cell

        await run(SETUP)
        gan = shlex.quote(str(GAN))
        intervals = "--sample-interval 20 --checkpoint-interval 1000"
        flags = f"--iterations 100 {intervals}"
        # With flags, stopped after its first log line, then resumed as it says.
        stopped = shown(await run(f"%run {gan} {flags}" + CHECK, "0 [D loss"))
        check_lines(stopped, [0])
        report = [i for i, line in enumerate(stopped) if line.startswith("Stopped")]
        assert re.fullmatch(
            r"Stopped after iteration \d+\. To continue: *", stopped[report[0]]
        )
        command = stopped[report[0] + 1].rstrip()
        assert command == f"%run {gan} {flags} --resume"
        resumed = shown(await run(command + CHECK))
        check_lines(resumed, [20, 40, 60, 80])
        assert any(BAR.match(line) for line in resumed), "no progress bar"
        assert not [line for line in resumed if "Stopped" in line]
        # In a subprocess: a pseudo-terminal (IPython's), the bar redrawn in place.
        piped = shown(await run(f"!{sys.executable} {gan} --iterations 30 {intervals}"))
        check_lines(piped, [0, 20])
        # Without flags: 30,001 iterations, so stopped too.
        plain = shown(await run(f"%run {gan}" + CHECK, "0 [D loss"))
        check_lines(plain, [0])
        assert plain[plain.index(f"%run {gan} --resume") - 1].startswith("Stopped")
        # Figures still show inline.
        figure = await run(
            "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"
        )
        assert [o for o in figure.outputs if "image/png" in o.get("data", {})]
        return nb


def test_run_in_a_notebook(tmp_path, mnist_path):
    asyncio.run(notebook(tmp_path, mnist_path))
