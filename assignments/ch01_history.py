# Assignment source for chapter 1 (history). Generate the notebooks with
# `python -m companion.teaching.notebooks student` (format: companion/teaching/source.py).
# ruff: noqa: E402, F811

# %% [markdown]
# # Assignment 1: Reading the history from data
#
# Chapter 1 tells the story from attention to agents with a table of notable language models
# (`data/sets/language_models.csv`: name, year, organisation, parameter count, architecture family).
# Here you turn that table into the chapter's claims yourself: how fast did the largest models
# grow, and when did decoder-only models take over? Run each `%%check` cell after your answer: it
# prints `[passed]` or what went wrong. The grader runs these checks and hidden ones.
#
# Expected time on a laptop CPU: every cell runs in well under a second.

# %%
import numpy as np
import pandas as pd

from companion.history import load_language_models

models = load_language_models()
models[["name", "year", "parameters", "family"]].head()

# %% [markdown] question=largest_per_year points=2
# ## Exercise 1: the largest model of each year (2 points)
#
# Write `largest_per_year(df)` returning a `pandas.Series` indexed by year (ascending) whose value
# is the largest parameter count released that year.

# %% solution
def largest_per_year(df: pd.DataFrame) -> pd.Series:
    """Year -> the largest ``parameters`` among that year's models."""
    # BEGIN SOLUTION
    return df.groupby("year")["parameters"].max().sort_index()
    # END SOLUTION

# %% public
largest = largest_per_year(models)
assert largest.index.is_monotonic_increasing
assert largest.loc[2018] == 340_000_000, "BERT-large is the largest model of 2018 in the table"

# %% hidden
frame = pd.DataFrame({"year": [2020, 2019, 2020, 2019], "parameters": [5, 7, 9, 1]})
assert largest_per_year(frame).to_dict() == {2019: 7, 2020: 9}
expected = {y: g["parameters"].max() for y, g in models.groupby("year")}
assert largest_per_year(models).to_dict() == expected

# %% [markdown] question=doubling_time points=3
# ## Exercise 2: how fast did the largest models grow? (3 points)
#
# Fit a straight line $\log_2 N = a\,\mathrm{year} + b$ by least squares to the largest model of
# each year from `since` to `until` (inclusive). The size then doubles every $1/a$ years. Write
# `doubling_time_months(df, since, until)` returning $12/a$.

# %% solution
def doubling_time_months(df: pd.DataFrame, since: int, until: int) -> float:
    """Months for the largest model size to double, from a least-squares fit of log2(N)."""
    # BEGIN SOLUTION
    largest = largest_per_year(df).loc[since:until]
    years = largest.index.to_numpy(dtype=float)
    logs = np.log2(largest.to_numpy(dtype=float))
    centred = years - years.mean()
    slope = (centred * (logs - logs.mean())).sum() / (centred**2).sum()
    return 12.0 / slope
    # END SOLUTION

# %% public
months = doubling_time_months(models, 2017, 2020)
print(f"2017-2020: the largest model doubled every {months:.1f} months")
assert 0 < months < 12, "from the Transformer to GPT-3 the growth was faster than 2x a year"

# %% hidden
for since, until in [(2017, 2020), (2018, 2022), (2017, 2024)]:
    largest = models.groupby("year")["parameters"].max().loc[since:until]
    slope = np.polyfit(largest.index.to_numpy(float), np.log2(largest.to_numpy(float)), 1)[0]
    assert abs(doubling_time_months(models, since, until) - 12 / slope) < 1e-6, (since, until)

# %% hidden
frame = pd.DataFrame({"year": [2000, 2001, 2002], "parameters": [1, 4, 16]})
assert abs(doubling_time_months(frame, 2000, 2002) - 6.0) < 1e-9

# %% [markdown] question=family_share points=3
# ## Exercise 3: when did decoder-only models take over? (3 points)
#
# Write `family_share(df, since)`: among the models released in or after `since`, the fraction
# in each of the three families, as a `pandas.Series` indexed by
# `["encoder-only", "decoder-only", "encoder-decoder"]` (in that order, 0.0 for a family with no
# model). Raise `ValueError` if no model was released in or after `since`.

# %% solution
FAMILIES = ["encoder-only", "decoder-only", "encoder-decoder"]


def family_share(df: pd.DataFrame, since: int) -> pd.Series:
    """Fraction of the models released in or after ``since`` in each architecture family."""
    # BEGIN SOLUTION
    recent = df[df["year"] >= since]
    if recent.empty:
        raise ValueError(f"no models released in or after {since}")
    return recent["family"].value_counts(normalize=True).reindex(FAMILIES, fill_value=0.0)
    # END SOLUTION

# %% public
share = family_share(models, 2021)
print(share.round(2))
assert list(share.index) == ["encoder-only", "decoder-only", "encoder-decoder"]
assert abs(share.sum() - 1) < 1e-9 and share["decoder-only"] > 0.5

# %% hidden
from companion import history

for since in (2017, 2019, 2021, 2023):
    pd.testing.assert_series_equal(family_share(models, since), history.family_share(models, since),
                                   check_names=False)

# %% hidden
try:
    family_share(models, 3000)
except ValueError:
    pass
else:
    raise AssertionError("family_share(models, 3000) should raise ValueError")
