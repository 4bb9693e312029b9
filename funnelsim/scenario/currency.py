"""The currency field: a short code or symbol, because every report and table prints it."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

CURRENCY_RE = re.compile(r"[^<>&\"'`\x00-\x1f\x7f]{1,8}")


def check_currency(value: str) -> str:
    """Refuse what is no currency code or symbol (markup characters, control characters)."""
    if not CURRENCY_RE.fullmatch(value):
        raise ValueError(
            "expected a currency code or symbol such as USD or €: 1 to 8 characters, "
            "without <, >, &, quotes or control characters"
        )
    return value


Currency = Annotated[str, AfterValidator(check_currency)]
