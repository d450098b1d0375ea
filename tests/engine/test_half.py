"""engine.core.half: onnxruntime's float16 casts give numpy's bits, for every size and value."""
import numpy as np
import pytest

from engine.core.half import SMALL, cast_model, to_half, to_single

EDGE_VALUES = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 1e6, -1e6, 6e-8, 3e-8, 1e-10, 0.1, -7.3,
                        np.inf, -np.inf], dtype=np.float32)


@pytest.mark.parametrize("shape", [(0,), (3,), (SMALL - 1,), (SMALL,), (16, 7490), (4, 8, 4, 23, 64)])
def test_to_half_gives_numpys_bits(shape):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 20).astype(np.float32)
    a.flat[:min(a.size, len(EDGE_VALUES))] = EDGE_VALUES[:a.size]
    h = to_half(a)
    assert h.dtype == np.float16 and h.shape == a.shape and h.flags.c_contiguous
    assert np.array_equal(h.view(np.uint16), a.astype(np.float16).view(np.uint16))


@pytest.mark.parametrize("shape", [(0,), (5,), (SMALL,), (4, 8, 4, 23, 64)])
def test_to_single_is_exact(shape):
    bits = np.random.default_rng(1).integers(0, 1 << 16, size=shape, dtype=np.uint16)
    h = bits.view(np.float16)
    s = to_single(h)
    assert s.dtype == np.float32 and s.shape == h.shape
    assert np.array_equal(s, h.astype(np.float32), equal_nan=True)


def test_a_strided_view_converts_as_its_copy():
    a = np.random.default_rng(2).standard_normal((16, 3, 7490)).astype(np.float32)
    assert np.array_equal(to_half(a[:, 2]), a[:, 2].astype(np.float16))


def test_the_cast_graph_is_the_model_onnx_itself_would_write():
    from onnx import TensorProto, helper  # the trainer's dependency, installed with the tests

    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)
    graph = helper.make_graph([node], "cast", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)])
    expected = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert cast_model(TensorProto.FLOAT, TensorProto.FLOAT16) == expected.SerializeToString()
