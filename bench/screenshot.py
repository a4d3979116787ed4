"""The README's screenshot of the report page: a demo incident kept open (as `autosre demo --keep-open` leaves
it), served as `autosre serve --approver ... --allow rollback_cloud_run` serves it, opened in Chromium at 1366x768
(what a laptop shows without scrolling), saved to docs/report-page.png.

    python -m bench.screenshot [--out docs/report-page.png] [--dark]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.remediation.policy import Policy
from demo.generator import generate
from functions.handlers.web import create_app
from functions.local import triage
from functions.remediation import Remediation
from functions.runtime import make_runner
from shared.config import Settings
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

APPROVER = "oncall@example.com"
WIDTH, HEIGHT = 1366, 768


@contextmanager
def demo_site(work: Path, fault: str = "bad_deploy", seed: int = 7) -> Iterator[str]:
    """A demo incident, left open, served on a free local port; yields the server's address."""
    from werkzeug.serving import make_server

    scenario = generate(fault, work / "demo", seed=seed)
    store = SqliteEventStore(str(work / "events.db"))
    triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    remediation = Remediation(store=store, runner=make_runner(Settings()), key=b"screenshot-key-" * 3,
                              approvers=frozenset({APPROVER}), policy=Policy({"*": ["rollback_cloud_run"]}))
    server = make_server("127.0.0.1", 0, create_app(store, remediation, APPROVER), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/report-page.png", help="the PNG to write (default: %(default)s)")
    parser.add_argument("--dark", action="store_true", help="the system's dark colour scheme (default: light)")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="autosre-shot-") as tmp, demo_site(Path(tmp)) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT},
                                color_scheme="dark" if args.dark else "light")
        page.goto(url + "/")
        page.click("a[href^='/incidents/']")
        page.wait_for_selector("#cause")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.out)
        browser.close()
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
