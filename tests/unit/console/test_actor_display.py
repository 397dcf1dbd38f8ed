"""Pages show a recorded caller by its subject, with the stable identity on hover, and
never as raw HTML."""
from __future__ import annotations

from autorke_console.entrypoints.pages.rendering import actor


def test_an_identity_is_shown_by_its_subject_with_the_whole_identity_on_hover():
    assert str(actor("https://idp.example/realms/ops#alice")) == \
        '<span title="https://idp.example/realms/ops#alice">alice</span>'
    assert str(actor("system")) == '<span title="system">system</span>'
    assert str(actor(None)) == "—"


def test_an_identity_is_escaped():
    shown = str(actor('https://x#<script>"'))
    assert "<script>" not in shown and "&lt;script&gt;" in shown
