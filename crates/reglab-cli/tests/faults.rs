//! Fault injection against the `reglab` binary: SIGKILL at random moments, a full disk, two
//! processes on one run directory, a damaged checkpoint. Each ends in a clear error or in the
//! same files as an undisturbed run — never in a half-written or silently wrong result.
//! (docs/RELIABILITY.md lists them.)

mod common;

use common::{reglab, stderr};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// The README's main experiment (the embedded digits: no data needed).
fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/quickstart.toml")
}

fn run(out: &Path, extra: &[&str]) -> Output {
    reglab().arg("run").arg(quickstart()).arg("--out").arg(out).arg("--quiet").args(extra).output().expect("run reglab")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}, stderr: {}", o.status.code(), stderr(&o));
    o
}

/// The files a run must write alike, byte for byte.
const SAME: [&str; 4] = ["config.toml", "results.json", "results.csv", "report.html"];

fn assert_same_files(a: &Path, b: &Path) {
    for f in SAME {
        let (x, y) = (std::fs::read(a.join(f)), std::fs::read(b.join(f)));
        assert!(x.is_ok() && x.as_ref().ok() == y.as_ref().ok(), "{f} differs between {} and {}", a.display(), b.display());
    }
}

/// Whatever a killed or failed run left must be whole: results.json parses, results.csv has a
/// header and full lines.
fn assert_whole(out: &Path) {
    if let Ok(t) = std::fs::read_to_string(out.join("results.json")) {
        serde_json::from_str::<serde_json::Value>(&t).unwrap_or_else(|e| panic!("half-written results.json: {e}"));
    }
    if let Ok(t) = std::fs::read_to_string(out.join("results.csv")) {
        let n = t.lines().next().map(|h| h.split(',').count()).unwrap_or(0);
        assert!(t.ends_with('\n') && t.lines().all(|l| l.split(',').count() == n), "half-written results.csv");
    }
}

/// Twenty SIGKILLs at random moments of one quickstart run (each time resumed with --resume,
/// then killed again), then a last resume: the same files as a run never killed.
#[test]
fn twenty_random_kills_then_resume_give_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));
    ok(run(&whole, &["--jobs", "2"]));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    let mut kills = 0;
    let t0 = Instant::now();
    while kills < 20 {
        assert!(t0.elapsed() < Duration::from_secs(600), "20 kills did not fit in 600 s");
        let resume = killed.join("config.toml").exists();
        let mut c = reglab();
        c.arg("run").arg(quickstart()).arg("--out").arg(&killed).args(["--quiet", "--jobs", "1"]);
        if resume {
            c.arg("--resume");
        }
        let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn reglab");
        let delay = Duration::from_millis(rng.random_range(20..400));
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
            Some(s) => {
                let o = child.wait_with_output().unwrap();
                assert!(s.success(), "a resumed run failed: {}", String::from_utf8_lossy(&o.stderr));
                // the run finished before 20 kills: start over (the kills so far still count)
                std::fs::remove_dir_all(&killed).unwrap();
            }
        }
        assert_whole(&killed);
    }
    let args: &[&str] = if killed.join("config.toml").exists() { &["--resume"] } else { &[] };
    ok(run(&killed, args));
    assert_same_files(&killed, &whole);
}

/// A second `reglab run` on a directory another is writing is refused; the first ends normally.
#[test]
fn a_second_run_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (out, whole) = (dir.path().join("out"), dir.path().join("whole"));
    let mut first = reglab()
        .arg("run")
        .arg(quickstart())
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !out.join("checkpoints").exists() {
        assert!(t0.elapsed() < Duration::from_secs(120) && first.try_wait().unwrap().is_none(), "the first run wrote no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    for extra in [&[][..], &["--resume"][..]] {
        let o = run(&out, extra);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("another run is writing") || e.contains("previous run"), "{e}");
    }
    assert!(first.wait().unwrap().success());
    ok(run(&whole, &["--jobs", "2"]));
    assert_same_files(&out, &whole);
}

/// A checkpoint or its rows log damaged on disk (one flipped bit, or cut short) stops
/// `--resume` with an error that names it, instead of resuming from other numbers.
#[test]
fn a_damaged_checkpoint_or_rows_log_is_refused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok(run(&out, &["--set", "stream.tasks=2", "--jobs", "2"]));
    let ck = out.join("checkpoints/none/seed-0.safetensors");
    let good = std::fs::read(&ck).unwrap();
    let mut flipped = good.clone();
    let at = good.len() - 100;
    flipped[at] ^= 0x04;
    for (what, bytes) in [("flipped", flipped), ("truncated", good[..good.len() / 2].to_vec())] {
        std::fs::write(&ck, &bytes).unwrap();
        let o = run(&out, &["--set", "stream.tasks=2", "--resume"]);
        assert!(!o.status.success(), "{what}: resumed from a damaged checkpoint");
        let e = stderr(&o);
        assert!(e.contains("seed-0.safetensors") && (e.contains("damaged")), "{what}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    std::fs::write(&ck, &good).unwrap();
    // the rows log beside it: checked against the checkpoint's checksum
    let log = out.join("checkpoints/none/seed-0.rows.jsonl");
    let good_log = std::fs::read(&log).unwrap();
    let mut flipped = good_log.clone();
    flipped[good_log.len() / 2] ^= 0x01;
    for (what, bytes) in [("flipped", flipped), ("truncated", good_log[..good_log.len() - 2].to_vec())] {
        std::fs::write(&log, &bytes).unwrap();
        let o = run(&out, &["--set", "stream.tasks=2", "--resume"]);
        assert!(!o.status.success(), "log {what}: resumed from a damaged rows log");
        let e = stderr(&o);
        assert!(e.contains("seed-0.rows.jsonl") && e.contains("damaged"), "log {what}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    std::fs::write(&log, &good_log).unwrap();
    ok(run(&out, &["--set", "stream.tasks=2", "--resume"]));
}

/// A tmpfs of `size` mounted at `dir` (root only), unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let o = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output().ok()?;
        if !o.status.success() {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v.is_empty()),
                "CI must run the full-disk test (as root): mount failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            eprintln!("skipped: cannot mount a tmpfs here (not root?)");
            return None;
        }
        Some(Self(dir.to_path_buf()))
    }
    fn resize(&self, size: &str) {
        let o = std::process::Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).output();
    }
}

/// The disk fills during a run (a 1 MiB tmpfs; the run writes ~3 MiB): a clear error naming the
/// file, whole files left behind, and `--resume` continues once there is space, to the same
/// files as a run that never ran out.
#[test]
fn a_full_disk_is_a_clear_error_and_resume_continues_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "1m") else { return };
    let (out, whole) = (dir.path().join("small/run"), dir.path().join("whole"));
    let o = run(&out, &["--jobs", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("No space left on device") && e.contains(out.to_str().unwrap()), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert_whole(&out);
    fs.resize("64m");
    ok(run(&out, &["--resume", "--jobs", "1"]));
    ok(run(&whole, &["--jobs", "2"]));
    assert_same_files(&out, &whole);
}
