"""File names read from annotation files, turned into paths that cannot leave their folder.

Annotation files name other files (COCO panoptic PNGs, COCO images, the png layout's index
PNGs). Those names come from whoever made the file, so a name is only ever resolved inside the
folder it belongs to: absolute paths, drive letters, backslashes, ``..`` and symbolic links
that lead outside are refused before anything is opened. The error names the file name as
written and nothing about what may lie at that path.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from .model import FormatError


def contained_path(
    root: str | os.PathLike[str],
    name: object,
    *,
    file: str | os.PathLike[str],
    item: str,
    what: str,
) -> Path:
    """``root / name`` when ``name`` is a relative path that stays inside ``root`` (after
    resolving symbolic links); else FormatError(file, item, ...) saying what is wrong."""
    if not isinstance(name, str) or not name:
        raise FormatError(file, item, f"{what} must be a non-empty string, got {name!r}")
    if "\x00" in name or "\\" in name:
        raise FormatError(file, item, f"{what} {name!r} must be a relative path with '/' separators")
    posix = PurePosixPath(name)
    if posix.is_absolute() or PureWindowsPath(name).drive:
        raise FormatError(
            file, item, f"{what} {name!r} is an absolute path; it must be relative to its folder"
        )
    if ".." in posix.parts:
        raise FormatError(file, item, f"{what} {name!r} contains '..'; it must stay inside its folder")
    base = Path(root).resolve()
    path = Path(root) / posix
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise FormatError(file, item, f"{what} {name!r} leads outside its folder (symbolic link)")
    return path
