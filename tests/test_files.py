"""Atomic JSON writes: all of the new file or all of the old one, never a mix or a leftover."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.files import write_json_atomically

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=30, deadline=None)
@given(JSON)
def test_what_is_written_reads_back_equal(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("out") / "results.json"
    write_json_atomically(path, payload)
    assert json.loads(path.read_text(encoding="utf-8")) == payload
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_a_failure_while_writing_keeps_the_old_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomically(path, {"old": 1})
    with pytest.raises(TypeError):
        write_json_atomically(path, {"new": object()})  # not JSON-serialisable, halfway through
    assert json.loads(path.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        write_json_atomically(tmp_path / "nowhere" / "results.json", {})


def test_the_file_is_readable_by_everyone_like_any_other_result(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomically(path, [1, 2])
    assert path.stat().st_mode & 0o777 == 0o644
