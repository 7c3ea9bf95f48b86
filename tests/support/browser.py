"""A headless Chromium driven over the DevTools protocol, standard library only.

Chromium's --remote-debugging-pipe reads commands on fd 3 and writes answers
and events on fd 4: JSON messages, each ended by a NUL byte. No npm, no
WebSocket: a pipe pair and json.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time


class BrowserError(Exception):
    pass


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, binary, width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="sluss-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire():  # in the child: its fd 3 reads our commands, fd 4 answers
            r, w = os.dup(to_child_r), os.dup(from_child_w)  # above 4, whatever the numbers
            os.dup2(r, 3)  # inheritable; every other fd of ours is close-on-exec
            os.dup2(w, 4)

        args = [binary, "--headless=new", "--remote-debugging-pipe", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--no-sandbox",
                "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height),
                "about:blank"]
        self.log = open(os.path.join(self.profile, "stderr.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=wire, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise BrowserError("no answer from chromium")
            chunk = os.read(self._from_child, 65536)
            if not chunk:
                raise BrowserError("chromium closed its pipe; its log: " + self.stderr_tail())
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        self._next_id += 1
        mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise BrowserError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def send(self, method, params=None):
        """A command to the page's session."""
        return self.call(method, params, session=self.session)

    def eval(self, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expression, what, timeout=90):
        """Until `expression` is truthy in the page; its value."""
        deadline = time.monotonic() + timeout
        # An element is not a value DevTools can return: it counts as true.
        guarded = ("(() => { try { const v = (%s); return v instanceof Node ? true : v; } "
                   "catch (e) { return null; } })()" % expression)
        while True:
            v = self.eval(guarded)
            if v:
                return v
            if time.monotonic() > deadline:
                raise BrowserError("waited for %s; the page shows: %s" %
                                   (what, self.eval("document.body.innerText")))
            time.sleep(0.2)

    def navigate(self, url):
        self.send("Page.navigate", {"url": url})

    def type_text(self, text):
        self.send("Input.insertText", {"text": text})

    def press_enter(self):
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "text": "\r"})

    def press_tab(self):
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": "Tab", "code": "Tab",
                                                 "windowsVirtualKeyCode": 9})

    def set_width(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": mobile})

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def pump(self):
        """Reads what chromium has sent so far (events land in self.events)."""
        self.eval("1")

    def pause_requests(self, url_pattern):
        """From now on, requests whose URL matches `url_pattern` (DevTools
        wildcards: * and ?) wait until continue_request: a slow server on
        demand, so that a test can act while a request is in flight."""
        self.send("Fetch.enable", {"patterns": [{"urlPattern": url_pattern, "requestStage": "Request"}]})

    def stop_pausing(self):
        self.send("Fetch.disable")

    def wait_paused(self, what, timeout=30):
        """The next paused request's id (the oldest not yet taken)."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.events:
                if m.get("method") == "Fetch.requestPaused" and not m.get("_taken"):
                    m["_taken"] = True
                    return m["params"]["requestId"]
            if time.monotonic() > deadline:
                raise BrowserError("no request paused for " + what)
            time.sleep(0.1)
            self.pump()

    def continue_request(self, request_id):
        self.send("Fetch.continueRequest", {"requestId": request_id})

    def console_errors(self):
        """Console errors and exceptions seen so far (CSP violations among them)."""
        out = []
        for m in self.events:
            if m.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(m["params"]["exceptionDetails"])[:300])
            if m.get("method") == "Runtime.consoleAPICalled" and m["params"]["type"] == "error":
                out.append(json.dumps(m["params"]["args"])[:300])
        return out

    def stderr_tail(self):
        try:
            with open(os.path.join(self.profile, "stderr.log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
