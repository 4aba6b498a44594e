"""Chapter 1's tables: they load, they are checked, and bad rows are refused."""

import pandas as pd
import pytest

from companion import history
from companion.paths import REPO_ROOT


def test_language_models_table_is_valid_and_sorted():
    models = history.load_language_models()
    assert set(models["family"]) == set(history.FAMILIES)
    assert models["year"].is_monotonic_increasing
    assert (models["parameters"] > 0).all()


def test_every_citation_exists_in_the_bibliography():
    bib = (REPO_ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(history.load_language_models()["citation"])
    keys |= {k for k in history.load_milestones()["citation"] if k}
    missing = [k for k in sorted(keys) if "{" + k + "," not in bib]
    assert not missing, f"citations missing from references.bib: {missing}"


def test_family_share_counts_by_hand():
    models = pd.DataFrame({"year": [2019, 2021, 2022, 2023],
                           "family": ["encoder-only", "decoder-only", "decoder-only",
                                      "encoder-decoder"]})
    share = history.family_share(models, since=2020)
    assert share["decoder-only"] == pytest.approx(2 / 3)
    assert share["encoder-only"] == 0.0
    with pytest.raises(ValueError, match="2030"):
        history.family_share(models, since=2030)


def test_unknown_family_is_named(tmp_path):
    path = tmp_path / "models.csv"
    path.write_text("name,year,organisation,parameters,family,citation\n"
                    "X,2020,Y,10,decoder-ish,k\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'decoder-ish'.*'X'"):
        history.load_language_models(path)


def test_milestones_must_be_chronological(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("year,event,era,citation\n2000,b,x,\n1990,a,x,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="chronological"):
        history.load_milestones(path)


def test_label_rows_are_even_and_in_order():
    assert history.label_rows([1950, 2000, 2001], top=1940, bottom=2010) == [1940, 1975, 2010]
    assert history.label_rows([2000], top=0, bottom=10) == [5]
    with pytest.raises(ValueError, match="chronological"):
        history.label_rows([2001, 2000], top=0, bottom=10)


def _text_boxes(ax):
    import matplotlib.pyplot as plt

    fig = ax.figure
    plt.tight_layout()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    return fig, [t.get_window_extent(renderer) for t in texts], texts


def test_timeline_labels_do_not_overlap_and_stay_in_the_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    milestones = history.load_milestones()
    ax = history.plot_timeline(milestones)
    fig, boxes, texts = _text_boxes(ax)
    assert len(texts) == 2 * len(milestones)  # a year and an event per milestone
    overlapping = [(texts[i].get_text(), texts[j].get_text())
                   for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                   if boxes[i].overlaps(boxes[j])]
    assert not overlapping, f"timeline labels overlap: {overlapping[:5]}"
    width, height = fig.canvas.get_width_height()
    outside = [t.get_text() for t, b in zip(texts, boxes, strict=True)
               if b.x0 < 0 or b.y0 < 0 or b.x1 > width or b.y1 > height]
    assert not outside, f"labels cut off at the figure's edge: {outside}"
    # legible on a phone: the figure is shown at most ~360 px wide there, so a 10.5 pt label at
    # the notebook's 100 dpi stays above 8 px
    scale = 360 / (fig.get_figwidth() * 100)
    smallest = min(t.get_fontsize() for t in texts) * 100 / 72 * scale
    assert smallest >= 8, f"smallest label would be {smallest:.1f} px on a phone"
    plt.close(fig)


def test_the_old_horizontal_layout_would_have_failed_the_overlap_check():
    """The check can fail: labels placed at their dates on one axis (the first version of the
    figure) collide in the crowded 2012-2024 years."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    milestones = history.load_milestones()
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for i, row in enumerate(milestones.itertuples()):
        height = (1 + (i % 3) * 0.55) * (1 if i % 2 == 0 else -1)
        ax.annotate(f"{row.year}: {row.event}", (row.year, height), fontsize=7.5, ha="center")
    ax.set_xlim(1940, 2026)
    ax.set_ylim(-2.9, 2.9)
    _, boxes, _ = _text_boxes(ax)
    assert any(boxes[i].overlaps(boxes[j])
               for i in range(len(boxes)) for j in range(i + 1, len(boxes)))
    plt.close(fig)
