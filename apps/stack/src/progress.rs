//! Progress bars for long steps: shown on a terminal, hidden otherwise
//! (a pipe, a file, a test) or with `--quiet`.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where the bars of a command go.
#[derive(Clone)]
pub struct Bars {
    multi: MultiProgress,
    visible: bool,
}

impl Bars {
    /// Bars on stderr when stdout is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Bars {
        let visible = !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            visible,
        }
    }

    /// No bars at all.
    pub fn hidden() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            visible: false,
        }
    }

    pub fn visible(&self) -> bool {
        self.visible
    }

    /// A bar of `len` steps counting `unit`, labelled `prefix` (e.g. the region).
    pub fn bar(&self, prefix: &str, message: &str, len: u64, unit: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix:>9}} {{msg:<28}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}}, {{eta}} left)"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix.to_owned());
        bar.set_message(message.to_owned());
        bar
    }

    /// Removes every bar from the screen (after an interruption).
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}
