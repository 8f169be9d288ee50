"""Chinese-LLaMA-Alpaca-2's tokenizer merge (scripts/merge_tokenizer/merge_tokenizers.py) without the protobuf package:
every piece of the Chinese SentencePiece model that the LLaMA model lacks is appended to the LLaMA ModelProto as
SentencePiece{piece, score=0} (type left at its default, NORMAL), so the old ids keep their numbers. The output is what
protobuf's SerializeToString writes for the merged message: all `pieces` (field 1) first, then the other fields
(trainer_spec, normalizer_spec, ...) as they were. Reference: google/sentencepiece src/sentencepiece_model.proto.
"""
import struct


def _varint(buf, i):
    shift, out = 0, 0
    while True:
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, i
        shift += 7


def _encode_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fields(buf):
    """Top-level fields of a protobuf message as (field number, value bytes or int, raw bytes of the whole field)."""
    i, out = 0, []
    while i < len(buf):
        start = i
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {start}")
        out.append((num, val, buf[start:i]))
    return out


def pieces(model_bytes):
    """The piece strings of a ModelProto, in id order."""
    return [next(v for n, v, _ in fields(raw) if n == 1).decode("utf-8")
            for num, raw, _ in fields(model_bytes) if num == 1]


def _new_piece(piece):
    p = piece.encode("utf-8")
    body = b"\x0a" + _encode_varint(len(p)) + p + b"\x15" + struct.pack("<f", 0.0)   # piece=1, score=2 (0.0)
    return b"\x0a" + _encode_varint(len(body)) + body


def merge(llama_bytes, chinese_bytes):
    """Returns (merged ModelProto bytes, the appended pieces)."""
    have = set(pieces(llama_bytes))
    added = [p for p in pieces(chinese_bytes) if p not in have]
    top = fields(llama_bytes)
    out = b"".join(raw for num, _, raw in top if num == 1) + b"".join(_new_piece(p) for p in added)
    out += b"".join(raw for num, _, raw in top if num != 1)
    return out, added
