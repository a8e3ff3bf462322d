import warnings

from PIL import Image

from tenken.eval.plots import plot_metric_bars, plot_size_recall, plot_threshold_curves
from tenken.viz.fonts import japanese_font_path


def rows(recall):
    return {
        "size_quartiles": [
            {"name": f"Q{i + 1}", "recall": recall[i], "agreement": 0.5, "recall_label": 0.4} for i in range(4)
        ],
        "size_lower_bounds": [{"name": "100 px or larger", "recall": None, "agreement": None}],
    }


def test_plots_write_pngs_and_render_japanese_without_missing_glyphs(tmp_path):
    import matplotlib

    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for unrenderable text
        p1 = plot_size_recall([rows([0.2, 0.4, 0.6, 0.8]), rows([0.3] * 4)], ["モデルA", "model B"], tmp_path / "a.png")
        curve = {f"{t / 100:g}": 1 - t / 100 for t in range(50, 100, 5)}
        p2 = plot_threshold_curves([{"curve": curve}], ["検証"], tmp_path / "b.png")
        p3 = plot_metric_bars(
            {"ベースライン": {"rouge_l": 40.0}, "微調整": {"rouge_l": 55.0}}, tmp_path / "c.png", "比較"
        )
    for p in (p1, p2, p3):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] >= 600
    assert dict(matplotlib.rcParams) == before  # no global restyling


def test_plot_text_uses_the_bundled_japanese_font(tmp_path):
    from matplotlib.figure import Figure

    from tenken.eval import plots

    seen = []
    original = plots._finish

    def spy(fig: Figure, ax, font, title, path):
        out = original(fig, ax, font, title, path)
        seen.append((ax.title.get_fontproperties().get_file(), ax.xaxis.label.get_fontproperties().get_file()))
        return out

    plots._finish = spy
    try:
        plots.plot_metric_bars({"a": {"x": 1.0}}, tmp_path / "d.png", "日本語")
    finally:
        plots._finish = original
    assert seen == [(str(japanese_font_path()), str(japanese_font_path()))]


def test_missing_values_are_marked_not_drawn_as_zero():
    # an empty size row (no boxes: recall NaN/None) and a real 0 were the same empty bar
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from tenken.eval.plots import _bars

    fig, ax = plt.subplots()
    _bars(ax, np.arange(3), [0.0, None, float("nan")], 0.4, "run")
    assert [t.get_text() for t in ax.texts] == ["0.00", "–", "–"]
    plt.close(fig)
