"""Loads a page in headless Chromium and waits, in real time, until it is ready.

Usage: browse.py CHROMIUM URL READY_JS SCREENSHOT_PNG [TIMEOUT_S]

Drives Chromium over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ended by NUL on fds 3 and 4, so only the standard library is needed): navigates to
URL, evaluates the JavaScript expression READY_JS every 250 ms until it is true or TIMEOUT_S
(default 120) seconds passed, then writes a screenshot to SCREENSHOT_PNG and prints the page's
DOM (`document.documentElement.outerHTML`) on stdout. Exit status 0 when the page became ready,
3 when it timed out (the DOM and screenshot are still written), 1 on a protocol error.

A page that fetches and renders after load (MLflow's charts) is read when it is drawn, not
after a virtual-time budget that can run out while the renderer waits on real work.
"""

import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    """One Chromium process and its DevTools pipe."""

    def __init__(self, chromium, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire_fds():
            # Chromium reads commands on fd 3 and writes replies on fd 4; move the pipe ends
            # out of the way first, in case either already is 3 or 4.
            read_end = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--window-size=1600,1000",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            preexec_fn=wire_fds,
            # fds 3 and 4 are made in wire_fds; Python's own fds close on exec.
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        """Sends one command and returns its result (events in between are skipped)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close")
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def evaluate(browser, session, expression):
    result = browser.call(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True},
        session,
    )
    return result.get("result", {}).get("value")


def main():
    chromium, url, ready_js, screenshot = sys.argv[1:5]
    timeout_s = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(chromium, profile)
        try:
            targets = browser.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            session = browser.call(
                "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
            )["sessionId"]
            browser.call("Page.enable", session=session)
            browser.call("Page.navigate", {"url": url}, session)
            deadline = time.monotonic() + timeout_s
            ready = False
            while time.monotonic() < deadline:
                if evaluate(browser, session, f"Boolean({ready_js})"):
                    ready = True
                    break
                time.sleep(0.25)
            # Let what just became ready finish drawing (a frame or two) before the picture.
            time.sleep(0.5)
            png = browser.call("Page.captureScreenshot", {"format": "png"}, session)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(png["data"]))
            sys.stdout.write(
                evaluate(browser, session, "document.documentElement.outerHTML") or ""
            )
        finally:
            browser.close()
    sys.exit(0 if ready else 3)


if __name__ == "__main__":
    main()
