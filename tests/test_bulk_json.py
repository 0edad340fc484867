"""The import stores JSON columns exactly as ``json.dumps`` (SQLAlchemy's JSON type) writes them,
though through an encoder built once: the same text for every value an event can hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flowengine.store import bulk

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(st.dictionaries(st.text(), values, max_size=6))
def test_a_stored_json_object_is_the_text_json_dumps_writes(value: dict[str, Any]) -> None:
    assert bulk._dumps(value) == json.dumps(value)


def test_an_object_json_cannot_store_is_refused_as_json_dumps_refuses_it() -> None:
    for dumps in (json.dumps, bulk._dumps):
        try:
            dumps({"at": object()})
        except TypeError as error:
            assert "not JSON serializable" in str(error)
        else:
            raise AssertionError(f"{dumps} stored an object")
