"""The catalogue of shipped rules in rules.md is generated from rewritediff/rules/*.rules and must be current."""

from __future__ import annotations

from rewritediff import catalogue
from rewritediff.rules import rule_files
from rewritediff.rules.parser import parse


def test_catalogue_is_current():
    text = catalogue.RULES_MD.read_text()
    assert catalogue.BEGIN in text and catalogue.END in text
    assert catalogue.update(text) == text, "rules.md: the rule catalogue is stale; run `python -m rewritediff.catalogue`"


def test_catalogue_lists_every_shipped_rule_with_file_and_line():
    section = catalogue.generate()
    for path in rule_files():
        assert f"### {path.name}" in section
        for rule in parse(path.read_text(), path.name).rules:
            assert f"[{path.name}:{rule.source.line}](rewritediff/rules/{path.name}#L{rule.source.line})" in section


def test_hand_written_reference_is_kept():
    text = catalogue.RULES_MD.read_text()
    head = text[: text.index(catalogue.BEGIN)]
    assert head.startswith("# The rewritediff rule language")
    assert "## Checking `d` rules against SymPy" in head


def test_update_replaces_only_the_section(tmp_path):
    doc = "# Title\n\nintro\n\n" + catalogue.BEGIN + "\nold\n" + catalogue.END + "\n\n## After\n"
    new = catalogue.update(doc, catalogue.BEGIN + "\nnew\n" + catalogue.END)
    assert new == "# Title\n\nintro\n\n" + catalogue.BEGIN + "\nnew\n" + catalogue.END + "\n\n## After\n"
    path = tmp_path / "r.md"
    path.write_text(doc)
    assert catalogue.main([str(path), "--check"]) == 1
    assert catalogue.main([str(path)]) == 0
    assert catalogue.main([str(path), "--check"]) == 0
