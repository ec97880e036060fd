"""``vigil audit verify`` and ``vigil audit export`` on an intact and on a tampered trail."""

import itertools
import json
from pathlib import Path

from typer.testing import CliRunner

from tests.command.audit.conftest import Tamper
from vigil.cli.app import create_app
from vigil.command.database import Database


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_verify_says_the_trail_is_intact_then_names_what_was_tampered_with(
    trail: Database, database_url: str, tamper: Tamper
) -> None:
    code, out, _ = _run("audit", "verify", "--db", database_url)
    assert (code, out.startswith("the audit trail is intact: 6 entries; head: entry 6, hash ")) == (0, True)

    tamper("UPDATE audit_log SET record_id = 'alert-9' WHERE seq = 2; DELETE FROM audit_log WHERE seq = 5")
    code, out, _ = _run("audit", "verify", "--db", database_url)
    assert code == 1
    assert out.splitlines() == [
        "the audit trail has been tampered with (6 entries checked):",
        "  edited: entry 2 was edited: its content no longer matches its hash",
        "  missing: entry 5 is missing: entry 6 was written after an entry that is no longer there",
    ]
    code, out, _ = _run("audit", "verify", "--db", database_url, "--json")
    report = json.loads(out)
    assert (code, report["intact"], [(p["kind"], p["seq"]) for p in report["problems"]]) == (
        1,
        False,
        [("edited", 2), ("missing", 5)],
    )


def test_export_writes_one_entry_per_line_with_its_hashes(trail: Database, database_url: str, tmp_path: Path) -> None:
    out_file = tmp_path / "audit.jsonl"
    code, out, _ = _run("audit", "export", "--db", database_url, "--out", str(out_file), "--json")
    written = json.loads(out)
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert (code, written["entries"], written["last_seq"]) == (0, 6, 6)
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert all(line["prev_hash"] == before["hash"] for before, line in itertools.pairwise(lines))
    assert (lines[0]["prev_hash"], lines[-1]["hash"]) == ("0" * 64, written["last_hash"])
    assert lines[2]["details"] == {"n": 3}

    code, out, _ = _run("audit", "export", "--db", database_url, "--out", str(out_file), "--from", "2999-01-01")
    assert (code, out_file.read_text()) == (0, "")
    code, out, _ = _run("audit", "verify", "--db", database_url, "--json")
    # verify and export record themselves: 6 entries, the first export, the empty export
    assert json.loads(out)["entries"] == 8
