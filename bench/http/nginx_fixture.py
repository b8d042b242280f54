"""nginx for the Python peers of the HTTP benchmarks: the same config
(tests/http/nginx.conf.in) and the same /user.json as tests/http/fixture.c,
started on free ports of 127.0.0.1 inside a temporary directory."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(ROOT, "tests", "http", "nginx.conf.in")

# Byte for byte the nginx_user_json of tests/http/fixture.c.
USER_JSON = (
    '{"id": 42, "name": "Ada Lovelace", "email": "ada@example.com", '
    '"roles": ["admin", "author"], "active": true, "score": 97.5, '
    '"address": {"city": "London", "zip": "W1"}, "tags": [1, 2, 3]}\n'
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cio-nginx-")
        self.port = free_port()
        self.port2 = free_port()
        while self.port2 == self.port:
            self.port2 = free_port()
        self.port3 = free_port()
        while self.port3 in (self.port, self.port2):
            self.port3 = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        www = os.path.join(self.dir, "www")
        os.mkdir(www)
        with open(os.path.join(www, "user.json"), "w") as f:
            f.write(USER_JSON)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", os.path.join(self.dir, "key.pem"),
             "-out", os.path.join(self.dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost"],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        with open(CONF) as f:
            conf = f.read()
        for k, v in (("@PREFIX@", self.dir), ("@ROOT@", www), ("@PORT@", str(self.port)),
                     ("@PORT2@", str(self.port2)),
                     ("@PORT3@", str(self.port3)), ("@ACCESS_LOG@", "off")):
            conf = conf.replace(k, v)
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(
            [nginx, "-p", self.dir, "-c", path, "-e", os.path.join(self.dir, "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.01)
        self.stop()
        raise RuntimeError("nginx did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
