"""Atomic writes of files and of whole folders: readers see the old version or the whole new one,
never a partial one or a mix."""

import contextlib
import ctypes
import errno
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on success fsync it and os.replace
    it onto `path` (with the permissions open() would give); on error remove it and leave
    `path` untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


STAGING_MARK = ".staging-"  # a folder being written: .<name>.staging-<pid> beside its target
RETIRED_MARK = ".retired-"  # the previous folder, swapped out, being removed: .<name>.retired-<pid>


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(folder: str | os.PathLike) -> list[str]:
    """Remove what killed runs left beside `folder` (staging and retired copies of it whose process
    is gone) and inside it (`.tmp` files of interrupted atomic writes); returns the removed paths.
    A retired copy whose target is missing is put back instead: the kill fell between the two
    renames of a non-atomic swap, and the retired copy is the last complete set."""
    folder = pathlib.Path(folder)
    removed = []
    if folder.parent.is_dir():
        for path in folder.parent.glob(f".{folder.name}.*-*"):
            mark, _, pid = path.name[len(folder.name) + 1:].rpartition("-")  # ".staging", "123"
            if mark + "-" not in (STAGING_MARK, RETIRED_MARK) or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            if mark + "-" == RETIRED_MARK and not folder.exists():
                os.rename(path, folder)
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    if folder.is_dir():
        for path in folder.glob(".*.tmp"):
            path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed


def exchange_paths(a: str, b: str) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), a)


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yield an empty staging folder beside `folder`; when the block succeeds, the staging folder
    becomes `folder` in one step, replacing what was there (renameat2's exchange where the
    filesystem has it, else two renames that `remove_leftovers` completes after a kill). On error
    the staging folder is removed and `folder` is untouched. Readers see the old set of files or
    the new one, never a mix."""
    folder = pathlib.Path(folder).absolute()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}{STAGING_MARK}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        _fsync_folder(staging)
        if not folder.exists():
            os.rename(staging, folder)
        elif exchange_paths(str(staging), str(folder)):
            shutil.rmtree(staging)  # now the old set
        else:
            retired = folder.parent / f".{folder.name}{RETIRED_MARK}{os.getpid()}"
            os.rename(folder, retired)
            os.rename(staging, folder)
            shutil.rmtree(retired)
        _fsync_folder(folder.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _fsync_folder(folder: pathlib.Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_writable_folder(folder: str | os.PathLike, flag: str = "--out") -> None:
    """Raise ValueError (naming `flag`) unless `folder` is a folder, or can be made one, that this
    process can write into and beside."""
    if str(folder).strip() == "":
        raise ValueError(f"{flag} is empty; give the folder to write the outputs into")
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{flag} {folder} is a file, not a folder; give a folder for the outputs")
    parent = folder.absolute().parent  # where a staging folder goes, created if missing
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK) or (folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK)):
        raise ValueError(f"{flag} {folder} cannot be written; give a folder you can write to")


def check_output_folder(folder: str | os.PathLike, experiment: str, flag: str = "--out") -> None:
    """Raise ValueError (naming `flag`) unless `folder` can receive `experiment`'s outputs as a whole:
    a writable new folder, an empty folder, or the outputs of an earlier run of the same experiment
    (its results.json says so), which the new set replaces."""
    check_writable_folder(folder, flag)
    folder = pathlib.Path(folder)
    content = [p for p in folder.iterdir() if not p.name.endswith(".tmp")] if folder.is_dir() else []
    if content:
        try:
            owner = json.loads((folder / "results.json").read_text()).get("experiment")
        except (OSError, ValueError, AttributeError):
            owner = None
        if owner != experiment or any(p.name.startswith(".") for p in content):  # e.g. a .git kept there
            raise ValueError(f"{flag} {folder} holds files that are not outputs of {experiment}; the outputs "
                             "replace the folder as a whole, so give a new or empty folder")
