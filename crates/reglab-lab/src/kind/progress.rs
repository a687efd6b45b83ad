//! Progress bars of `reglab run`, shared by every kind: one bar for the whole run (its units
//! are the kind's: tasks, trials, solves, reconstructions) and, for kinds that run jobs, one
//! bar per running job. Hidden with `--quiet` or when standard error is not a terminal; they
//! never change what a run writes.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one run.
pub struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
}

impl Progress {
    /// `total` `unit`s, prefixed by the experiment's `name`; drawn only when `show`.
    pub fn new(show: bool, name: &str, total: u64, unit: &str) -> Self {
        let multi = MultiProgress::new();
        if !show {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let overall = multi.add(ProgressBar::new(total));
        let template = format!("{{prefix:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})");
        overall.set_style(ProgressStyle::with_template(&template).expect("template").progress_chars("=> "));
        overall.set_prefix(name.to_string());
        Self { multi, overall }
    }

    /// One unit done.
    pub fn tick(&self) {
        self.overall.inc(1);
    }

    /// `n` units done (e.g. the tasks a resumed job had finished).
    pub fn inc(&self, n: u64) {
        self.overall.inc(n);
    }

    /// A bar of `len` steps for one job, labelled `prefix`, under the overall bar.
    pub fn job_bar(&self, prefix: String, len: u64) -> ProgressBar {
        let b = self.multi.add(ProgressBar::new(len));
        b.set_style(ProgressStyle::with_template("{prefix:>12} [{bar:20}] {msg}").expect("template").progress_chars("=> "));
        b.set_prefix(prefix);
        b
    }

    /// Clear the bars.
    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }
}
