"""The report in headless Chromium: no console errors, every chart rendered; and the check
itself catches a broken page. Skipped only where no Chromium binary exists (`make test`
installs Debian's)."""

from __future__ import annotations

import pytest
from PIL import Image

from pipeline.errors import BrowserNotFoundError
from pipeline.report import check_report, find_chromium, render_report, screenshot
from pipeline.report.browser import BrowserCheck

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no chromium binary on PATH (make test installs Debian's chromium)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from tests.report.conftest import write_measures

    folder = write_measures(tmp_path_factory.mktemp("m") / "measures")
    return render_report(folder, out=folder.parent / "report.html")


def test_opens_cleanly_with_every_chart(report):
    seen = check_report(report.path)
    assert seen.loaded and seen.problems() == []
    assert seen.ok, seen.problems()
    assert seen.charts_total == len(report.charts) == 7
    assert seen.charts_ok == seen.charts_total
    assert seen.page_height > 2000


def test_check_catches_script_errors_and_blank_charts(report, tmp_path):
    html = report.path.read_text("utf-8")
    broken = html.replace(
        "</body>",
        '<figure class="chart"><svg width="0" height="0"></svg></figure>'
        "<script>undefinedFunction();</script>"
        "<script>console.error('boom');</script></body>",
    )
    path = tmp_path / "broken.html"
    path.write_text(broken, "utf-8")
    seen = check_report(path)
    assert not seen.ok
    assert seen.charts_total == 8 and seen.charts_ok == 7
    assert any("undefinedFunction" in e for e in seen.page_errors)
    assert any("boom" in c for c in seen.console)


def test_check_catches_network_requests(report, tmp_path):
    # The page's Content-Security-Policy refuses any fetch; Chromium says so on the console.
    html = report.path.read_text("utf-8").replace(
        "</body>", '<img src="https://example.org/x.png" alt=""></body>'
    )
    path = tmp_path / "remote.html"
    path.write_text(html, "utf-8")
    seen = check_report(path)
    assert not seen.ok and (seen.console or seen.page_errors)


def test_not_a_report(tmp_path):
    path = tmp_path / "plain.html"
    path.write_text("<html><body>hello</body></html>", "utf-8")
    seen = check_report(path)
    assert not seen.loaded and not seen.ok
    assert "did not finish loading" in seen.problems()[0]


def test_screenshot_is_small(report, tmp_path):
    png = screenshot(report.path, tmp_path / "shot.png", height=1600, max_bytes=150_000)
    assert 0 < png.stat().st_size <= 150_000
    with Image.open(png) as image:
        assert image.width <= 1280 and image.height <= 1600
        # Not blank: the banner's blue and the page's light grey are both there.
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 10


def test_missing_binary_is_a_clear_error(report, monkeypatch):
    monkeypatch.setenv("OVERSIGHT_CHROMIUM", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserNotFoundError, match="apt-get install chromium"):
        check_report(report.path)


def test_ok_needs_charts():
    assert not BrowserCheck(charts_total=0, charts_ok=0).ok
    assert BrowserCheck(charts_total=2, charts_ok=2).ok
