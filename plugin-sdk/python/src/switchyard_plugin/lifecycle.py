"""Reading an event the way the Rust SDK's ``lifecycle`` module does, for the one-line fields
providers send: :func:`headline` (the payload's title or name, with its status) and
:func:`cut_chars` (a text cut to a vendor's limit in characters)."""

from __future__ import annotations

from typing import Any


def headline(event_type: str, payload: Any) -> str:
    """A one-line headline, "Checkout API down (investigating)": the payload's ``title`` (or ``name``) and, in
    parentheses, its ``status``; the event type when the payload has neither."""

    def text(key: str) -> str | None:
        value = payload.get(key) if isinstance(payload, dict) else None
        return value if isinstance(value, str) and value else None

    title = text("title") or text("name") or event_type
    status = text("status")
    return f"{title} ({status})" if status else title


def cut_chars(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when cut (vendors limit
    fields in characters; cutting, not failing, is what a reader wants)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ("…" if limit > 0 else "")


__all__ = ["cut_chars", "headline"]
