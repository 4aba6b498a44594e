"""Chapter 1, "From Turing to Transformers": the milestone and model tables, and their figures.

The tables live in ``data/sets/`` (see ``data/sets/language_models.md``); these loaders check
them, so a typo in a CSV fails a test instead of silently bending a figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from companion.paths import SETS

DATA_DIR = SETS
FAMILIES: tuple[str, ...] = ("encoder-only", "decoder-only", "encoder-decoder")
FAMILY_COLORS = {"encoder-only": "tab:blue", "decoder-only": "tab:orange",
                 "encoder-decoder": "tab:green"}


def load_language_models(path: Path | None = None) -> pd.DataFrame:
    """Notable language models: ``name, year, organisation, parameters, family, citation``.

    Raises ``ValueError`` naming the row when a family is unknown or a count is not positive.
    """
    df = pd.read_csv(path or DATA_DIR / "language_models.csv")
    expected = ["name", "year", "organisation", "parameters", "family", "citation"]
    if list(df.columns) != expected:
        raise ValueError(
            f"language model table has columns {list(df.columns)}; expected {expected}"
        )
    bad = df[~df["family"].isin(FAMILIES)]
    if len(bad):
        raise ValueError(f"unknown family {bad.iloc[0]['family']!r} for {bad.iloc[0]['name']!r}; "
                         f"expected one of {FAMILIES}")
    if (df["parameters"] <= 0).any():
        raise ValueError("parameter counts must be positive")
    return df.sort_values(["year", "name"], ignore_index=True)


def load_milestones(path: Path | None = None) -> pd.DataFrame:
    """Dated milestones: ``year, event, era, citation`` (citation may be empty)."""
    df = pd.read_csv(path or DATA_DIR / "milestones.csv", keep_default_na=False)
    expected = ["year", "event", "era", "citation"]
    if list(df.columns) != expected:
        raise ValueError(f"milestone table has columns {list(df.columns)}; expected {expected}")
    if not df["year"].is_monotonic_increasing:
        raise ValueError("milestones must be listed in chronological order")
    return df


def family_share(models: pd.DataFrame, since: int) -> pd.Series:
    """Fraction of models in each family among those released in or after ``since``."""
    recent = models[models["year"] >= since]
    if recent.empty:
        raise ValueError(f"no models released in or after {since}")
    return recent["family"].value_counts(normalize=True).reindex(FAMILIES, fill_value=0.0)


def label_rows(years: Sequence[float], top: float, bottom: float) -> list[float]:
    """Where each milestone's label goes on a vertical timeline: evenly spaced rows from ``top``
    to ``bottom`` (in years), in the milestones' order.

    Dates cluster (nine of them after 2012) but rows cannot: each label gets its own row and a
    leader line to its date. Because both the dates and the rows are in order, no two leader
    lines cross.
    """
    years = list(years)
    if any(b < a for a, b in zip(years, years[1:], strict=False)):
        raise ValueError(f"years must be in chronological order, got {years}")
    if len(years) == 1:
        return [(top + bottom) / 2]
    step = (bottom - top) / (len(years) - 1)
    return [top + i * step for i in range(len(years))]


def plot_timeline(milestones: pd.DataFrame, ax=None, wrap: int = 44):
    """A vertical timeline: the year axis on the left, one row per milestone on the right,
    joined by a leader line from its date to its label; colour marks the era.

    Labels never overlap (``tests/test_history.py`` measures their boxes) and are set large
    enough to read at page width and on a phone.
    """
    import textwrap

    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 9.0))
    years = milestones["year"].tolist()
    top, bottom = years[0] - 2, years[-1] + 2
    rows = label_rows(years, top, bottom)
    eras = list(dict.fromkeys(milestones["era"]))
    colors = dict(zip(eras, plt.get_cmap("tab10").colors, strict=False))
    for era in eras:
        span = milestones[milestones["era"] == era]["year"]
        ax.plot([0, 0], [span.min(), span.max()], color=colors[era], linewidth=6,
                solid_capstyle="round", alpha=0.45, label=era)
    for row, y_label in zip(milestones.itertuples(), rows, strict=True):
        color = colors[row.era]
        ax.plot([0, 0.25, 0.6], [row.year, row.year, y_label], color=color, linewidth=1)
        ax.scatter([0], [row.year], color=color, s=22, zorder=3)
        ax.text(0.65, y_label, str(row.year), va="center", ha="left", fontsize=10.5,
                fontweight="bold")
        event = textwrap.fill(row.event, wrap, break_on_hyphens=False)
        ax.text(1.25, y_label, event, va="center", ha="left", fontsize=10.5, linespacing=1.1)
    ax.set_xlim(-0.35, 5.2)
    ax.set_ylim(bottom + 1, top - 1)  # time runs downwards
    ax.set_yticks(range(10 * (years[0] // 10), years[-1] + 1, 10))
    ax.tick_params(axis="y", labelsize=10)
    ax.set_xticks([])
    ax.set_ylabel("year")
    for side in ("right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    ax.legend(title="era", loc="upper left", fontsize=9.5, title_fontsize=9.5, frameon=False,
              bbox_to_anchor=(0.0, 0.0), ncol=3)
    ax.set_title("Eighty years from a logical neuron to a chat model on a laptop", fontsize=12,
                 pad=14)
    return ax


def plot_parameters(models: pd.DataFrame, ax=None):
    """Parameter count against release year on a log scale, coloured by architecture family."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    for family in FAMILIES:
        part = models[models["family"] == family]
        ax.scatter(part["year"], part["parameters"], label=family, s=40,
                   color=FAMILY_COLORS[family])
        for row in part.itertuples():
            ax.annotate(row.name, (row.year, row.parameters), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("year of release")
    ax.set_ylabel("parameters (log scale)")
    ax.set_title("Models grew thousands of times over, and the decoder-only family took over")
    ax.legend(title="family")
    ax.grid(True, which="major", alpha=0.3)
    return ax
