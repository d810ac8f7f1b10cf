#!/usr/bin/env python3
"""A counting OTLP/HTTP receiver: accepts http/protobuf exports on loopback and counts the spans it is sent.

GET /stats answers a JSON summary (spans, root spans, spans by instrumentation scope, root spans by name, where a
database span's name has the start of its statement); POST /reset zeroes it. Metrics and logs exports are accepted and ignored. No protobuf library is needed: the
few fields read (ExportTraceServiceRequest -> ResourceSpans -> ScopeSpans -> Span name and parent_span_id) are
decoded from the wire format directly.

Usage: bench/scripts/otlp-span-count.py [port, default 4404]   (listens on 127.0.0.1 only)
Point a host at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4404 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf.
"""
import gzip
import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fields(buffer):
    """Yields (field number, wire type, value) of one protobuf message; value is bytes for length-delimited fields."""
    position = 0
    while position < len(buffer):
        key, position = varint(buffer, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = varint(buffer, position)
        elif wire == 1:
            value, position = buffer[position:position + 8], position + 8
        elif wire == 2:
            length, position = varint(buffer, position)
            value, position = buffer[position:position + length], position + length
        elif wire == 5:
            value, position = buffer[position:position + 4], position + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def varint(buffer, position):
    result = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def query_text(span):
    """The start of a database span's statement (db.query.text, or db.statement before the stable conventions)."""
    for number, _, attribute in fields(span):
        if number != 9:
            continue
        pair = {n: v for n, _, v in fields(attribute)}
        if pair.get(1) in (b"db.query.text", b"db.statement"):
            text = next((v.decode() for n, _, v in fields(pair.get(2, b"")) if n == 1), "")
            return " ".join(text.split())[:70]
    return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.spans = self.roots = 0
        self.by_scope, self.roots_by_name = Counter(), Counter()

    def reset(self):
        with self.lock:
            self.spans = self.roots = 0
            self.by_scope, self.roots_by_name = Counter(), Counter()

    def add(self, request):
        spans = []
        for number, _, resource_spans in fields(request):
            if number != 1:
                continue
            for number, _, scope_spans in fields(resource_spans):
                if number != 2:
                    continue
                scope = ""
                for number, _, value in fields(scope_spans):
                    if number == 1:
                        scope = next((v.decode() for n, _, v in fields(value) if n == 1), "")
                    elif number == 2:
                        span = {n: v for n, _, v in fields(value) if n in (4, 5)}
                        name = span.get(5, b"").decode()
                        statement = query_text(value)
                        if statement:
                            name = f"{name}: {statement}"
                        spans.append((scope, name, len(span.get(4, b"")) == 0))
        with self.lock:
            for scope, name, root in spans:
                self.spans += 1
                self.by_scope[scope] += 1
                if root:
                    self.roots += 1
                    self.roots_by_name[f"{scope}: {name}"] += 1

    def summary(self):
        with self.lock:
            return {
                "spans": self.spans,
                "roots": self.roots,
                "by_scope": dict(self.by_scope.most_common()),
                "roots_by_name": dict(self.roots_by_name.most_common(30)),
            }


STATS = Stats()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/reset":
            STATS.reset()
        elif self.path == "/v1/traces":
            STATS.add(body)
        self.answer(200, b"", "application/x-protobuf")

    def do_GET(self):
        if self.path == "/stats":
            self.answer(200, json.dumps(STATS.summary(), indent=1).encode(), "application/json")
        else:
            self.answer(404, b"", "text/plain")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4404
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
