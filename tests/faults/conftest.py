"""Fault fixtures: a private PostgreSQL cluster a test may stop and start, and a bot process whose
log is kept in a file (shown when the test fails).

The cluster is a real one (``initdb`` + ``pg_ctl`` of the PostgreSQL 15 the suite runs on), in a
temporary directory owned by the ``postgres`` OS user: PostgreSQL refuses to run as root, and the
tests run as root, so its commands go through ``runuser -u postgres --`` when needed. Creating and
starting it costs well under two seconds (``initdb`` with ``--no-sync`` on a 2-core machine: about
0.6 s; a start or a fast stop: about 0.1 s), so every test gets its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import free_port, spawn_bot

PG_BIN = Path(os.environ.get("FIREFIGHTER_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "firefighter"


def _as_postgres(*command: str) -> list[str]:
    """Run ``command`` as the ``postgres`` OS user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of this test only, on 127.0.0.1:``port``."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str) -> None:
        subprocess.run(
            _as_postgres(*command), check=True, capture_output=True, text=True, timeout=60
        )

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast``: the server ends every session (clients see their connection closed) and
        shuts down cleanly; ``immediate``: it quits at once (a crash, recovered at the next
        start)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self) -> None:
        self._run(
            str(PG_BIN / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            DATABASE,
        )


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A started private PostgreSQL cluster with an empty ``firefighter`` database; removed after
    the test (stopped first if it is running)."""
    directory = Path(tempfile.mkdtemp(prefix="ff-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres")
    cluster = PrivateCluster(directory)
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        if cluster.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class BotProcess:
    """``python -m bot run`` with its log in ``log_path``."""

    process: asyncio.subprocess.Process
    log_path: Path
    copying: asyncio.Task[None]

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def stop(self) -> int:
        if self.alive:
            self.process.terminate()
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        await self.copying
        return code


async def spawn_logged_bot(env: dict[str, str], log_path: Path) -> BotProcess:
    """``tests.conftest.spawn_bot`` with its output copied to ``log_path`` as it comes (a pipe
    nobody reads would fill up and stall the bot)."""
    process: asyncio.subprocess.Process = await spawn_bot(env, capture=True)  # type: ignore[assignment]
    output = log_path.open("ab")

    async def copy(stream: asyncio.StreamReader | None) -> None:
        while stream is not None and (line := await stream.readline()):
            output.write(line)
            output.flush()

    async def copy_all() -> None:
        try:
            await asyncio.gather(copy(process.stdout), copy(process.stderr))
        finally:
            output.close()

    return BotProcess(process, log_path, asyncio.create_task(copy_all()))


@pytest_asyncio.fixture
async def bot_processes() -> AsyncIterator[list[BotProcess]]:
    """The bot processes a test starts (append them): stopped (SIGTERM) at the end, which they
    must survive to and end cleanly from; the failure shows the tail of the log."""
    started: list[BotProcess] = []
    yield started
    codes = [await bot.stop() for bot in started]
    for bot, code in zip(started, codes, strict=True):
        assert code == 0, f"bot process ended with {code}; log tail:\n{bot.log()[-6000:]}"
