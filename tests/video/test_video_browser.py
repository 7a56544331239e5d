"""A GetClip MP4, served over loopback HTTP, plays in Chromium (Debian's, driven by Playwright)."""

import functools
import http.server
import threading

import pytest

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def serve(tmp_path):
    """Serve a folder on 127.0.0.1; yields the base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_clip_plays_in_chromium(make_stream, serve, chromium):
    folder, base = serve
    stream, t0 = make_stream(seconds=4, fps=10, width=320, height=240)
    (folder / "clip.mp4").write_bytes(stream.get_clip(t0, t0 + 3)["Payload"])
    (folder / "index.html").write_text(
        '<video id="v" src="clip.mp4" muted playsinline preload="auto"></video>'
    )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(**chromium)
        try:
            page = browser.new_page()
            page.goto(f"{base}/index.html")
            page.wait_for_function(
                "() => { const v = document.getElementById('v');"
                " return v.readyState >= 2 || v.error !== null; }",
                timeout=20_000,
            )
            state = page.evaluate(
                "() => { const v = document.getElementById('v');"
                " return {error: v.error && v.error.code, width: v.videoWidth,"
                " height: v.videoHeight, duration: v.duration}; }"
            )
            assert state["error"] is None
            assert (state["width"], state["height"]) == (320, 240)
            assert state["duration"] == pytest.approx(3.0, abs=0.15)
            page.evaluate("() => document.getElementById('v').play()")
            page.wait_for_function(
                "() => document.getElementById('v').currentTime > 0.5", timeout=20_000
            )
        finally:
            browser.close()
