"""Reading and writing the user's files without hanging, swallowing memory or losing a file.

Reading (``open_regular``, ``read_regular``): only regular files are read. A FIFO would block
for ever and ``/dev/zero`` never ends, so the file is opened without blocking and its type
checked on the open descriptor (a symlink to a device is caught too); reads stop past a limit.

Writing (``atomic_writer``): a temporary file beside the target, flushed and renamed over it,
so a crash never leaves half a file. On top of that it
- writes through a symlink to the file it points to (the link stays a link, as editors do);
- keeps the target's permission bits (a new file gets the umask's default, not 0600);
- refuses a target that exists and is not a regular file (a device node, a FIFO, a folder);
- removes its temporary file on SIGTERM as on any error (see ``_TempFiles``), and removes
  stale temporary files of ours beside the target (their writer is gone) on the next save.

Every problem is raised as ``ScenarioError`` (one line naming the file) or, for writes, as
``OSError`` for the caller to word.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from sim_core.errors import ScenarioError
from sim_core.safe_text import cut

TEMP_MARK = "scalelab-tmp"  # in the name of every temporary file we write: .NAME.PID.MARK-RANDOM
STALE_AFTER_S = 24 * 3600.0  # a temporary file of ours this old is stale whoever wrote it
MAX_SHOWN_PATH = 120  # characters of a path shown in a message


def shown(path: str | os.PathLike[str]) -> str:
    """A path as it goes into a message: printable and at most about MAX_SHOWN_PATH characters."""
    return cut(os.fsdecode(path), MAX_SHOWN_PATH)


# --- reading --------------------------------------------------------------------------------

def _describe_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def open_regular(path: str | os.PathLike[str], what: str = "file") -> int:
    """Open ``path`` for reading and return its descriptor, or raise ScenarioError.

    Never blocks (a FIFO is opened non-blocking and then refused) and refuses anything that is
    not a regular file once symlinks are followed. ``what`` names the file in messages.
    """
    name = shown(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ScenarioError(f"{name}: no such file") from None
    except PermissionError:
        raise ScenarioError(f"{name}: permission denied") from None
    except (OSError, ValueError) as exc:  # too long a name, a loop of links, a NUL in the name...
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError(f"{name}: cannot be read ({reason})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ScenarioError(f"{name}: {_describe_kind(mode)}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refused (ScenarioError) when over ``limit`` bytes."""
    fd = open_regular(path, what)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(fd).st_size
        data = b"" if size > limit else handle.read(limit + 1)  # the file may grow while read
    if size > limit or len(data) > limit:
        raise ScenarioError(f"{shown(path)}: the file is {max(size, len(data)) / 1e6:.0f} MB; "
                            f"a {what} may be at most {limit // 2**20} MB")
    return data


# --- writing --------------------------------------------------------------------------------

class _TempFiles:
    """The temporary files being written now; removed when SIGTERM arrives, then the signal goes on.

    The handler is installed on first use from the main thread and chains to the previous one
    (the default handler ends the process, as SIGTERM should).
    """

    def __init__(self) -> None:
        self.live: set[str] = set()
        self._installed = False
        self._previous: object = signal.SIG_DFL

    def add(self, path: str) -> None:
        self.live.add(path)
        if not self._installed and threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGTERM, self._on_term)
                self._installed = True
            except (ValueError, OSError):  # not the main interpreter: no handler, stale cleanup still works
                pass

    def discard(self, path: str) -> None:
        self.live.discard(path)

    def _on_term(self, signum: int, frame: object) -> None:
        for path in list(self.live):
            try:
                os.unlink(path)
            except OSError:
                pass
        self.live.clear()
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
            return
        if previous == signal.SIG_IGN:
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the default: end the process by this signal
        os.kill(os.getpid(), signal.SIGTERM)


_TEMPS = _TempFiles()


def write_target(path: str | os.PathLike[str]) -> Path:
    """Where a save to ``path`` writes: the file a symlink (chain) points to, or ``path``.

    Raises OSError when that exists and is not a regular file, or the link goes in a loop.
    """
    target = Path(os.path.realpath(path, strict=False))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, _describe_kind(mode))
    return target


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are the same existing file (through links, hard links and spellings)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # no /proc: read it by setting it (not thread-safe, but only as a fallback)
    os.umask(old)
    return old


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{name}.") + r"(\d+)\." + re.escape(TEMP_MARK) + r"-[0-9a-f]+\.tmp")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 2**22
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove temporary files of ours beside ``target`` whose writer is gone (killed mid-save).

    Ours are named ``.NAME.PID.scalelab-tmp-RANDOM.tmp``; stale when that process is gone or
    the file is older than STALE_AFTER_S. Returns the removed paths.
    """
    pattern = _temp_pattern(target.name)
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or os.path.join(target.parent, entry.name) in _TEMPS.live:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            if old or not _alive(int(match.group(1))):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


@contextmanager
def atomic_writer(path: str | os.PathLike[str], newline: str | None = None,
                  keep_on_interrupt: bool = False) -> Iterator[TextIO]:
    """A text file to write ``path`` with, atomically (see the module docstring).

    The block writes to a temporary file beside the target; when it ends, the file is flushed,
    given the target's permission bits and renamed over it. If the block raises (Ctrl-C
    included) or SIGTERM arrives, the temporary file is removed and the target left as it was.
    With ``keep_on_interrupt``, Ctrl-C (KeyboardInterrupt) instead commits what was written so
    far (a CSV of the seconds run), then goes on. Raises OSError when the folder cannot take the
    file or the target is not a regular file.
    """
    target = write_target(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    remove_stale_temps(target)
    tmp = os.path.join(target.parent, f".{target.name}.{os.getpid()}.{TEMP_MARK}-{secrets.token_hex(4)}.tmp")
    _TEMPS.add(tmp)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except KeyboardInterrupt:
        if keep_on_interrupt and os.path.exists(tmp):
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        else:
            _unlink_quietly(tmp)
        raise
    except BaseException:
        _unlink_quietly(tmp)
        raise
    finally:
        _TEMPS.discard(tmp)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def check_output(path: str | os.PathLike[str], option: str, inputs: list[str | os.PathLike[str]]) -> None:
    """Fail before a run, not after it, when ``path`` cannot or must not be written.

    Refused: a path that is one of ``inputs`` (``run s.json --csv s.json`` would replace the
    scenario), an existing target that is not a regular file (a device, a FIFO, a folder), a
    missing or read-only folder, a name too long for the file system. ``option`` names the
    option in the message (``--csv``).
    """
    where = f"{option} {shown(path)}"
    for source in inputs:
        if same_file(path, source):
            raise ScenarioError(f"{where}: is an input of this run; write the output to another file")
    try:
        target = write_target(path)
    except OSError as exc:
        raise ScenarioError(f"{where}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the name
        raise ScenarioError(f"{where}: {exc}") from None
    folder = target.parent
    if not folder.is_dir():
        raise ScenarioError(f"{where}: the folder {shown(folder)} does not exist")
    if not os.access(folder, os.W_OK):
        raise ScenarioError(f"{where}: the folder {shown(folder)} is not writable")
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(target.name)) + 40 > limit:  # room for the temporary file's longer name
        raise ScenarioError(f"{where}: the file name is longer than {limit - 40} bytes")
