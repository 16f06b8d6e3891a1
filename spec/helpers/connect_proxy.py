#!/usr/bin/env python3
"""A small HTTP proxy on loopback for the proxy specs of coze.transport.ngx (nginx itself refuses
CONNECT, so the emulator cannot be one): CONNECT tunnels, and absolute-form requests forwarded to
their origin (the connection then stays piped to it).

    connect_proxy.py PORT LOGFILE [USER:PASSWORD]

With USER:PASSWORD, a request without that Basic Proxy-Authorization gets 407. A CONNECT to a host
named refused.invalid gets 403. Each connection's first request is appended to LOGFILE as a JSON
line {method, target, auth: "ok" | "missing" | "bad"}; Proxy-* headers never reach the origin.
"""
import asyncio
import base64
import json
import sys

PORT, LOG = int(sys.argv[1]), sys.argv[2]
CRED = sys.argv[3] if len(sys.argv) > 3 else None


def log(entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def split_hostport(s, default):
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default
    host, _, port = s.partition(":")
    return host, int(port) if port else default


async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    kept, auth = [], "missing"
    for line in lines[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name == "proxy-authorization":
            value = line.split(":", 1)[1].strip()
            ok = CRED and value == "Basic " + base64.b64encode(CRED.encode()).decode()
            auth = "ok" if ok else "bad"
        elif not name.startswith("proxy-") and line:
            kept.append(line)
    if method != "CONNECT" and "://" not in target:  # not a proxy request (a readiness probe)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    log({"method": method, "target": target, "auth": auth})
    if CRED and auth != "ok":
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"emu\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    if method == "CONNECT":
        host, port = split_hostport(target, 443)
        if host == "refused.invalid":
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        first = b""
    else:
        rest = target.split("://", 1)[1]
        host, port = split_hostport(rest.split("/", 1)[0], 80)
        first = ("\r\n".join([lines[0]] + kept) + "\r\n\r\n").encode("latin-1")
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port)
    except OSError:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    if method == "CONNECT":
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
    else:
        up_writer.write(first)
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT)
    async with server:
        await server.serve_forever()


asyncio.run(main())
