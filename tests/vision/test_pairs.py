from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from vigil.vision.errors import PairsFileError, VisionError
from vigil.vision.pairs import ImagePair, read_pairs

IMAGES = Path("/data/faces")


def write(tmp_path: Path, content: str | bytes, name: str = "pairs.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("file_x,file_y,Decision\na/1.jpg,b/2.jpg,Yes\nc.jpg,d.jpg,No\n", id="header"),
        pytest.param("a/1.jpg,b/2.jpg,Yes\nc.jpg,d.jpg,No\n", id="no-header"),
        pytest.param(
            "\n  file_x , file_y , Decision \n\n a/1.jpg ,  b/2.jpg , yes \n   \nc.jpg,d.jpg,NO",
            id="spaces",
        ),
        pytest.param("file_x,file_y,Decision\r\na/1.jpg,b/2.jpg,Yes\r\nc.jpg,d.jpg,No\r\n", id="crlf"),
        pytest.param("\ufefffile_x,file_y,Decision\na/1.jpg,b/2.jpg,Yes\nc.jpg,d.jpg,No\n", id="bom"),
        pytest.param('"a/1.jpg","b/2.jpg","Yes"\nc.jpg,d.jpg,No\n', id="quoted"),
    ],
)
def test_read_csv_pairs(tmp_path: Path, content: str) -> None:
    assert read_pairs(write(tmp_path, content, "pairs.csv"), IMAGES) == [
        ImagePair(first=IMAGES / "a" / "1.jpg", second=IMAGES / "b" / "2.jpg", same=True),
        ImagePair(first=IMAGES / "c.jpg", second=IMAGES / "d.jpg", same=False),
    ]


def test_csv_file_name_may_hold_a_comma_when_quoted(tmp_path: Path) -> None:
    pairs = read_pairs(write(tmp_path, '"Smith, J.jpg",b.jpg,same\n'), IMAGES)
    assert pairs == [ImagePair(first=IMAGES / "Smith, J.jpg", second=IMAGES / "b.jpg", same=True)]


@pytest.mark.parametrize(
    ("word", "same", "expectation"),
    [
        ("Yes", True, nullcontext()),
        ("no", False, nullcontext()),
        ("SAME", True, nullcontext()),
        ("Different", False, nullcontext()),
        ("1", True, nullcontext()),
        ("0", False, nullcontext()),
        ("true", True, nullcontext()),
        ("FALSE", False, nullcontext()),
        ("maybe", None, pytest.raises(PairsFileError, match=r"line 1: expected a decision .* found 'maybe'")),
        ("2", None, pytest.raises(PairsFileError, match=r"line 1: expected a decision .* found '2'")),
        ("", None, pytest.raises(PairsFileError, match=r"line 1: expected a decision .* found ''")),
    ],
)
def test_csv_decision_words(
    tmp_path: Path, word: str, same: bool | None, expectation: AbstractContextManager[object]
) -> None:
    with expectation:
        pairs = read_pairs(write(tmp_path, f"x.jpg,y.jpg,{word}\n"), IMAGES)
        assert pairs == [ImagePair(first=IMAGES / "x.jpg", second=IMAGES / "y.jpg", same=bool(same))]


LFW_PAIRS = """2\t1
Abel_Pacheco\t1\t4
Abdullah\t3\tAbdullah_Ahmad_Badawi\t1
Aaron_Peirsol 12 2

Zico 1 Zhu_Rongji 10
"""


def test_read_lfw_pairs(tmp_path: Path) -> None:
    assert read_pairs(write(tmp_path, LFW_PAIRS), IMAGES) == [
        ImagePair(
            first=IMAGES / "Abel_Pacheco" / "Abel_Pacheco_0001.jpg",
            second=IMAGES / "Abel_Pacheco" / "Abel_Pacheco_0004.jpg",
            same=True,
        ),
        ImagePair(
            first=IMAGES / "Abdullah" / "Abdullah_0003.jpg",
            second=IMAGES / "Abdullah_Ahmad_Badawi" / "Abdullah_Ahmad_Badawi_0001.jpg",
            same=False,
        ),
        ImagePair(
            first=IMAGES / "Aaron_Peirsol" / "Aaron_Peirsol_0012.jpg",
            second=IMAGES / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg",
            same=True,
        ),
        ImagePair(
            first=IMAGES / "Zico" / "Zico_0001.jpg",
            second=IMAGES / "Zhu_Rongji" / "Zhu_Rongji_0010.jpg",
            same=False,
        ),
    ]


def test_read_lfw_dev_pairs_with_a_single_count(tmp_path: Path) -> None:
    # pairsDevTest.txt: a header of N, then N same-person and N different-person lines.
    content = "2\nA 1 2\nB 1 3\nA 1 B 1\nC 2 D 1\n"
    pairs = read_pairs(write(tmp_path, content, "pairsDevTest.txt"), IMAGES)
    assert [pair.same for pair in pairs] == [True, True, False, False]
    assert pairs[3] == ImagePair(
        first=IMAGES / "C" / "C_0002.jpg",
        second=IMAGES / "D" / "D_0001.jpg",
        same=False,
    )


@pytest.mark.parametrize(
    ("content", "expected_exception", "line", "match"),
    [
        ("", PairsFileError, 1, "found an empty file"),
        ("\n  \n\t\n", PairsFileError, 1, "found an empty file"),
        (
            "hello there world\n1 2 3 4\n",
            PairsFileError,
            1,
            r"expected a CSV row .* found 'hello there world'",
        ),
        ("\n\nAbel 1 2\n", PairsFileError, 3, r"or an LFW header \(`N` or `folds N`\), found 'Abel 1 2'"),
        ("file_x,file_y,Decision\n", PairsFileError, 1, "expected pairs after the header row, found none"),
        ("file_x,file_y,Decision\n\na.jpg,b.jpg\n", PairsFileError, 3, "expected 3 fields .*, found 2"),
        ("a.jpg,b.jpg,Yes,extra\n", PairsFileError, 1, "expected 3 fields .*, found 4"),
        ("a.jpg,b.jpg,Yes\n\n\nc.jpg,d.jpg,Perhaps\n", PairsFileError, 4, "found 'Perhaps'"),
        ("a.jpg, ,Yes\n", PairsFileError, 1, "expected a file name in file_y, found an empty field"),
        ('a.jpg,b.jpg,Yes\nc.jpg,"d.jpg,No\n', PairsFileError, 2, "malformed quoting"),
        ("1\nAbel 1 x\nA 1 B 2\n", PairsFileError, 2, "expected an image number .* for Abel, found 'x'"),
        ("1\nAbel 1 2\nA 1 B 2.0\n", PairsFileError, 3, "for B, found '2.0'"),
        ("1\nAbel 0 2\nA 1 B 2\n", PairsFileError, 2, "found '0'"),
        ("1\nAbel 1\nA 1 B 2\n", PairsFileError, 2, r"expected 3 fields \(name n1 n2\) or 4 .*, found 2"),
        ("1\nAbel 1 2\nA 1 B 2 C\n", PairsFileError, 3, "found 5"),
        (
            "2\nAbel 1 2\nA 1 B 2\n",
            PairsFileError,
            1,
            "expected 2 of each; found 1 same-person and 1 different",
        ),
        (
            "1\nAbel 1 2\nAbel 1 3\n",
            PairsFileError,
            1,
            "expected 1 of each; found 2 same-person and 0 different",
        ),
        ("10 300\n", PairsFileError, 1, r"10 fold\(s\) of 300 .* expected 3000 of each; found 0 same-person"),
        ("0\n", PairsFileError, 1, "expected a header of positive counts"),
        ("3 0\n", PairsFileError, 1, "expected a header of positive counts"),
        (
            b"a.jpg,b.jpg,Yes\nc\xff.jpg,d.jpg,No\n",
            PairsFileError,
            2,
            "expected UTF-8 text, found the byte 0xff",
        ),
    ],
)
def test_malformed_pairs_files(
    tmp_path: Path, content: str | bytes, expected_exception: type[Exception], line: int, match: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(expected_exception, match=match) as caught:
        read_pairs(path, IMAGES)
    assert isinstance(caught.value, PairsFileError)
    assert caught.value.line == line
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}, line {line}: ")


def test_pairs_file_error_is_a_vision_error() -> None:
    assert issubclass(PairsFileError, VisionError)


def test_missing_images_are_not_checked(tmp_path: Path) -> None:
    # The evaluator reports a missing image as a failed pair; reading the file must not refuse it.
    pairs = read_pairs(write(tmp_path, "gone.jpg,also-gone.jpg,No\n"), tmp_path / "no-such-folder")
    assert pairs == [
        ImagePair(
            first=tmp_path / "no-such-folder" / "gone.jpg",
            second=tmp_path / "no-such-folder" / "also-gone.jpg",
            same=False,
        )
    ]


def test_missing_pairs_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_pairs(tmp_path / "absent.txt", IMAGES)
