"""Labelled pairs files: the input of a face-verification benchmark (``vigil evaluate pairs``).

Two formats are read, told apart by the first non-blank line:

* **CSV**, one pair a row: ``file_x,file_y,Decision``. File names are relative to the images directory and
  may name sub-folders. The decision is ``Yes``/``No``, ``same``/``different``, ``1``/``0`` or
  ``true``/``false``, in any case. The first row is taken for a header, and skipped, when its decision cell is
  none of those words and neither of its first two cells looks like a file name (contains a dot or a slash),
  as in ``file_x,file_y,Decision``.
* **LFW** ``pairs.txt``: a header of ``N`` or ``folds N``, then ``name n1 n2`` for two images of one person
  and ``name1 n1 name2 n2`` for two people, separated by tabs or spaces. Each fold holds ``N`` pairs of each
  kind, so the file has ``folds × N`` of each. Image ``n`` of ``name`` is
  ``images_dir/name/name_{n:04d}.jpg``.
  ``pairsDevTrain.txt`` and ``pairsDevTest.txt`` are the same format with a header of ``N``.

Blank lines and whitespace around fields are ignored. The files are only parsed here: whether the images
exist is left to the evaluator, which reports a missing image as a failed pair rather than a failed file.
"""

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from vigil.vision.errors import PairsFileError

SAME_WORDS = frozenset({"yes", "same", "1", "true"})
DIFFERENT_WORDS = frozenset({"no", "different", "0", "false"})
DECISION_WORDS = SAME_WORDS | DIFFERENT_WORDS


@dataclass(frozen=True)
class ImagePair:
    """Two face images and whether they show the same person.

    Attributes:
        first: the first image, resolved against the images directory.
        second: the second image, resolved against the images directory.
        same: True for a genuine pair (one person), False for an impostor pair (two people).
    """

    first: Path
    second: Path
    same: bool


def read_pairs(pairs_file: Path, images_dir: Path) -> list[ImagePair]:
    """Read a CSV or LFW pairs file, detecting which it is from its first non-blank line.

    Args:
        pairs_file: the pairs file.
        images_dir: the folder the file's image names are relative to.

    Returns:
        The pairs in file order; never empty. Paths are ``images_dir`` joined with the names in the file; they
        are not checked for existence.

    Raises:
        PairsFileError: the file is empty, not UTF-8, in neither format, has a line with the wrong number of
            fields, an unknown decision word or a bad image number, or (LFW) pair counts that disagree with
            its header. The message names the line.
        OSError: the file cannot be read (``FileNotFoundError`` when it does not exist).
    """
    lines = io.StringIO(_read_text(pairs_file), newline="").readlines()
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise PairsFileError(
            "expected CSV rows `file_x,file_y,Decision` or an LFW pairs.txt, found an empty file",
            path=pairs_file,
            line=1,
        )
    first_number, first_line = numbered[0]
    if "," in first_line:
        return _read_csv(lines, pairs_file=pairs_file, images_dir=images_dir)
    header = first_line.split()
    if len(header) <= 2 and all(_is_number(field) for field in header):
        return _read_lfw(numbered, pairs_file=pairs_file, images_dir=images_dir)
    raise PairsFileError(
        "expected a CSV row `file_x,file_y,Decision` or an LFW header (`N` or `folds N`), "
        f"found {first_line.strip()!r}",
        path=pairs_file,
        line=first_number,
    )


def _read_text(pairs_file: Path) -> str:
    data = pairs_file.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PairsFileError(
            f"expected UTF-8 text, found the byte 0x{data[exc.start]:02x}",
            path=pairs_file,
            line=data[: exc.start].count(b"\n") + 1,
        ) from exc


def _read_csv(lines: list[str], *, pairs_file: Path, images_dir: Path) -> list[ImagePair]:
    reader = csv.reader(lines, strict=True, skipinitialspace=True)
    pairs: list[ImagePair] = []
    first_row = True
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if first_row:
                first_row = False
                if _is_csv_header(cells):
                    continue
            pairs.append(_csv_pair(cells, pairs_file=pairs_file, line=reader.line_num, images_dir=images_dir))
    except csv.Error as exc:
        raise PairsFileError(
            f"expected a CSV row, found malformed quoting ({exc})", path=pairs_file, line=reader.line_num
        ) from exc
    if not pairs:
        raise PairsFileError(
            "expected pairs after the header row, found none",
            path=pairs_file,
            line=reader.line_num,
        )
    return pairs


def _is_csv_header(cells: list[str]) -> bool:
    # A header names columns, not files: no extension or folder in its first two cells.
    if len(cells) != 3:
        return False
    names_a_file = any(mark in cell for cell in cells[:2] for mark in "./\\")
    return cells[2].lower() not in DECISION_WORDS and not names_a_file


def _csv_pair(cells: list[str], *, pairs_file: Path, line: int, images_dir: Path) -> ImagePair:
    if len(cells) != 3:
        raise PairsFileError(
            f"expected 3 fields (file_x, file_y, decision), found {len(cells)}: {','.join(cells)!r}",
            path=pairs_file,
            line=line,
        )
    first, second, decision = cells
    for column, name in (("file_x", first), ("file_y", second)):
        if not name:
            raise PairsFileError(
                f"expected a file name in {column}, found an empty field",
                path=pairs_file,
                line=line,
            )
    word = decision.lower()
    if word not in DECISION_WORDS:
        raise PairsFileError(
            f"expected a decision (Yes/No, same/different, 1/0 or true/false), found {decision!r}",
            path=pairs_file,
            line=line,
        )
    return ImagePair(first=images_dir / first, second=images_dir / second, same=word in SAME_WORDS)


def _read_lfw(numbered: list[tuple[int, str]], *, pairs_file: Path, images_dir: Path) -> list[ImagePair]:
    header_line, header_text = numbered[0]
    header = [int(field) for field in header_text.split()]
    folds, per_fold = header if len(header) == 2 else [1, header[0]]
    if folds < 1 or per_fold < 1:
        raise PairsFileError(
            f"expected a header of positive counts (`N` or `folds N`), found {header_text.strip()!r}",
            path=pairs_file,
            line=header_line,
        )
    rows = numbered[1:]
    pairs = [_lfw_pair(line, text, pairs_file=pairs_file, images_dir=images_dir) for line, text in rows]
    same = sum(pair.same for pair in pairs)
    expected = folds * per_fold
    if same != expected or len(pairs) - same != expected:
        raise PairsFileError(
            f"the header declares {folds} fold(s) of {per_fold} same-person and {per_fold} different-person "
            f"pairs, so expected {expected} of each; found {same} same-person and {len(pairs) - same} "
            "different-person pairs",
            path=pairs_file,
            line=header_line,
        )
    return pairs


def _lfw_pair(line: int, text: str, *, pairs_file: Path, images_dir: Path) -> ImagePair:
    fields = text.split()
    if len(fields) == 3:
        name, first, second = fields
        return ImagePair(
            first=_lfw_image(images_dir, name, first, pairs_file=pairs_file, line=line),
            second=_lfw_image(images_dir, name, second, pairs_file=pairs_file, line=line),
            same=True,
        )
    if len(fields) == 4:
        first_name, first, second_name, second = fields
        return ImagePair(
            first=_lfw_image(images_dir, first_name, first, pairs_file=pairs_file, line=line),
            second=_lfw_image(images_dir, second_name, second, pairs_file=pairs_file, line=line),
            same=False,
        )
    raise PairsFileError(
        f"expected 3 fields (name n1 n2) or 4 (name1 n1 name2 n2), found {len(fields)}: {text.strip()!r}",
        path=pairs_file,
        line=line,
    )


def _lfw_image(images_dir: Path, name: str, number: str, *, pairs_file: Path, line: int) -> Path:
    if not _is_number(number) or int(number) < 1:
        raise PairsFileError(
            f"expected an image number (a whole number from 1) for {name}, found {number!r}",
            path=pairs_file,
            line=line,
        )
    return images_dir / name / f"{name}_{int(number):04d}.jpg"


def _is_number(field: str) -> bool:
    return field.isascii() and field.isdigit()
