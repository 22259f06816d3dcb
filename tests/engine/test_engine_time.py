"""The engine-time benchmark's bytecode column: a count of work that machine load does not move."""

from __future__ import annotations

import pytest

from benchmarks.engine_time import count_bytecodes, main


def test_bytecodes_count_the_work_done() -> None:
    def loop(n: int) -> None:
        total = 0
        for i in range(n):
            total += i

    small, large = count_bytecodes(lambda: loop(100)), count_bytecodes(lambda: loop(1000))
    assert 0 < small < large
    assert 4 < (large - small) / 900 < 20  # a few instructions per iteration of the loop


def test_engine_time_prints_a_bytecode_column(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "W8", "--runs", "1", "--bytecodes"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| W8")]
    assert len(rows) == 1
    cells = [float(x) for x in rows[0].split("|")[2:7]]
    assert len(cells) == 5 and all(x > 0 for x in cells)
