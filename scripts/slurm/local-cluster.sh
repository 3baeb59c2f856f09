#!/bin/bash
# A one-node Slurm on this machine, for tests: munged, slurmctld and slurmd with their own key,
# configuration, sockets and state under one folder, so nothing in /etc is touched.
#
#   scripts/slurm/local-cluster.sh start    # prints the line to export (SLURM_CONF=...)
#   scripts/slurm/local-cluster.sh status
#   scripts/slurm/local-cluster.sh stop
#
# Needs root (slurmd runs jobs as their user) and Debian's slurm-wlm and munge (scripts/setup.sh
# installs them). The daemons run under nice 19. State lives in $SBCL_SLURM_DIR (default
# /tmp/sbcl-slurm); ports 16817/16818 unless SBCL_SLURM_PORT (the controller's; slurmd's is +1).
set -euo pipefail

dir=${SBCL_SLURM_DIR:-/tmp/sbcl-slurm}
port=${SBCL_SLURM_PORT:-16817}
conf=$dir/etc/slurm.conf
node=$(hostname -s)

die() { echo "local-cluster: $*" >&2; exit 1; }

# Runs a daemon with no descriptor of ours but 0-2 (those from /dev/null and the start log): a
# caller that waits for this script's descriptors to close (Foundation's Process does) would
# otherwise wait for the daemons to end.
detached() {
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nice -n 19 "$@" </dev/null >>"$dir/log/start.log" 2>&1
    )
}

pid_of() { [[ -s $dir/$1.pid ]] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null && cat "$dir/$1.pid"; }

stop() {
    for daemon in slurmd slurmctld munged; do
        if pid=$(pid_of "$daemon"); then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$dir/$daemon.pid"
    done
}

start() {
    [[ $(id -u) == 0 ]] || die "needs root (slurmd starts jobs as their user)"
    for command in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo; do
        command -v "$command" >/dev/null || die "$command is missing; install slurm-wlm and munge (scripts/setup.sh)"
    done
    stop
    mkdir -p "$dir"/{etc,munge,ctld,spool,log}
    chmod 700 "$dir/munge"
    [[ -s $dir/munge/munge.key ]] || mungekey --create --keyfile="$dir/munge/munge.key" 2>/dev/null \
        || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 600 "$dir/munge/munge.key"
    detached munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed"

    local cpus memory
    cpus=$(nproc)
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
    cat > "$conf" <<EOF
# Written by scripts/slurm/local-cluster.sh: one node, this machine, no cgroups, no accounting.
ClusterName=sbcl-local
SlurmctldHost=$node
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=pmix
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$conf
    detached slurmctld -f "$conf" -i
    detached slurmd -f "$conf"
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
        [[ $state == idle* || $state == mixed* || $state == allocated* ]] && break
        [[ $state == down* || $state == drain* ]] && scontrol update nodename="$node" state=resume 2>/dev/null || true
        sleep 0.5
    done
    [[ ${state:-} == idle* || ${state:-} == mixed* || ${state:-} == allocated* ]] \
        || die "the node did not come up (state '${state:-none}'); see $dir/log/"
    echo "export SLURM_CONF=$conf"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) SLURM_CONF=$conf sinfo ;;
    *) die "usage: $0 start|stop|status" ;;
esac
