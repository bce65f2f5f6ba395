"""benchmarks/compare.py: the README's comparison table, from runs' own files."""

import json
import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import compare  # noqa: E402

FIGURES = dict(parzen_ll=150.0, classifier_score=8.0, fid=20.0, classes_covered=10)


def finished_run(folder, d_accuracies, layout, kl=0.03):
    folder.mkdir(parents=True)
    (folder / "evaluate.json").write_text(json.dumps({**FIGURES, "kl_uniform": kl}))
    if layout == "printed":  # naive_keras3.py's stdout
        lines = [
            f"{i} [D loss: 0.7, acc.: {100 * a:.2f}%] [G loss: 0.7]\n"
            for i, a in enumerate(d_accuracies)
        ]
        (folder / "stdout.log").write_text("Model summary\n" + "".join(lines))
    else:
        path = folder / ("images/losses.csv" if layout == "gan.py" else "losses.csv")
        path.parent.mkdir(exist_ok=True)
        rows = [f"{i},0.7,{a},0.7\n" for i, a in enumerate(d_accuracies)]
        path.write_text("iteration,d_loss,d_accuracy,g_loss\n" + "".join(rows))
    return str(folder)


def test_one_row_per_label_with_mean_and_std_over_runs(tmp_path, capsys):
    naive = finished_run(tmp_path / "n", [1.0] * 500 + [0.25] * 1000, "printed")
    seeds = [
        finished_run(tmp_path / f"g{i}", [0.0] * 500 + [a] * 1000, "gan.py", kl=kl)
        for i, (a, kl) in enumerate([(0.5, 0.01), (0.75, 0.03)])
    ]
    compare.main([f"naive={naive}", *(f"gan.py={s}" for s in seeds)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| Model | runs | Parzen") and "last 1,000" in lines[0]
    assert lines[2] == "| naive | 1 | 150.0 | 8.00 | 20.00 | 10 | 0.030 | 25.0% |"
    assert lines[3].startswith("| gan.py | 2 | 150.0 +- 0.0 |")
    assert lines[3].endswith("| 0.020 +- 0.014 | 62.5 +- 17.7% |")  # the last 1,000
    (tmp_path / "g0" / "images" / "losses.csv").unlink()  # no loss log: one sentence
    with pytest.raises(SystemExit, match="has none of losses.csv"):
        compare.main([f"x={tmp_path / 'g0'}"])
