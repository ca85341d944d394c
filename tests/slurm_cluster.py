"""A real one-node SLURM cluster on 127.0.0.1, for testing profiles/slurm end to end.

Brought up the way a one-node Debian test cluster is (Debian's slurm-wlm and
munge, run as root, everything on loopback): munged, a MariaDB server of its own
and slurmdbd for accounting, then slurmctld and slurmd from one slurm.conf. The
node claims more CPUs and memory than the machine has
(`SlurmdParameters=config_overrides`), so the profile's real requests (8 threads,
64 GB for train) are scheduled as written instead of being shrunk for the test.
Accounting is on, as on a real cluster: the executor plugin polls `sacct`, and the
test reads each job's steps, state, requested resources and peak memory from it.

`start()` raises `Unavailable` with the reason when there is no root or the
packages cannot be installed, which the test turns into a printed skip; a cluster
that then fails to come up is an error, not a skip.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge", "slurmdbd", "mariadb-server")
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmdbd", "mariadbd", "sbatch", "sacct")
CONF = Path("/etc/slurm/slurm.conf")
PARTITION = "main"
SLURM_CONF = """\
ClusterName=minnowtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ReturnToService=2
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd_port}
NodeName={host} NodeAddr=127.0.0.1 CPUs=16 RealMemory=262144 State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
DBD_CONF = Path("/etc/slurm/slurmdbd.conf")
SLURMDBD_CONF = """\
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser=root
PidFile={dir}/slurmdbd.pid
LogFile={dir}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
"""
STEP_FIELDS = ("JobID", "JobName", "State", "TimelimitRaw", "ReqTRES", "NTasks", "MaxRSS", "ExitCode")


class Unavailable(Exception):
    """Why no cluster can be brought up here."""


def _run(*cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def install_packages() -> None:
    """apt-get install slurm-wlm and munge unless present (about 15 s; an update first if needed)."""
    if os.geteuid() != 0:
        raise Unavailable("needs root to install slurm-wlm/munge and run slurmctld")
    if all(shutil.which(d) or Path(f"/usr/sbin/{d}").exists() for d in DAEMONS):
        return
    if not shutil.which("apt-get"):
        raise Unavailable("no apt-get to install slurm-wlm and munge")
    env_install = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", *PACKAGES]
    if _run(*env_install, timeout=300).returncode != 0:
        _run("apt-get", "update", "-q", timeout=300)
        done = _run(*env_install, timeout=300)
        if done.returncode != 0:
            raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr.strip()[-300:]}")


def _running(name: str) -> bool:
    """A live process of that name (zombies left by a container's init do not count)."""
    states = _run("ps", "-C", name, "-o", "stat=").stdout.split()
    return any(not state.startswith("Z") for state in states)


def _start_munge() -> bool:
    """Start munged with a key (created if missing); True when this call started it."""
    if _running("munged"):
        return False
    key = Path("/etc/munge/munge.key")
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    if not key.exists():
        key.write_bytes(os.urandom(1024))
    for folder in ("/etc/munge", "/var/log/munge", "/run/munge", "/var/lib/munge"):
        _run("chown", "-R", "munge:munge", folder)
    key.chmod(0o400)
    started = _run("su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged")
    if started.returncode != 0:
        raise RuntimeError(f"munged did not start: {started.stderr.strip()}")
    return True


def _wait_idle(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sinfo = _run("sinfo", "-h", "-o", "%T")
        if sinfo.stdout.strip() == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"the SLURM node did not become idle in {timeout:.0f} s (sinfo: {sinfo.stdout}{sinfo.stderr})")


def _stop_process(name: str, pid: int | None = None, timeout: float = 15) -> None:
    """SIGTERM a daemon (by pid, else by name) and wait until it is gone, so a next bring-up finds the ports free."""
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    else:
        _run("pkill", "-x", name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _running(name):
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(check, what: str, timeout: float = 30) -> None:
    """Poll `check()` until true; a daemon that never answers is an error naming it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f} s")


def _start_database(folder: Path) -> int:
    """A MariaDB server of the cluster's own on 127.0.0.1 (its data in `folder`), with the
    account slurmdbd writes through; returns its port."""
    data, port = folder / "mariadb", _free_port()
    done = _run("mariadb-install-db", "--user=root", f"--datadir={data}", "--skip-test-db", timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed: {done.stderr.strip()[-300:]}")
    subprocess.Popen(
        ["mariadbd", "--user=root", f"--datadir={data}", f"--socket={folder}/mariadb.sock", f"--port={port}",
         "--bind-address=127.0.0.1", f"--pid-file={folder}/mariadbd.pid", f"--log-error={folder}/mariadbd.log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    sql = ["mariadb", f"--socket={folder}/mariadb.sock", "-uroot", "-e"]
    _wait(lambda: _run(*sql, "SELECT 1").returncode == 0, "mariadbd")
    account = "'slurm'@'127.0.0.1'"
    done = _run(*sql, f"CREATE USER {account} IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO {account};")
    if done.returncode != 0:
        raise RuntimeError(f"cannot create the slurm database account: {done.stderr.strip()}")
    return port


def _start_slurmdbd(folder: Path, port: int, db_port: int) -> None:
    """slurmdbd on `port`, writing to the database (slurm.conf, which sacctmgr reads, names the port)."""
    DBD_CONF.write_text(SLURMDBD_CONF.format(dir=folder, dbd_port=port, db_port=db_port))
    DBD_CONF.chmod(0o600)  # slurmdbd refuses a config others can read: it holds the database password
    done = _run("/usr/sbin/slurmdbd")
    if done.returncode != 0:
        raise RuntimeError(f"slurmdbd did not start: {done.stderr.strip()}")
    _wait(lambda: _run("sacctmgr", "-n", "show", "cluster").returncode == 0, "slurmdbd")


@dataclass
class Cluster:
    folder: Path
    started_munge: bool
    saved_confs: dict[Path, bytes | None]

    def steps(self, jobs) -> dict[str, dict[str, str]]:
        """sacct's record of the jobs and their steps (`12`, `12.batch`, `12.0`, …), by step id."""
        ids = ",".join(str(job) for job in jobs)
        done = _run("sacct", "--noheader", "--parsable2", "--units=M", "-j", ids, "--format", ",".join(STEP_FIELDS))
        if done.returncode != 0:
            raise RuntimeError(f"sacct failed: {done.stderr.strip()}")
        rows = [dict(zip(STEP_FIELDS, line.split("|"), strict=True)) for line in done.stdout.splitlines()]
        return {row["JobID"]: row for row in rows}

    def stop(self) -> None:
        """Cancel what is left (a timed-out run's jobs would outlive the daemons), stop the
        daemons this cluster started and put the config files back."""
        _run("scancel", "--full", "--partition", PARTITION)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _run("squeue", "-h").stdout.strip():
            time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd"):
            pid_file = self.folder / f"{name}.pid"
            _stop_process(name, int(pid_file.read_text()) if pid_file.exists() else None)
        if self.started_munge:
            _stop_process("munged")
        for path, saved in self.saved_confs.items():
            if saved is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(saved)


def start(folder: Path) -> Cluster:
    """Install the packages if needed and bring up munged, MariaDB, slurmdbd, slurmctld and slurmd on 127.0.0.1."""
    install_packages()
    for name in ("slurmctld", "slurmd", "slurmdbd"):
        if _running(name):
            raise Unavailable(f"a {name} is already running on this machine; not touching someone's cluster")
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    CONF.parent.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder, False, {path: path.read_bytes() if path.exists() else None for path in (CONF, DBD_CONF)})
    host = socket.gethostname().split(".")[0]
    try:
        cluster.started_munge = _start_munge()
        dbd_port = _free_port()
        CONF.write_text(SLURM_CONF.format(host=host, dir=folder, partition=PARTITION, dbd_port=dbd_port))
        _start_slurmdbd(folder, dbd_port, _start_database(folder))
        for daemon in ("slurmctld", "slurmd"):
            done = _run(f"/usr/sbin/{daemon}")
            if done.returncode != 0:
                raise RuntimeError(f"{daemon} did not start: {done.stderr.strip()}")
        _wait_idle()
    except BaseException:
        cluster.stop()
        raise
    return cluster
