"""Run reports as Prefect artifacts, and the ``presswash.dataset.published`` event.

Artifact keys are per output directory (``presswash-shards-<name>-<hash>``), so
the Prefect UI shows the history of one dataset as versions of one artifact.
Reporting never fails a run: a dataset that was published stays published even
if the API is unreachable for a moment.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any
from uuid import UUID

log = logging.getLogger("presswash")

EVENT_PUBLISHED = "presswash.dataset.published"


def dataset_key(output: str) -> str:
    """A stable artifact key fragment for an output directory."""
    resolved = str(Path(output).resolve())
    name = re.sub(r"[^a-z0-9]+", "-", Path(resolved).name.lower()).strip("-")[:30] or "out"
    return f"{name}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def start_progress(total: int) -> UUID | None:
    from prefect.artifacts import create_progress_artifact

    try:
        return create_progress_artifact(
            progress=0.0 if total else 100.0,
            description=f"Shards processed (of {total})",
            _sync=True,  # the flow is async, but these calls are made from its blocking body
        )
    except Exception as exc:
        log.debug("progress artifact not created: %s", exc)
        return None


def update_progress(artifact_id: UUID | None, done: int, total: int) -> None:
    if artifact_id is None or not total:
        return
    from prefect.artifacts import update_progress_artifact

    try:
        update_progress_artifact(artifact_id, progress=round(100.0 * done / total, 1), _sync=True)
    except Exception as exc:
        log.debug("progress artifact not updated: %s", exc)


SHARD_COLUMNS = (
    "unit",
    "files",
    "bytes",
    "documents",
    "encodings",
    "repairs",
    "joins",
    "articles",
    "paragraphs",
    "kept",
    "duplicate",
    "truncated",
    "rejects",
    "seconds",
    "cpu_seconds",
    "reused",
)


def shard_table(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for s in manifest["shards"]:
        row = {c: s.get(c) for c in SHARD_COLUMNS}
        row["encodings"] = ", ".join(f"{k}:{v}" for k, v in (s.get("encodings") or {}).items())
        rows.append(row)
    return rows


# The manifest's ``timings`` steps, in run order, with the names a run report shows.
_STEP_LABELS = (
    ("plan", "plan"),
    ("block_furniture", "block furniture"),
    ("process_shard", "shards"),
    ("dedup_reduce", "dedup reduce"),
    ("finalize_unit", "finalize"),
)


def timings_text(timings: dict[str, Any] | None) -> str | None:
    """One line: each step's wall seconds (and calls when several), then the steps' CPU seconds.

    ``None`` for a manifest without ``timings`` (written before they existed).
    """
    if not timings:
        return None
    parts = []
    for key, label in _STEP_LABELS:
        t = timings.get(key)
        if t is None:
            continue
        calls = f" ({t['calls']} tasks)" if t["calls"] > 1 else ""
        parts.append(f"{label} {_seconds(t['seconds'])}{calls}")
    cpu = sum(t["cpu_seconds"] for t in timings.values())
    return ", ".join(parts) + f"; CPU of the steps {_seconds(cpu)}"


def _seconds(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def summary_markdown(manifest: dict[str, Any], published: dict[str, Any]) -> str:
    c, st, run = manifest["counts"], manifest["paragraph_status"], manifest["this_run"]
    lines = [
        f"# presswash run `{manifest['run_id']}`",
        "",
        f"Output: `{manifest['output']}` (schema version {manifest['schema_version']})",
        "",
        "| | |",
        "|---|---|",
        f"| inputs given | {run['given']} |",
        f"| processed / skipped (unchanged) | {run['processed']} / {run['skipped']} |",
        f"| shards | {run['shards']} |",
        f"| articles | {c['articles']} |",
        f"| paragraphs | {c['paragraphs']} |",
        f"| kept / duplicate / truncated | {st.get('kept', 0)} / {st.get('duplicate', 0)} / "
        f"{st.get('truncated', 0)} |",
        f"| rejects | {c['rejects']} |",
        f"| files changed by this publish | {len(published['changed_files'])} |",
        "",
        f"Started {manifest['started']}, finished {manifest['finished']}.",
    ]
    spent = timings_text(manifest.get("timings"))
    if spent:
        lines += ["", f"Time in the steps (wall): {spent}."]
    return "\n".join(lines) + "\n"


def report(manifest: dict[str, Any], published: dict[str, Any]) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    key = dataset_key(manifest["output"])
    try:
        create_table_artifact(
            table=shard_table(manifest),
            key=f"presswash-shards-{key}",
            description=f"Per-shard statistics of run {manifest['run_id']}",
            _sync=True,
        )
        create_markdown_artifact(
            markdown=summary_markdown(manifest, published),
            key=f"presswash-summary-{key}",
            description="presswash run summary",
            _sync=True,
        )
    except Exception as exc:
        log.warning("run report artifacts not created: %s", exc)


def emit_published(manifest: dict[str, Any], published: dict[str, Any]) -> None:
    from prefect.events import emit_event

    try:
        emit_event(
            event=EVENT_PUBLISHED,
            resource={
                "prefect.resource.id": f"presswash.dataset.{dataset_key(manifest['output'])}",
                "prefect.resource.name": str(Path(manifest["output"]).resolve()),
            },
            payload={
                "run_id": manifest["run_id"],
                "output": str(Path(manifest["output"]).resolve()),
                "schema_version": manifest["schema_version"],
                "counts": manifest["counts"],
                "paragraph_status": manifest["paragraph_status"],
                "changed_files": len(published["changed_files"]),
            },
        )
    except Exception as exc:
        log.warning("event %s not emitted: %s", EVENT_PUBLISHED, exc)
