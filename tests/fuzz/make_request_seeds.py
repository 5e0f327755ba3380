#!/usr/bin/env python3
"""Writes the seed corpus of request_fuzzer: one valid request frame (no size
prefix) per API and several versions, built from the Kafka message specs.
Run from anywhere: python3 tests/fuzz/make_request_seeds.py"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "request")


def crc32c(data):
    poly = 0x82F63B78
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def varint(n):
    u = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def string(s):
    return struct.pack(">h", len(s)) + s.encode()


def record(i, key, value, headers=()):
    body = b"\x00" + varint(i) + varint(i)
    body += varint(len(key)) + key if key is not None else varint(-1)
    body += varint(len(value)) + value if value is not None else varint(-1)
    body += varint(len(headers))
    for k, v in headers:
        body += varint(len(k)) + k + varint(len(v)) + v
    return varint(len(body)) + body


def batch(records, codec=0):
    recs = b"".join(records)
    if codec == 1:
        c = zlib.compressobj(wbits=31)
        recs = c.compress(recs) + c.flush()
    after_crc = struct.pack(">hiqqqhii", codec, len(records) - 1, 1000, 1000 + len(records),
                            -1, -1, -1, len(records)) + recs
    head = struct.pack(">qii", 0, 4 + 1 + 4 + len(after_crc), -1) + b"\x02"
    return head + struct.pack(">I", crc32c(after_crc)) + after_crc


def header(api, version, corr=7, client=b"fuzz"):
    return struct.pack(">hhi", api, version, corr) + struct.pack(">h", len(client)) + client


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    recs = [record(0, b"k0", b"v0", [(b"h", b"x")]), record(1, None, b"v1"), record(2, b"k2", None)]
    for codec in (0, 1):
        b = batch(recs, codec)
        for v in (3, 7):
            body = string("") if False else struct.pack(">h", -1)  # transactional_id null
            body += struct.pack(">hi", -1, 30000) + struct.pack(">i", 1) + string("topic")
            body += struct.pack(">i", 1) + struct.pack(">ii", 0, len(b)) + b
            write(f"produce_v{v}_codec{codec}", header(0, v) + body)
    for v in (4, 11):
        body = struct.pack(">iiii", -1, 500, 1, 1 << 20) + b"\x00"
        if v >= 7:
            body += struct.pack(">ii", 0, -1)
        body += struct.pack(">i", 1) + string("topic") + struct.pack(">i", 1) + struct.pack(">i", 0)
        if v >= 9:
            body += struct.pack(">i", -1)
        body += struct.pack(">q", 0)
        if v >= 5:
            body += struct.pack(">q", -1)
        body += struct.pack(">i", 1 << 20)
        if v >= 7:
            body += struct.pack(">i", 0)
        if v >= 11:
            body += string("")
        write(f"fetch_v{v}", header(1, v) + body)
    for v in (0, 1, 3):
        body = struct.pack(">i", -1) + (b"\x00" if v >= 2 else b"")
        body += struct.pack(">i", 1) + string("topic") + struct.pack(">i", 1) + struct.pack(">iq", 0, -2)
        if v == 0:
            body += struct.pack(">i", 1)
        write(f"listoffsets_v{v}", header(2, v) + body)
    write("metadata_v0_all", header(3, 0) + struct.pack(">i", 0))
    write("metadata_v1_null", header(3, 1) + struct.pack(">i", -1))
    write("metadata_v4_topic", header(3, 4) + struct.pack(">i", 1) + string("topic") + b"\x01")
    write("apiversions_v0", header(18, 0))
    write("apiversions_v3", header(18, 3) + b"\x00\x05fuzz\x041.0\x00")
    for v in (0, 4):
        body = struct.pack(">i", 1) + string("topic") + struct.pack(">ih", 3, 1) + struct.pack(">i", 0)
        body += struct.pack(">i", 1) + string("cleanup.policy") + string("compact")
        body += struct.pack(">i", 30000) + (b"\x00" if v >= 1 else b"")
        write(f"createtopics_v{v}", header(19, v) + body)
    write("deletetopics_v1", header(20, 1) + struct.pack(">i", 1) + string("topic") + struct.pack(">i", 30000))
    write("initproducerid_v1", header(22, 1) + struct.pack(">h", -1) + struct.pack(">i", 60000))
    write("unknown_api", header(99, 0))


if __name__ == "__main__":
    main()
