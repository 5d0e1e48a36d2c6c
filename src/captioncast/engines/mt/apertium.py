"""Apertium: rule-based translation by local processes, one long-lived pipeline per pair.

Each installed mode (``/usr/share/apertium/modes/eng-spa.mode``) is a shell pipeline of a dozen
programs. The ``apertium`` wrapper cannot stay up between sentences: its text deformatter
drops the NUL that ends a sentence in null-flush mode, and its ``gawk`` stages read ahead on
a pipe. So this engine runs the mode's own pipeline in null-flush mode
(``apertium-wblank-mode -z``), does the text escaping itself, and writes one sentence at a
time, each ended by a blank and a NUL; the pipeline answers each with a NUL and stays up. A
pipeline that dies or stops answering within ``timeout`` is killed and started again at the
next sentence.
"""

from __future__ import annotations

import logging
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from captioncast.engines.mt.base import LanguagePair, TranslationError

log = logging.getLogger(__name__)

DEFAULT_DATADIR = Path("/usr/share/apertium")
# Apertium names languages by ISO 639-3; flows use ISO 639-1 where one exists.
ISO_639_3 = {
    "an": "arg", "be": "bel", "bg": "bul", "br": "bre", "bs": "bos", "ca": "cat", "cs": "ces",
    "cy": "cym", "da": "dan", "de": "deu", "el": "ell", "en": "eng", "eo": "epo", "es": "spa",
    "et": "est", "eu": "eus", "fi": "fin", "fr": "fra", "ga": "gle", "gl": "glg", "hi": "hin",
    "hr": "hrv", "id": "ind", "is": "isl", "it": "ita", "kk": "kaz", "ky": "kir", "mk": "mkd",
    "ms": "msa", "mt": "mlt", "nb": "nob", "nl": "nld", "nn": "nno", "oc": "oci", "pl": "pol",
    "pt": "por", "ro": "ron", "ru": "rus", "sc": "srd", "sk": "slk", "sl": "slv", "sq": "sqi",
    "sr": "srp", "sv": "swe", "tt": "tat", "uk": "ukr", "ur": "urd",
}  # fmt: skip
ISO_639_1 = {three: two for two, three in ISO_639_3.items()}
_MODE_NAME = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")  # variants (eng-cat_valencia) skipped
_RESERVED = re.compile(r"([\\^$@\[\]{}<>/*#+~|])")  # special in Apertium's stream format
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def to_apertium(code: str) -> str:
    return ISO_639_3.get(code, code)


def from_apertium(code: str) -> str:
    return ISO_639_1.get(code, code)


def escape(text: str) -> str:
    """Plain text as Apertium stream format, on one line."""
    flat = " ".join(text.replace("\0", " ").split())
    return _RESERVED.sub(r"\\\1", flat)


def unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text).strip()


class ApertiumTranslator:
    """Every pair installed under ``datadir`` (``$APERTIUM_DATADIR`` or /usr/share/apertium)."""

    name = "apertium"

    def __init__(self, datadir: Path | str | None = None, timeout: float = 5.0) -> None:
        chosen = datadir or os.environ.get("APERTIUM_DATADIR") or DEFAULT_DATADIR
        self.datadir = Path(chosen)
        self.timeout = timeout
        self._pipes: dict[str, ModePipeline] = {}
        self._lock = threading.Lock()

    @staticmethod
    def installed() -> bool:
        """Whether the Apertium programs this engine runs are on the PATH."""
        return shutil.which("apertium-wblank-mode") is not None

    def pairs(self) -> set[LanguagePair]:
        if not self.installed():
            return set()
        found = set()
        for mode in (self.datadir / "modes").glob("*.mode"):
            m = _MODE_NAME.match(mode.stem)
            if m is not None:
                found.add((from_apertium(m.group(1)), from_apertium(m.group(2))))
        return found

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        pipe = self._pipe(f"{to_apertium(source)}-{to_apertium(target)}")
        return [pipe.translate(text) for text in texts]

    def close(self) -> None:
        with self._lock:
            pipes, self._pipes = self._pipes, {}
        for pipe in pipes.values():
            pipe.close()

    def _pipe(self, mode: str) -> ModePipeline:
        with self._lock:
            pipe = self._pipes.get(mode)
            if pipe is None:
                mode_file = self.datadir / "modes" / f"{mode}.mode"
                if not mode_file.is_file() or not self.installed():
                    raise TranslationError(f"apertium: the {mode} pair is not installed")
                pipe = self._pipes[mode] = ModePipeline(mode_file, self.timeout)
            return pipe


class ModePipeline:
    """One mode's pipeline, started on the first sentence and kept running; thread-safe."""

    def __init__(self, mode_file: Path, timeout: float) -> None:
        self.mode_file = mode_file
        self.timeout = timeout
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def translate(self, text: str) -> str:
        stream = escape(text)
        if not stream:
            return ""
        with self._lock:
            for attempt in (1, 2):  # a pipeline found dead is started again once
                proc = self._running()
                try:
                    return unescape(self._exchange(proc, stream))
                except (BrokenPipeError, EOFError) as e:
                    self._kill()
                    if attempt == 2:
                        raise TranslationError(f"apertium {self.mode_file.stem}: {e}") from e
                    log.warning("apertium %s exited; starting it again", self.mode_file.stem)
                except TimeoutError as e:
                    self._kill()  # wedged: the next sentence starts a fresh one
                    raise TranslationError(f"apertium {self.mode_file.stem}: {e}") from e
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._kill()
        try:
            script = subprocess.run(
                ["apertium-wblank-mode", "-z", str(self.mode_file)],
                capture_output=True,
                text=True,
                check=True,
                timeout=self.timeout,
            ).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise TranslationError(f"apertium: cannot read {self.mode_file.name}: {e}") from e
        # $1: -n leaves unknown words unmarked (``apertium -u``); $2: no tagger option.
        self._proc = subprocess.Popen(
            ["bash", "-c", script, "apertium", "-n", ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, LC_ALL="C.UTF-8"),
            start_new_session=True,  # its own process group: killed as one
        )
        self.starts += 1
        return self._proc

    def _exchange(self, proc: subprocess.Popen[bytes], stream: str) -> str:
        assert proc.stdin is not None and proc.stdout is not None
        # The blank before the NUL lets the last word through: each stage holds a word
        # until it sees what follows.
        proc.stdin.write(stream.encode() + b" \0")
        proc.stdin.flush()
        deadline = time.monotonic() + self.timeout
        fd, out = proc.stdout.fileno(), bytearray()
        while not out.endswith(b"\0"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"no answer within {self.timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"exited with {proc.poll()}")
            out += chunk
        return out[:-1].decode(errors="replace")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
