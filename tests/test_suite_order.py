"""The suite's own order: the files it starts first exist (a renamed file would silently drop to the end)."""

from tests.conftest import REPO, SLOW_FILES_FIRST


def test_every_file_started_first_exists_and_is_named_once() -> None:
    assert [path for path in SLOW_FILES_FIRST if not (REPO / path).is_file()] == []
    assert len(set(SLOW_FILES_FIRST)) == len(SLOW_FILES_FIRST)
