"""Export a trained model for the engine: ONNX with a KV cache + vocab + manifest + fp16
weights, written to a temp dir, verified with onnxruntime and atomically swapped in.

Model dir layout (the engine reads the first three; `finetune` reads weights.pt):
    model.onnx     ONNX (opset 17) incremental decoder, fp32 or int8 (manifest "quantized")
    vocab.txt      one token per line, line index = token id
    manifest.json  format, config, vocab sha1, I/O contract, training data, metrics
    weights.pt     fp16 state_dict + config + vocab sha1 (no optimizer state)
    README.md      model card (kept across re-exports)

ONNX I/O (B batch, T new tokens, P cached slots, L layers, H heads, Dh head dim):
    in:  tokens int64 [B,T], positions int64 [B,T] (absolute, < max_len),
         past_k, past_v float16 [L,B,H,P,Dh], past_mask float32 [B,P] (1 = valid slot)
    out: logprobs float16 [B,T,V] (log_softmax over the whole vocabulary),
         present_k, present_v float16 [L,B,H,T,Dh] (the new positions' keys and values)
The graph computes in float32 (int8 weights where quantised); Cast nodes at its edges carry
engine.core.model_format.FLOAT16_IO as float16 (format version 2; version 1 had float32 there).
Format version 3 returns only the new positions' keys and values (2 returned the past's too).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine.atomic import write_bytes_atomic
from engine.core.model_format import (FLOAT16_IO, FORMAT, FORMAT_VERSION, INPUTS, MANIFEST_NAME, ONNX_NAME, OUTPUTS,
                                     READ_VERSIONS, VOCAB_NAME)
from engine.core.onnx_runtime import input_dtype, onnxruntime

from .device import cpu_name
from .errors import ManifestError, ManifestMismatchError
from .model import CachedStep, CharLM, ModelConfig
from .train import cpu_has_bf16
from .vocab import SPECIAL_TOKENS, Vocab

OPSET = 17
WEIGHTS_NAME, CARD_NAME = "weights.pt", "README.md"  # the trainer's own files in a model dir
INPUT_NAMES, OUTPUT_NAMES = list(INPUTS), list(OUTPUTS)  # engine.core.model_format defines them
FP32_TOLERANCE = 1e-4  # max abs logprob difference of fp32 ONNX from torch (docs/TUNING.md#export-parity-bounds)
# int8, over the characters with fp32 logprob > INT8_RELEVANT: bounds on the mean drift and top-1 agreement
INT8_RELEVANT, INT8_MEAN_DRIFT, INT8_TOP1_AGREEMENT = -12.0, 0.25, 0.85
# float16 I/O against the same graph with float32 I/O: float16's rounding (2^-11 relative) plus this
FLOAT16_IO_SLACK = 1e-4


def io_contract() -> dict:
    """The I/O section of manifest.json."""
    kv = ["L", "B", "H", "P", "Dh"]

    def real(name: str) -> str:
        return "float16" if name in FLOAT16_IO else "float32"

    return {
        "inputs": {"tokens": {"dtype": "int64", "shape": ["B", "T"]},
                   "positions": {"dtype": "int64", "shape": ["B", "T"]},
                   "past_k": {"dtype": real("past_k"), "shape": kv},
                   "past_v": {"dtype": real("past_v"), "shape": kv},
                   "past_mask": {"dtype": real("past_mask"), "shape": ["B", "P"]}},
        "outputs": {"logprobs": {"dtype": real("logprobs"), "shape": ["B", "T", "V"]},
                    "present_k": {"dtype": real("present_k"), "shape": ["L", "B", "H", "T", "Dh"]},
                    "present_v": {"dtype": real("present_v"), "shape": ["L", "B", "H", "T", "Dh"]}},
        "dynamic_axes": ["B", "T", "P"],
        "notes": "past_mask 1.0 = valid past slot, 0.0 = padding; new tokens attend to valid past slots "
                 "and causally among themselves; P may be 0; present_k / present_v: the new positions' "
                 "keys and values only (format version 3)",
    }


# --- files ---------------------------------------------------------------------------


# Dynamic axes of the CachedStep graph (trainer.pinyin_export adds its own input to these).
CACHED_STEP_AXES = {"tokens": {0: "B", 1: "T"}, "positions": {0: "B", 1: "T"},
                    "past_k": {1: "B", 3: "P"}, "past_v": {1: "B", 3: "P"}, "past_mask": {0: "B", 1: "P"},
                    "logprobs": {0: "B", 1: "T"}, "present_k": {1: "B", 3: "PT"}, "present_v": {1: "B", 3: "PT"}}


def cached_step_args(c: ModelConfig, B: int = 2, T: int = 3, P: int = 4) -> tuple:
    """Example inputs of CachedStep for tracing (sizes > 1 so no axis is specialised as a
    constant while tracing)."""
    return (torch.zeros(B, T, dtype=torch.long), torch.arange(P, P + T).repeat(B, 1),
            torch.zeros(c.n_layer, B, c.n_head, P, c.head_dim), torch.zeros(c.n_layer, B, c.n_head, P, c.head_dim),
            torch.ones(B, P))


def trace_onnx(module: torch.nn.Module, args: tuple, path: Path, input_names: list[str], output_names: list[str],
               dynamic_axes: dict) -> None:
    """torch.onnx.export as every Shuru graph is exported."""
    with torch.no_grad():
        # The TorchScript exporter (dynamo=False) needs no onnxscript. Constant folding
        # stores Linear weights pre-transposed (onnxruntime would otherwise transpose
        # them on every call).
        torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)


def export_onnx(model: CharLM, path: Path) -> None:
    """Trace CachedStep to ONNX with dynamic B, T, P."""
    model = model.float().eval()
    trace_onnx(CachedStep(model), cached_step_args(model.cfg), path, INPUT_NAMES, OUTPUT_NAMES, CACHED_STEP_AXES)


def quantize_int8(src: Path, dst: Path) -> None:
    """onnxruntime dynamic int8 quantisation (weights int8, activations quantised on the fly)."""
    quantization = onnxruntime("quantization")
    QuantType, quantize_dynamic = quantization.QuantType, quantization.quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def float16_io(src: Path, dst: Path, names: tuple[str, ...] = FLOAT16_IO) -> None:
    """Rewrite a graph so the float32 inputs and outputs in ``names`` are float16: a Cast to
    float32 after each such input, one to float16 before each such output; the graph between
    is untouched. The engine keeps caches and distributions in float16, so a run converts
    nothing outside onnxruntime (format version 2; docs/TUNING.md#float16-graph-io)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    g = model.graph
    first, last = [], []
    for outputs, edges, casts in ((False, g.input, first), (True, g.output, last)):
        for vi in edges:
            if vi.name not in names or vi.type.tensor_type.elem_type != TensorProto.FLOAT:
                continue
            inner = f"{vi.name}_float32"  # the tensor inside, float32 as before
            for node in g.node:
                node.input[:] = [inner if x == vi.name else x for x in node.input]
                node.output[:] = [inner if x == vi.name else x for x in node.output]
            for info in g.value_info:
                if info.name == vi.name:
                    info.name = inner
            src_name, dst_name, to = (inner, vi.name, TensorProto.FLOAT16) if outputs else \
                (vi.name, inner, TensorProto.FLOAT)
            casts.append(helper.make_node("Cast", [src_name], [dst_name], name=f"cast_{vi.name}", to=to))
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    nodes = first + list(g.node) + last
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(model, str(dst))  # convert_float16_io runs it against the graph before


PRESENT = ("present_k", "present_v")  # the outputs format version 3 cuts to the new positions


def new_positions_only(src: Path, dst: Path) -> None:
    """Rewrite a graph so present_k / present_v hold the keys and values of the new positions
    only (format version 3): each layer's stacked tensor is taken from its new keys / values, not
    from their concatenation with the past (which attention still reads). The past's part was
    copied out and dropped by the engine at every run (docs/TUNING.md#work-done-once-not-at-every-key)."""
    import onnx

    model = onnx.load(str(src))
    made_by = {out: node for node in model.graph.node for out in node.output}
    for name in PRESENT:
        stack = made_by[name]
        if stack.op_type == "Cast":  # float16 I/O (format version 2)
            stack = made_by[stack.input[0]]
        if stack.op_type != "Concat":
            raise ManifestError(f"{src}: {name} is not a stack of per-layer tensors ({stack.op_type})")
        for layer in stack.input:
            unsqueeze = made_by[layer]
            joined = made_by.get(unsqueeze.input[0])
            if unsqueeze.op_type != "Unsqueeze" or joined is None or joined.op_type != "Concat" or len(joined.input) != 2:
                raise ManifestError(f"{src}: {name}'s layer {layer} is not the past joined with the new positions")
            unsqueeze.input[0] = joined.input[1]  # the new positions (the second part of past ++ new)
    onnx.save(model, str(dst))


def convert_new_positions_only(path: Path, feeds: dict) -> dict:
    """Rewrite the graph at ``path`` with new_positions_only, checked against itself before on
    ``feeds`` (check_feeds): the same log-probabilities, and the same new positions' keys and
    values. Raises ManifestError otherwise; returns the largest difference."""
    before, after = _rewrite_checked(path, new_positions_only, feeds)
    T = feeds["tokens"].shape[1]
    diff = max(float(np.abs(after[0] - before[0]).max()),
               *(float(np.abs(a - b[:, :, :, -T:]).max()) for a, b in zip(after[1:], before[1:])))
    if any(a.shape[3] != T for a in after[1:]) or diff > FP32_TOLERANCE:
        raise ManifestError(f"{path} returning only the new positions disagrees with its graph before "
                            f"(shapes {[a.shape for a in after[1:]]}, max difference {diff:.2e})")
    return {"max_diff": diff}


def check_feeds(cfg: ModelConfig, seed: int = 0, B: int = 2, T: int = 3, P: int = 4) -> dict:
    """Float32 feeds of one cached step for checks: random tokens after a random cache whose
    values float16 holds exactly (what the engine feeds), row 1 left-padded."""
    rng = np.random.default_rng(seed)
    kv = (cfg.n_layer, B, cfg.n_head, P, cfg.head_dim)
    mask = np.ones((B, P), np.float32)
    mask[1, :2] = 0.0
    return _feeds(rng.integers(len(SPECIAL_TOKENS), cfg.vocab_size, size=(B, T)), np.tile(np.arange(P, P + T), (B, 1)),
                  rng.normal(size=kv).astype(np.float16), rng.normal(size=kv).astype(np.float16), mask)


def convert_float16_io(path: Path, feeds: dict) -> dict:
    """Rewrite the graph at ``path`` with float16 I/O (float16_io), checked against itself before
    on ``feeds`` (float32; check_feeds): every output within float16's rounding. Returns the worst
    difference beyond that rounding; raises ManifestError past FLOAT16_IO_SLACK."""
    want, got = _rewrite_checked(path, float16_io, feeds)
    excess = max(float((np.abs(g - w) - 2.0 ** -11 * np.abs(w)).max()) for g, w in zip(got, want))
    if excess > FLOAT16_IO_SLACK:
        raise ManifestError(f"{path} with float16 inputs and outputs disagrees with its float32 graph by "
                            f"{excess:.2e} beyond float16's rounding (> {FLOAT16_IO_SLACK})")
    return {"beyond_rounding": max(excess, 0.0)}


def _rewrite_checked(path: Path, rewrite, feeds: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rewrite the graph at ``path`` in place (``rewrite(src, dst)``) and run both on ``feeds``: the
    outputs before and after (float32, run_session), for the caller to compare."""
    src = path.with_name(f".{path.name}.before-{rewrite.__name__}")
    os.replace(path, src)
    try:
        rewrite(src, path)
        return run_session(ort_session(src), None, feeds), run_session(ort_session(path), None, feeds)
    finally:
        src.unlink()


def save_weights(model: CharLM, vocab: Vocab, path: Path) -> None:
    """fp16 state_dict + config + vocab sha1 (what fine-tuning starts from)."""
    sd = {k: v.detach().to(torch.float16).clone() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT + "-weights", "format_version": FORMAT_VERSION, "config": model.cfg.to_dict(),
                "vocab_sha1": vocab.sha1, "state_dict": sd}, path)


def file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- verification ------------------------------------------------------------------


def ort_session(path: Path, threads: int = 2):
    """An onnxruntime CPU session for model.onnx."""
    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_session(sess, outputs: list[str] | None, feeds: dict) -> list[np.ndarray]:
    """``sess.run`` of a graph of either format version: float feeds cast to its input types,
    float outputs returned as float32."""
    cast = {i.name: input_dtype(sess, i.name) for i in sess.get_inputs() if "float" in i.type}
    out = sess.run(outputs, {k: v.astype(cast[k]) if k in cast else v for k, v in feeds.items()})
    return [o.astype(np.float32) if o.dtype == np.float16 else o for o in out]


def verify_onnx(onnx_path: Path, model: CharLM, seed: int = 0) -> dict:
    """Run one cached step through onnxruntime and torch; returns max abs diffs of the
    logprobs for a first call (P=0) and a call with a masked cache."""
    sess = ort_session(onnx_path)
    rng = np.random.default_rng(seed)
    c = model.cfg
    tokens = rng.integers(4, c.vocab_size, size=(2, 5))
    positions = np.tile(np.arange(5), (2, 1))
    feeds = _feeds(tokens, positions, np.zeros((c.n_layer, 2, c.n_head, 0, c.head_dim), np.float32),
                   np.zeros((c.n_layer, 2, c.n_head, 0, c.head_dim), np.float32), np.zeros((2, 0), np.float32))
    first = _max_diff(sess, model, feeds)
    lp, pk, pv = sess.run(None, feeds)
    mask = np.ones((2, 5), np.float32)
    mask[1, :2] = 0.0  # row 1: a left-padded cache
    feeds2 = _feeds(tokens[:, :1], np.full((2, 1), 5), pk, pv, mask)
    return {"first_call": first, "cached_masked": _max_diff(sess, model, feeds2)}


def verify_int8(onnx_path: Path, model: CharLM, seed: int = 0, rows: int = 16, length: int = 64,
                windows: np.ndarray | None = None) -> dict:
    """Drift of an int8 model from the torch model over whole sequences: mean and max abs
    logprob difference over the relevant characters, and top-1 agreement.

    Measured on ``windows`` (real token rows, e.g. held-out text) when given, else on random
    tokens; 16 x 64 = 1024 positions by default, so the agreement moves by about 0.01
    between samples (on a handful of positions it is noise)."""
    sess = ort_session(onnx_path)
    c = model.cfg
    length = min(length, c.max_len)
    if windows is not None and len(windows):
        tokens = np.asarray(windows)[:rows, :length]
    else:
        tokens = np.random.default_rng(seed).integers(4, c.vocab_size, size=(rows, length))
    n = tokens.shape[0]
    empty = np.zeros((c.n_layer, n, c.n_head, 0, c.head_dim), np.float32)
    feeds = _feeds(tokens, np.tile(np.arange(tokens.shape[1]), (n, 1)), empty, empty, np.zeros((n, 0), np.float32))
    got, want = sess.run(["logprobs"], feeds)[0], _torch_logprobs(model, feeds)
    diff = np.abs(got - want)[want > INT8_RELEVANT]
    return {"mean_abs_drift": float(diff.mean()), "max_abs_drift": float(diff.max()),
            "top1_agreement": float((got.argmax(-1) == want.argmax(-1)).mean()), "positions": int(tokens.size)}


def _feeds(tokens, positions, pk, pv, mask) -> dict:
    return {"tokens": np.asarray(tokens, np.int64), "positions": np.asarray(positions, np.int64),
            "past_k": np.asarray(pk, np.float32), "past_v": np.asarray(pv, np.float32),
            "past_mask": np.asarray(mask, np.float32)}


def _torch_logprobs(model: CharLM, feeds: dict) -> np.ndarray:
    with torch.no_grad():
        return model.float().forward_cached(*(torch.from_numpy(feeds[n]) for n in INPUT_NAMES))[0].numpy()


def _max_diff(sess, model: CharLM, feeds: dict) -> float:
    return float(np.abs(sess.run(["logprobs"], feeds)[0] - _torch_logprobs(model, feeds)).max())


# --- model dirs ----------------------------------------------------------------------


def _remove_unfinished_exports(out: Path) -> None:
    """Delete the temp dirs of exports to ``out`` that were killed before their swap (each a
    partial or unverified model copy; the model at ``out`` itself is never one of them)."""
    for stale in out.parent.glob(f".{out.name}.tmp*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def replace_dir(new: Path, dest: Path) -> None:
    """Put the complete dir `new` at `dest`; the old `dest` is kept until the swap is done."""
    dest = Path(dest)
    old = dest.with_name(f".{dest.name}.old{os.getpid()}")
    if dest.exists():
        os.replace(dest, old)
    os.replace(new, dest)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def write_model_dir(model: CharLM, vocab: Vocab, out: Path, training: dict, metrics: dict,
                    int8: bool = False, extra_files=None, parity_windows: np.ndarray | None = None,
                    log=None) -> dict:
    """Export into a temp dir beside `out`, verify it, then swap it into place.
    Returns the manifest. The model card (README.md) of an existing `out` is kept.

    An int8 model that drifts too far from fp32 (on ``parity_windows``, else random tokens)
    is not an error: the fp32 export ships instead, and the manifest says why
    (``metrics.onnx_parity.int8_rejected``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_unfinished_exports(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp", dir=out.parent))
    try:
        model = model.float().eval()
        vocab.save(tmp / VOCAB_NAME)
        save_weights(model, vocab, tmp / WEIGHTS_NAME)
        fp32 = tmp / ("model.fp32.onnx" if int8 else ONNX_NAME)
        export_onnx(model, fp32)
        parity = {"fp32": verify_onnx(fp32, model)}
        _check_parity(parity)
        if int8:
            int8 = _try_int8(fp32, tmp / ONNX_NAME, lambda p: verify_int8(p, model, windows=parity_windows), parity,
                             log)
        feeds = check_feeds(model.cfg)
        parity["float16_io"] = convert_float16_io(tmp / ONNX_NAME, feeds)
        parity["new_positions_only"] = convert_new_positions_only(tmp / ONNX_NAME, feeds)
        manifest = build_manifest(model.cfg, vocab, training, {**metrics, "onnx_parity": parity}, int8,
                                  tmp / ONNX_NAME)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        if (out / CARD_NAME).is_file():
            shutil.copy2(out / CARD_NAME, tmp / CARD_NAME)
        if extra_files is not None:  # e.g. the user's text layer: swapped in together with the model
            extra_files(tmp)
        load_manifest(tmp)  # what a reader will check
        os.chmod(tmp, 0o755)
        replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _try_int8(fp32: Path, dst: Path, verify, parity: dict, log, what: str = "int8 model") -> bool:
    """Quantise fp32 into dst if the int8 model stays close (``verify(dst)`` -> verify_int8's
    dict); else keep fp32 as dst. Returns whether dst is int8."""
    quantize_int8(fp32, dst)
    drift = verify(dst)
    if drift["mean_abs_drift"] <= INT8_MEAN_DRIFT and drift["top1_agreement"] >= INT8_TOP1_AGREEMENT:
        parity["int8"] = drift
        fp32.unlink()
        return True
    parity["int8_rejected"] = drift
    os.replace(fp32, dst)
    if log is not None:
        log(f"{what} drifts from fp32 (mean {drift['mean_abs_drift']:.3f}, top-1 agreement "
            f"{drift['top1_agreement']:.3f} over {drift['positions']} positions; limits {INT8_MEAN_DRIFT} / "
            f"{INT8_TOP1_AGREEMENT}): keeping the fp32 model (larger and a little slower, same accuracy)")
    return False


def _check_parity(parity: dict) -> None:
    worst = max(parity["fp32"].values())
    if worst > FP32_TOLERANCE:
        raise ManifestError(f"ONNX export disagrees with torch: max abs diff {worst:.2e} > {FP32_TOLERANCE}")


def upgrade_model_dir(model_dir: Path) -> bool:
    """Bring a model dir of an earlier format version to this one in place: a version-1 graph
    (float32 I/O) gets float16 I/O (convert_float16_io), a version-1 or 2 graph returns only the
    new positions' keys and values (convert_new_positions_only); then its manifest. False if it
    already is this version. Each file is replaced atomically; an upgrade cut off between them
    leaves a dir the engine still reads (it takes dtypes and positions from the graph's outputs)."""
    model_dir = Path(model_dir)
    m = load_manifest(model_dir)
    if m["format_version"] == FORMAT_VERSION:
        return False
    feeds = check_feeds(ModelConfig.from_dict(m["config"]))
    parity = m.setdefault("metrics", {}).setdefault("onnx_parity", {})
    if m["format_version"] < 2:
        parity["float16_io"] = convert_float16_io(model_dir / ONNX_NAME, feeds)
    parity["new_positions_only"] = convert_new_positions_only(model_dir / ONNX_NAME, feeds)
    m.update(format_version=FORMAT_VERSION, io=io_contract(), onnx_sha1=file_sha1(model_dir / ONNX_NAME))
    write_bytes_atomic(model_dir / MANIFEST_NAME, json.dumps(m, ensure_ascii=False, indent=1).encode("utf-8"))
    load_manifest(model_dir)
    return True


def build_manifest(cfg: ModelConfig, vocab: Vocab, training: dict, metrics: dict, quantized: bool,
                   onnx_path: Path) -> dict:
    """manifest.json content."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "vocab_size": len(vocab),
        "vocab_sha1": vocab.sha1,
        "special_tokens": dict(SPECIAL_TOKENS),
        "files": {"onnx": ONNX_NAME, "vocab": VOCAB_NAME, "weights": WEIGHTS_NAME},
        "onnx_sha1": file_sha1(onnx_path),
        "opset": OPSET,
        "io": io_contract(),
        "max_len": cfg.max_len,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "head_dim": cfg.head_dim,
        "training": training,
        "metrics": metrics,
        "quantized": quantized,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def load_manifest(model_dir: Path, vocab_sha1: str | None = None) -> dict:
    """Read and check a model dir's manifest: format, version, files present, vocab.txt
    matching its sha1 (and `vocab_sha1` if given). Raises ManifestError /
    ManifestMismatchError with what is wrong."""
    model_dir = Path(model_dir)
    m = read_manifest(model_dir, FORMAT, READ_VERSIONS, (ONNX_NAME, VOCAB_NAME))
    path = model_dir / MANIFEST_NAME
    check_vocab_file(model_dir, m, vocab_sha1)
    if ModelConfig.from_dict(m["config"]).vocab_size != m.get("vocab_size"):
        raise ManifestMismatchError(f"{path}: config vocab_size differs from vocab_size")
    return m


def read_manifest(model_dir: Path, fmt: str, version: int | tuple[int, ...], files: tuple[str, ...]) -> dict:
    """A model dir's manifest.json, checked for format, version (or one of the versions) and `files` present."""
    versions = version if isinstance(version, tuple) else (version,)
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{model_dir} has no {MANIFEST_NAME}: not a Shuru model dir (re-export it)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(m, dict):
        raise ManifestError(f"{path} is not a JSON object")
    if m.get("format") != fmt or m.get("format_version") not in versions:
        raise ManifestMismatchError(f"{path}: format {m.get('format')!r} v{m.get('format_version')}, "
                                    f"expected {fmt!r} v{'/'.join(map(str, versions))}")
    for name in files:
        if not (Path(model_dir) / name).is_file():
            raise ManifestError(f"{model_dir} is missing {name}")
    return m


def check_vocab_file(model_dir: Path, m: dict, vocab_sha1: str | None = None) -> None:
    """vocab.txt of a model dir must match the manifest's vocab_sha1 (and `vocab_sha1` if given)."""
    actual = Vocab.load(Path(model_dir) / VOCAB_NAME).sha1
    if actual != m.get("vocab_sha1") or (vocab_sha1 is not None and actual != vocab_sha1):
        raise ManifestMismatchError(f"{model_dir}: vocab.txt sha1 {actual} does not match the manifest "
                                    f"({m.get('vocab_sha1')}){'' if vocab_sha1 is None else ' / ' + vocab_sha1}")


# --- from a training run -----------------------------------------------------------


def export_run(run_dir: Path, out: Path, int8: bool = False, checkpoint: str | None = None) -> dict:
    """Export RUN/ckpt.pt (and RUN/vocab.txt) into model dir `out`; returns a summary."""
    run_dir = Path(run_dir)
    ck_path = Path(checkpoint) if checkpoint else run_dir / "ckpt.pt"
    if not ck_path.is_file():
        raise ManifestError(f"no checkpoint at {ck_path}; train first")
    vocab = Vocab.load(run_dir / VOCAB_NAME)
    ck = torch.load(ck_path, map_location="cpu", weights_only=False)
    if ck["vocab_sha1"] != vocab.sha1:
        raise ManifestMismatchError(f"{ck_path} was trained with vocab {ck['vocab_sha1']}, "
                                    f"{run_dir / VOCAB_NAME} is {vocab.sha1}")
    model = CharLM(ModelConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck["model"])
    manifest = write_model_dir(model, vocab, out, training_info(ck, run_dir), eval_metrics(ck), int8)
    sizes = {p.name: p.stat().st_size for p in Path(out).iterdir() if p.is_file()}
    return {"out": str(out), "files": sizes, "total_bytes": sum(sizes.values()),
            "metrics": manifest["metrics"], "steps": ck["state"]["step"]}


def training_info(ck: dict, run_dir: Path) -> dict:
    """The manifest's "training" section from a checkpoint."""
    cfg, st = ck["config"], ck["state"]
    info = {"run_dir": str(run_dir), "steps": st["step"], "tokens": st["tokens"],
            "hours": round(st["elapsed_s"] / 3600, 3),
            "hardware": _hardware(ck),
            "optimizer": {k: cfg.get(k) for k in ("batch_size", "seq_len", "lr", "min_lr", "warmup_steps",
                                                   "weight_decay", "grad_clip", "max_minutes")},
            "init_from": cfg.get("init_from") or None}
    meta = Path(cfg.get("shard_dir", "")) / "meta.json"
    if meta.is_file():
        m = json.loads(meta.read_text(encoding="utf-8"))
        info["data"] = {"corpus": "shared/data/corpus (14 sources)",
                        "mixing": "trainer.corpus.SOURCE_WEIGHTS: books_modern_1910s_1950s and "
                                  "translations_classical_to_modern keep 25% of lines, others 100%",
                        "train_tokens": m.get("train_tokens"), "heldout_tokens": m.get("heldout_tokens"),
                        "tokens_per_source": {k: v["train"] for k, v in m.get("tokens_per_source", {}).items()}}
    base = Path(cfg.get("init_from") or "").parent / MANIFEST_NAME
    if cfg.get("init_from") and base.is_file():  # continued training / fine-tuning: keep the base's story
        try:
            info["base_training"] = json.loads(base.read_text(encoding="utf-8")).get("training")
        except (OSError, ValueError):
            pass
    return info


def _hardware(ck: dict) -> str:
    """Where a checkpoint was trained: the GPUs (data-parallel runs) or the CPU."""
    cfg, procs, device = ck["config"], ck.get("world_size", 1), ck.get("device", "cpu")
    if device not in ("cpu", "mps"):
        return f"{procs} x {device}, bf16 autocast={bool(cfg.get('autocast_bf16'))}, torch.compile={cfg.get('compile')}"
    ranks = f", {procs} processes" if procs > 1 else ""
    return (f"{cpu_name()}, {os.cpu_count()} cores{ranks}, threads={cfg.get('threads')} (0 = adaptive), "
            f"bf16 autocast={bool(cfg.get('autocast_bf16')) and cpu_has_bf16()}")


def eval_metrics(ck: dict) -> dict:
    """The manifest's "metrics" from the checkpoint's last evaluation."""
    hist = ck["state"].get("history") or []
    return {"last_eval": hist[-1] if hist else None,
            "eval_curve": [{k: r[k] for k in r if k in ("step", "tokens") or k.endswith("_loss")} for r in hist[-20:]]}
