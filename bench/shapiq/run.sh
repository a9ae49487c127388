#!/usr/bin/env bash
# Regenerates docs/shapiq.md: creditflow vs shapiq 1.8.0 on shapiq's SOUM games.
#
#   bash bench/shapiq/run.sh            # from anywhere; about 10 minutes on 2 cores
#   bash bench/shapiq/run.sh --blackbox # the regression against shapiq's six
#                                       # regression-type approximators (docs/shapiq-blackbox.md)
#
# Creates bench/shapiq/.venv with Python 3.12 (pyenv's 3.12.1, else python3.12 on PATH;
# PYTHON=/path/to/python3.12 overrides), installs the pinned requirements, builds the
# release binary, and runs compare.py single-threaded under nice. Extra arguments go to
# compare.py (e.g. --seeds 12). Games and raw results are written to bench/shapiq/out/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local p
        p="$(pyenv root)/versions/3.12.1/bin/python3.12"
        if [[ -x "$p" ]]; then
            echo "$p"
            return
        fi
    fi
    if command -v python3.12 >/dev/null 2>&1; then
        command -v python3.12
        return
    fi
    return 1
}

if ! py="$(find_python)"; then
    echo "run.sh: Python 3.12 not found (shapiq 1.8.0 needs Python >= 3.12)." >&2
    echo "  Install it (e.g. 'pyenv install 3.12.1') or set PYTHON=/path/to/python3.12." >&2
    exit 1
fi
if ! [[ -x "$py" ]] && ! command -v "$py" >/dev/null 2>&1; then
    echo "run.sh: $py is not an executable Python." >&2
    exit 1
fi
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 12) else 1)'; then
    echo "run.sh: $py is $("$py" --version 2>&1); shapiq 1.8.0 needs Python >= 3.12." >&2
    exit 1
fi

venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "run.sh: creating $venv with $("$py" --version)" >&2
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt"

cargo build --release --quiet

read -r load1 _ < /proc/loadavg
echo "run.sh: load average $load1 on $(nproc) cores (timings are fairer on an idle machine)" >&2

# One thread everywhere: BLAS for shapiq's regressions, -j 1 for creditflow (in compare.py).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
if [[ "${1:-}" == "--blackbox" ]]; then
    # creditflow's regression against all six of shapiq's regression-type approximators.
    shift
    nice -n 10 "$venv/bin/python" "$here/blackbox.py" \
        --bin target/release/creditflow --out bench/shapiq/out --doc docs/shapiq-blackbox.md "$@"
    echo "run.sh: wrote docs/shapiq-blackbox.md" >&2
    exit 0
fi
nice -n 10 "$venv/bin/python" "$here/compare.py" \
    --bin target/release/creditflow --out bench/shapiq/out --doc docs/shapiq.md "$@"
echo "run.sh: wrote docs/shapiq.md" >&2
