"""A CSV log is read a block of text at a time and split into lines in C: whatever the block
size, the rows and the line each starts on are those of reading line by line — line endings
``\\n``, ``\\r\\n`` (also when a block ends between its two characters) and ``\\r``, line breaks
inside quoted fields, characters that ``str.splitlines`` would take for line ends — and a line
longer than the limit is refused with its number, wherever the blocks fall."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from flowengine.errors import InvalidInput
from flowengine.eventlog import csv_reader
from flowengine.eventlog.csv_reader import CsvLog

HEADER = "case:concept:name,concept:name,time:timestamp,org:resource"
BODY = ('c-1,received,2024-03-01T09:00:00Z,kari\r\n'
        'c-1,"checked\r\nand noted",2024-03-02T09:00:00Z,kari\n'
        'c-2,"a\u2028b\x1cc",2024-03-03T09:00:00Z,ola\r'
        '\n'
        'c-2,"long ' + "x" * 40 + '",2024-03-04T09:00:00Z,"ola\nnordmann"\r\n'
        'c-3,done,2024-03-05T09:00:00Z,\r')


def line_by_line(path: Path) -> list[tuple[int, list[str]]]:
    """(line, row) as reading one physical line at a time gives them."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        found, line = [], reader.line_num + 1
        for row in reader:
            if row:
                found.append((line, row))
            line = reader.line_num + 1
    return found


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 64, 1 << 20])
def test_rows_and_their_lines_do_not_depend_on_the_block_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(csv_reader, "BLOCK_CHARS", block)
    log = tmp_path / "log.csv"
    log.write_bytes(f"{HEADER}\r\n{BODY}".encode())
    reader = CsvLog(log)
    wanted = reader.header
    read = [(line, list(values)) for line, values in reader.rows(wanted)]
    assert read == line_by_line(log)
    assert [line for line, _ in read] == [2, 3, 5, 6, 8]


@pytest.mark.parametrize("block", [1, 4, 7, 64])
def test_a_line_longer_than_the_limit_is_refused_with_its_number_wherever_the_blocks_fall(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(csv_reader, "BLOCK_CHARS", block)
    monkeypatch.setattr(csv_reader, "MAX_LINE_CHARS", 60)
    log = tmp_path / "long.csv"
    log.write_text(f"{HEADER}\nc-1,received,2024-03-01T09:00:00Z,kari\n{',' * 61}\nc-2,x,y,z\n",
                   encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"long\.csv:3: the line is longer than 60"):
        list(CsvLog(log).rows(["case:concept:name"]))


def test_a_line_as_long_as_the_limit_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "BLOCK_CHARS", 7)
    monkeypatch.setattr(csv_reader, "MAX_LINE_CHARS", 60)
    row = "c-1,received,2024-03-01T09:00:00Z,"
    row += "k" * (60 - len(row))
    log = tmp_path / "exact.csv"
    log.write_bytes(f"{HEADER}\r\n{row}\r\n{row}\r".encode())
    assert [line for line, _ in CsvLog(log).rows(["case:concept:name"])] == [2, 3]


def test_lines_split_in_blocks_are_the_lines_a_text_file_reads() -> None:
    text = "a\r\nb\rc\n\nd\u2028e\x1cf\r\r\ng"
    for block in range(1, 12):
        original = csv_reader.BLOCK_CHARS
        csv_reader.BLOCK_CHARS = block
        try:
            lines = list(csv_reader._lines(io.StringIO(text, newline=""), "t", 1))
        finally:
            csv_reader.BLOCK_CHARS = original
        assert lines == list(io.StringIO(text, newline="")), block
