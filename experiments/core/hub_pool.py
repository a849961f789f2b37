"""League entrants from the Hugging Face Hub: every model with a tag, downloaded once.

``hub_models`` lists the models tagged ``tag`` (``HfApi.list_models``), downloads each one's
policy files (``*.onnx``, ``README.md``, ``configuration.yaml``) into ``cache/<owner>--<name>``
and marks the folder complete with the commit it came from, so a later league reuses it and
only new models or new commits are fetched. A model that cannot be fetched is skipped with the
reason; whether its files fit the game is the caller's check (``players.onnx_player``).
``endpoint`` points at another Hub (a mirror, or the tests' stand-in server).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

COMPLETE = ".complete"  # holds the commit a finished download came from
POLICY_FILES = ["*.onnx", "README.md", "configuration.yaml"]


def hub_models(
    tag: str,
    cache: str | Path,
    endpoint: str | None = None,
    log: Callable[[str], None] = print,
) -> list[tuple[str, Path]]:
    """``(repo_id, local folder)`` of every model tagged ``tag`` that could be fetched."""
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError as err:  # the optional extra
        raise SystemExit("--hub-tag needs huggingface_hub: pip install -e '.[unity]'") from err

    api = HfApi(endpoint=endpoint)
    cache = Path(cache)
    fetched = []
    try:
        listed = list(api.list_models(filter=tag))
    except Exception as error:  # no network, a wrong endpoint
        raise RuntimeError(
            f"could not list the Hub's {tag!r} models ({error}); check the network or "
            "--hub-endpoint, or give a local --pool"
        ) from error
    for info in listed:
        repo, sha = info.id, getattr(info, "sha", None)
        folder = cache / repo.replace("/", "--")
        marker = folder / COMPLETE
        if marker.exists() and (sha is None or marker.read_text().strip() == sha):
            fetched.append((repo, folder))
            continue
        try:
            snapshot_download(
                repo_id=repo,
                revision=sha,
                local_dir=folder,
                allow_patterns=POLICY_FILES,
                endpoint=endpoint,
            )
        except Exception as error:
            log(f"skipped {repo}: download failed ({error})")
            continue
        if not any(folder.glob("*.onnx")):
            log(f"skipped {repo}: no .onnx file in the model")
            continue
        marker.write_text(sha or "")
        fetched.append((repo, folder))
    return fetched
