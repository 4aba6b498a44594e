"""Chapter 1, "From Turing to Transformers": the milestone and model tables, and their figures.

The tables live in ``data/`` (see ``data/language_models.md``); these loaders check them, so a
typo in a CSV fails a test instead of silently bending a figure.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from companion.paths import DATA

DATA_DIR = DATA
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


def plot_timeline(milestones: pd.DataFrame, ax=None):
    """A horizontal timeline: one labelled tick per milestone, alternating above and below."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 5.5))
    eras = list(dict.fromkeys(milestones["era"]))
    colors = dict(zip(eras, plt.get_cmap("tab10").colors, strict=False))
    ax.axhline(0, color="black", linewidth=1)
    for i, row in enumerate(milestones.itertuples()):
        height = (1 + (i % 3) * 0.55) * (1 if i % 2 == 0 else -1)
        ax.vlines(row.year, 0, height, color=colors[row.era], linewidth=1)
        ax.scatter([row.year], [0], color=colors[row.era], zorder=3)
        ax.annotate(f"{row.year}: {row.event}", (row.year, height), fontsize=7.5,
                    ha="center", va="bottom" if height > 0 else "top", wrap=True)
    for era, color in colors.items():
        ax.scatter([], [], color=color, label=era)
    ax.legend(loc="lower left", fontsize=8, title="era")
    ax.set_ylim(-2.9, 2.9)
    ax.set_yticks([])
    ax.set_xlabel("year")
    ax.set_title("Eighty years from a logical neuron to a chat model on a laptop")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
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
