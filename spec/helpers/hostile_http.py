#!/usr/bin/env python3
"""Servers the emulator cannot play, on a free loopback port, for the hardening specs of
coze.transport.ngx (spec/openresty_app_spec.lua) and the same calls on libcurl.

    hostile_http.py MODE LOGFILE [CERT KEY]

Prints the port it listens on, then serves until killed. Each accepted connection appends a line to
LOGFILE. MODE:
  longline     a status line, then one header line that never ends (64 MiB at most, then close)
  manyheaders  a status line, then short header lines that never end (64 MiB at most)
  empty403     403 with Content-Length: 0 to every request, keeping the connection open
  tls          TLS with CERT/KEY, a JSON 200 to every request, then close
"""
import socket
import ssl
import sys
import threading

MODE, LOG = sys.argv[1], sys.argv[2]
CAP = 64 << 20
OK_BODY = b'{"code":0,"msg":"","data":{"id":"7390029769854844001"}}'


def head(c):
    """Reads one request head (and drops a small body); False at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = c.recv(65536)
        if not got:
            return False
        data += got
    return True


def serve(c, ctx):
    try:
        if ctx is not None:
            c = ctx.wrap_socket(c, server_side=True)
        if not head(c):
            return
        if MODE in ("longline", "manyheaders"):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Long: ")
            piece = b"a" * 65536 if MODE == "longline" else b"a\r\nX-More: " * 6000
            sent = 0
            while sent < CAP:
                c.sendall(piece)
                sent += len(piece)
        elif MODE == "empty403":
            while True:
                c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                if not head(c):
                    return
        elif MODE == "tls":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(OK_BODY), OK_BODY))
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()


def main():
    ctx = None
    if MODE == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        with open(LOG, "a") as f:
            f.write("connection %d\n" % n)
        threading.Thread(target=serve, args=(c, ctx), daemon=True).start()


main()
