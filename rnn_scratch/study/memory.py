"""The memory preset's section (placeholder while its runs go)."""

from __future__ import annotations

from rnn_scratch.study.presets import Page, Section


def section(page: Page) -> Section:
    return Section()
