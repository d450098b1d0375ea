"""float32 <-> float16 conversion by onnxruntime's Cast kernel.

The scorers keep their caches and next-token distributions in float16 and feed the models float32.
On a CPU without AVX-512, numpy (2.4) converts between the two one element at a time: 2-4 ns an
element, 0.45 ms for one batch of 16 next-character distributions. onnxruntime's Cast gives the
same bits (round to nearest even) 10-15 times as fast on large arrays; below SMALL elements its
per-run overhead loses, and numpy converts. Each caster is a one-node ONNX graph, written here as
protobuf bytes so that the engine needs no ``onnx`` package.
"""
from __future__ import annotations

import numpy as np

from .onnx_runtime import cpu_session

FLOAT, FLOAT16 = 1, 10  # onnx TensorProto.DataType
_INT_ATTRIBUTE = 2  # onnx AttributeProto.AttributeType.INT
_IR_VERSION, _OPSET = 8, 17
SMALL = 4096  # elements: below this numpy is quicker (a model run has ~10 us of overhead)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode("ascii"))


def cast_model(source: int, target: int) -> bytes:
    """A serialised ONNX ModelProto: y = Cast(x, to=target), x of elem type ``source``, any shape."""
    def value(name: str, elem: int) -> bytes:  # ValueInfoProto{name, type: TypeProto{tensor_type{elem_type}}}
        return _str(1, name) + _bytes(2, _bytes(1, _int(1, elem)))

    to = _str(1, "to") + _int(3, target) + _int(20, _INT_ATTRIBUTE)  # AttributeProto{name, i, type}
    node = _str(1, "x") + _str(2, "y") + _str(4, "Cast") + _bytes(5, to)  # NodeProto{input, output, op_type, attribute}
    graph = _bytes(1, node) + _str(2, "cast") + _bytes(11, value("x", source)) + _bytes(12, value("y", target))
    opset = _str(1, "") + _int(2, _OPSET)  # OperatorSetIdProto{domain (the default one), version}
    return _int(1, _IR_VERSION) + _bytes(7, graph) + _bytes(8, opset)  # ModelProto{ir_version, graph, opset_import}


class Caster:
    """``caster(array)``: the array converted (a new C-contiguous array, same shape)."""

    def __init__(self, source: type, target: type):
        codes = {np.float32: FLOAT, np.float16: FLOAT16}
        self.source, self.target = np.dtype(source), np.dtype(target)
        self._session = cpu_session(cast_model(codes[source], codes[target]))

    def __call__(self, array: np.ndarray) -> np.ndarray:
        if array.size < SMALL:
            return np.ascontiguousarray(array, dtype=self.target)
        return self._session.run(None, {"x": np.ascontiguousarray(array, dtype=self.source)})[0]


_casters: dict[tuple[type, type], Caster] = {}


def caster(source: type, target: type) -> Caster:
    """The process's caster from ``source`` to ``target`` (np.float32 or np.float16), made once."""
    key = (source, target)
    if key not in _casters:
        _casters[key] = Caster(source, target)
    return _casters[key]


def to_half(array: np.ndarray) -> np.ndarray:
    """float32 -> float16, as ``array.astype(np.float16)``."""
    return caster(np.float32, np.float16)(array)


def to_single(array: np.ndarray) -> np.ndarray:
    """float16 -> float32, as ``array.astype(np.float32)``."""
    return caster(np.float16, np.float32)(array)
