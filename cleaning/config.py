"""The complete cleaning configuration: one section per stage.

Each stage module owns its config class and documents every setting there;
this module only composes them, so a TOML file can say::

    [layout]
    min_seam_word_freq = 1000

Unknown keys are errors (``extra="forbid"``), so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cleaning.decode import DecodeConfig
from cleaning.dedup import DedupConfig
from cleaning.layout import LayoutConfig
from cleaning.normalize import NormalizeConfig
from cleaning.reader import ReadConfig
from cleaning.repair import RepairConfig
from cleaning.segment import SegmentConfig


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    simplified_column: bool = Field(
        False,
        description="Fill articles.text_simplified with an OpenCC Traditional→Simplified conversion "
        "of text (the original text is never replaced). Off by default: it costs time.",
    )
    rows_per_file: int = Field(
        250_000, ge=1000, description="Upper bound of paragraph rows in one output Parquet file."
    )
    compression: str = Field(
        "zstd",
        description="Parquet codec of the published tables (the internal files under .presswash/ use LZ4).",
    )


class CleaningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    read: ReadConfig = Field(default_factory=ReadConfig)
    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    repair: RepairConfig = Field(default_factory=RepairConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    layout: LayoutConfig = Field(default_factory=LayoutConfig)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the given sections (all when none): equal hashes, equal behaviour."""
        data = self.model_dump(mode="json")
        if sections:
            data = {k: data[k] for k in sections}
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_toml(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)
