"""Chapter 1's tables: they load, they are checked, and bad rows are refused."""

import pandas as pd
import pytest

from companion import history


def test_language_models_table_is_valid_and_sorted():
    models = history.load_language_models()
    assert set(models["family"]) == set(history.FAMILIES)
    assert models["year"].is_monotonic_increasing
    assert (models["parameters"] > 0).all()


def test_every_citation_exists_in_the_bibliography():
    bib = (history.DATA_DIR.parent / "book" / "references.bib").read_text(encoding="utf-8")
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
