"""Open a report in headless Chromium: check that it runs cleanly and every chart drew, or
take a screenshot of it.

The report marks its own state on ``<html>`` once loaded (``data-charts-total``,
``data-charts-ok``, ``data-errors``, ``data-page-height``); ``--dump-dom`` hands that DOM back,
and Chromium's log on stderr carries any console message. Nothing here needs a network or a
Python browser driver: only a ``chromium`` binary (Debian's package; ``make test`` installs it).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import BrowserNotFoundError, ReportError

#: Binaries tried in order; $OVERSIGHT_CHROMIUM names another.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
_CONSOLE = re.compile(r"CONSOLE[^\]]*\]\s*(.*)")
_HTML_TAG = re.compile(r"<html\b[^>]*>", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


def find_chromium() -> str | None:
    """The path of a Chromium binary, or None: $OVERSIGHT_CHROMIUM first, then PATH."""
    env = os.environ.get("OVERSIGHT_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _binary(chromium: str | None) -> str:
    found = chromium or find_chromium()
    if not found:
        raise BrowserNotFoundError(
            "no Chromium binary found (tried $OVERSIGHT_CHROMIUM and "
            f"{', '.join(CHROMIUM_NAMES)}); install Debian's with `apt-get install chromium`"
        )
    return found


@dataclass
class BrowserCheck:
    """What headless Chromium saw when it opened a report."""

    charts_total: int
    charts_ok: int
    page_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_height: int = 0
    loaded: bool = True

    @property
    def ok(self) -> bool:
        """Loaded, no script error, no console message, and every chart drew."""
        return (
            self.loaded
            and not self.page_errors
            and not self.console
            and self.charts_total > 0
            and self.charts_ok == self.charts_total
        )

    def problems(self) -> list[str]:
        out = []
        if not self.loaded:
            out.append("the page did not finish loading (no check attributes on <html>)")
        if self.charts_ok != self.charts_total or not self.charts_total:
            out.append(f"{self.charts_ok} of {self.charts_total} charts rendered")
        out += [f"script error: {e}" for e in self.page_errors]
        out += [f"console: {c}" for c in self.console]
        return out


def _run(args: list[str], *, timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="oversight-chromium-") as profile:
        # A fresh profile per run: parallel runs cannot lock each other out.
        command = [*args[:1], *_FLAGS, f"--user-data-dir={profile}", *args[1:]]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise ReportError(f"Chromium did not finish within {timeout:.0f} s") from None


def check_report(
    path: str | Path,
    *,
    chromium: str | None = None,
    width: int = 1280,
    budget_ms: int = 5000,
    timeout: float = 90,
) -> BrowserCheck:
    """Open ``path`` in headless Chromium and report what it saw (see :class:`BrowserCheck`)."""
    binary = _binary(chromium)
    url = Path(path).resolve().as_uri()
    result = _run(
        [
            binary,
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={width},2000",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        timeout=timeout,
    )
    console = [m.group(1).strip() for m in map(_CONSOLE.search, result.stderr.splitlines()) if m]
    tag = _HTML_TAG.search(result.stdout)
    attrs = {k: html.unescape(v) for k, v in _ATTR.findall(tag.group(0))} if tag else {}
    if "data-charts-total" not in attrs:
        return BrowserCheck(0, 0, console=console, loaded=False)
    try:
        errors = [str(e) for e in json.loads(attrs.get("data-errors", "[]"))]
    except json.JSONDecodeError:
        errors = [attrs.get("data-errors", "")]
    return BrowserCheck(
        charts_total=int(attrs["data-charts-total"]),
        charts_ok=int(attrs.get("data-charts-ok", 0)),
        page_errors=errors,
        console=console,
        page_height=int(attrs.get("data-page-height", 0) or 0),
    )


def screenshot(
    path: str | Path,
    png: str | Path,
    *,
    chromium: str | None = None,
    width: int = 1280,
    height: int | None = None,
    max_bytes: int | None = 300_000,
    timeout: float = 90,
) -> Path:
    """A PNG of the report at ``width`` pixels; ``height`` defaults to the whole page.

    With ``max_bytes``, the image is reduced (a 64-colour palette, then scaled down) until it
    fits, so it can be kept in the repository.
    """
    binary = _binary(chromium)
    if height is None:
        height = (
            check_report(path, chromium=binary, width=width, timeout=timeout).page_height or 4000
        )
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oversight-shot-") as tmp:
        raw = Path(tmp) / "shot.png"
        result = _run(
            [
                binary,
                f"--window-size={width},{height}",
                "--virtual-time-budget=5000",
                f"--screenshot={raw}",
                Path(path).resolve().as_uri(),
            ],
            timeout=timeout,
        )
        if not raw.exists():
            raise ReportError(f"Chromium wrote no screenshot (exit code {result.returncode})")
        _shrink(raw, png, max_bytes=max_bytes)
    return png


def _shrink(src: Path, dst: Path, *, max_bytes: int | None) -> None:
    from PIL import Image

    image = Image.open(src).convert("RGB")
    if max_bytes is None:
        image.save(dst, optimize=True)
        return
    scale = 1.0
    while True:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        frame = image if scale == 1.0 else image.resize(size, Image.Resampling.LANCZOS)
        frame.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
        if dst.stat().st_size <= max_bytes or scale < 0.2:
            return
        scale *= 0.85
