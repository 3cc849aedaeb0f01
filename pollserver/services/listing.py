"""Paging through a query's rows: the total for the pagination header, then one page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_SQL_OFFSET = 2**62


def count_rows(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def page_of(session: Session, query: Select, *, offset: int, limit: int) -> list[Any]:
    if offset > MAX_SQL_OFFSET:  # past any table there is; SQLite cannot even bind it
        return []
    return list(session.scalars(query.offset(offset).limit(limit)))
