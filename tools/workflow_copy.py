"""The workflow as a fresh clone has it, copied into a folder: what tests and benchmarks run Snakemake in.

Tracked files and new files git does not ignore are copied (so uncommitted work is
tested as it would be committed); results/, .venv/ and other ignored paths are not.
The copy's Snakefile makes its jobs import the copy's lib, so it runs its own code.
"""

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tracked_files() -> list[str]:
    """What a fresh clone of the working tree would hold (tracked + new, not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [f for f in out.stdout.splitlines() if (REPO / f).is_file()]


def copy_workflow(dest: Path) -> Path:
    """`dest` emptied, then filled with the workflow as a fresh clone would have it."""
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    for name in tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return dest
