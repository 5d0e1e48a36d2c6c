"""The browser pages and /static/: what is served, with which headers, and nothing else."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from captioncast.web.pages import StaticFiles, default_mounts

NODE = shutil.which("node")
IMPORT = re.compile(
    r"""^(?:import|export)\s*(?:(?:\{[^}]*\}|\*)\s*from\s*)?['"]([^'"]+)['"]""", re.M
)


class _Assets(HTMLParser):
    """The scripts and stylesheets an HTML page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("rel") == "stylesheet" and found.get("href"):
            self.urls.append(str(found["href"]))


async def test_the_player_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    r = await client.get("/embed/player.html?group.id=demo&caption.token=t")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "worker-src 'self' blob:" in csp
    assert "frame-ancestors" not in csp  # embeddable anywhere
    assert r.headers["referrer-policy"] == "no-referrer"  # its URL carries a token
    assert 'id="captions"' in r.text and 'role="alert"' in r.text


async def test_the_dashboard_is_served_and_cannot_be_framed(client: httpx.AsyncClient) -> None:
    moved = await client.get("/dashboard")
    assert moved.status_code == 308 and moved.headers["location"] == "/dashboard/"
    r = await client.get("/dashboard/")
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert '<label for="api-key">API key</label>' in r.text


@pytest.mark.parametrize("page", ["/embed/player.html", "/dashboard/"])
async def test_every_script_and_module_a_page_loads_is_served(
    client: httpx.AsyncClient, page: str
) -> None:
    """Follows the page's scripts and styles, then every relative import of every module."""
    parser = _Assets()
    parser.feed((await client.get(page)).text)
    pending = [urljoin(f"http://test{page}", url) for url in parser.urls]
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        r = await client.get(urlsplit(url).path)
        assert r.status_code == 200, url
        if url.endswith((".js", ".mjs")) and "/vendor/" not in url:
            assert r.headers["content-type"] == "text/javascript; charset=utf-8"
            pending += [urljoin(url, spec) for spec in IMPORT.findall(r.text)]
    assert any(u.endswith("/static/js/src/subscription.js") for u in seen)  # the SDK's
    if page.startswith("/embed/"):
        assert any(u.endswith("/static/vendor/hls.js/hls.min.js") for u in seen)


async def test_static_files_are_public_and_revalidated(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/captioncast.css")
    assert r.status_code == 200 and r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["cache-control"] == "no-cache"
    again = await client.get(
        "/static/captioncast.css", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content
    head = await client.head("/static/web-client/src/index.js")
    assert head.status_code == 200 and not head.content


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/web-client/src/..%2f..%2fpackage.json",
        "/static/web-client/package.json",  # only src/ is served
        "/static/web-client/src/",
        "/static/.hidden.js",
        "/static/embed/player.py",
        "/static/vendor/hls.js/../package.json",
        "/static/js/src/missing.js",
    ],
)
async def test_nothing_outside_the_served_files(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_the_classic_script_defines_the_globals(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/captioncast.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "export " not in re.sub(r"(?m)^\s*(?://|\*|/\*).*$", "", r.text)
    if NODE is None:
        pytest.skip("node is not installed (scripts/setup installs it)")
    check = (
        "const vm = require('vm'); const ctx = {}; vm.createContext(ctx);"
        "vm.runInContext(require('fs').readFileSync(0, 'utf8'), ctx);"
        "const cc = ctx.captioncast;"
        "process.stdout.write([typeof ctx.NanoMessenger, typeof cc.CaptionClient,"
        "typeof cc.CaptionOverlay, ctx.NanoMessenger === cc.NanoMessenger,"
        "Object.isFrozen(cc)].join(' '))"
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [NODE, "-e", check],
        input=r.text,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout == "function function function true true"


def test_locate_finds_files_under_their_mount_only(tmp_path: Path) -> None:
    package, client_src = tmp_path / "package", tmp_path / "client"
    (package / "embed").mkdir(parents=True)
    client_src.mkdir()
    (package / "embed" / "page.html").write_text("<p>")
    (client_src / "index.js").write_text("export {};")
    (tmp_path / "secret.js").write_text("no")
    (client_src / "link.js").symlink_to(tmp_path / "secret.js")
    (package / "lib").mkdir()
    (package / "lib" / "packaged.js").write_text("export {};")
    (package / "lib" / "index.js").write_text("shadowed")
    files = StaticFiles({"lib": client_src, "": package})
    assert files.locate("embed/page.html") == package / "embed" / "page.html"
    assert files.locate("lib/index.js") == client_src / "index.js"  # the checkout first
    assert files.locate("lib/packaged.js") == package / "lib" / "packaged.js"  # then a copy
    assert files.locate("lib/link.js") is None  # a link out of the mount
    assert files.locate("lib/missing.js") is None
    assert files.locate("embed/../embed/page.html") is None
    assert files.locate("embed/page.exe") is None


def test_the_default_mounts_point_at_the_checkout() -> None:
    mounts = default_mounts()
    assert (mounts["web-client/src"] / "index.js").is_file()
    assert (mounts["js/src"] / "subscription.js").is_file()
    assert mounts["captioncast.css"].is_file()
    assert (mounts[""] / "embed" / "player.html").is_file()
