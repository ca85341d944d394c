#!/usr/bin/env bash
# Install llama.cpp's Python binding (llama-cpp-python) into a venv, for the tests that run
# minnow's GGUF files in llama.cpp itself and for the export stage's llama.cpp bits-per-byte.
#
# It ships only as source: building it takes 5-20 minutes on 2 cores. The wheel is built
# once per machine and kept under the user's cache directory, keyed by the version and by
# this CPU's instruction-set flags (the build is -march=native: a wheel from another CPU
# could crash on illegal instructions). Without a C/C++ compiler nothing is built and the
# llama.cpp tests skip, saying so.
#
# usage: tools/install_llama_cpp.sh [python]      (default .venv/bin/python)
set -euo pipefail
PYTHON=${1:-.venv/bin/python}
VERSION=0.3.36

installed=$("$PYTHON" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))" 2>/dev/null || true)
if [[ $installed == "$VERSION" ]]; then
    exit 0
fi
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
    echo "llama-cpp-python not installed: no C/C++ compiler (apt-get install build-essential); llama.cpp tests will skip"
    exit 0
fi
cpu=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m) | sha256sum | cut -c1-12)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/minnow/wheels/llama-cpp-python-$VERSION-$cpu"
if ! ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $VERSION from source once for this machine (5-20 minutes) into $cache"
    # only the library the binding loads: no server, tools, examples or multimodal projector
    rm -rf "$cache.tmp"
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF" \
        "$PYTHON" -m pip wheel --quiet --no-cache-dir --no-deps "llama-cpp-python==$VERSION" -w "$cache.tmp"
    mv "$cache.tmp" "$cache"
fi
"$PYTHON" -m pip install --quiet "$cache"/llama_cpp_python-*.whl
