"""Exports: a self-contained HTML file that renders offline in a real browser, and a PNG."""

import struct

import pytest

from workbench.dashboards import retail_sales


def test_exported_html_renders_every_panel_offline(make_workbench, tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    wb = make_workbench(300)
    board = retail_sales(wb.search, wb.clock)
    page_file = board.to_html(tmp_path / "dashboard.html")
    assert "cdn" not in page_file.read_text().lower().split("<body>")[0]
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(**chromium)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request", lambda r: not r.url.startswith(("file:", "data:")) and requests.append(r.url)
        )
        page.goto(page_file.as_uri())
        page.wait_for_function(
            f"document.querySelectorAll('.panel .main-svg').length >= {len(board.panels)}"
        )
        drawn = page.evaluate(
            "[...document.querySelectorAll('.panel')].map(p => p.querySelectorAll("
            "'.bars path, .scatterlayer path, .pielayer path, .numbers, .table .cell-text').length)"
        )
        shot = page.screenshot(full_page=True)
        browser.close()
    assert errors == []
    assert requests == []
    assert len(drawn) == len(board.panels) and all(n > 0 for n in drawn), drawn
    assert _distinct_bytes(shot) > 50


def test_png_export_draws_the_dashboard(make_workbench, tmp_path, chromium):
    pytest.importorskip("kaleido")
    wb = make_workbench(200)
    board = retail_sales(wb.search, wb.clock)
    path = board.to_png(tmp_path / "dashboard.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1400 and height == 360 * 3
    assert _distinct_bytes(data) > 50


def _distinct_bytes(png: bytes) -> int:
    """A blank image compresses to few distinct byte values; a drawn one uses most of them."""
    return len(set(png[100:]))
