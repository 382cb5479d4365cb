"""A real HTTP receiver for the hotline's callbacks, on 127.0.0.1 (a free port) in a thread: it
checks each message's HMAC signature the way the hotline would, keeps what arrived, and can be
told to refuse (an HTTP status) or to hang (never answer, so the sender's timeout is what ends it)."""
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, secret):
        self.secret = secret
        self.status = 200
        # With a set of event names, only those get `status`; the others are taken (200).
        self.only_events = None
        self.hang = False
        self.received = []      # (headers, body text, signature valid)
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
                valid = receiver.verifies(self.headers.get("X-Yizhan-Timestamp", ""), body,
                                          self.headers.get("X-Yizhan-Signature", ""))
                receiver.received.append((dict(self.headers), body, valid))
                if receiver.hang:
                    receiver._release.wait(30)  # the sender gives up first; released at the end
                    return
                status = receiver.status if valid else 401
                if valid and receiver.only_events is not None and json.loads(body).get("event") not in receiver.only_events:
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hotline/callback?src=yizhan"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verifies(self, timestamp, body, signature):
        expected = "sha256=" + hmac.new(self.secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def bodies(self):
        return [json.loads(body) for _headers, body, _valid in self.received]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
