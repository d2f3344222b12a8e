#!/usr/bin/env python3
"""An independent forward pass (numpy) of OPT and deixis's own decoder, written from the
published architectures, for the runtime's correctness tests.

usage: reference.py SAFETENSORS CONFIG_JSON TOKENS_JSON
prints the logits of every position as JSON ([tokens][vocab]).

OPT (Zhang et al. 2022, Hugging Face OPTForCausalLM with do_layer_norm_before): token
embeddings plus learned positions (row position + 2); per layer
x += out_proj(attention(self_attn_layer_norm(x))) with q scaled by head_dim**-0.5, then
x += fc2(relu(fc1(final_layer_norm(x)))); a final LayerNorm; logits against the embeddings.

deixis: token embeddings; per layer x += o(attention(rmsnorm(x))) with rotate-half RoPE on q
and k and grouped-query attention, then x += down(relu(up(rmsnorm(x)))); a final RMSNorm;
logits against the embeddings.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[base + start : base + end], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return out


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * w


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def attention(q, k, v, heads, kv_heads):
    # q: [n, heads, hd]; k, v: [n, kv_heads, hd]; causal.
    n, _, hd = q.shape
    group = heads // kv_heads
    out = np.zeros_like(q)
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for h in range(heads):
        kh = k[:, h // group, :]
        vh = v[:, h // group, :]
        scores = q[:, h, :] @ kh.T / np.sqrt(hd) + mask
        out[:, h, :] = softmax(scores) @ vh
    return out.reshape(n, heads * hd)


def rope(x, theta):
    # x: [n, heads, hd], rotate-half convention.
    n, _, hd = x.shape
    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    ang = np.arange(n)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
    half = hd // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


def opt(w, c, tokens):
    p = "model.decoder."
    d, heads = c["hidden_size"], c["num_attention_heads"]
    hd = d // heads
    x = w[p + "embed_tokens.weight"][tokens] + w[p + "embed_positions.weight"][np.arange(len(tokens)) + 2]
    lin = lambda x, name: x @ w[name + ".weight"].T + w[name + ".bias"]
    for l in range(c["num_hidden_layers"]):
        q = f"{p}layers.{l}."
        h = layer_norm(x, w[q + "self_attn_layer_norm.weight"], w[q + "self_attn_layer_norm.bias"])
        qs = lin(h, q + "self_attn.q_proj").reshape(len(tokens), heads, hd)
        ks = lin(h, q + "self_attn.k_proj").reshape(len(tokens), heads, hd)
        vs = lin(h, q + "self_attn.v_proj").reshape(len(tokens), heads, hd)
        x = x + lin(attention(qs, ks, vs, heads, heads), q + "self_attn.out_proj")
        h = layer_norm(x, w[q + "final_layer_norm.weight"], w[q + "final_layer_norm.bias"])
        x = x + lin(np.maximum(lin(h, q + "fc1"), 0.0), q + "fc2")
    x = layer_norm(x, w[p + "final_layer_norm.weight"], w[p + "final_layer_norm.bias"])
    return x @ w[p + "embed_tokens.weight"].T


def deixis(w, c, tokens):
    d, heads, kv = c["hidden_size"], c["num_heads"], c["num_kv_heads"]
    hd = d // heads
    eps, theta = c["norm_eps"], c["rope_theta"]
    n = len(tokens)
    x = w["embed"][tokens]
    for l in range(c["num_layers"]):
        q = f"layers.{l}."
        h = rms_norm(x, w[q + "attn_norm.weight"], eps)
        qs = rope((h @ w[q + "q.weight"].T).reshape(n, heads, hd), theta)
        ks = rope((h @ w[q + "k.weight"].T).reshape(n, kv, hd), theta)
        vs = (h @ w[q + "v.weight"].T).reshape(n, kv, hd)
        x = x + attention(qs, ks, vs, heads, kv) @ w[q + "o.weight"].T
        h = rms_norm(x, w[q + "ffn_norm.weight"], eps)
        x = x + np.maximum(h @ w[q + "up.weight"].T, 0.0) @ w[q + "down.weight"].T
    x = rms_norm(x, w["norm.weight"], eps)
    return x @ w["embed"].T


def main():
    weights = read_safetensors(sys.argv[1])
    with open(sys.argv[2]) as f:
        config = json.load(f)
    with open(sys.argv[3]) as f:
        tokens = np.array(json.load(f))
    forward = opt if config.get("model_type") == "opt" else deixis
    print(json.dumps(forward(weights, config, tokens).tolist()))


if __name__ == "__main__":
    main()
