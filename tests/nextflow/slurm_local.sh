#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the pipeline tests: munge + slurmctld + slurmd from
# Debian's slurm-wlm, everything under one folder, with a fake A100 (GRES gpu:a100:1 bound to
# /dev/null) so that `--gres=gpu:a100:1` is schedulable. Needs root.
#
#   tests/nextflow/slurm_local.sh up   DIR    # start; prints the SLURM_CONF to export
#   tests/nextflow/slurm_local.sh down DIR    # stop the daemons it started
#
# Partitions: `debug` (default) and `a100`, both on this node. Ports: $SLURM_LOCAL_PORTS (two,
# "CTLD SLURMD"), default "16817 16818".
set -euo pipefail
action="${1:?usage: slurm_local.sh up|down DIR}"
base="$(mkdir -p "${2:?usage: slurm_local.sh up|down DIR}" && cd "$2" && pwd)"

down() {
    local file pid
    for file in "$base/run/slurmd.pid" "$base/run/slurmctld.pid" "$base/munge-key/munged.pid"; do
        [ -f "$file" ] || continue
        pid="$(cat "$file")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$file"
    done
}

up() {
    local host cpus memory ctld_port slurmd_port
    read -r ctld_port slurmd_port <<< "${SLURM_LOCAL_PORTS:-16817 16818}"
    host="$(hostname -s)"
    cpus="$(nproc)"
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    mkdir -p "$base"/{munge,munge-key,state,spool,log,run}
    chmod 755 "$base" "$base/munge"          # munged wants its socket folder searchable by all
    chown munge:munge "$base/munge" "$base/munge-key"
    chmod 700 "$base/munge-key"
    if [ ! -f "$base/munge-key/munge.key" ]; then
        dd if=/dev/urandom of="$base/munge-key/munge.key" bs=1 count=1024 status=none
        chown munge:munge "$base/munge-key/munge.key"
        chmod 400 "$base/munge-key/munge.key"
    fi
    runuser -u munge -- munged --key-file="$base/munge-key/munge.key" --socket="$base/munge/munge.socket" \
        --pid-file="$base/munge-key/munged.pid" --log-file="$base/munge-key/munged.log" \
        --seed-file="$base/munge-key/munged.seed"
    cat > "$base/slurm.conf" <<CONF
ClusterName=lambdahat
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$base/munge/munge.socket
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$memory Gres=gpu:a100:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=a100 Nodes=$host MaxTime=INFINITE State=UP
CONF
    cat > "$base/gres.conf" <<CONF
AutoDetect=off
NodeName=$host Name=gpu Type=a100 File=/dev/null
CONF
    echo "CgroupPlugin=cgroup/v1" > "$base/cgroup.conf"
    export SLURM_CONF="$base/slurm.conf"
    slurmctld -f "$SLURM_CONF" -i
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 120); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "SLURM_CONF=$SLURM_CONF"
            return 0
        fi
        sleep 0.5
    done
    echo "slurm_local.sh: the node did not come up; see $base/log" >&2
    down
    return 1
}

case "$action" in
    up) up ;;
    down) down ;;
    *) echo "usage: slurm_local.sh up|down DIR" >&2; exit 2 ;;
esac
