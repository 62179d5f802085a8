"""Put the torchvision-on-CPU-torch shim into a venv: ``python install.py`` with the venv's
python (``make setup`` does it). Idempotent; writes two files into its site-packages."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

NAME = "mllmcl_torchvision_cpu"


def main() -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    shutil.copyfile(Path(__file__).with_name(f"{NAME}.py"), site / f"{NAME}.py")
    (site / f"{NAME}.pth").write_text(f"import {NAME}; {NAME}.install()\n")


if __name__ == "__main__":
    main()
