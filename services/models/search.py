"""The name index behind partial (kanji / kana) customer search."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class CustomerNameGram(SQLModel, table=True):
    """One bigram of a customer's normalised name or kana (an inverted index row)."""

    __tablename__ = "customer_name_gram"
    __table_args__ = {"sqlite_with_rowid": False}

    gram: str = Field(max_length=2, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", primary_key=True, index=True)
