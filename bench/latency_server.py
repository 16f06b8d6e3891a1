#!/usr/bin/env python3
"""Tiny SSE server on loopback for the latency scenario (bench/run.sh).

    python3 latency_server.py PORT EVENTS INTERVAL_MS

Answers every request (any method/path; the request body is read and ignored) with a chat-style
stream: EVENTS x `conversation.message.delta`, INTERVAL_MS apart, then `done`. Each event is its
own HTTP chunk, written with TCP_NODELAY right after its send time is taken, and its data carries
that time: "rt_s"/"rt_ns" (CLOCK_REALTIME, seconds + nanoseconds, compared with coze.core.time())
and "mono_ns" (CLOCK_MONOTONIC, compared with Node's process.hrtime.bigint(), same clock).
One thread per connection; the response ends with Connection: close.
"""
import socket
import sys
import threading
import time


def read_request(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return False
            rest += chunk
    else:
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            rest += chunk
    return True


def chunk(payload):
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def serve(conn, events, interval):
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not read_request(conn):
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\nX-Tt-Logid: bench-latency\r\n"
                     b"Connection: close\r\n\r\n")
        for i in range(events):
            time.sleep(interval)
            mono = time.monotonic_ns()
            rt = time.time_ns()
            rec = (b'event:conversation.message.delta\ndata:{"i":%d,"content":"x","rt_s":%d,"rt_ns":%d,'
                   b'"mono_ns":%d}\n\n' % (i, rt // 1000000000, rt % 1000000000, mono))
            conn.sendall(chunk(rec))
        conn.sendall(chunk(b'event:done\ndata:"[DONE]"\n\n') + b"0\r\n\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port, events, interval_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, events, interval_ms / 1000.0), daemon=True).start()


if __name__ == "__main__":
    main()
