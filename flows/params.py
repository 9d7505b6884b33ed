"""The parameters of the ``clean-corpus`` flow: one pydantic model, mirrored by ``presswash.toml``.

:class:`FlowParams` *is* a :class:`~cleaning.config.CleaningConfig` (every stage
section: ``[read]``, ``[layout]``, …) plus the run settings (inputs, output
directory, sharding, retries). A TOML file therefore uses exactly the keys of
this model; unknown keys are errors, so a typo never falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, field_validator

from cleaning.config import CleaningConfig, load_toml

# Sections of CleaningConfig that change what a shard writes to its unit. The
# ``output`` section is left out except for the one setting that changes rows:
# rows_per_file/compression only change how published files are cut.
_PROCESSING_SECTIONS = ("read", "decode", "repair", "normalize", "layout", "segment", "dedup")


class FlowParams(CleaningConfig):
    model_config = ConfigDict(extra="forbid")

    inputs: list[str] = Field(
        default_factory=lambda: ["data/raw"],
        min_length=1,
        description="Input files, directories (recursed) or globs. Source paths in the output are "
        "relative to the input given, so ids do not depend on where the data sits.",
    )
    out: str = Field(
        "data/clean",
        min_length=1,
        description="Output directory: articles/, paragraphs/, rejects/, manifest.json and the "
        "internal state .presswash/. The dataset in it is cumulative across runs.",
    )
    force: bool = Field(
        False, description="Reprocess every given input even when the catalog says it is unchanged."
    )
    shard_bytes: int = Field(
        32 * 2**20,
        ge=1024,
        description="Input bytes per shard task. Shards are the unit of parallelism and of "
        "incremental state; larger shards mean less per-task overhead, more memory per task. Also "
        "the block over which repeated page furniture is found (see furniture_max_pages), so "
        "changing it may change which lines are furniture; workers never does. A zip, JSONL or "
        "gzipped JSONL file larger than shard_bytes / 32 (compressed bytes for a .gz) is cut into "
        "parts of that size, which shards read like files.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="Shard (and finalize) tasks run at once, on a thread task runner, and the "
        "processes of the step pool (default: one per core). An input smaller than "
        "workers x shard_bytes is cut into about this many shards (none under min_shard_bytes), "
        "so every worker has a shard, and a larger one into more shards where its blocks of "
        "shard_bytes would keep the workers unevenly busy; the dedup reduce, which runs alone, "
        "verifies on as many threads.",
    )
    worker_processes: bool = Field(
        False,
        description="Run the shard, dedup and finalize steps in a pool of `workers` processes started "
        "once per run, while Prefect tracks every task from the flow's process on threads (what "
        "`presswash run --runner process`, the default, sets). Used when a run has more than one "
        "shard and `workers` is above 1; otherwise the steps run in the task's own thread.",
    )
    min_shard_bytes: int = Field(
        2**20,
        ge=1024,
        description="Smallest shard the automatic cut makes when it splits an input for the workers; "
        "below it the per-task start-up (imports, dictionaries) outweighs the gain.",
    )
    furniture_max_pages: int = Field(
        2000,
        ge=0,
        description="Pages sampled to find repeated page furniture (running heads, page footers): "
        "the first this many of each block of shard_bytes input bytes, whatever the number of "
        "workers; bounds the memory of that pass.",
    )
    trust_mtime: bool = Field(
        True,
        description="Reuse the catalog's SHA-256 of an input whose size and modification time are "
        "unchanged instead of hashing it again (what make and rsync do).",
    )
    retries: int = Field(2, ge=0, le=20, description="Retries of I/O tasks (listing, reading, writing).")
    retry_delay_seconds: float = Field(5.0, ge=0, description="Delay between retries of an I/O task.")
    timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="Time limit of one task (a shard, the dedup reduce, a publish); none if unset.",
    )
    wait: bool = Field(
        False,
        description="When another run holds the output directory, wait for it instead of refusing.",
    )
    wait_timeout_seconds: float | None = Field(
        None, gt=0, description="Give up waiting for the output directory after this long (with wait)."
    )

    @field_validator("inputs")
    @classmethod
    def _inputs_not_blank(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("an input path is empty")
        return v

    def cleaning(self) -> CleaningConfig:
        """The cleaning sections alone."""
        return CleaningConfig(**{name: getattr(self, name) for name in CleaningConfig.model_fields})

    def processing_fingerprint(self) -> str:
        """What a unit depends on: an input is skipped only when this and its hash are unchanged."""
        cfg = self.cleaning()
        base = cfg.fingerprint(*_PROCESSING_SECTIONS)
        return f"{base}-{'s' if cfg.output.simplified_column else 'n'}"

    @classmethod
    def from_toml(cls, path: str | Path | None = None, **overrides: Any) -> FlowParams:
        """Parameters from a TOML file (keys as in this model), then ``overrides`` (non-None only)."""
        data: dict[str, Any] = load_toml(path) if path else {}
        for key, value in overrides.items():
            if value is not None:
                data[key] = value
        return cls.model_validate(data)


def describe_error(exc: ValidationError, source: str | None = None) -> str:
    """A ValidationError as short lines ``key.path: message`` for the command line."""
    where = f" in {source}" if source else ""
    lines = [f"invalid parameters{where}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)
