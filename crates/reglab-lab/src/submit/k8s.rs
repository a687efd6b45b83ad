//! Kubernetes: an Indexed Job for the cells, a Job for the merge.
//!
//! `reglab submit k8s FILE --out DIR --image IMAGE --pvc CLAIM` writes
//! - `DIR/k8s/cells-job.json`: a `batch/v1` Job with `completionMode: Indexed` and one
//!   completion per task; the pod of index `JOB_COMPLETION_INDEX` runs that task's cells into
//!   `shards/<index>` with `--resume`, so a pod that is evicted or fails is replaced by one that
//!   continues its shard (`backoffLimitPerIndex` retries per index);
//! - `DIR/k8s/merge-job.json`: a Job running `reglab report` of every shard into `run/`.
//!
//! Both mount the persistent volume claim `CLAIM` at `--mount` (default `/reglab`), which must
//! hold the submission directory's files (`experiment.toml`, and `shards/` and `run/` as they are
//! written): the tasks see the submission directory at the mount path. Kubernetes has no
//! dependency between Jobs: apply the merge once the cells' Job is complete
//! (`kubectl wait --for=condition=complete job/<name> --timeout=-1s`).
//!
//! The manifests are JSON, which `kubectl apply -f` reads as it reads YAML.

use super::Submission;
use serde_json::{Value, json};

/// What the pods need.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The container image (with `reglab` on its PATH, or at [`Submission::binary`]).
    pub image: String,
    /// The persistent volume claim holding the submission directory.
    pub pvc: String,
    /// Where the claim is mounted (the submission directory as the pods see it).
    pub mount: String,
    /// Pods at once (default: every task).
    pub parallelism: Option<usize>,
    /// CPU request and limit per pod (e.g. `2`, `500m`).
    pub cpu: Option<String>,
    /// Memory request and limit per pod (e.g. `4Gi`).
    pub memory: Option<String>,
    /// GPUs per cell pod (`nvidia.com/gpu`).
    pub gpus: Option<usize>,
    /// Retries of one index before it counts as failed.
    pub retries: usize,
    /// Namespace (none: kubectl's current).
    pub namespace: Option<String>,
}

/// A DNS-1123 name: lower-case alphanumerics and `-`, at most 63 characters, from `reglab-<name>-<suffix>`.
fn dns_name(name: &str, suffix: &str) -> String {
    let mut n: String = format!("reglab-{name}").to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while n.contains("--") {
        n = n.replace("--", "-");
    }
    let room = 63 - suffix.len() - 1;
    n.truncate(room);
    format!("{}-{suffix}", n.trim_end_matches('-'))
}

impl Options {
    fn validate(&self) -> Result<(), String> {
        if self.image.trim().is_empty() {
            return Err("--image: the container image is required".into());
        }
        if self.pvc.trim().is_empty() {
            return Err("--pvc: the persistent volume claim is required".into());
        }
        if !self.mount.starts_with('/') {
            return Err(format!("--mount `{}`: an absolute path", self.mount));
        }
        if self.parallelism == Some(0) {
            return Err("--parallelism must be ≥ 1".into());
        }
        Ok(())
    }

    fn resources(&self, gpus: Option<usize>) -> Value {
        let mut r = serde_json::Map::new();
        if let Some(c) = &self.cpu {
            r.insert("cpu".into(), json!(c));
        }
        if let Some(m) = &self.memory {
            r.insert("memory".into(), json!(m));
        }
        let mut limits = r.clone();
        if let Some(g) = gpus {
            limits.insert("nvidia.com/gpu".into(), json!(g.to_string()));
        }
        json!({ "requests": r, "limits": limits })
    }

    /// A pod spec. The cells' pods read their index from `JOB_COMPLETION_INDEX`, which the Job
    /// controller sets in every pod of an Indexed Job.
    fn pod(&self, container: &str, script: String, gpus: Option<usize>) -> Value {
        json!({
            "restartPolicy": "Never",
            "containers": [{
                "name": container,
                "image": self.image,
                "command": ["/bin/sh", "-c", script],
                "resources": self.resources(gpus),
                "volumeMounts": [{ "name": "reglab", "mountPath": self.mount }]
            }],
            "volumes": [{ "name": "reglab", "persistentVolumeClaim": { "claimName": self.pvc } }]
        })
    }

    fn metadata(&self, name: String, exp: &str) -> Value {
        let mut m = json!({ "name": name, "labels": { "app.kubernetes.io/name": "reglab", "app.kubernetes.io/instance": dns_name(exp, "run") } });
        if let Some(ns) = &self.namespace {
            m["namespace"] = json!(ns);
        }
        m
    }
}

/// The Indexed Job of the cells. `sub.dir` must be the mount path.
pub fn cells_job(sub: &Submission, o: &Options) -> Result<Value, String> {
    sub.validate()?;
    o.validate()?;
    let tasks = sub.tasks();
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": o.metadata(dns_name(&sub.name, "cells"), &sub.name),
        "spec": {
            "completionMode": "Indexed",
            "completions": tasks,
            "parallelism": o.parallelism.unwrap_or(tasks).min(tasks),
            "backoffLimitPerIndex": o.retries,
            "template": { "spec": o.pod("cells", format!("set -eu\n{}", sub.task_script("JOB_COMPLETION_INDEX")?), o.gpus) }
        }
    }))
}

/// The Job of the merge.
pub fn merge_job(sub: &Submission, o: &Options) -> Result<Value, String> {
    sub.validate()?;
    o.validate()?;
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": o.metadata(dns_name(&sub.name, "merge"), &sub.name),
        "spec": {
            "completions": 1,
            "backoffLimit": o.retries,
            "template": { "spec": o.pod("merge", format!("set -eu\n{}", sub.merge_script()?), None) }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submit::tests::sub;

    fn opts() -> Options {
        Options {
            image: "registry.example/reglab:0.1".into(),
            pvc: "reglab-work".into(),
            mount: "/reglab".into(),
            parallelism: Some(4),
            cpu: Some("1".into()),
            memory: Some("2Gi".into()),
            gpus: None,
            retries: 3,
            namespace: None,
        }
    }

    #[test]
    fn the_indexed_job_maps_its_index_to_the_cells() {
        let s = Submission { dir: "/reglab".into(), binary: "reglab".into(), ..sub(10, 3) };
        let j = cells_job(&s, &opts()).unwrap();
        assert_eq!(j["spec"]["completionMode"], "Indexed");
        assert_eq!(j["spec"]["completions"], 4);
        assert_eq!(j["spec"]["parallelism"], 4);
        assert_eq!(j["metadata"]["name"], "reglab-quickstart-cells");
        let c = &j["spec"]["template"]["spec"]["containers"][0];
        let script = c["command"][2].as_str().unwrap();
        assert!(script.contains("JOB_COMPLETION_INDEX") && script.contains("--resume") && script.contains("/reglab/shards"), "{script}");
        assert_eq!(c["volumeMounts"][0]["mountPath"], "/reglab");
        assert_eq!(j["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "reglab-work");
        let m = merge_job(&s, &opts()).unwrap();
        assert!(m["spec"]["template"]["spec"]["containers"][0]["command"][2].as_str().unwrap().contains(" report "));
        assert!(m["spec"].get("completionMode").is_none());
        // a GPU limit only on the cells
        let g = cells_job(&s, &Options { gpus: Some(1), ..opts() }).unwrap();
        assert_eq!(g["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], "1");
    }

    #[test]
    fn names_are_dns_labels_and_bad_options_are_refused() {
        let n = dns_name(&"My Experiment_with a very long name that goes on and on and on".repeat(2), "cells");
        assert!(n.len() <= 63 && n.ends_with("-cells") && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{n}");
        let s = sub(4, 1);
        assert!(cells_job(&s, &Options { image: " ".into(), ..opts() }).unwrap_err().contains("--image"));
        assert!(cells_job(&s, &Options { pvc: String::new(), ..opts() }).unwrap_err().contains("--pvc"));
        assert!(cells_job(&s, &Options { mount: "rel".into(), ..opts() }).unwrap_err().contains("--mount"));
        assert!(cells_job(&s, &Options { parallelism: Some(0), ..opts() }).unwrap_err().contains("parallelism"));
    }
}
