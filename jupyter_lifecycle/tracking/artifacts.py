"""Writing files into a run's artifact folder: atomically, hashed, recorded."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..entities import FileInfo
from ..errors import InvalidInput, NotFound, StoreError

# What Linux and macOS file systems accept: a longer name fails with "File name too long".
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


def clean_artifact_path(path: str | None) -> str:
    """A relative POSIX path inside the artifact folder; refuses absolute paths, '..' and what ``check_file_path`` refuses."""
    if not path:
        return ""
    text = str(path).replace("\\", "/")
    normal = posixpath.normpath(text)
    if text.startswith("/") or normal == ".." or normal.startswith("../"):
        raise InvalidInput(f"artifact path {path!r} must be relative and stay inside the run's folder")
    check_file_path(normal, "artifact path")
    return "" if normal == "." else normal


def check_file_path(path: str, what: str) -> str:
    """``path`` if a file system can hold it: no NUL or lone surrogate, no name over 255 bytes, at most 1,024 bytes."""
    if "\0" in path:
        raise InvalidInput(f"{what} {path!r} contains a NUL character, which no file name can hold; remove it")
    try:
        size = len(path.encode())
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} {path!r} contains a lone surrogate, not a Unicode character; remove it") from None
    too_long = next((part for part in path.split("/") if len(part.encode()) > MAX_NAME_BYTES), None)
    if too_long is not None:
        raise InvalidInput(f"{what} {path[:60]!r}...: the name {too_long[:40]!r}... is {len(too_long.encode())} bytes; "
                           f"file systems allow {MAX_NAME_BYTES}: use a shorter name")  # fmt: skip
    if size > MAX_PATH_BYTES:
        raise InvalidInput(f"{what} {path[:60]!r}... is {size} bytes; the limit is {MAX_PATH_BYTES}")
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# OS errors that say the artifact folder cannot take the file (not that the data is wrong).
_FOLDER_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` then move ``tmp`` over ``target``, so readers never see half a file.

    A folder that is read-only, or a full disk, is a ``StoreError`` naming the
    folder; nothing half-written is left behind.
    """
    # The suffix tells writers the format; a long one would push the temporary name past 255 bytes.
    suffix = target.suffix if len(target.suffix.encode()) <= 32 else ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=suffix)
    except OSError as exc:
        raise _folder_error(target, exc) from exc
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in _FOLDER_ERRORS:
            raise _folder_error(target, exc) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _folder_error(target: Path, exc: OSError) -> StoreError:
    return StoreError(f"cannot write {target.name!r} into the artifact folder {target.parent}: "
                      f"{exc.strerror or exc}; make the folder writable for this user, or free some disk space")  # fmt: skip


def write_figure(figure: Any, path: Path) -> None:
    """Save a matplotlib figure, an altair chart or a plotly figure by the file's extension."""
    if hasattr(figure, "savefig"):  # matplotlib Figure
        figure.savefig(path, format=path.suffix.lstrip(".") or "png")
    elif type(figure).__module__.startswith("altair"):
        figure.save(str(path), format=path.suffix.lstrip(".") or "html")
    elif hasattr(figure, "write_html") and path.suffix == ".html":  # plotly
        figure.write_html(str(path))
    elif hasattr(figure, "write_image"):
        figure.write_image(str(path))
    else:
        raise InvalidInput(
            f"log_figure takes a matplotlib figure, an altair chart or a plotly figure, "
            f"not {type(figure).__name__}"
        )


TABLE_SUFFIXES = (".json", ".parquet", ".csv")


def table_frame(data: Any) -> Any:
    """A DataFrame from a DataFrame or a dict (of columns, or of scalars: one row), as MLflow's ``log_table``."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, dict):
        raise InvalidInput(f"log_table takes a pandas DataFrame or a dict, not {type(data).__name__}")
    try:
        return pd.DataFrame(data)
    except ValueError:  # {"question": "What is MLflow?"}: all scalars, one row
        return pd.DataFrame([data])


def read_table(path: Path) -> Any:
    """Read a table written by ``write_table`` back into a DataFrame."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".json":
        return pd.read_json(path, orient="split")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    raise InvalidInput(f"tables are .json, .parquet or .csv files, not {path.name!r}")


def write_table(data: Any, path: Path) -> None:
    """Save a DataFrame (or a dict of columns) as MLflow's JSON table, CSV or Parquet by extension."""
    frame = table_frame(data)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".json":
        path.write_text(frame.to_json(orient="split", index=False, date_format="iso"))
    else:
        raise InvalidInput(f"log_table writes .json, .csv or .parquet files, not {path.name!r}")


def pil_image(image: Any) -> Any:
    """A PIL image from a PIL image or a numpy array (HxW, HxWx1, HxWx3 or HxWx4; uint8, or floats in [0, 1])."""
    try:
        import PIL.Image
    except ImportError:
        raise InvalidInput("log_image needs Pillow: pip install pillow") from None
    if isinstance(image, PIL.Image.Image):
        return image
    import numpy as np

    if not isinstance(image, np.ndarray):
        raise InvalidInput(f"log_image takes a numpy array or a PIL image, not {type(image).__name__}")
    array = image
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidInput(f"an image array must be HxW, HxWx1, HxWx3 or HxWx4, not of shape {image.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise InvalidInput("a float image array must hold values in [0, 1] (multiply by 255 and use uint8 otherwise)")
        array = (array * 255).round().astype(np.uint8)
    elif array.dtype.kind in "iub":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InvalidInput("an integer image array must hold values in [0, 255]")
        array = array.astype(np.uint8)
    else:
        raise InvalidInput(f"an image array must hold integers or floats, not {array.dtype}")
    return PIL.Image.fromarray(array)


def thumbnail(image: Any, size: int = 256) -> Any:
    """A copy of a PIL image no larger than ``size`` pixels a side (the series' compressed view)."""
    small = image.copy()
    small.thumbnail((size, size))
    return small


def write_dict(dictionary: Any, path: Path) -> None:
    """Save a dict as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        path.write_text(yaml.safe_dump(dictionary, sort_keys=False))
    else:
        path.write_text(json.dumps(dictionary, indent=2, default=str))


def list_dir(root: Path, path: str | None) -> list[FileInfo]:
    """The direct children of ``root/path``, as MLflow's ``list_artifacts`` returns them."""
    rel = clean_artifact_path(path)
    folder = root / rel
    if folder.is_file():
        return [FileInfo(rel, False, folder.stat().st_size)]
    if not folder.is_dir():
        return []
    entries = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".tmp-"):
            continue
        child_rel = posixpath.join(rel, child.name) if rel else child.name
        entries.append(FileInfo(child_rel, child.is_dir(), None if child.is_dir() else child.stat().st_size))
    return entries


def copy_out(root: Path, path: str, dst: str | os.PathLike[str] | None) -> str:
    """The local path of an artifact, copied to ``dst`` when given."""
    rel = clean_artifact_path(path)
    source = root / rel
    if not source.exists():
        raise NotFound(f"no artifact {path!r} in this run; list_artifacts() shows what there is")
    if dst is None:
        return str(source)
    target = Path(dst) / (source.name or "artifacts")
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return str(target)
