"""The self-contained HTML report: parsed with html.parser (and, where installed, rendered by
headless Chromium): no external assets, everything escaped, the content a reader needs."""
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from agent.output import FORMATS

EXTERNAL_TAGS = {"script", "link", "iframe", "object", "embed", "img", "video", "audio", "source", "frame"}


class Page(HTMLParser):
    """Tags, attributes and text of a page, and the status label of each result row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: dict[str, str] = {}
        self._row: str | None = None
        self._label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and a.get("id"):
            self._row = a["id"]
        if tag == "span" and self._row and (a.get("class") or "").startswith("s ") and self._row not in self.rows:
            self._label = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._label and self._row:
            self.rows[self._row] = data
            self._label = False


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_self_contained_escaped_and_complete(fixture_report: dict[str, Any], golden: Any) -> None:
    text = FORMATS["html"](fixture_report, False)
    assert text.startswith("<!DOCTYPE html>")
    page = parse(text)
    tags = [t for t, _ in page.tags]
    assert not EXTERNAL_TAGS & set(tags)
    assert tags.count("html") == tags.count("head") == tags.count("body") == 1
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp
    assert all(not k.startswith("on") and k != "src" for _, a in page.tags for k in a)  # no handlers, no sources
    assert [a["href"] for t, a in page.tags if t == "a"] == ["https://example.org/directives/fixture"]
    assert page.rows == {"FIXTURE.3": "FAIL", "FIXTURE.4": "FAIL", "FIXTURE.6": "ERROR", "FIXTURE.2": "WAIVED",
                         "FIXTURE.1": "PASS", "FIXTURE.5": "N/A"}
    content = "".join(page.text)
    # Markup from the host and the directive arrives as text, never as tags.
    assert "Banner <b>=HYPERLINK(1)&amp;</b>" in content
    assert 'FIXTURE: Output format fixture <baseline> & "friends"' in content
    assert "Legacy jump host needs 6 tries until the <smartcard> rollout & PIV cut-over." in content
    assert "2026-07-01 OVERDUE" in content and "score33%" in content.replace("\n", "")
    assert "waiver for FIXTURE.4 (waivers.yaml:8) expired on 2026-07-15; evaluated normally" in content
    golden("report.html", text)


def test_tailoring_is_shown(scan_fixture: Any) -> None:
    report = scan_fixture()
    report["scan"]["tailoring"] = {"title": "Web <profile>", "digest": "sha256:" + "0" * 64, "select": [],
                                   "deselect": [{"id": "FIXTURE.3", "reason": "portal & banner"}],
                                   "parameters": [{"id": "FIXTURE.t", "value": 300, "default": 900, "reason": ""}]}
    content = "".join(parse(FORMATS["html"](report, False)).text)
    assert "Tailoring: Web <profile>" in content and "FIXTURE.3: portal & banner" in content


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="headless Chromium is not installed")
def test_chromium_renders_it_offline(fixture_report: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(FORMATS["html"](fixture_report, False), encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser
    done = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)
    dom = parse(done.stdout)
    assert dom.rows == parse(page.read_text()).rows
    assert "Banner <b>=HYPERLINK(1)&amp;</b>" in "".join(dom.text)
