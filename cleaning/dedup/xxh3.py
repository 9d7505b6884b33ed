"""XXH3 64-bit (seed 0, default secret) of many byte strings at once, as one compiled kernel.

The index's ``key_hash`` is ``xxhash.xxh3_64_intdigest`` of each key's UTF-8. Called once
per key, that costs a Python ``bytes`` object and a call per paragraph (about a quarter of
the map's array work on Chinese text); the keys' UTF-8 is already in the Arrow array the
index stores, so the kernel hashes its buffer directly. It follows the XXH3 reference
(xxhash 0.8, ``XXH3_64bits``) branch for branch; the tests compare it with ``xxhash`` on every
input length up to several blocks. Without compiled kernels, ``xxhash`` itself is called.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pyarrow as pa
import xxhash

from cleaning import jit

_U64 = np.uint64

# XXH3's default secret (kSecret, 192 bytes)
_SECRET = np.frombuffer(
    bytes.fromhex(
        "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
        "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
        "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
        "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
        "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
        "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
    ),
    dtype=np.uint8,
)
_PRIME32_1 = _U64(0x9E3779B1)
_PRIME32_2 = _U64(0x85EBCA77)
_PRIME32_3 = _U64(0xC2B2AE3D)
_PRIME64_1 = _U64(0x9E3779B185EBCA87)
_PRIME64_2 = _U64(0xC2B2AE3D27D4EB4F)
_PRIME64_3 = _U64(0x165667B19E3779F9)
_PRIME64_4 = _U64(0x85EBCA77C2B2AE63)
_PRIME64_5 = _U64(0x27D4EB2F165667C5)
_PRIME_MX1 = _U64(0x165667919E3779F9)
_PRIME_MX2 = _U64(0x9FB21C651E98DF25)
_M32 = _U64(0xFFFFFFFF)


def xxh3_64(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``uint64`` XXH3 of the byte strings ``data[offsets[i]:offsets[i + 1]]`` (``data`` uint8,
    ``offsets`` int64 of one more than there are strings)."""
    if jit.enabled():
        out = np.empty(len(offsets) - 1, dtype=_U64)
        # the bytes as little-endian words (x86, ARM), two spare words for the last reads
        words = np.zeros(len(data) // 8 + 3, dtype=_U64)
        words.view(np.uint8)[: len(data)] = data
        if sys.byteorder != "little":
            words.byteswap(inplace=True)
        _xxh3_kernel(data, words, offsets, _SECRET, out)
        return out
    raw = data.tobytes()
    hashes = [xxhash.xxh3_64_intdigest(raw[a:b]) for a, b in itertools.pairwise(offsets.tolist())]
    return np.array(hashes, dtype=_U64)


def xxh3_64_of_strings(arr: pa.Array) -> np.ndarray:
    """:func:`xxh3_64` of every value of a ``string`` array (its UTF-8; no nulls)."""
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return xxh3_64(data, offsets.astype(np.int64))


# ---- the kernel: numba types arithmetic on uint64 operands as uint64 (wrapping), so every constant and
# every value shifted or multiplied below is a uint64; 8-byte reads join two aligned words (numba has no
# unaligned 64-bit load from a uint8 array; a loop of byte loads took 2.5x the time)


@jit.kernel
def _xxh3_kernel(
    data: np.ndarray, words: np.ndarray, offsets: np.ndarray, secret: np.ndarray, out: np.ndarray
) -> None:
    """:func:`xxh3_64` into ``out``: ``XXH3_64bits`` of each string, by the reference's length classes.

    ``words``: ``data`` as little-endian 64-bit words, two more at the end; the 8 bytes at any
    offset ``q`` are two words shifted together (``(x << 1) << (63 - s)`` is ``x << (64 - s)``,
    and 0 where ``s`` is 0)."""
    acc8 = np.empty(8, dtype=_U64)
    # the secret's little-endian 64-bit word at every byte offset
    secret64 = np.zeros(secret.shape[0] - 7, dtype=_U64)
    for o in range(secret64.shape[0]):
        for b in range(8):
            secret64[o] |= _U64(secret[o + b]) << _U64(8 * b)
    mix_in = np.empty(16, dtype=np.int64)  # the (input, secret) offsets of a 17..240 byte input's mixes
    mix_sec = np.empty(16, dtype=np.int64)
    for k in range(out.shape[0]):
        p = offsets[k]
        n = offsets[k + 1] - p
        ln = _U64(n)
        if n == 0:
            h = secret64[56] ^ secret64[64]
            h ^= h >> _U64(33)
            h *= _PRIME64_2
            h ^= h >> _U64(29)
            h *= _PRIME64_3
            h ^= h >> _U64(32)
            out[k] = h
        elif n <= 3:
            c1 = _U64(data[p])
            c2 = _U64(data[p + (n >> 1)])
            c3 = _U64(data[p + n - 1])
            combined = (c1 << _U64(16)) | (c2 << _U64(24)) | c3 | (ln << _U64(8))
            h = combined ^ ((secret64[0] & _M32) ^ (secret64[4] & _M32))
            h ^= h >> _U64(33)
            h *= _PRIME64_2
            h ^= h >> _U64(29)
            h *= _PRIME64_3
            h ^= h >> _U64(32)
            out[k] = h
        elif n <= 8:
            in1 = _U64(0)
            in2 = _U64(0)
            for b in range(4):
                in1 |= _U64(data[p + b]) << _U64(8 * b)
                in2 |= _U64(data[p + n - 4 + b]) << _U64(8 * b)
            h = (in2 + (in1 << _U64(32))) ^ (secret64[8] ^ secret64[16])
            # rrmxmx
            h ^= ((h << _U64(49)) | (h >> _U64(15))) ^ ((h << _U64(24)) | (h >> _U64(40)))
            h *= _PRIME_MX2
            h ^= (h >> _U64(35)) + ln
            h *= _PRIME_MX2
            h ^= h >> _U64(28)
            out[k] = h
        elif n <= 16:
            w, sh = p >> 3, _U64(8 * (p & 7))
            lo = (words[w] >> sh) | ((words[w + 1] << _U64(1)) << (_U64(63) - sh))
            q = p + n - 8
            w, sh = q >> 3, _U64(8 * (q & 7))
            hi = (words[w] >> sh) | ((words[w + 1] << _U64(1)) << (_U64(63) - sh))
            lo ^= secret64[24] ^ secret64[32]
            hi ^= secret64[40] ^ secret64[48]
            swapped = _U64(0)
            for b in range(8):
                swapped = (swapped << _U64(8)) | ((lo >> _U64(8 * b)) & _U64(0xFF))
            # 64 x 64 -> 128 bit product, folded (low ^ high)
            ll = (lo & _M32) * (hi & _M32)
            hl = (lo >> _U64(32)) * (hi & _M32)
            lh = (lo & _M32) * (hi >> _U64(32))
            hh = (lo >> _U64(32)) * (hi >> _U64(32))
            cross = (ll >> _U64(32)) + (hl & _M32) + lh
            upper = (hl >> _U64(32)) + (cross >> _U64(32)) + hh
            lower = (cross << _U64(32)) | (ll & _M32)
            h = ln + swapped + hi + (lower ^ upper)
            h ^= h >> _U64(37)
            h *= _PRIME_MX1
            h ^= h >> _U64(32)
            out[k] = h
        elif n <= 240:
            # the mixes of 16 input bytes with 16 secret bytes, in the reference's order; 129..240
            # bytes avalanche after the first eight
            m = 0
            split = -1
            if n <= 128:
                for r in range((n - 1) // 32 + 1):
                    mix_in[m] = 16 * r
                    mix_sec[m] = 32 * r
                    mix_in[m + 1] = n - 16 * (r + 1)
                    mix_sec[m + 1] = 32 * r + 16
                    m += 2
            else:
                for i in range(8):
                    mix_in[m] = 16 * i
                    mix_sec[m] = 16 * i
                    m += 1
                split = 8
                for i in range(8, n // 16):
                    mix_in[m] = 16 * i
                    mix_sec[m] = 16 * (i - 8) + 3
                    m += 1
                mix_in[m] = n - 16
                mix_sec[m] = 136 - 17
                m += 1
            h = ln * _PRIME64_1
            for t in range(m):
                if t == split:
                    h ^= h >> _U64(37)
                    h *= _PRIME_MX1
                    h ^= h >> _U64(32)
                q = p + mix_in[t]
                sq = mix_sec[t]
                w, sh = q >> 3, _U64(8 * (q & 7))
                lo = (words[w] >> sh) | ((words[w + 1] << _U64(1)) << (_U64(63) - sh))
                hi = (words[w + 1] >> sh) | ((words[w + 2] << _U64(1)) << (_U64(63) - sh))
                lo ^= secret64[sq]
                hi ^= secret64[sq + 8]
                ll = (lo & _M32) * (hi & _M32)
                hl = (lo >> _U64(32)) * (hi & _M32)
                lh = (lo & _M32) * (hi >> _U64(32))
                hh = (lo >> _U64(32)) * (hi >> _U64(32))
                cross = (ll >> _U64(32)) + (hl & _M32) + lh
                upper = (hl >> _U64(32)) + (cross >> _U64(32)) + hh
                lower = (cross << _U64(32)) | (ll & _M32)
                h += lower ^ upper
            h ^= h >> _U64(37)
            h *= _PRIME_MX1
            h ^= h >> _U64(32)
            out[k] = h
        else:
            acc8[0] = _PRIME32_3
            acc8[1] = _PRIME64_1
            acc8[2] = _PRIME64_2
            acc8[3] = _PRIME64_3
            acc8[4] = _PRIME64_4
            acc8[5] = _PRIME32_2
            acc8[6] = _PRIME64_5
            acc8[7] = _PRIME32_1
            # stripes of 64 bytes, 16 to a block of 1024 (each with the secret 8 bytes further on), the
            # accumulators scrambled after every full block; then the last 64 bytes
            full = ((n - 1) // 1024) * 16
            stripes = full + ((n - 1) % 1024) // 64
            for st in range(stripes + 1):
                if st < stripes:
                    q = p + 64 * st
                    sq = 8 * (st % 16)
                else:
                    q = p + n - 64
                    sq = 192 - 64 - 7
                sh = _U64(8 * (q & 7))
                for i in range(8):
                    w = (q >> 3) + i
                    dv = (words[w] >> sh) | ((words[w + 1] << _U64(1)) << (_U64(63) - sh))
                    dk = dv ^ secret64[sq + 8 * i]
                    acc8[i ^ 1] += dv
                    acc8[i] += (dk & _M32) * (dk >> _U64(32))
                if st < full and st % 16 == 15:
                    for i in range(8):
                        a = acc8[i]
                        a ^= a >> _U64(47)
                        a ^= secret64[128 + 8 * i]
                        a *= _PRIME32_1
                        acc8[i] = a
            h = ln * _PRIME64_1
            for i in range(4):
                lo = acc8[2 * i] ^ secret64[11 + 16 * i]
                hi = acc8[2 * i + 1] ^ secret64[11 + 16 * i + 8]
                ll = (lo & _M32) * (hi & _M32)
                hl = (lo >> _U64(32)) * (hi & _M32)
                lh = (lo & _M32) * (hi >> _U64(32))
                hh = (lo >> _U64(32)) * (hi >> _U64(32))
                cross = (ll >> _U64(32)) + (hl & _M32) + lh
                upper = (hl >> _U64(32)) + (cross >> _U64(32)) + hh
                lower = (cross << _U64(32)) | (ll & _M32)
                h += lower ^ upper
            h ^= h >> _U64(37)
            h *= _PRIME_MX1
            h ^= h >> _U64(32)
            out[k] = h
