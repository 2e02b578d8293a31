"""A real RFC 3161 timestamp authority on loopback for the B-T tests, built on pyHanko's
timestamper: `python3 server.py CERT.pem KEY.pem` prints the port, then answers
`application/timestamp-query` POSTs until it is killed."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import keys, pem, tsp, x509
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper


def load(path):
    data = open(path, "rb").read()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return data


STAMPER = DummyTimeStamper(
    tsa_cert=x509.Certificate.load(load(sys.argv[1])),
    tsa_key=keys.PrivateKeyInfo.load(load(sys.argv[2])),
)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            response = STAMPER.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
        except Exception as e:  # a malformed request is a 400, as a real TSA would say
            self.send_error(400, str(e))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
