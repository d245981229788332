#!/usr/bin/env python3
"""Checks that a PNG screenshot shows something: decodes it with the standard
library alone (chunks, zlib, the five scanline filters) and requires many
distinct colours, no colour covering nearly the whole image, and pixels near
each colour given on the command line (R,G,B; the report's plot colours).

Usage: png_check.py FILE [R,G,B ...]; exit 1 with a reason when it fails."""
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        sys.exit(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    return width, height, channels, zlib.decompress(b"".join(idat))


def unfilter(width, height, channels, raw):
    stride = width * channels
    rows, previous, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return rows


def main():
    path, wanted = sys.argv[1], [tuple(int(v) for v in arg.split(",")) for arg in sys.argv[2:]]
    width, height, channels, raw = read_png(path)
    counts = {}
    for row in unfilter(width, height, channels, raw):
        for x in range(0, len(row), channels):
            pixel = row[x:x + 3]
            counts[pixel] = counts.get(pixel, 0) + 1
    n_pixels = width * height
    top = max(counts.values())
    print(f"{path}: {width}x{height}, {len(counts)} distinct colours, the commonest covers {top / n_pixels:.1%}")
    if len(counts) < 16:
        sys.exit(f"{path}: only {len(counts)} distinct colours: the page looks blank")
    if top > 0.995 * n_pixels:
        sys.exit(f"{path}: one colour covers {top / n_pixels:.2%} of the image: the page looks blank")
    for colour in wanted:
        near = sum(n for p, n in counts.items() if max(abs(p[i] - colour[i]) for i in range(3)) <= 12)
        print(f"  pixels near {colour}: {near}")
        if near < 20:
            sys.exit(f"{path}: fewer than 20 pixels near {colour}: that plot element was not drawn")


main()
