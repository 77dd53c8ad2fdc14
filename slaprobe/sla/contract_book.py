"""A province's contracts: one tender, signed separately per carrier (and per signer), "统招分签".

A contract file either is one contract (the old format: one contract covering every carrier, kept
working unchanged) or holds the tender's shared terms at the top level plus a ``contracts:`` mapping of
the signed contracts, each overriding what it signs differently::

    year: 2022
    carriers: {telecom: {...}, unicom: {...}}     # the tender: every carrier, tiers, rules
    tiers: {...}
    payments: {budget: ..., installments: [...]}   # the province's own figures (the seed's)
    contracts:
      telecom-2022:
        carriers: [telecom]                        # which carriers (ids of the top-level carriers)
        regions: [haikou, sanya]                   # optional: only these regions (a city's own contract)
        signer: {zh: 海南省大数据管理局}
        payments: {budget: ..., installments: [...]}   # what was paid under THIS contract
        tiers: {...}                               # optional: its own price list, rules, versions ...

Each signed contract is the top level with its own keys replacing the tender's (a key given replaces
the whole key; ``payments`` is never inherited, because the province's installments are the sum of the
contracts', not each contract's). Every problem is reported as ``file: contracts.ID: key: problem``.
The province's installments, when given, must equal the sum of the contracts' per cash quarter, and
its budget the sum of theirs: the seed's totals stay verbatim and the split is checked against them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from slaprobe.configload import ConfigError, read_yaml
from slaprobe.sla.contract_config import Contract, parse_contract
from slaprobe.terminal import Terminal


@dataclass(frozen=True)
class ContractBook:
    """The province-level contract (the tender's terms and the province's payments) and the signed
    contracts that settle the terminals (one, covering every carrier, in the old single-file format)."""

    province: Contract
    contracts: tuple[Contract, ...]
    source: str = ""

    @property
    def single(self) -> bool:
        """The old format: the file is one contract and settles everything itself."""
        return len(self.contracts) == 1 and self.contracts[0] is self.province

    def covering(self, t: Terminal) -> list[Contract]:
        return [c for c in self.contracts if c.covers(t.carrier, t.region)]

    def split(self, terminals: Sequence[Terminal]) -> tuple[dict[str, list[Terminal]], list[str]]:
        """Each contract's terminal records, and the records no contract (or two) covers."""
        out: dict[str, list[Terminal]] = {c.id: [] for c in self.contracts}
        problems: list[str] = []
        for t in terminals:
            found = self.covering(t)
            if len(found) == 1:
                out[found[0].id].append(t)
            elif not found and t.carrier in self.province.carriers:
                problems.append(
                    f"terminal {t.id}: no signed contract covers carrier {t.carrier!r} in region {t.region!r}"
                )
            elif found:
                ids = ", ".join(c.id for c in found)
                problems.append(f"terminal {t.id}: covered by several contracts ({ids})")
        return out, problems


def load_book(path: str | Path) -> ContractBook:
    """Read a contract file (one contract, or the tender plus ``contracts:``); ConfigError lists every
    problem with its key path."""
    return parse_book(read_yaml(path), str(path))


def parse_book(data: Any, source: str = "<contract>") -> ContractBook:
    if not isinstance(data, dict) or "contracts" not in data:
        contract = parse_contract(data, source)
        return ContractBook(contract, (contract,), source)
    base = {k: v for k, v in data.items() if k != "contracts"}
    problems: list[str] = []
    province = _parse(base, source, "", problems)
    signed = data["contracts"]
    if not isinstance(signed, dict) or not signed:
        raise ConfigError(source, [*problems, "contracts: expected a mapping of contract id: its terms"])
    contracts = []
    for cid, override in signed.items():
        key = f"contracts.{cid}"
        if not isinstance(override, dict):
            problems.append(f"{key}: expected a mapping of the terms this contract signs differently")
            continue
        body = {k: v for k, v in base.items() if k != "payments"} | dict(override) | {"id": str(cid)}
        if "contracts" in override:
            problems.append(f"{key}.contracts: contracts do not nest")
            continue
        carriers = override.get("carriers")
        if isinstance(carriers, list):
            known = base.get("carriers") or {}
            unknown = [c for c in carriers if c not in known]
            if unknown:
                names = ", ".join(map(str, unknown))
                problems.append(f"{key}.carriers: {names} not among the top-level carriers")
                continue
            body["carriers"] = {c: known[c] for c in carriers}
        contract = _parse(body, source, f"{key}: ", problems)
        if contract is not None:
            contracts.append(contract)
    if province is not None and len(contracts) == len(signed):
        problems += _check_sums(province, contracts)
    if problems or province is None:
        raise ConfigError(source, problems)
    return ContractBook(province, tuple(contracts), source)


def _parse(data: Mapping[str, Any], source: str, prefix: str, problems: list[str]) -> Contract | None:
    try:
        return parse_contract(dict(data), source)
    except ConfigError as exc:
        problems += [f"{prefix}{p}" for p in exc.problems]
        return None


def _check_sums(province: Contract, contracts: Sequence[Contract]) -> list[str]:
    """The province's published figures must be the sum of the signed contracts' (when both are given)."""
    p: list[str] = []
    if province.year != contracts[0].year or any(c.year != province.year for c in contracts):
        p.append("contracts: every signed contract must be for the top-level year")
    budgets = [c.payments.budget for c in contracts]
    if province.payments.budget is not None and all(b is not None for b in budgets):
        total = sum((b for b in budgets if b is not None), Decimal(0))
        if total != province.payments.budget:
            p.append(
                f"contracts: the contracts' budgets add up to {total}, not the province's "
                f"payments.budget {province.payments.budget}"
            )
    if province.payments.installments and all(c.payments.installments for c in contracts):
        want: dict[str, Decimal] = {}
        for i in province.payments.installments:
            want[i.quarter] = want.get(i.quarter, Decimal(0)) + i.amount
        got: dict[str, Decimal] = {}
        for c in contracts:
            for i in c.payments.installments:
                got[i.quarter] = got.get(i.quarter, Decimal(0)) + i.amount
        for quarter in sorted(want.keys() | got.keys()):
            if want.get(quarter, Decimal(0)) != got.get(quarter, Decimal(0)):
                p.append(
                    f"contracts: installments paid in {quarter} add up to {got.get(quarter, 0)} over the "
                    f"contracts, but the province's payments list {want.get(quarter, 0)}"
                )
    return p


def with_contracts(book: ContractBook, **changes: Any) -> ContractBook:
    """The book with ``changes`` applied to every contract (and the province): for tests and what-ifs."""
    province = dataclasses.replace(book.province, **changes)
    if book.single:
        return ContractBook(province, (province,), book.source)
    contracts = tuple(dataclasses.replace(c, **changes) for c in book.contracts)
    return ContractBook(province, contracts, book.source)
