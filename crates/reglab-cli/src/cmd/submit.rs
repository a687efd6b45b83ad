//! `reglab submit slurm|k8s`.

use crate::Failure;
use reglab_lab::kind::cells::plan_json;
use reglab_lab::kinds;
use reglab_lab::submit::{Submission, k8s, slurm};
use std::path::{Path, PathBuf};

/// Hand an experiment's cells to a cluster scheduler: write a submission directory (a copy of
/// the experiment file, its plan and the scheduler's files) and, for Slurm with --submit,
/// submit it.
///
/// Task t of ⌈cells/chunk⌉ runs the cells t·chunk .. (t+1)·chunk with `reglab run --cells …
/// --out DIR/shards/t --resume`, so a requeued, preempted or evicted task continues its shard
/// from its checkpoints; a merge step (`reglab report --from` every shard) writes DIR/run, byte
/// for byte what a local `reglab run` writes.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    scheduler: Scheduler,
}

#[derive(clap::Subcommand)]
enum Scheduler {
    /// Slurm: a job array (DIR/cells.sbatch), a merge job (DIR/merge.sbatch) and DIR/submit.sh,
    /// which submits the merge with --dependency=afterok on the array.
    Slurm(SlurmArgs),
    /// Kubernetes: an Indexed Job (DIR/k8s/cells-job.json, JOB_COMPLETION_INDEX → task) and a
    /// merge Job (DIR/k8s/merge-job.json) on a shared persistent volume.
    K8s(K8sArgs),
}

#[derive(clap::Args)]
struct Common {
    /// The experiment file (TOML); a copy goes into the submission directory.
    experiment: PathBuf,
    /// The submission directory to write (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Override a key, as for `reglab run` (given to every task and the merge).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Cells per array task.
    #[arg(long, default_value_t = 1)]
    chunk: usize,
}

#[derive(clap::Args)]
struct SlurmArgs {
    #[command(flatten)]
    common: Common,
    /// #SBATCH --partition.
    #[arg(long)]
    partition: Option<String>,
    /// #SBATCH --time, per task (e.g. 02:00:00).
    #[arg(long)]
    time: Option<String>,
    /// #SBATCH --cpus-per-task; each task then runs its cells this many at a time.
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// #SBATCH --mem.
    #[arg(long)]
    mem: Option<String>,
    /// #SBATCH --gres of the cell tasks (e.g. gpu:1).
    #[arg(long)]
    gres: Option<String>,
    /// #SBATCH --account.
    #[arg(long)]
    account: Option<String>,
    /// The reglab binary the tasks run (default: this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// REGLAB_DATA for the tasks (default: this shell's, if set).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Submit with sbatch (else: run DIR/submit.sh on the cluster).
    #[arg(long)]
    submit: bool,
}

#[derive(clap::Args)]
struct K8sArgs {
    #[command(flatten)]
    common: Common,
    /// The container image, with reglab in it.
    #[arg(long)]
    image: String,
    /// The persistent volume claim that holds the submission directory.
    #[arg(long)]
    pvc: String,
    /// Where the claim is mounted in the pods (the submission directory as they see it).
    #[arg(long, default_value = "/reglab")]
    mount: String,
    /// The reglab binary in the image.
    #[arg(long, default_value = "reglab")]
    binary: PathBuf,
    /// REGLAB_DATA in the pods (a path inside them).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Pods at once (default: every task).
    #[arg(long)]
    parallelism: Option<usize>,
    /// CPU request and limit per pod (e.g. 2 or 500m).
    #[arg(long)]
    cpu: Option<String>,
    /// Memory request and limit per pod (e.g. 4Gi).
    #[arg(long)]
    memory: Option<String>,
    /// GPUs (nvidia.com/gpu) per cell pod.
    #[arg(long)]
    gpus: Option<usize>,
    /// Cells each task runs at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Retries per index (backoffLimitPerIndex) and of the merge.
    #[arg(long, default_value_t = 3)]
    retries: usize,
    /// Namespace of the Jobs.
    #[arg(long)]
    namespace: Option<String>,
}

/// One file of a submission: its path relative to the directory, its contents, executable?
type File = (PathBuf, Vec<u8>, bool);

/// `v` as indented JSON with a final newline.
fn pretty_json(v: &serde_json::Value) -> Result<Vec<u8>, Failure> {
    Ok((serde_json::to_string_pretty(v).map_err(Failure::failed)? + "\n").into_bytes())
}

/// Write `files` into `out` as a whole: into a fresh sibling directory first, renamed to `out`
/// at the end, so that a failure leaves no half-written submission.
fn write_all(out: &Path, files: &[File]) -> Result<(), Failure> {
    if out.exists() {
        let empty = std::fs::read_dir(out).map_err(|e| Failure::input(format!("{}: {e}", out.display())))?.next().is_none();
        if !empty {
            return Err(Failure::input(format!("{} exists and is not empty: choose another --out", out.display())));
        }
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Failure::failed(format!("{}: {e}", parent.display())))?;
    let tmp =
        tempfile::Builder::new().prefix(".reglab-submit-").tempdir_in(parent).map_err(|e| Failure::failed(format!("{}: {e}", parent.display())))?;
    for (rel, bytes, exec) in files {
        let p = tmp.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Failure::failed(format!("{}: {e}", d.display())))?;
        }
        std::fs::write(&p, bytes).map_err(|e| Failure::failed(format!("{}: {e}", p.display())))?;
        if *exec {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).map_err(|e| Failure::failed(format!("{}: {e}", p.display())))?;
        }
    }
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| Failure::failed(format!("{}: {e}", out.display())))?;
    }
    let tmp = tmp.keep();
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        Failure::failed(format!("{}: {e}", out.display()))
    })
}

/// The plan, the experiment's bytes and the submission directory as an absolute path.
fn prepare(c: &Common) -> Result<(String, Vec<u8>, serde_json::Value, usize, PathBuf), Failure> {
    let (kind, name, cells) = kinds::plan_file(&c.experiment, &c.sets)?;
    let text = std::fs::read(&c.experiment).map_err(|e| Failure::input(format!("{}: {e}", c.experiment.display())))?;
    let plan = plan_json(&kind, &name, &cells);
    let dir = std::path::absolute(&c.out).map_err(|e| Failure::input(format!("{}: {e}", c.out.display())))?;
    Ok((name, text, plan, cells.len(), dir))
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    match a.scheduler {
        Scheduler::Slurm(s) => run_slurm(s),
        Scheduler::K8s(k) => run_k8s(k),
    }
}

fn run_slurm(a: SlurmArgs) -> Result<(), Failure> {
    let (name, text, plan, cells, dir) = prepare(&a.common)?;
    let binary = match a.binary {
        Some(b) => std::path::absolute(&b).map_err(|e| Failure::input(format!("{}: {e}", b.display())))?,
        None => std::env::current_exe().map_err(Failure::failed)?,
    };
    let data = match a.data.or_else(|| std::env::var_os("REGLAB_DATA").filter(|v| !v.is_empty()).map(PathBuf::from)) {
        Some(d) => Some(std::path::absolute(&d).map_err(|e| Failure::input(format!("{}: {e}", d.display())))?),
        None => None,
    };
    let sub = Submission {
        name,
        cells,
        chunk: a.common.chunk,
        sets: a.common.sets.clone(),
        dir: dir.clone(),
        binary,
        data,
        jobs: a.cpus_per_task.unwrap_or(1).max(1),
    };
    let o = slurm::Options { partition: a.partition, time: a.time, cpus_per_task: a.cpus_per_task, mem: a.mem, gres: a.gres, account: a.account };
    let files: [File; 6] = [
        ("experiment.toml".into(), text, false),
        ("plan.json".into(), pretty_json(&plan)?, false),
        ("cells.sbatch".into(), slurm::cells_script(&sub, &o).map_err(Failure::input)?.into_bytes(), true),
        ("merge.sbatch".into(), slurm::merge_script(&sub, &o).map_err(Failure::input)?.into_bytes(), true),
        ("submit.sh".into(), slurm::submit_script(&sub).map_err(Failure::input)?.into_bytes(), true),
        ("logs/.keep".into(), Vec::new(), false),
    ];
    write_all(&a.common.out, &files)?;
    println!("wrote {}: {} cells in {} array tasks of {} (cells.sbatch, merge.sbatch, submit.sh)", dir.display(), sub.cells, sub.tasks(), sub.chunk);
    let submit = dir.join("submit.sh");
    if !a.submit {
        println!("submit on the cluster with: sh {}", reglab_lab::submit::quote(&submit.display().to_string()).map_err(Failure::failed)?);
        return Ok(());
    }
    let out = std::process::Command::new("sh").arg(&submit).output().map_err(|e| Failure::failed(format!("sh {}: {e}", submit.display())))?;
    if !out.status.success() {
        return Err(Failure::failed(format!(
            "sbatch failed (is this a Slurm login node?): {}; the submission is in {}, submit it with sh {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            dir.display(),
            submit.display()
        )));
    }
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

fn run_k8s(a: K8sArgs) -> Result<(), Failure> {
    let (name, text, plan, cells, dir) = prepare(&a.common)?;
    let sub = Submission {
        name,
        cells,
        chunk: a.common.chunk,
        sets: a.common.sets.clone(),
        dir: PathBuf::from(&a.mount),
        binary: a.binary,
        data: a.data,
        jobs: a.jobs,
    };
    let o = k8s::Options {
        image: a.image,
        pvc: a.pvc,
        mount: a.mount,
        parallelism: a.parallelism,
        cpu: a.cpu,
        memory: a.memory,
        gpus: a.gpus,
        retries: a.retries,
        namespace: a.namespace,
    };
    let cells_job = k8s::cells_job(&sub, &o).map_err(Failure::input)?;
    let job_name = cells_job["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let files: [File; 4] = [
        ("experiment.toml".into(), text, false),
        ("plan.json".into(), pretty_json(&plan)?, false),
        ("k8s/cells-job.json".into(), pretty_json(&cells_job)?, false),
        ("k8s/merge-job.json".into(), pretty_json(&k8s::merge_job(&sub, &o).map_err(Failure::input)?)?, false),
    ];
    write_all(&a.common.out, &files)?;
    println!("wrote {}: {} cells in {} indexed completions of {}", dir.display(), sub.cells, sub.tasks(), sub.chunk);
    println!("copy it to the volume `{}` (mounted at {} in the pods), then:", o.pvc, o.mount);
    println!("  kubectl apply -f {}", dir.join("k8s/cells-job.json").display());
    println!("  kubectl wait --for=condition=complete job/{job_name} --timeout=-1s && kubectl apply -f {}", dir.join("k8s/merge-job.json").display());
    Ok(())
}
