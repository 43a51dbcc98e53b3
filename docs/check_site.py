"""Open the built site in headless Chromium and check that every picture loaded.

    python docs/check_site.py [docs/_build/html] [--screenshots DIR] [--self-test]

The site is served by :mod:`http.server` on 127.0.0.1 and opened in the distribution's
Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``), headless, driven over the DevTools
protocol through a pipe (``--remote-debugging-pipe``: no port, no extra packages). For the
home page, the gallery and an API page, it waits for the page to load, makes every image
load (lazy ones too), and requires each ``<img>`` to have decoded (``naturalWidth > 0``);
the home page and the gallery must show pictures at all. A screenshot of each page goes to
``--screenshots`` (default ``docs/_build/screenshots``), to be looked at.

``--self-test`` runs the same check on a two-image page whose second image is missing
and fails unless the check reports it. Exit code 0 when all is well, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
# (page, the fewest pictures it must show)
PAGES = [("index.html", 1), ("auto_examples/index.html", 4), ("api/generated/dfdx.plot.contour.html", 2)]
TIMEOUT = 60.0
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--remote-debugging-pipe",
]
IMAGES_JS = """(async () => {
  const images = [...document.images];
  for (const img of images) { img.loading = "eager"; }
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done);
  })));
  return images.map(img => ({src: img.getAttribute("src"), width: img.naturalWidth}));
})()"""


class Browser:
    """Headless Chromium, driven over the DevTools protocol on fds 3 (in) and 4 (out)."""

    def __init__(self, executable: str, profile: str) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child: the protocol's pipes become fds 3 and 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),  # kept open in the child, after wire() has set them
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._next_id = 0

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def wait_event(self, method: str, session: str) -> dict[str, Any]:
        for i, event in enumerate(self._events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self._events.pop(i)
        return self._wait(lambda m: m.get("method") == method and m.get("sessionId") == session)

    def _wait(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return dict(message)
                if "method" in message:
                    self._events.append(message)
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raise TimeoutError("no answer from Chromium")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def open_page(browser: Browser, url: str, screenshot: Path | None) -> list[dict[str, Any]]:
    """Load ``url`` in a new tab; return its images as ``{src, width}``; save a screenshot."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.send("Page.enable", session)
    browser.send("Page.navigate", session, url=url)
    browser.wait_event("Page.loadEventFired", session)
    result = browser.send(
        "Runtime.evaluate", session, expression=IMAGES_JS, awaitPromise=True, returnByValue=True
    )
    images = list(result["result"]["value"])
    if screenshot is not None:
        size = browser.send("Page.getLayoutMetrics", session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": 1280, "height": min(size["height"], 5000), "scale": 1}
        shot = browser.send(
            "Page.captureScreenshot", session, format="png", clip=clip, captureBeyondViewport=True
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    browser.send("Target.closeTarget", targetId=target)
    return images


def serve(site: Path) -> ThreadingHTTPServer:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check(site: Path, pages: list[tuple[str, int]], shots: Path | None) -> list[str]:
    """The problems found on ``pages`` of ``site``; prints one line per page."""
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        return [f"no Chromium at {executable} (apt-get install chromium, or set CHROMIUM)"]
    problems = []
    with tempfile.TemporaryDirectory(prefix="dfdx-chromium-") as profile:
        browser = Browser(executable, profile)  # before the server's thread starts
        server = serve(site)
        try:
            for page, fewest in pages:
                url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
                shot = shots / (page.replace("/", "_").removesuffix(".html") + ".png") if shots else None
                images = open_page(browser, url, shot)
                broken = [image["src"] for image in images if not image["width"]]
                print(f"{page}: {len(images) - len(broken)} of {len(images)} images loaded")
                problems += [f"{page}: image {src} did not load" for src in broken]
                if len(images) < fewest:
                    problems.append(f"{page}: {len(images)} images, expected at least {fewest}")
        finally:
            browser.close()
            server.shutdown()
            server.server_close()
    return problems


def self_test() -> list[str]:
    """The check must report a missing picture and accept a present one."""
    with tempfile.TemporaryDirectory(prefix="dfdx-site-") as tmp:
        site = Path(tmp)
        png = base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
        )
        (site / "ok.png").write_bytes(png)
        (site / "index.html").write_text(
            '<html><body><img src="ok.png"><img src="missing.png"></body></html>'
        )
        problems = check(site, [("index.html", 2)], None)
    if problems != ["index.html: image missing.png did not load"]:
        return [f"self-test: expected exactly the missing image to be reported, got {problems}"]
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, help="default: screenshots/ next to the site")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args(argv)
    if args.self_test:
        problems = self_test()
        print("self-test:", "FAILED" if problems else "the missing picture reported, the other accepted")
    else:
        shots = args.screenshots or args.site.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        problems = check(args.site, PAGES, shots)
        print(f"screenshots in {shots}")
    print(*problems, sep="\n", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
