"""``vigil audit verify`` and ``vigil audit export`` on an intact and on a tampered trail."""

import itertools
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from tests.command.audit.conftest import Rehash, Tamper
from vigil.cli.app import create_app
from vigil.command.database import Database


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args), env=env)
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
        "not anchored: no checkpoint store given, so entries cut off the end, or an entry edited with every hash "
        "after it recomputed, cannot be found",
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


def test_an_auditor_checks_the_trail_against_the_checkpoints_with_the_public_key_alone(
    trail: Database, database_url: str, tmp_path: Path, tamper: Tamper, rehash: Rehash
) -> None:
    private, public, store = tmp_path / "checkpoint.key", tmp_path / "checkpoint.pub", tmp_path / "auditor"
    store.mkdir()
    code, _, err = _run("audit", "keys", "--signing-key", str(private), "--public-key", str(public))
    assert (code, private.stat().st_mode & 0o777) == (0, 0o600)
    assert re.fullmatch(
        rf"checkpoint signing key (\w{{16}}) in {private}: keep it secret, .*; give auditors {public}\n", err
    )
    write = ("audit", "checkpoint", "--db", database_url, "--checkpoints", str(store), "--signing-key", str(private))
    code, out, _ = _run(*write)
    assert (
        code,
        re.fullmatch(rf"checkpoint 1 in {store}: entry 6 \(6 entries\), hash \w{{64}}, signed by key \w{{16}}\n", out)
        is not None,
    ) == (0, True)
    auditor = ("audit", "verify", "--db", database_url, "--checkpoints", str(store), "--public-key", str(public))
    code, out, _ = _run(*auditor)
    assert code == 0
    assert re.fullmatch(
        r"checked against 1 checkpoint\(s\) in .*/audit-checkpoints.jsonl \(key \w{16}\); the newest \(signed "
        r"[0-9-]+ [0-9:]+ UTC\) is of entry 6; 0 entries after it are not anchored yet",
        out.splitlines()[-1],
    )

    tamper("UPDATE audit_log SET record_id = 'alert-9' WHERE seq = 2")
    rehash(2)
    code, out, _ = _run("audit", "verify", "--db", database_url)
    assert (code, out.startswith("the audit trail is intact: 7 entries;")) == (0, True)  # the finding
    code, out, _ = _run(*auditor)
    lines = out.splitlines()
    assert (code, lines[0]) == (1, "the audit trail has been tampered with (8 entries checked):")
    assert lines[1].startswith("  rewritten: entries 1 to 6 were rewritten from the first entry on (edited with the ")
    code, _, err = _run(*write)
    assert code == 1
    assert err.startswith("error: the audit trail does not extend checkpoint 1: entry 6, which it signed with hash ")


def test_the_server_s_store_and_key_are_found_in_the_environment(
    trail: Database, database_url: str, tmp_path: Path
) -> None:
    private, store = tmp_path / "checkpoint.key", tmp_path / "auditor"
    store.mkdir()
    _run("audit", "keys", "--signing-key", str(private), "--public-key", str(tmp_path / "checkpoint.pub"))
    env = {"VIGIL_AUDIT__CHECKPOINT_DIR": str(store), "VIGIL_AUDIT__CHECKPOINT_KEY_FILE": str(private)}
    code, out, _ = _run("audit", "checkpoint", "--db", database_url, "--json", env=env)
    assert (code, json.loads(out)["n"], json.loads(out)["seq"]) == (0, 1, 6)
    code, out, _ = _run("audit", "verify", "--db", database_url, "--json", env=env)
    assert (code, json.loads(out)["anchor"]["checkpoints"]) == (0, 1)
    code, _, err = _run("audit", "checkpoint", "--db", database_url)
    assert (code, err) == (
        1,
        "error: no checkpoint store or key: give --checkpoints and --signing-key, or set VIGIL_AUDIT__CHECKPOINT_DIR "
        "and VIGIL_AUDIT__CHECKPOINT_KEY_FILE\n",
    )
