"""Safe extraction of uploaded zip archives (imports arrive zipped)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .model import FormatError

DEFAULT_MAX_BYTES = 20 * 1024**3
DEFAULT_MAX_MEMBERS = 1_000_000


def safe_extract_zip(
    zip_path: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[Path]:
    """Extract ``zip_path`` into ``target`` and return the files written.

    Every member is checked before anything is written; the archive is refused (FormatError
    naming the member) for absolute paths, drive letters, backslashes, ``..`` components,
    symbolic links and other special files, duplicate names, or when the declared uncompressed
    size or member count exceeds the limits (zip bombs). Extraction streams each member, so a
    member whose real size exceeds its declared size is also stopped.
    """
    zpath = Path(zip_path)
    root = Path(target).resolve()
    try:
        zf = zipfile.ZipFile(zpath)
    except (OSError, zipfile.BadZipFile) as e:
        raise FormatError(zpath, "archive", f"not a readable zip file: {e}") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise FormatError(zpath, "archive", f"{len(infos)} members, more than the limit {max_members}")
        total = 0
        seen: set[str] = set()
        plan: list[tuple[zipfile.ZipInfo, Path]] = []
        for info in infos:
            name = info.filename
            if "\\" in name:
                raise FormatError(zpath, name, "backslash in member name")
            if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
                raise FormatError(zpath, name, "absolute path")
            parts = PurePosixPath(name).parts
            if ".." in parts:
                raise FormatError(zpath, name, "'..' in member path escapes the target folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise FormatError(zpath, name, "symbolic link")
            kind = stat.S_IFMT(mode)  # 0 when the archiver stored permissions only
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise FormatError(zpath, name, "special file (not a regular file or folder)")
            dest = (root / name).resolve()
            if dest != root and root not in dest.parents:
                raise FormatError(zpath, name, "member path escapes the target folder")
            key = str(dest)
            if key in seen:
                raise FormatError(zpath, name, "duplicate member name")
            seen.add(key)
            total += info.file_size
            if total > max_bytes:
                raise FormatError(
                    zpath,
                    name,
                    f"uncompressed size exceeds the limit of {max_bytes} bytes ({max_bytes / 1024**3:g} GiB)",
                )
            plan.append((info, dest))
        written = []
        for info, dest in plan:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            remaining = info.file_size
            with zf.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    remaining -= len(chunk)
                    if remaining < 0:
                        raise FormatError(zpath, info.filename, "member is larger than its declared size")
                    out.write(chunk)
            written.append(dest)
        return written
