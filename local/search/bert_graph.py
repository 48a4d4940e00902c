"""The all-MiniLM-L6-v2 forward pass as an ONNX graph, authored from the model's own weights.

No exporter and no pre-built ``.onnx`` file: the graph below is written op by op with ``onnx.helper``
from the tensors of the installed package's ``model.safetensors`` (a BERT encoder, then mean pooling
and L2 normalisation, as the model's sentence-transformers configuration says), and handed to ONNX
Runtime in memory. Each layer uses ONNX Runtime's fused transformer kernels (``com.microsoft``
``Attention``, ``SkipLayerNormalization``, ``BiasGelu``): with the plain ONNX operators instead, a
query's pass took about twice as long here (the runtime fused few of them).

One graph serves both ways of batching texts:

- padded: ``B`` texts in ``B`` rows, ``attention_bias`` (B, 1, 1, T) masks the padding, ``pooling``
  (B, 1, T) averages each row's real tokens;
- packed: a few texts concatenated in one row (positions restart at each text), ``attention_bias``
  (1, 1, T, T) keeps attention inside each text (block diagonal), ``pooling`` (1, N, T) averages
  each text's tokens. Each text gets the vector it gets alone, the weights are read once per pass.

Output ``vectors`` (B, N, 384): unit-length float32 sentence embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

HIDDEN = 384
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12
# Added to the attention scores of masked positions: exp() of it is 0 in float32, and unlike -inf it
# cannot turn a row into NaN.
MASKED = -1e9
OPSET = 17
# The ONNX file format version for opset 17. onnx's helper writes its own newest one otherwise, which
# an older ONNX Runtime (1.23, the last with wheels for Intel Macs) refuses.
IR_VERSION = 8


def build_model(weights: Mapping[str, np.ndarray]) -> bytes:
    """The serialised ONNX model for the BERT weights ``weights`` (names without a ``bert.`` prefix)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(name: str, transpose: bool = False) -> str:
        array = np.asarray(weights[name], dtype=np.float32)
        return const(name, array.T if transpose else array)

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node(
            "LayerNormalization",
            [x, weight(prefix + ".weight"), weight(prefix + ".bias")],
            out,
            axis=-1,
            epsilon=LAYER_NORM_EPS,
        )

    def fused(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """An ONNX Runtime contrib operator (domain com.microsoft): one kernel for a whole step."""
        nodes.append(helper.make_node(op, inputs, [name], name=name, domain="com.microsoft", **attrs))
        return name

    def skip_layer_norm(x: str, skip: str, prefix: str, bias: str, out: str) -> str:
        """layer_norm(x + skip + bias): a dense layer's bias, the residual and the norm in one kernel."""
        inputs = [x, skip, weight(prefix + ".weight"), weight(prefix + ".bias"), weight(bias)]
        return fused("SkipLayerNormalization", inputs, out, epsilon=LAYER_NORM_EPS)

    tiny = const("tiny", np.array(1e-24, dtype=np.float32))

    # Embeddings: word + position + token type 0 (always 0 here: folded into the position table).
    positions = (
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    words = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "emb/words")
    where = node("Gather", [const("emb/positions", positions.astype(np.float32)), "position_ids"], "emb/pos")
    x = layer_norm(node("Add", [words, where], "emb/sum"), "embeddings.LayerNorm", "emb/norm")

    for i in range(LAYERS):
        p, n = f"encoder.layer.{i}.", f"l{i}/"
        qkv = [f"{p}attention.self.{part}" for part in ("query", "key", "value")]
        qkv_weight = np.concatenate([np.asarray(weights[f"{q}.weight"]).T for q in qkv], axis=1)
        qkv_bias = np.concatenate([np.asarray(weights[f"{q}.bias"]) for q in qkv])
        # Q, K, V projections, scaled dot products with the additive mask, softmax, context.
        attention_inputs = [x, const(n + "qkv.weight", qkv_weight), const(n + "qkv.bias", qkv_bias)]
        attended = fused(
            "Attention", [*attention_inputs, "", "", "attention_bias"], n + "attn", num_heads=HEADS
        )
        projected = node(
            "MatMul", [attended, weight(p + "attention.output.dense.weight", True)], n + "attn_out"
        )
        x = skip_layer_norm(
            projected, x, p + "attention.output.LayerNorm", p + "attention.output.dense.bias", n + "norm1"
        )
        h = node("MatMul", [x, weight(p + "intermediate.dense.weight", True)], n + "ffn_in")
        h = fused("BiasGelu", [h, weight(p + "intermediate.dense.bias")], n + "gelu")  # exact (erf) GELU
        h = node("MatMul", [h, weight(p + "output.dense.weight", True)], n + "ffn_out")
        x = skip_layer_norm(h, x, p + "output.LayerNorm", p + "output.dense.bias", n + "norm2")

    # Mean pooling as a product with the (B, N, T) weights, then L2 normalisation.
    pooled = node("MatMul", ["pooling", x], "pooled")
    squares = node("ReduceSumSquare", [pooled], "pooled/sq", axes=[-1], keepdims=1)
    norm = node("Sqrt", [node("Max", [squares, tiny], "pooled/sq_min")], "pooled/norm")
    nodes.append(helper.make_node("Div", [pooled, norm], ["vectors"], name="vectors"))

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(
                "attention_bias", TensorProto.FLOAT, ["bias_batch", 1, "tokens", "tokens"]
            ),
            helper.make_tensor_value_info("pooling", TensorProto.FLOAT, ["batch", "texts", "tokens"]),
        ],
        outputs=[helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["batch", "texts", HIDDEN])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="agentgw_local.search",
        ir_version=IR_VERSION,
    )
    return model.SerializeToString()
