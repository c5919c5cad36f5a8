"""llama.cpp's escape processing of string arguments (-p, -f, --dry-sequence-breaker), and its inverse."""

from __future__ import annotations

import re

from pipeline.errors import UsageError


def process_escapes(text: str, flag: str) -> str:
    """llama.cpp's string_process_escapes: \\n \\r \\t \\' \\" \\\\ and \\xNN; others kept."""
    try:
        data, out, i = text.encode("utf-8"), bytearray(), 0
    except UnicodeEncodeError:
        raise UsageError(f"{flag}: the text is not valid UTF-8") from None
    simple = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("'"): b"'", ord('"'): b'"',
              ord("\\"): b"\\"}
    while i < len(data):
        if data[i] != ord("\\") or i + 1 >= len(data):
            out.append(data[i])
            i += 1
            continue
        code = data[i + 1]
        hex_digits = data[i + 2:i + 4]
        if code in simple:
            out += simple[code]
            i += 2
        elif code == ord("x") and i + 3 < len(data) and re.fullmatch(rb"[0-9a-fA-F]{2}", hex_digits):
            out.append(int(hex_digits, 16))
            i += 4
        else:
            out += data[i:i + 2]
            i += 2
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{flag}: its \\x escapes make bytes that are not UTF-8 text") from None


def escape_for_flag(text: str) -> str:
    """The inverse of process_escapes, for rendering a value llama.cpp will unescape."""
    rendered = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return "\\x6eone" if rendered == "none" else rendered  # "none" as a breaker means "no breakers"
