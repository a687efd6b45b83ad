#!/usr/bin/env bash
# CI: bring up (or stop) a single-host Slurm cluster on this machine, for tests that `sbatch`
# array jobs. Needs root, Debian/Ubuntu (apt-get), and no systemd: daemons are started by hand.
#
#   .ci/slurm-cluster.sh [start]   install if needed, configure, start munged/slurmctld/slurmd,
#                                  wait for the node to be idle, then self-check with sbatch
#   .ci/slurm-cluster.sh status    print scontrol ping / sinfo; exit 0 only if the node is usable
#   .ci/slurm-cluster.sh stop      stop the daemons this script started (bounded waits)
#
# The cluster: one node = `hostname -s`, partition `debug` (default), no cgroups, no accounting
# database, select/cons_tres with CR_Core (a 2-core machine runs two 1-CPU tasks at once),
# SlurmUser=root. Logs go to /var/log/slurm/ and /var/log/munge/.
set -euo pipefail

MODE="${1:-start}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
MARKER="# Managed by .ci/slurm-cluster.sh"
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm
STATE_DIR=/run/slurm-ci            # pids of the daemons this script started (used by `stop`)
WAIT_S="${SLURM_CI_WAIT_S:-60}"    # bound for each wait below

log() { echo "[slurm-cluster] $*"; }

# Print the tail of the daemon logs, then exit non-zero with a message.
die() {
    echo "[slurm-cluster] ERROR: $*" >&2
    for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
        if [[ -f $f ]]; then
            echo "----- tail -n 25 $f -----" >&2
            tail -n 25 "$f" >&2 || true
        fi
    done
    exit 1
}

# True if process $1 exists and is not a zombie.
proc_alive() {
    local st
    st="$(cat "/proc/$1/stat" 2>/dev/null || true)"
    [[ -n $st ]] && [[ "$(awk '{print $3}' <<<"${st##*)}")" != Z ]]
}

# True if the pid in file $1 is alive and its command name is $2.
pid_alive() {
    local pid
    [[ -s $1 ]] || return 1
    pid="$(cat "$1")"
    [[ $pid =~ ^[0-9]+$ ]] && proc_alive "$pid" \
        && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]]
}

# Stop the daemon whose pid is in file $1 (command name $2): TERM, wait up to 15 s, then KILL.
stop_daemon() {
    local pidfile=$1 name=$2 pid i
    if ! pid_alive "$pidfile" "$name"; then
        rm -f "$pidfile"
        return 0
    fi
    pid="$(cat "$pidfile")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        proc_alive "$pid" || break
        sleep 0.5
    done
    if proc_alive "$pid"; then
        log "$name did not exit after 15 s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$pidfile"
}

node_name() { hostname -s; }

# The node's state as sinfo reports it (idle, mixed, down*, drained, ...), or empty.
node_state() { sinfo -h -n "$(node_name)" -o %T 2>/dev/null | head -n 1 || true; }

ctld_up() { [[ "$(scontrol ping 2>/dev/null || true)" == *"is UP"* ]]; }

node_usable() {
    case "$(node_state)" in
        idle | mixed | allocated | completing) return 0 ;;
        *) return 1 ;;
    esac
}

# The whole cluster is usable: controller answers, node usable, local slurmd alive, partition up.
cluster_ok() {
    ctld_up && node_usable && pid_alive "$RUN_DIR/slurmd.pid" slurmd \
        && [[ "$(sinfo -h -p debug -o %a 2>/dev/null || true)" == up ]]
}

print_status() {
    scontrol ping 2>&1 || true
    sinfo 2>&1 || true
}

# ---------------------------------------------------------------------------------------------
# stop: only what this script started (pids recorded in $STATE_DIR), slurmd first.
# ---------------------------------------------------------------------------------------------
if [[ $MODE == stop ]]; then
    stop_daemon "$STATE_DIR/slurmd.pid" slurmd
    stop_daemon "$STATE_DIR/slurmctld.pid" slurmctld
    stop_daemon "$STATE_DIR/munged.pid" munged
    log "stopped"
    exit 0
fi

if [[ $MODE == status ]]; then
    print_status
    cluster_ok
    exit $?
fi

[[ $MODE == start ]] || { echo "usage: $0 [start|status|stop]" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: must run as root" >&2; exit 2; }
SECONDS=0

# Step 0: already running and usable? Then just report it (idempotent).
if command -v slurmctld >/dev/null && cluster_ok; then
    log "cluster already up:"
    print_status
    exit 0
fi

# Step 1: install slurm-wlm and munge if missing. A temporary policy-rc.d stops the packages'
# init scripts from starting daemons during the install (this script starts them itself).
if ! command -v slurmctld >/dev/null; then
    log "installing slurm-wlm and munge with apt-get"
    added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
    [[ $added_policy -eq 0 ]] || rm -f /usr/sbin/policy-rc.d
    command -v slurmctld >/dev/null || die "slurmctld still not on PATH after apt-get install"
fi

# Step 2: the short hostname must resolve (slurmctld/slurmd look it up); map it to 127.0.0.1.
NODE="$(node_name)"
if ! getent hosts "$NODE" >/dev/null; then
    log "adding '$NODE' to /etc/hosts"
    echo "127.0.0.1 $NODE" >>/etc/hosts
fi

# Step 3: munge: key, directories, daemon (as the munge user).
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge "$STATE_DIR"
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
        mungekey --create --force --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown munge:munge /etc/munge /etc/munge/munge.key /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0711 /var/lib/munge
chmod 0755 /run/munge
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running"
else
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged || die "munged failed to start"
    for ((i = 0; i < WAIT_S * 2; i++)); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.5
    done
    munge -n | unmunge >/dev/null || die "munge credentials do not work"
    cp /run/munge/munged.pid "$STATE_DIR/munged.pid"
fi

# Step 4: slurm.conf (backing up a foreign one).
hw="$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1 || true)"
if [[ -n $hw ]]; then
    # e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
    node_hw="$(sed -E 's/^NodeName=[^ ]+ //' <<<"$hw")"
else
    node_hw="CPUs=$(nproc) RealMemory=$(free -m | awk '/^Mem:/ {print $2}')"
fi
new_conf="$(cat <<EOF
$MARKER (single-host CI cluster; no cgroups, no accounting).
ClusterName=ci
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE $node_hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)"
mkdir -p "$CONF_DIR" "$LOG_DIR" "$RUN_DIR" /var/spool/slurmctld /var/spool/slurmd
if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
    backup="$CONF.bak.$(date +%Y%m%d%H%M%S)"
    log "backing up existing $CONF to $backup"
    cp -p "$CONF" "$backup"
fi
if [[ ! -f $CONF ]] || [[ "$(cat "$CONF")" != "$new_conf" ]]; then
    log "writing $CONF"
    printf '%s\n' "$new_conf" >"$CONF"
    chmod 0644 "$CONF"
fi
# No cgroup.conf: Slurm 22.05 has no CgroupPlugin=disabled, and with proctrack/linuxproc and
# task/none slurmd only loads the autodetected cgroup plugin without using it. Remove a
# cgroup.conf that an earlier version of this script wrote.
if [[ -f $CONF_DIR/cgroup.conf ]] && grep -qF "$MARKER" "$CONF_DIR/cgroup.conf"; then
    rm -f "$CONF_DIR/cgroup.conf"
fi

# Step 5: start slurmctld, then slurmd (both daemonize themselves and write their pid files).
if pid_alive "$RUN_DIR/slurmctld.pid" slurmctld; then
    log "slurmctld already running"
else
    # -c: start from a clean state, so jobs left over from an earlier run (pending forever on a
    # dependency, or writing into a deleted temp dir) do not come back.
    log "starting slurmctld (clean state)"
    slurmctld -c || die "slurmctld failed to start"
    for ((i = 0; i < WAIT_S * 2; i++)); do
        ctld_up && break
        sleep 0.5
    done
    ctld_up || die "slurmctld not answering 'scontrol ping' after ${WAIT_S} s"
    cp "$RUN_DIR/slurmctld.pid" "$STATE_DIR/slurmctld.pid"
fi
if pid_alive "$RUN_DIR/slurmd.pid" slurmd; then
    log "slurmd already running"
else
    log "starting slurmd"
    slurmd -N "$NODE" || die "slurmd failed to start"
    for ((i = 0; i < 20; i++)); do
        pid_alive "$RUN_DIR/slurmd.pid" slurmd && break
        sleep 0.5
    done
    pid_alive "$RUN_DIR/slurmd.pid" slurmd || die "slurmd exited right after starting"
    cp "$RUN_DIR/slurmd.pid" "$STATE_DIR/slurmd.pid"
fi

# Step 6: wait (bounded) for the node to be idle; resume it if it registers DOWN/DRAINED.
state=""
for ((i = 0; i < WAIT_S * 2; i++)); do
    state="$(node_state)"
    case "$state" in
        idle | mixed | allocated | completing) break ;;
        down | drain* | fail*)  # responding but administratively down (e.g. left over from before)
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
node_usable || die "node $NODE not idle after ${WAIT_S} s (state: '${state:-none}')"
scontrol update partitionname=debug state=up >/dev/null || die "cannot set partition debug UP"
log "node $NODE is ${state} after ${SECONDS} s"

# Step 7: self-check: a plain job, then a 2-task array, both with a bounded --wait.
tmp="$(mktemp -d /tmp/slurm-ci-check.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
timeout "$WAIT_S" sbatch --quiet --wait -J ci-check -o "$tmp/single.out" --wrap 'echo ok' \
    || die "single-job self-check failed or timed out (sbatch --wait)"
[[ "$(cat "$tmp/single.out" 2>/dev/null)" == ok ]] \
    || die "single-job self-check: unexpected output '$(cat "$tmp/single.out" 2>/dev/null)'"
# shellcheck disable=SC2016  # $SLURM_ARRAY_TASK_ID is expanded by the job, not here
timeout "$WAIT_S" sbatch --quiet --wait -J ci-array --array=0-1 -n 1 -c 1 \
    -o "$tmp/array_%a.out" --wrap 'echo $SLURM_ARRAY_TASK_ID' \
    || die "array self-check failed or timed out (sbatch --wait --array=0-1)"
for t in 0 1; do
    [[ "$(cat "$tmp/array_$t.out" 2>/dev/null)" == "$t" ]] \
        || die "array self-check: task $t output '$(cat "$tmp/array_$t.out" 2>/dev/null)', expected '$t'"
done
log "OK: node $NODE $(node_state), partition debug, single job + 2-task array passed (${SECONDS} s)"
