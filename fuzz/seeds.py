#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (deterministic; stdlib only).

Seeds are small valid and near-valid inputs of each target's format. Cookie seeds are
well-formed values signed or sealed under a key that is NOT the fuzz targets' key, so
they must be refused as forged; their near misses must be refused as malformed.
Run from anywhere: python3 fuzz/seeds.py
"""
import base64
import hashlib
import hmac
import os
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
ESC = "\ue000"  # store-postgres's NUL escape character


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def det(label, n):
    """n deterministic pseudo-random bytes."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def write(target, seeds):
    d = os.path.join(ROOT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


# --- cookies ---------------------------------------------------------------------------
def signed_value(master, name, raw_id):
    signing = hmac.new(master, b"session-core/v1/signing", hashlib.sha256).digest()
    text = b64(raw_id)
    tag = hmac.new(signing, f"{name}={text}".encode(), hashlib.sha256).digest()
    return f"{text}.{b64(tag)}"


other_key = b"\x01" * 32  # not the targets' key
good = signed_value(other_key, "sid", det("id", 32))
text, tag = good.split(".")
write("cookie_signed", {
    "forged_value": good,
    "forged_header": f"theme=dark; sid={good}; lang=en",
    "two_headers": f"a=1\nsid={good}\nsid={good}",
    "flipped_tag": f"sid={text}.{tag[:-1]}{'A' if tag[-1] != 'A' else 'B'}",
    "short_tag": f"sid={text}.{tag[:-2]}",
    "no_dot": f"sid={text}{tag}",
    "padded": f"sid={text}=.{tag}=",
    "other_name": f"xsid={good}",
    "name_nul_value": f"other\0{good}",
    "empty_value": "sid=; sid = ; =sid",
})

# Private format 1: version byte, 24-byte nonce, 32-byte sealed id, 16-byte tag (98 chars).
# Random bytes of that shape are what a seal under another key looks like.
sealed = b64(b"\x01" + det("nonce", 24) + det("sealed", 48))
legacy = b64(det("nonce", 12) + det("sealed", 48))  # 80 chars: AES-GCM, no version byte
write("cookie_private", {
    "forged_value": sealed,
    "forged_header": f"theme=dark; sid={sealed}; lang=en",
    "two_headers": f"a=1\nsid={sealed}\nsid={sealed}",
    "short": f"sid={sealed[:-1]}",
    "long": f"sid={sealed}A",
    "std_alphabet": "sid=" + sealed.replace("-", "+").replace("_", "/"),
    "signed_shape": f"sid={good}",
    "name_nul_value": f"other\0{sealed}",
    "unknown_version": "sid=" + b64(b"\x02" + det("nonce", 24) + det("sealed", 48)),
    "legacy_aes_gcm": f"sid={legacy}",
})

# --- redis: lines field=value of an HGETALL reply --------------------------------------
def hash_lines(fields):
    return "\n".join(f"{k}={v}" for k, v in fields)


base = [("v", "3"), ("c", "1690000000000"), ("e", "1800000000000"), ("p", "1")]
write("redis_record", {
    "valid": hash_lines(base + [("u", "alice"), ("i", "1900000000000"),
                                ("d:cart", "[1,2,{\"q\":3}]"), ("d:name", "\"bob\""),
                                ("d:", "null"), ("d:a.b", "1.5e300")]),
    "valid_minimal": hash_lines(base),
    "expired": hash_lines([("v", "1"), ("c", "1"), ("e", "2"), ("p", "0")]),
    "bad_flag": hash_lines(base[:3] + [("p", "2")]),
    "missing_created": hash_lines([base[0], base[2], base[3]]),
    "not_json": hash_lines(base + [("d:x", "{oops")]),
    "unknown_field": hash_lines(base + [("z", "1")]),
    "negative_version": hash_lines([("v", "-1")] + base[1:]),
    "bad_utf8": "\n".join(f"{k}={v}" for k, v in base).encode() + b"\nu=\xff\xfe\nd:\xc3=1",
})

# --- mongo: BSON documents -------------------------------------------------------------
def cstr(s):
    return s.encode() + b"\0"


def bson_doc(items):
    body = b""
    for name, (kind, value) in items:
        if kind == "str":
            raw = value.encode() + b"\0"
            body += b"\x02" + cstr(name) + struct.pack("<i", len(raw)) + raw
        elif kind == "doc":
            body += b"\x03" + cstr(name) + bson_doc(value)
        elif kind == "bool":
            body += b"\x08" + cstr(name) + bytes([value])
        elif kind == "date":
            body += b"\x09" + cstr(name) + struct.pack("<q", value)
        elif kind == "null":
            body += b"\x0a" + cstr(name)
        elif kind == "i32":
            body += b"\x10" + cstr(name) + struct.pack("<i", value)
        elif kind == "i64":
            body += b"\x12" + cstr(name) + struct.pack("<q", value)
        elif kind == "f64":
            body += b"\x01" + cstr(name) + struct.pack("<d", value)
    return struct.pack("<i", len(body) + 5) + body + b"\0"


def session_doc(data, version=("i64", 4), user=("str", "alice"), persistent=("bool", 1),
                drop=()):
    items = [("_id", ("str", "ab" * 32)), ("data", ("doc", data)),
             ("created_at", ("date", 1690000000000)), ("expires_at", ("date", 1800000000000)),
             ("user", user), ("persistent", persistent), ("version", version)]
    return bson_doc([i for i in items if i[0] not in drop])


data = [("cart", ("str", "[1,2,3]")), ("a%2Eb%24", ("str", "{\"x.y\":18446744073709551615}")),
        ("%", ("str", "\"nul\\u0000\""))]
write("mongo_record", {
    "valid": session_doc(data),
    "valid_i32_null_user": session_doc([], version=("i32", 7), user=("null", None)),
    "bad_escape": session_doc([("%zz", ("str", "1"))]),
    "raw_dot": session_doc([("a.b", ("str", "1"))]),
    "value_not_text": session_doc([("k", ("i32", 1))]),
    "value_not_json": session_doc([("k", ("str", "{oops"))]),
    "negative_version": session_doc([], version=("i64", -1)),
    "float_version": session_doc([], version=("f64", 1.0)),
    "no_persistent": session_doc([], drop=("persistent",)),
    "user_not_string": session_doc([], user=("i32", 5)),
})

# --- postgres: the jsonb `data` column, NUL escaped with U+E000 -------------------------
write("postgres_data", {
    "valid": '{"a":1,"b":"x' + ESC + '0y","' + ESC + ESC + 'k":[true,null,{"n":"' + ESC + '0"}]}',
    "empty": "{}",
    "not_object": "[1,2]",
    "dangling_escape": '{"bad":"' + ESC + '"}',
    "unknown_escape": '{"bad":"' + ESC + 'x"}',
    "escaped_key_only": '{"' + ESC + '0":' + '"' + ESC + ESC + '"}',
    "numbers": '{"big":18446744073709551615,"neg":-9223372036854775808,"f":1.5e300,"z":-0.0}',
    "raw_nul": '{"k":"\\u0000"}',
    "bare_string": ESC + "0" + ESC + ESC + "plain",
})

# --- sqlite: the JSON text `data` column ------------------------------------------------
write("sqlite_data", {
    "valid": '{"cart":[1,2,{"q":3}],"name":"bob","":null,"a.b":true}',
    "empty": "{}",
    "not_object": "[1]",
    "duplicate_keys": '{"a":1,"a":2}',
    "numbers": '{"big":18446744073709551615,"neg":-9223372036854775808,"f":1.5e300,"z":-0.0}',
    "escapes": '{"k\\u0000":"\\ud83d\\udd11\\n"}',
    "overflow": '{"x":1e400}',
    "truncated": '{"a":[1,2',
    "nested": '{"d":' + "[" * 20 + "]" * 20 + "}",
})
