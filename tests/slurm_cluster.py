"""A real one-node SLURM cluster on 127.0.0.1, for testing profiles/slurm end to end.

Brought up the way a one-node Debian test cluster is (Debian's slurm-wlm and
munge, run as root, everything on loopback): munged, then slurmctld and slurmd from one slurm.conf. The node claims
more CPUs and memory than the machine has (`SlurmdParameters=config_overrides`),
so the profile's real requests (8 threads, 64 GB for train) are scheduled as
written instead of being shrunk for the test. Accounting is off, so finished jobs
are recorded by the text job-completion log, which the test reads back.

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

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue")
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
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={dir}/jobcomp.txt
NodeName={host} NodeAddr=127.0.0.1 CPUs=16 RealMemory=262144 State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


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


@dataclass
class Cluster:
    folder: Path
    started_munge: bool
    saved_conf: bytes | None

    def completed_jobs(self) -> dict[int, dict[str, str]]:
        """The job-completion log: SLURM's own record of each job, by job id."""
        log = self.folder / "jobcomp.txt"
        jobs = {}
        for line in log.read_text().splitlines() if log.exists() else []:
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            jobs[int(fields["JobId"])] = fields
        return jobs

    def stop(self) -> None:
        """Cancel what is left (a timed-out run's jobs would outlive the daemons), stop the
        daemons this cluster started and put slurm.conf back."""
        _run("scancel", "--full", "--partition", PARTITION)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _run("squeue", "-h").stdout.strip():
            time.sleep(0.5)
        for name in ("slurmd", "slurmctld"):
            pid_file = self.folder / f"{name}.pid"
            _stop_process(name, int(pid_file.read_text()) if pid_file.exists() else None)
        if self.started_munge:
            _stop_process("munged")
        if self.saved_conf is None:
            CONF.unlink(missing_ok=True)
        else:
            CONF.write_bytes(self.saved_conf)


def start(folder: Path) -> Cluster:
    """Install the packages if needed and bring up munged, slurmctld and slurmd on 127.0.0.1."""
    install_packages()
    for name in ("slurmctld", "slurmd"):
        if _running(name):
            raise Unavailable(f"a {name} is already running on this machine; not touching someone's cluster")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    (folder / "spool").mkdir(exist_ok=True)
    saved = CONF.read_bytes() if CONF.exists() else None
    CONF.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split(".")[0]
    CONF.write_text(SLURM_CONF.format(host=host, dir=folder, partition=PARTITION))
    cluster = Cluster(folder, False, saved)
    try:
        cluster.started_munge = _start_munge()
        for daemon in ("slurmctld", "slurmd"):
            done = _run(f"/usr/sbin/{daemon}")
            if done.returncode != 0:
                raise RuntimeError(f"{daemon} did not start: {done.stderr.strip()}")
        _wait_idle()
    except BaseException:
        cluster.stop()
        raise
    return cluster
