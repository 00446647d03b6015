"""Text encodings of survey exports: byte-order marks, UTF-16 without one, UTF-8 with stray
cp1252 bytes (mixed files), cp1252, and Latin-1 holding another code page's letters; binary
content that happened to decode is refused. Messages name the file, the line and the bytes."""

from __future__ import annotations

import codecs
import mmap
import re
from pathlib import Path

from helpers.errors import DataError


def _mixed_handler(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not valid UTF-8 as cp1252 (latin-1 where cp1252 has no glyph)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return bad.decode("cp1252", errors="replace").replace("\ufffd", "") or bad.decode(
        "latin-1"), exc.end


codecs.register_error("helpers_io_cp1252", _mixed_handler)


def bom_encoding(head: bytes) -> tuple[str | None, int]:
    """Encoding named by a byte-order mark, and the mark's length."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", 3
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", 4
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 2
    return None, 0


def utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without BOM shows as NUL bytes in every other position of ASCII-heavy text."""
    n = len(sample) - len(sample) % 2
    if n < 4:
        return None
    even, odd = sample[0:n:2].count(0), sample[1:n:2].count(0)
    half = n // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def check_text(text: str, p: Path, encoding: str) -> None:
    """Reject binary content that happened to decode (NULs, many control characters)."""
    sample = text[:65536]
    if "\x00" in text:  # anywhere in what was read, not only the first 64 KB
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(f"contains NUL bytes (binary content) when decoded as {encoding}",
                        file=p, row=line, expected="a text export (CSV/TSV) or XLSX/SPSS/parquet")
    ctrl = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n")
               or 0x7F <= ord(ch) <= 0x9F)
    if ctrl > max(2, 0.01 * len(sample)):
        raise DataError(f"contains {ctrl} control characters in its first {len(sample)} "
                        f"characters when decoded as {encoding} (binary or wrong encoding)",
                        file=p, expected="a text export (CSV/TSV); pass encoding= if it is text")


def check_nul_bytes(p: Path, encoding: str) -> None:
    """Refuse a NUL byte anywhere in a file read in place (a memory-mapped scan, no copy)."""
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        at = mm.find(b"\x00")
        if at >= 0:
            line = mm[:at].count(b"\n") + 1
            raise DataError(f"contains NUL bytes (binary content) when decoded as {encoding}",
                            file=p, row=line,
                            expected="a text export (CSV/TSV) or XLSX/SPSS/parquet")


def undecodable(raw: bytes, encoding: str, exc: UnicodeDecodeError, p: Path) -> DataError:
    line = raw.count(b"\n", 0, exc.start) + 1 if "16" not in encoding and "32" not in encoding \
        else None
    return DataError(
        f"undecodable bytes {raw[exc.start:exc.start + 4]!r} at byte {exc.start} as {encoding}",
        file=p, row=line, expected=f"text in {encoding}, or pass the right encoding=")


def decode_all(raw: bytes, p: Path, encoding: str | None, notes: list[str]) -> tuple[str, str]:
    """Decode the whole file; returns (text without BOM, encoding name) and notes what it did.

    An explicit `encoding` is strict. Otherwise: byte-order mark, UTF-16 without BOM, UTF-8,
    UTF-8 with stray cp1252 bytes (mixed files), cp1252, latin-1, in that order.
    """
    if encoding is not None:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise undecodable(raw, encoding, exc, p) from None
        notes.append(f"decoded as {encoding} (as requested)")
        return text.removeprefix("\ufeff"), encoding
    bom, bom_len = bom_encoding(raw[:4])
    enc = bom if bom != "utf-8-sig" else None
    enc = enc or (utf16_without_bom(raw[:4096]) if bom is None else None)
    if enc is not None:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            raise undecodable(raw, enc, exc, p) from None
        notes.append(f"decoded as {enc}" + (" (byte-order mark)" if bom else " (no byte-order mark)"))
        return text.removeprefix("\ufeff"), enc
    body = raw[bom_len:]
    try:
        text = body.decode("utf-8")
        if bom:
            notes.append("decoded as utf-8 (byte-order mark removed)")
        return text, bom or "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start + bom_len
    valid = body.decode("utf-8", errors="ignore")
    if len(valid) != len(valid.encode("ascii", errors="ignore")):  # some real UTF-8 text
        text = body.decode("utf-8", errors="helpers_io_cp1252")
        line = raw.count(b"\n", 0, first_bad) + 1
        notes.append("mixed encodings: decoded as UTF-8, with the bytes that are not valid UTF-8 "
                     f"(first on line {line}) decoded as cp1252")
        return text, "utf-8+cp1252"
    raw = body
    try:
        text = raw.decode("cp1252")
        notes.append("not valid UTF-8: decoded as cp1252 (Windows Western European)")
        return text, "cp1252"
    except UnicodeDecodeError:
        notes.append("not valid UTF-8 or cp1252: decoded as latin-1 (ISO-8859-1)")
        return _repair_c1(raw.decode("latin-1"), notes), "latin-1"


_C1 = re.compile("[\x80-\x9f]")
_EURO_BESIDE_DIGIT = re.compile("(?<=\\d)\x80|(?<=\\d )\x80|\x80(?= ?\\d)")


def _repair_c1(text: str, notes: list[str]) -> str:
    """Latin-1 text holding bytes 0x80-0x9F (control codes, never text) was partly written in
    another code page: a French export with DOS-typed rows has 'pr\\x82sent\\x82' for 'présenté'.
    The code page under which those bytes read as letters fitting their neighbours (cp850, Mac
    Roman or cp1252) replaces them, when it fits at least 80% of them; noted."""
    hits = [m.start() for m in _C1.finditer(text)][:5000]
    if not hits:
        return text
    best, best_fit, best_table = "", 0.0, {}
    for enc in ("cp850", "mac_roman", "cp1252"):
        table = {}
        for b in range(0x80, 0xA0):
            try:
                table[chr(b)] = bytes([b]).decode(enc)
            except UnicodeDecodeError:
                continue
        fits = 0
        for i in hits:
            ch, prev = table.get(text[i], ""), text[i - 1] if i else " "
            fits += ch.isalpha() and (not prev.isalpha() or ch.islower() == prev.islower())
        if fits / len(hits) > best_fit:
            best, best_fit, best_table = enc, fits / len(hits), table
    if best_fit < 0.8:
        return text
    count = len(_C1.findall(text))
    text = _EURO_BESIDE_DIGIT.sub("€", text)  # "15\x80": the cp1252 euro sign, in any mix
    notes.append(f"{count:,} characters in the range 0x80-0x9F (not Latin-1 text) read as {best} "
                 "letters (é, à, ç ...): the file mixes two encodings")
    return text.translate({ord(c1): letter for c1, letter in best_table.items()})

def decode_sample(raw: bytes, complete: bool, p: Path, encoding: str | None,
                  notes: list[str]) -> tuple[str, str, bool]:
    """Decode the leading sample of a text export.

    Returns (text, encoding, whole): `whole` is True when `text` is the entire file. A large
    file is only sampled when it is UTF-8, so that pyarrow can read its bytes directly; other
    encodings are decoded whole in Python.
    """
    if not complete and (encoding is None or codecs.lookup(encoding).name == "utf-8"):
        if bom_encoding(raw[:4])[0] in (None, "utf-8-sig") and not utf16_without_bom(
                raw[:4096]):
            has_bom = raw.startswith(codecs.BOM_UTF8)
            try:
                text = codecs.getincrementaldecoder("utf-8")().decode(raw[3 if has_bom else 0:],
                                                                      final=False)
            except UnicodeDecodeError as exc:
                if encoding is not None:
                    raise undecodable(raw, encoding, exc, p) from None
            else:
                enc = "utf-8-sig" if has_bom else "utf-8"
                if has_bom:
                    notes.append("decoded as utf-8 (byte-order mark removed)")
                return text, enc, False
    if not complete:
        with open(p, "rb") as fh:
            raw = fh.read()
    text, enc = decode_all(raw, p, encoding, notes)
    return text, enc, True
