"""Billing periods: calendar months, quarters and years, as the contract counts them.

Money is settled per calendar month (fees are prorated by in-service *days* of a month, caps apply per
month), and quarters and years are unions of months. Keeping months as plain (year, month) values, not
nanosecond ranges, keeps the money code free of time zones: the availability engine already cut its
periods at local month boundaries, and a contract day is a local calendar day.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if not 1971 <= self.year <= 2200:  # nanosecond times are int64: they overflow in 2262
            raise ValueError(f"year must be 1971..2200, got {self.year}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2022-03`` → Month(2022, 3)."""
        m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text)
        if not m:
            raise ValueError(f"{text!r} is not a month (expected YYYY-MM)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, self.days)

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    """Consecutive whole months, first..last inclusive (a month, a quarter or a year)."""

    first: Month
    last: Month
    label: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"period {self.label}: {self.last} is before {self.first}")

    @classmethod
    def month(cls, month: Month) -> Period:
        return cls(month, month, str(month))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter must be 1..4, got {quarter}")
        return cls(Month(year, 3 * quarter - 2), Month(year, 3 * quarter), f"{year:04d}Q{quarter}")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(Month(year, 1), Month(year, 12), f"{year:04d}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2022Q4``, ``2022`` or ``2022-03``."""
        s = text.strip().upper()
        if m := re.fullmatch(r"(\d{4})-?Q([1-4])", s):
            return cls.quarter(int(m.group(1)), int(m.group(2)))
        if re.fullmatch(r"\d{4}", s):
            return cls.year(int(s))
        try:
            return cls.month(Month.parse(s))
        except ValueError as exc:
            if re.fullmatch(r"\d{4}-\d{1,2}", s):  # a month, out of range: say why
                raise ValueError(f"{text!r}: {exc}") from None
            raise ValueError(f"{text!r} is not a period (expected 2022Q4, 2022 or 2022-03)") from None

    @property
    def months(self) -> tuple[Month, ...]:
        out = [self.first]
        while out[-1] < self.last:
            out.append(out[-1].next())
        return tuple(out)

    @property
    def first_day(self) -> dt.date:
        return self.first.first_day

    @property
    def last_day(self) -> dt.date:
        return self.last.last_day

    def year_to_date(self) -> Period:
        """January of the period's first year through the end of this period."""
        return Period(Month(self.first.year, 1), self.last, f"{self.first.year:04d}-01..{self.last}")

    def __contains__(self, month: object) -> bool:
        return isinstance(month, Month) and self.first <= month <= self.last

    def __str__(self) -> str:
        return self.label
