"""gan.py as a notebook: jupytext's gan.ipynb, papermill, and a real kernel's cells."""

import asyncio
import os
import re
import shlex
import sys

import pytest
from helpers import GAN

NOTEBOOK = GAN.with_suffix(".ipynb")


def test_the_notebook_is_gan_py_converted_by_jupytext():
    jupytext = pytest.importorskip("jupytext", reason="the notebook is made by it")
    made, committed = jupytext.read(GAN, fmt="py:percent"), jupytext.read(NOTEBOOK)

    def cells(nb):
        return [(c.cell_type, c.source, c.metadata) for c in nb.cells]

    regenerate = "regenerate it: jupytext --to ipynb --set-kernel python3 gan.py"
    assert cells(made) == cells(committed), f"gan.ipynb is not gan.py's; {regenerate}"
    assert committed.metadata["kernelspec"]["name"] == "python3", regenerate
    assert not [c for c in committed.cells if c.get("outputs")], "no outputs"


nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")


def pictures(cells):
    outputs = [o for c in cells for o in c.get("outputs", [])]
    return [o for o in outputs if "image/png" in o.get("data", {})]


def execute(folder, **parameters):
    """gan.ipynb run by papermill in folder, in the python3 kernel."""
    papermill = pytest.importorskip("papermill")
    return papermill.execute_notebook(
        str(NOTEBOOK), str(folder / "out.ipynb"), parameters, cwd=str(folder),
        progress_bar=False, kernel_name="python3",
    )  # fmt: skip


@pytest.mark.slow
def test_papermill_runs_the_notebook_with_parameters(tmp_path, mnist_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # opened alone, it says so
    with pytest.raises(pytest.importorskip("papermill").PapermillExecutionError) as e:
        execute(tmp_path)
    assert "needs inputs.py, pictures.py and safekeeping.py beside" in str(e.value)
    assert "ModuleNotFoundError" not in str(e.value)
    monkeypatch.setenv("PYTHONPATH", str(GAN.parent))  # inputs.py, pictures.py, ...
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    nb = execute(tmp_path, ITERATIONS=3, SAMPLE_INTERVAL=1, MNIST_PATH=mnist_path)
    outs = [o for c in nb.cells for o in c.get("outputs", [])]
    out = "".join(o.get("text", o.get("data", {}).get("text/plain", "")) for o in outs)
    out = re.sub(r"\x1b\[[\d;]*m", "", out)  # the summaries' colours
    assert "Total params: 1,493,520" in out and "Total params: 533,505" in out
    logs = [int(line.split()[0]) for line in out.splitlines() if "[D loss" in line]
    assert logs == [0, 1, 2]
    assert len(pictures(nb.cells)) == 4  # three grids, then the loss plot
    assert {"0.png", "1.png", "2.png"} <= set(os.listdir(tmp_path / "images"))


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
    """A cell's stdout as Jupyter shows it: no colours, each \\r over its line."""
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
    where = {"metadata": {"path": str(folder)}}
    client = nbclient.NotebookClient(nb, timeout=600, resources=where)
    env = dict(os.environ, MNIST_PATH=mnist_path, KERAS_BACKEND="tensorflow")
    env.update(PYTHONPATH=str(GAN.parent), TF_CPP_MIN_LOG_LEVEL="2")  # `import gan`
    async with client.async_setup_kernel(env=env):

        async def run(source, interrupt_after=None, error=False):
            """Executes a cell, interrupted (stop button) at `interrupt_after`."""
            cell = nbformat.v4.new_code_cell(source)
            nb.cells.append(cell)
            index = len(nb.cells) - 1
            task = asyncio.ensure_future(client.async_execute_cell(cell, index))
            while interrupt_after and not task.done():
                if any(line.startswith(interrupt_after) for line in shown(cell)):
                    await client.km.interrupt_kernel()
                    break
                await asyncio.sleep(0.1)
            try:
                await task  # raises CellExecutionError if the cell ends in an error
            except nbclient.exceptions.CellExecutionError:
                assert error
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert len(errors) == error, errors
            return errors[0] if error else cell

        await run(SETUP)
        # import gan; gan.main(): the constants as edited, not the kernel's argv.
        edited = "import gan\ngan.ITERATIONS, gan.SAMPLE_INTERVAL = 3, 1\ngan.main()"
        cell = await run(edited + CHECK)
        check_lines(shown(cell), [0, 1, 2])
        assert len(pictures([cell])) == 4  # each grid inline, then the loss plot
        # A bad constant: one line, no traceback.
        (line,) = (await run("gan.BATCH_SIZE = 0\ngan.main()", error=True)).traceback
        assert line == "error: BATCH_SIZE (--batch-size) must be at least 1, got 0"
        # Stopped, then continued as the report says.
        stop = "gan.BATCH_SIZE, gan.ITERATIONS, gan.START_OVER = 32, 100, True\n"
        stopped = shown(await run(stop + "gan.main()" + CHECK, "0 [D loss"))
        report = stopped[stopped.index("gan.RESUME = True; gan.main()") - 1]
        assert report.startswith("Stopped after iteration")
        resume = "gan.START_OVER = False\ngan.RESUME = True; gan.main()"
        resumed = shown(await run(resume))
        assert [line for line in resumed if "[D loss" in line][-1].startswith("99 ")
        gan = shlex.quote(str(GAN))
        intervals = "--sample-interval 20 --checkpoint-interval 1000"
        flags = f"--iterations 100 {intervals}"
        # With flags, stopped after its first log line, then resumed as it says.
        stopped = shown(await run(f"%run {gan} {flags}" + CHECK, "0 [D loss"))
        check_lines(stopped, [0])
        report = [i for i, line in enumerate(stopped) if line.startswith("Stopped")][0]
        assert re.fullmatch(
            r"Stopped after iteration \d+\. To continue: *", stopped[report]
        )
        command = stopped[report + 1].rstrip()
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
        plot = "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"
        assert pictures([await run(plot)])
        return nb


def test_run_in_a_notebook(tmp_path, mnist_path):
    asyncio.run(notebook(tmp_path, mnist_path))
