"""The example files shipped inside the package (``slaprobe/data/``), for commands that offer an example.

A non-editable install has no repository ``config/`` folder, yet ``slaprobe demo`` needs a contract and
``slaprobe evaluation --example-inputs`` hands out a template to fill in. Each file here is a byte-for-byte
copy of its documented original in ``config/`` (tests/test_packaging.py keeps them equal), so the
commented example a reader finds in the repository is exactly what an installed slaprobe uses.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
EXAMPLE_CONTRACT = DATA / "contract.example.yaml"  # = config/contract.example.yaml
EXAMPLE_EVALUATION_INPUTS = DATA / "evaluation-inputs.example.yaml"  # = config/evaluation-inputs.example.yaml
