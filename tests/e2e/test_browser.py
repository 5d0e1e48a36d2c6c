"""captioncast in a real Chromium: the dashboard, the embed player, NanoMessenger, resuming.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright without its own
browser downloads. Screenshots go to a temporary directory, or to ``$CAPTIONCAST_SCREENSHOTS``
(how docs/images/ is made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from harness import ServerProcess, ffmpeg_process, finish, publish
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("browser"), model="tiny.en")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "chromium is required (scripts/setup installs Debian's)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("CAPTIONCAST_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def short_token(server: ServerProcess) -> tuple[str, float]:
    """A token for the stream ``expiring`` that has expired by the last test of the module."""
    server.create_flow("expiring")
    return server.token("expiring", ttl=10), time.time() + 10


def open_page(browser: Browser, width: int = 1280, height: int = 900) -> tuple[Page, list[str]]:
    """A new page and the list its uncaught script errors go to."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


@contextmanager
def page_elsewhere(body: str) -> Iterator[str]:
    """A plain web server on another port (another origin) serving one page: its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def overlay_text(page: Page, selector: str) -> str:
    lines = page.locator(f"{selector} .cc-line").all_inner_texts()
    return " ".join(line.strip() for line in lines)


def test_a_flow_made_in_the_dashboard_plays_in_the_player_with_captions(
    server: ServerProcess,
    browser: Browser,
    shots: Path,
    speech_video_mp4: Path,
    short_token: tuple[str, float],
) -> None:
    dashboard, errors = open_page(browser)
    dashboard.goto(server.url("/dashboard/"))
    dashboard.get_by_label("API key").fill(server.api_key)
    dashboard.get_by_role("button", name="Use key").click()
    dashboard.get_by_label("Name (stream name)").fill("browser")
    dashboard.get_by_label("Translations (optional)").fill("es")
    dashboard.get_by_label("Maximum latency (seconds)").fill("3")
    dashboard.get_by_role("button", name="Create flow").click()
    expect(dashboard.get_by_role("heading", name="Flow browser")).to_be_visible()
    dashboard.get_by_role("button", name="Start").click()
    row = dashboard.locator("tr[data-flow]", has_text="browser")
    expect(row.locator(".status")).to_have_text("live")

    rtmp_url = dashboard.locator("#rtmp-full-url").input_value()
    assert rtmp_url.startswith(f"rtmp://127.0.0.1:{server.rtmp_port}/live/")
    publisher = ffmpeg_process(
        "-re", "-i", str(speech_video_mp4), "-c", "copy", "-f", "flv", rtmp_url
    )  # fmt: skip
    try:
        player_url = dashboard.locator("#player-url-en").input_value()
        assert "group.id=browser" in player_url and "caption.channel=browser-en-en" in player_url
        player, player_errors = open_page(browser, 960, 600)
        player.goto(player_url)
        check_video_plays(player)
        player.wait_for_function(
            "() => document.querySelectorAll('#captions .cc-line').length > 0", timeout=30_000
        )
        check_sync_matches_the_hls_subtitles(player)
        player.screenshot(path=shots / "player.png")
        # Latency meters come from the dashboard's own caption connection.
        expect(row.locator(".latency")).to_contain_text("words", timeout=15_000)
        # The player's connection and the dashboard's meter, counted by the flow API.
        expect(row.locator(".viewers")).to_have_text(re.compile(r"^[2-9]$"), timeout=15_000)
        dashboard.screenshot(path=shots / "dashboard.png", full_page=True)
        check_token_dialog(dashboard, shots)

        # Another language: the overlay follows its channel.
        player.get_by_label("Captions", exact=True).select_option("browser-en-es")
        player.wait_for_function(
            "() => captioncastPlayer.client.channel === 'browser-en-es'"
            " && captioncastPlayer.client.state === 'live'",
            timeout=10_000,
        )
        assert not errors and not player_errors, errors + player_errors
    finally:
        publisher.kill()
        finish(publisher, 10)


def check_token_dialog(dashboard: Page, shots: Path) -> None:
    """A token made in the dialog is shown decoded, and the snippets switch to it."""
    dashboard.get_by_role("button", name="Create viewer token…").click()
    dialog = dashboard.get_by_role("dialog")
    dialog.get_by_label("Valid for (seconds)").fill("600")
    dialog.get_by_role("button", name="Create token").click()
    token = dialog.get_by_label("Viewer token", exact=True).input_value()
    claims = json.loads(dialog.get_by_label("Decoded token header and claims").inner_text())
    assert claims["claims"]["streams"] == ["browser"]
    assert claims["claims"]["exp"] - claims["claims"]["iat"] == 600
    dashboard.screenshot(path=shots / "dashboard-token.png")
    dialog.get_by_role("button", name="Close").click()
    expect(dashboard.locator("#player-url-es")).to_have_value(re.compile(re.escape(token)))


def check_video_plays(player: Page) -> None:
    """The video element's clock advances: hls.js feeds Chromium's H.264/AAC decoders."""
    player.wait_for_function(
        "() => window.captioncastPlayer && captioncastPlayer.video.currentTime > 1", timeout=40_000
    )
    before = player.evaluate("captioncastPlayer.video.currentTime")
    time.sleep(1.5)
    after = player.evaluate("captioncastPlayer.video.currentTime")
    assert after > before + 1, (before, after)
    assert player.evaluate("captioncastPlayer.video.videoWidth") == 320


def check_sync_matches_the_hls_subtitles(player: Page) -> None:
    """Sync mode's clock (flow time on screen) puts each caption where hls.js puts the same
    caption from the HLS WebVTT rendition, whose timing the playback tests check to the frame."""
    player.evaluate(
        """() => {
          window.blocks = [];
          captioncastPlayer.client.on('caption', (c) => {
            if (c.type === 'captions') blocks.push({start: c.start, text: c.lines.join('\\n')});
          });
          captioncastPlayer.hls.subtitleTrack = 0;  // loaded hidden: subtitleDisplay is off
        }"""
    )
    matched = player.wait_for_function(
        """() => {
          const offset = captioncastPlayer.flowTime() - captioncastPlayer.video.currentTime;
          const cues = [...captioncastPlayer.video.textTracks].flatMap((t) => [...(t.cues || [])]);
          const pairs = [];
          for (const block of blocks) {
            const cue = cues.find((c) => c.text === block.text);
            if (cue) pairs.push([cue.startTime + offset, block.start]);
          }
          return pairs.length >= 2 && pairs;
        }""",
        timeout=30_000,
    ).json_value()
    for on_screen, start in matched:
        assert on_screen == pytest.approx(start, abs=0.05)


NANO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A page elsewhere</title>
<link rel="stylesheet" href="{origin}/static/captioncast.css"></head>
<body>
<h1>Live</h1>
<div style="position: relative; height: 200px; background: #223">
  <div id="captionText"></div>
</div>
<script src="{origin}/static/captioncast.js"></script>
<script>
  window.received = [];
  document.addEventListener("DOMContentLoaded", function () {{
    var messenger = new NanoMessenger("127.0.0.1", {port}, {{ overlayDiv: "captionText" }});
    var show = messenger.receiveMessage.bind(messenger);
    messenger.receiveMessage = function (message) {{
      window.received.push(message.text);
      show(message);
    }};
    messenger.connect({token}, null, "nano-en-en", function () {{
      window.connected = (window.connected || 0) + 1;
      messenger.receiveMessage({{ user: "system", text: "<receiving messages>" }});
    }}, function (error) {{ window.failure = error.message; }});
  }});
</script>
</body></html>
"""


def test_nano_messenger_on_a_plain_page_receives_captions(
    server: ServerProcess, browser: Browser, shots: Path, speech_m4a: Path
) -> None:
    flow = server.create_flow("nano", max_latency=3)
    server.start_flow(flow)
    body = NANO_PAGE.format(
        origin=server.url(""), port=server.port, token=json.dumps(server.token("nano"))
    )
    page, errors = open_page(browser, 800, 400)
    with page_elsewhere(body) as url:  # a page of another site, loading captioncast.js
        page.goto(url)
    page.wait_for_function("() => window.connected === 1", timeout=10_000)
    assert overlay_text(page, "#captionText") == "<receiving messages>"
    assert page.get_attribute("#captionText", "aria-live") == "polite"

    publisher = publish(speech_m4a, flow["rtmp_details"]["full_url"], "-t", "9")
    try:
        page.wait_for_function(
            "() => received.some((text) => /\\b(evening|welcome|news)\\b/i.test(text))",
            timeout=30_000,
        )
        assert "<receiving messages>" not in overlay_text(page, "#captionText")
        page.screenshot(path=shots / "nano-messenger.png")
    finally:
        finish(publisher, 30)
    assert page.evaluate("window.failure") is None
    assert not errors, errors


RESUME_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Resume</title>
<link rel="stylesheet" href="{origin}/static/captioncast.css"></head>
<body><div style="position: relative; height: 160px"><div id="overlay"></div></div>
<script type="module">
  import {{ CaptionClient, CaptionOverlay }} from "{origin}/static/captioncast.mjs";
  const client = new CaptionClient({{
    url: "ws://127.0.0.1:{port}/v1/ws", channel: "again-en-en", token: {token}, maxBackoff: 1000,
  }});
  const overlay = new CaptionOverlay("overlay");
  window.log = {{ messages: [], states: [], errors: [] }};
  client.on("caption", (c) => {{
    overlay.apply(c);
    log.messages.push({{
      seq: c.seq, epoch: c.epoch, id: c.id, type: c.type, final: c.isFinal,
      connection: log.states.filter((s) => s.state === "live").length,
    }});
  }});
  client.on("state", (s) => log.states.push(s));
  client.on("error", (e) => log.errors.push(e.message));
</script>
</body></html>
"""


def test_the_overlay_resumes_across_a_server_restart_without_loss_or_repeats(
    tmp_path: Path, browser: Browser, speech_m4a: Path
) -> None:
    server = ServerProcess(tmp_path / "data", model="tiny.en")
    server.start()
    again: ServerProcess | None = None
    try:
        flow = server.create_flow("again", max_latency=3)
        server.start_flow(flow)
        token = json.dumps(server.token("again"))
        body = RESUME_PAGE.format(origin=server.url(""), port=server.port, token=token)
        page, errors = open_page(browser, 800, 300)
        with page_elsewhere(body) as url:  # the ES modules, imported from another origin
            page.goto(url)
        page.wait_for_function("() => log.states.some((s) => s.state === 'live')", timeout=10_000)

        publisher = publish(speech_m4a, flow["rtmp_details"]["full_url"])
        page.wait_for_function(
            "() => log.messages.some((m) => m.type === 'captions')", timeout=30_000
        )
        assert server.proc is not None
        server.proc.terminate()  # SIGTERM: viewers are told 1001 and resume later
        assert server.proc.wait(30) == 0, server.log()
        finish(publisher, 10)
        page.wait_for_function(
            "() => log.states.some((s) => s.state === 'reconnecting')", timeout=10_000
        )
        page.context.set_offline(True)  # the viewer stays away until it has missed captions

        again = ServerProcess(
            server.data_dir, model="tiny.en", api_key=server.api_key, port=server.port,
            rtmp_port=server.rtmp_port, srt_ports=server.srt_ports,
        )  # fmt: skip
        again.start()
        seen = set(page.evaluate("log.messages.map((m) => m.id)"))
        publisher = publish(speech_m4a, flow["rtmp_details"]["full_url"], "-t", "8")
        missed = wait_for_new_cues(again, flow["flow_id"], seen)
        assert page.evaluate("log.states.at(-1).state") == "reconnecting"  # still away
        page.context.set_offline(False)
        page.wait_for_function(
            "() => log.states.at(-1).state === 'live' && log.states.at(-1).recovered === true",
            timeout=20_000,
        )
        rc, err = finish(publisher, 30)
        assert rc == 0, err
        again.stop_flow(flow)
        page.wait_for_function("() => log.states.at(-1).state === 'ended'", timeout=30_000)

        log: dict[str, Any] = page.evaluate("log")
        finals = [m for m in log["messages"] if m["final"]]
        seqs = [m["seq"] for m in finals]
        assert seqs == sorted(set(seqs)), "a final message came twice or out of order"
        assert len({m["epoch"] for m in finals}) == 1
        stored = again.api("GET", f"/v1/flows/{flow['flow_id']}/transcript", expect=200)
        shown = [m["id"] for m in finals if m["type"] == "captions"]
        assert shown == [cue["id"] for cue in stored["cues"]]  # every caption block, once
        # What was published while the viewer was away came when it resumed.
        resumed = {m["id"] for m in log["messages"] if m["connection"] == 2}
        assert missed and missed <= resumed
        assert not log["errors"] and not errors, (log["errors"], errors)
    finally:
        server.stop()
        if again is not None:
            again.stop()


def wait_for_new_cues(server: ServerProcess, flow_id: str, seen: set[str]) -> set[str]:
    """The ids of the caption blocks stored that are not in ``seen``, once there is one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cues = server.api("GET", f"/v1/flows/{flow_id}/transcript", expect=200)["cues"]
        new = {cue["id"] for cue in cues} - seen
        if new:
            return new
        time.sleep(0.3)
    raise AssertionError("no caption block was published")


def test_an_expired_token_is_explained_in_the_player(
    server: ServerProcess, browser: Browser, shots: Path, short_token: tuple[str, float]
) -> None:
    token, expiry = short_token
    time.sleep(max(0.0, expiry + 1 - time.time()))
    page, errors = open_page(browser, 960, 540)
    page.goto(
        server.url(
            "/embed/player.html?group.id=expiring&caption.channel=expiring-en-en"
            f"&caption.token={token}&group.security.jwtoken={token}"
        )
    )
    message = page.get_by_role("alert")
    expect(message).to_be_visible(timeout=15_000)
    expect(message).to_contain_text("The viewer token has expired")
    page.screenshot(path=shots / "player-expired.png")
    assert not errors, errors


def test_the_dashboard_works_from_the_keyboard(server: ServerProcess, browser: Browser) -> None:
    server.create_flow("keys")
    page, errors = open_page(browser)
    page.goto(server.url("/dashboard/"))
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(server.api_key)
    page.keyboard.press("Enter")
    open_flow = page.get_by_role("button", name="Open flow keys")
    expect(open_flow).to_be_visible()
    for _ in range(40):  # Tab through the page to the flow
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "keys":
            break
    expect(open_flow).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Flow keys")).to_be_focused()
    opener = page.get_by_role("button", name="Create viewer token…")
    opener.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Valid for (seconds)")).to_be_focused()
    page.keyboard.press("Escape")
    expect(opener).to_be_focused()
    # Focus is visible: an outline on the focused button.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    assert not errors, errors
