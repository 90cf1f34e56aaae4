"""The catalog's side of signs of under-elicitation (`when: {sign: ...}`): what it accepts,
what it refuses with a message naming the field, and that a stored definition reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresholds import bundled_catalog, bundled_registry
from warden.catalog.definitions import rebuild, stored
from warden.catalog.signs import Sign
from warden.catalog.thresholds import load_catalog
from warden.core.errors import CatalogError

HEAD = """
benchmarks:
  - {id: bench, title: B, aliases: [Bench-Alias], metrics: {acc: {scale: fraction}}}
thresholds:
  - id: e.bench.sign
    title: t
    domain: elicitation
    level: early_warning
    sources: [{title: s, url: "https://example.org/"}]
    then: {severity: info}
"""


def load(tmp_path: Path, when: str, extra: str = "") -> Sign:
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + f"    when: {when}\n" + extra)
    (t,) = load_catalog([path]).thresholds
    assert isinstance(t.when, Sign)
    return t.when


def test_a_sign_names_its_rule_and_parameters(tmp_path: Path) -> None:
    w = load(
        tmp_path, "{sign: {rule: predecessor_drop, benchmark: bench, metric: acc, drop: 0.05}}"
    )
    assert (w.rule, w.drop, w.z, w.tolerance, w.without_stderr) == (
        "predecessor_drop", 0.05, 2.0, None, 0.05,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("when", "extra", "message"),
    [
        ("{sign: {rule: slump, benchmark: bench, metric: acc}}", "",
         r"when\.sign\.rule: one of predecessor_drop, elicitation_drop, below_vendor"),
        ("{sign: {rule: below_vendor, benchmark: nope, metric: acc}}", "",
         r"when\.sign\.benchmark: 'nope' is in no registry file"),
        ("{sign: {rule: below_vendor, benchmark: Bench-Alias, metric: acc}}", "",
         r"'Bench-Alias' is an alias: use the canonical id 'bench'"),
        ("{sign: {rule: below_vendor, benchmark: bench, metric: accuracy}}", "",
         r"when\.sign\.metric: 'accuracy' is not one of \['acc'\]"),
        ("{sign: {rule: predecessor_drop, benchmark: bench, metric: acc, against: [own]}}", "",
         r"against: only below_vendor compares measurers"),
        ("{sign: {rule: predecessor_drop, benchmark: bench, metric: acc, drop: -1}}", "",
         r"drop"),
        ("{sign: {rule: below_vendor, benchmark: bench, metric: acc}, benchmark: bench}", "",
         r"when: sign stands alone"),
        ("{sign: {rule: below_vendor, benchmark: bench, metric: acc}}", "    warn_at: 0.1\n",
         r"warn_at: does not apply to sign"),
        ("{sign: {rule: below_vendor, benchmark: bench, metric: acc}}", "    scope: frontier\n",
         r"scope: a sign is judged per model"),
        ("{sign: {rule: below_vendor, benchmark: bench, metric: acc}}", "    for: 2\n",
         r"for: a sign is one comparison"),
    ],
)  # fmt: skip
def test_a_sign_the_evaluation_could_not_honour_is_a_catalog_error(
    tmp_path: Path, when: str, extra: str, message: str
) -> None:
    with pytest.raises(CatalogError, match=message):
        load(tmp_path, when, extra)


def test_a_duration_before_firing_is_allowed(tmp_path: Path) -> None:
    load(tmp_path, "{sign: {rule: below_vendor, benchmark: bench, metric: acc}}", '    for: "1d"\n')


def test_every_bundled_threshold_reads_back_from_its_stored_definition() -> None:
    """Replay rebuilds a threshold from the definition kept under its version, which leaves
    defaults out: a kind told apart by a defaulted `kind` (signs, and conflicts and divergences
    before they required it) could not be read back."""
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    assert len([t for t in catalog.thresholds if isinstance(t.when, Sign)]) == 9
    for version, tid, text in stored(catalog.thresholds):
        assert type(rebuild(version, text).when) is type(catalog.by_id(tid).when), tid
