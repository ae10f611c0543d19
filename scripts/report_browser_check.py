#!/usr/bin/env python3
"""Opens an HTML file in headless Chromium, takes a screenshot and fails on any console
error, uncaught exception, failed resource load or network request.

Usage: report_browser_check.py FILE.html SCREENSHOT.png [--width 1400] [--height 2400]
       report_browser_check.py --self-test   (a page with errors must be caught)

Talks the DevTools protocol over a WebSocket (Python standard library only): enables
Runtime, Log, Network and Page, navigates to the file, waits for the load event, then
captures the page. Exit status 0 = no errors; 1 = errors (listed); 2 = harness failure.
Chromium runs with a fresh --user-data-dir and no network features.
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-port=0", "--remote-allow-origins=*",
]


class WebSocket:
    """A minimal RFC 6455 client: text frames, client-side masking, no extensions."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise RuntimeError(f"websocket handshake failed: {status!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if opcode in (0x9, 0xA):
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


def devtools_port(user_data, proc, timeout=60):
    f = Path(user_data) / "DevToolsActivePort"
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        if f.exists():
            lines = f.read_text().split("\n")
            if lines and lines[0].strip():
                return int(lines[0])
        time.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")


def check(html, png, width=1400, height=2400):
    """Returns the list of errors seen while loading `html`; writes the screenshot."""
    chromium = os.environ.get("CHROMIUM", "chromium")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as ud:
        proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={ud}", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = devtools_port(ud, proc)
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            page = next(p for p in pages if p.get("type") == "page")
            ws = WebSocket(page["webSocketDebuggerUrl"])
            ids = iter(range(1, 1 << 30))
            errors = []

            def call(method, **params):
                i = next(ids)
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv())
                    if msg.get("id") == i:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg.get("result", {})
                    note(msg)

            loaded = []

            def note(msg):
                m, p = msg.get("method"), msg.get("params", {})
                if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                    errors.append(f"console.{p['type']}: {args}")
                elif m == "Runtime.exceptionThrown":
                    d = p.get("exceptionDetails", {})
                    errors.append("exception: " + str(d.get("exception", {}).get("description", d.get("text"))))
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    e = p["entry"]
                    errors.append(f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".strip())
                elif m == "Network.loadingFailed":
                    errors.append(f"network: {p.get('errorText')} (request {p.get('requestId')})")
                elif m == "Network.requestWillBeSent":
                    url = p.get("request", {}).get("url", "")
                    if not url.startswith(("file:", "data:", "about:")):
                        errors.append(f"network request at view time: {url}")
                elif m == "Page.loadEventFired":
                    loaded.append(True)

            for domain in ("Runtime", "Log", "Network", "Page"):
                call(f"{domain}.enable")
            call("Page.navigate", url=Path(html).resolve().as_uri())
            t0 = time.time()
            while not loaded:
                if time.time() - t0 > 60:
                    raise RuntimeError("page did not load in 60 s")
                note(json.loads(ws.recv()))
            # Let late console messages arrive.
            call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 300))",
                 awaitPromise=True)
            metrics = call("Page.getLayoutMetrics")
            content_h = int(metrics.get("cssContentSize", metrics.get("contentSize", {})).get("height", height))
            shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width,
                              "height": min(max(content_h, 200), 16000), "scale": 1})
            Path(png).write_bytes(base64.b64decode(shot["data"]))
            return errors
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def self_test():
    with tempfile.TemporaryDirectory() as d:
        bad = Path(d) / "bad.html"
        bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                       '<img src="missing.png"><script>console.error("boom"); nope();</script>'
                       '</body></html>')
        errs = check(bad, Path(d) / "bad.png", 400, 300)
        kinds = {e.split(":")[0] for e in errs}
        assert "console.error" in kinds and "exception" in kinds, errs
        assert any("missing.png" in e or "network" in e for e in errs), errs
        good = Path(d) / "good.html"
        good.write_text('<!DOCTYPE html><html><head><meta charset="utf-8">'
                        '<link rel="icon" href="data:,"><title>ok</title></head>'
                        '<body><svg viewBox="0 0 10 10"><rect width="5" height="5"/></svg></body></html>')
        errs = check(good, Path(d) / "good.png", 400, 300)
        assert errs == [], errs
        assert (Path(d) / "good.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print("browser check self-test: errors on a broken page are caught, a clean page passes")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    html, png = sys.argv[1], sys.argv[2]
    width = int(sys.argv[sys.argv.index("--width") + 1]) if "--width" in sys.argv else 1400
    height = int(sys.argv[sys.argv.index("--height") + 1]) if "--height" in sys.argv else 2400
    errors = check(html, png, width, height)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    print(f"{html}: {len(errors)} console/network error(s); screenshot {png}")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, AssertionError) as e:
        print(f"browser check failed: {e}", file=sys.stderr)
        sys.exit(2)
