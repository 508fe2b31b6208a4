//! Progress of long work on stderr: a bar with rate and ETA on a terminal
//! (indicatif), plain lines every 10% or 10 seconds otherwise (logs, CI, pipes),
//! or nothing. Stdout stays for data, so `events query --all --format json >
//! out.jsonl` shows its progress and writes clean JSON lines.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::args::ProgressMode;

/// A plain line is printed at least this often while work advances.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Progress of one piece of work.
pub(crate) struct Progress {
    inner: Inner,
}

enum Inner {
    Bar(ProgressBar),
    Lines(Mutex<Lines>),
    Off,
}

struct Lines {
    label: String,
    unit: &'static str,
    start: Instant,
    last_line: Instant,
    /// Where this run started: a resumed replay starts past zero, and its
    /// rate counts only this run's work.
    base: u64,
    decile: u64,
    done: u64,
    total: u64,
}

impl Progress {
    /// The mode `auto` resolves to: a bar on a terminal, lines otherwise.
    fn resolve(mode: ProgressMode) -> ProgressMode {
        match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            other => other,
        }
    }

    /// Progress of `label` counted in `unit`s, out of `total` (which later
    /// updates may set or change).
    pub(crate) fn counter(mode: ProgressMode, label: &str, unit: &'static str, total: u64) -> Self {
        let inner = match Self::resolve(mode) {
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let template = format!(
                    "{{prefix:.bold}} {{bar:32.cyan/blue}} {{human_pos}}/{{human_len}} {unit} \
                     ({{rate}}, ETA {{eta}}) [{{elapsed_precise}}]"
                );
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    let style = style.progress_chars("█▉▊▋▌▍▎▏ ").with_key(
                        "rate",
                        move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{} {unit}/s", thousands(state.per_sec() as u64));
                        },
                    );
                    bar.set_style(style);
                }
                bar.set_prefix(label.to_owned());
                Inner::Bar(bar)
            }
            ProgressMode::Lines => Inner::Lines(Mutex::new(Lines {
                label: label.to_owned(),
                unit,
                start: Instant::now(),
                last_line: Instant::now(),
                base: 0,
                decile: 0,
                done: 0,
                total,
            })),
            ProgressMode::Off | ProgressMode::Auto => Inner::Off,
        };
        Progress { inner }
    }

    /// This run starts with `done` units already done (a resumed replay): the
    /// rate and ETA count from here.
    pub(crate) fn start_at(&self, done: u64) {
        match &self.inner {
            Inner::Bar(bar) => {
                bar.set_position(done);
                bar.reset_eta();
            }
            Inner::Lines(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.base = done;
                    l.done = done;
                    l.decile = done.saturating_mul(10).checked_div(l.total).unwrap_or(0);
                }
            }
            Inner::Off => {}
        }
    }

    /// A line for the operator on stderr, whatever the mode: above the bar
    /// when one is drawn (which stays drawn below it), else on its own.
    pub(crate) fn note(&self, message: &str) {
        match &self.inner {
            Inner::Bar(bar) if !bar.is_hidden() => bar.println(message),
            _ => eprintln!("{message}"),
        }
    }

    /// `done` of `total` units are done.
    pub(crate) fn update(&self, done: u64, total: u64) {
        match &self.inner {
            Inner::Bar(bar) => {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
            Inner::Lines(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.advance(done, total);
                }
            }
            Inner::Off => {}
        }
    }

    /// The work is done: clears the bar, or prints the last line.
    pub(crate) fn finish(&self) {
        self.end(true);
    }

    /// The work stopped before its end (Ctrl-C, an error): clears the bar, or
    /// prints where it stopped; the command's message says what was kept.
    pub(crate) fn abandon(&self) {
        self.end(false);
    }

    fn end(&self, done: bool) {
        match &self.inner {
            // A stopped bar stays as drawn, showing where the work stopped,
            // not redrawn: the terminal echoed `^C` on the line below it,
            // which is erased for the message that follows.
            Inner::Bar(bar) if !done => {
                bar.set_draw_target(ProgressDrawTarget::hidden());
                eprint!("\r\x1b[2K");
            }
            Inner::Bar(bar) => bar.finish_and_clear(),
            Inner::Lines(lines) => {
                if let Ok(l) = lines.lock() {
                    l.last(done);
                }
            }
            Inner::Off => {}
        }
    }
}

impl Lines {
    fn advance(&mut self, done: u64, total: u64) {
        self.done = done;
        self.total = total;
        let decile = (done.saturating_mul(10))
            .checked_div(total)
            .unwrap_or(10)
            .min(10);
        if done >= total {
            // The last line says it.
            return;
        }
        if decile > self.decile || self.last_line.elapsed() >= LINE_EVERY {
            self.decile = decile.max(self.decile);
            self.last_line = Instant::now();
            let rate = rate(done.saturating_sub(self.base), self.start.elapsed());
            let eta = if rate > 0.0 {
                let left = total.saturating_sub(done) as f64 / rate;
                format!(", ETA {}", seconds(Duration::from_secs_f64(left)))
            } else {
                String::new()
            };
            eprintln!(
                "{}: {}/{} {} ({}%), {} {}/s{eta}",
                self.label,
                thousands(done),
                thousands(total),
                self.unit,
                done.saturating_mul(100).checked_div(total).unwrap_or(100),
                thousands(rate as u64),
                self.unit,
            );
        }
    }

    fn last(&self, done: bool) {
        let elapsed = self.start.elapsed();
        let how = if done { "" } else { "stopped at " };
        eprintln!(
            "{}: {how}{}/{} {} in {}, {} {}/s",
            self.label,
            thousands(self.done),
            thousands(self.total),
            self.unit,
            seconds(elapsed),
            thousands(rate(self.done.saturating_sub(self.base), elapsed) as u64),
            self.unit,
        );
    }
}

/// Units per second.
fn rate(units: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { units as f64 / secs } else { 0.0 }
}

/// A duration as people read it: `0.4s`, `12s`, `3m 05s`, `2h 10m`.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..10 => format!("{:.1}s", d.as_secs_f64()),
        10..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(seconds(Duration::from_millis(420)), "0.4s");
        assert_eq!(seconds(Duration::from_secs(185)), "3m 05s");
        assert_eq!(seconds(Duration::from_secs(7_800)), "2h 10m");
    }
}
