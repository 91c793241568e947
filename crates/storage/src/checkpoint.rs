//! When SQLite's write-ahead log is copied into the database file, and by
//! whom.
//!
//! A checkpoint copies the log's frames into the database file and syncs
//! it. SQLite starts the log afresh only at the beginning of a write, and
//! only if every frame has been copied by then. A checkpointer thread that
//! copies while the writer keeps committing never gets there: the writer
//! has always added a few frames since the copy began. The log then grows
//! to the writer's limit, and every commit past the threshold wakes the
//! checkpointer for another copy and another sync (we measured one
//! checkpoint every two commits under 16 concurrent registrations).
//!
//! So the work is split: the checkpointer copies the bulk off the writer's
//! thread, and once little is left the writer copies the last frames
//! itself, between two groups, so that its next transaction restarts the
//! log. [`Pacer`] decides after each commit; it is the writer's, and
//! [`Progress`] is what the checkpointer tells it.

use std::sync::{Arc, Mutex};

/// Pages of log past which a commit asks for a checkpoint: four times
/// SQLite's default for its automatic checkpoint (a registration logs
/// about 7 pages). Each log ends with a copy on the writer, two fsyncs;
/// longer logs make fewer of them: with 1,000 pages, 16 concurrent
/// registrations ran about 5 % slower (stop 28, `commands`).
pub(crate) const CHECKPOINT_PAGES: usize = 4_000;

/// Frames left uncopied that the writer copies itself, to restart the log.
const TAIL_PAGES: usize = 250;

/// Copies the checkpointer makes of one log; then the writer copies what
/// is left, however much: a checkpointer barely faster than the writer
/// would otherwise chase it for a long time.
const CHECKPOINTER_RUNS: u32 = 2;

/// A reader still on the old log can keep SQLite from restarting it after
/// the writer copied the tail; the writer tries again once this many more
/// pages have been logged, twice as many after each further miss (up to
/// [`CHECKPOINT_PAGES`]), not after every commit.
const TAIL_RETRY_PAGES: usize = 64;

/// Past this many pages the writer copies the log itself, whatever the
/// checkpointer is doing: the log stays bounded even if the checkpointer
/// cannot keep up.
pub(crate) const WRITER_CHECKPOINT_PAGES: usize = 16_000;

/// What a checkpoint did, as SQLite reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpointed {
    /// Frames in the log.
    pub log: usize,
    /// Of which copied into the database file (by this checkpoint or
    /// earlier ones).
    pub copied: usize,
}

/// What the writer does after a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    /// Wake the checkpointer for the log's generation.
    Wake(u64),
    /// Copy what is left itself.
    Copy,
}

/// What the checkpointer has done, shared with the writer.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Woken and not yet done.
    running: bool,
    /// The log's generation the last copy was of, and how far it went.
    generation: u64,
    copied: usize,
}

impl State {
    /// A copy of `generation` went as far as `copied`: a report of an
    /// earlier log, or of less than is known copied, changes nothing (the
    /// writer may have copied while the checkpointer was still at it).
    fn note(&mut self, generation: u64, copied: usize) {
        if generation > self.generation {
            (self.generation, self.copied) = (generation, copied);
        } else if generation == self.generation {
            self.copied = self.copied.max(copied);
        }
    }
}

impl Progress {
    /// The checkpointer has finished a copy of generation `generation`
    /// (`None`: it failed).
    pub(crate) fn done(&self, generation: u64, result: Option<Checkpointed>) {
        let mut state = self.lock();
        state.running = false;
        if let Some(result) = result {
            state.note(generation, result.copied);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The writer's view of the log: its size after each commit, its
/// generation (a new one each time SQLite starts it afresh) and what has
/// been copied of it.
#[derive(Debug)]
pub(crate) struct Pacer {
    progress: Arc<Progress>,
    generation: u64,
    pages: usize,
    /// The log's size when the writer last copied its tail, this generation.
    tail_copied_at: Option<usize>,
    /// Pages to wait after that before trying again.
    tail_retry: usize,
    /// The checkpointer's copies of this generation, begun or done.
    runs: u32,
}

impl Pacer {
    pub(crate) fn new(progress: Arc<Progress>) -> Pacer {
        Pacer {
            progress,
            generation: 0,
            pages: 0,
            tail_copied_at: None,
            tail_retry: TAIL_RETRY_PAGES,
            runs: 0,
        }
    }

    /// Times the log has started afresh.
    pub(crate) fn restarts(&self) -> u64 {
        self.generation
    }

    /// After a commit that left `pages` pages in the log: what to do.
    pub(crate) fn after_commit(&mut self, pages: usize) -> Step {
        if pages < self.pages {
            // SQLite started the log afresh at this transaction.
            self.generation += 1;
            self.tail_copied_at = None;
            self.tail_retry = TAIL_RETRY_PAGES;
            self.runs = 0;
        }
        self.pages = pages;
        if pages >= WRITER_CHECKPOINT_PAGES {
            return Step::Copy;
        }
        if pages < CHECKPOINT_PAGES {
            return Step::Nothing;
        }
        let mut state = self.progress.lock();
        if state.running {
            return Step::Nothing;
        }
        let copied = if state.generation == self.generation {
            state.copied
        } else {
            0
        };
        let left = pages.saturating_sub(copied);
        if left > TAIL_PAGES && self.runs < CHECKPOINTER_RUNS {
            state.running = true;
            self.runs += 1;
            return Step::Wake(self.generation);
        }
        match self.tail_copied_at {
            Some(at) if pages < at + self.tail_retry => Step::Nothing,
            _ => Step::Copy,
        }
    }

    /// The writer has copied the log itself.
    pub(crate) fn copied(&mut self, result: Checkpointed) {
        if self.tail_copied_at.is_some() {
            // The last copy did not restart the log: wait longer this time.
            self.tail_retry = (self.tail_retry * 2).min(CHECKPOINT_PAGES);
        }
        self.tail_copied_at = Some(result.log);
        self.progress.lock().note(self.generation, result.copied);
    }

    /// The checkpointer could not be woken (its thread has ended): the
    /// writer copies the log itself once it is long.
    pub(crate) fn wake_failed(&mut self) {
        self.progress.lock().running = false;
        self.runs = CHECKPOINTER_RUNS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer() -> (Pacer, Arc<Progress>) {
        let progress = Arc::new(Progress::default());
        (Pacer::new(progress.clone()), progress)
    }

    fn all(log: usize) -> Checkpointed {
        Checkpointed { log, copied: log }
    }

    #[test]
    fn a_short_log_is_left_alone() {
        let (mut pacer, _) = pacer();
        for pages in [10, 200, CHECKPOINT_PAGES - 1] {
            assert_eq!(pacer.after_commit(pages), Step::Nothing);
        }
    }

    #[test]
    fn the_checkpointer_copies_the_bulk_and_the_writer_the_tail() {
        let (mut pacer, progress) = pacer();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES), Step::Wake(0));
        // While it copies, commits do not wake it again.
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 40), Step::Nothing);
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 80), Step::Nothing);
        progress.done(0, Some(all(CHECKPOINT_PAGES)));
        // 120 frames left: the writer's to copy.
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 120), Step::Copy);
        pacer.copied(all(CHECKPOINT_PAGES + 120));
        // The next transaction restarted the log: a new generation.
        assert_eq!(pacer.after_commit(30), Step::Nothing);
        assert_eq!(pacer.restarts(), 1);
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 5), Step::Wake(1));
    }

    #[test]
    fn a_copy_left_far_behind_wakes_the_checkpointer_again() {
        let (mut pacer, progress) = pacer();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES), Step::Wake(0));
        // A reader kept it from copying more than half.
        progress.done(
            0,
            Some(Checkpointed {
                log: CHECKPOINT_PAGES,
                copied: CHECKPOINT_PAGES / 2,
            }),
        );
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 10), Step::Wake(0));
        progress.done(0, None);
        // Twice is enough: the writer copies the rest, however much.
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 20), Step::Copy);
    }

    #[test]
    fn a_restart_kept_back_by_a_reader_is_tried_again_later_not_at_every_commit() {
        let (mut pacer, progress) = pacer();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES), Step::Wake(0));
        progress.done(0, Some(all(CHECKPOINT_PAGES)));
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 10), Step::Copy);
        pacer.copied(all(CHECKPOINT_PAGES + 10));
        // No restart (a reader was on the old log): the log goes on growing.
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 20), Step::Nothing);
        assert_eq!(
            pacer.after_commit(CHECKPOINT_PAGES + 10 + TAIL_RETRY_PAGES - 1),
            Step::Nothing
        );
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 10 + TAIL_RETRY_PAGES), Step::Copy);
        pacer.copied(all(CHECKPOINT_PAGES + 10 + TAIL_RETRY_PAGES));
        // Missed again: twice as long to wait.
        let at = CHECKPOINT_PAGES + 10 + TAIL_RETRY_PAGES;
        assert_eq!(pacer.after_commit(at + TAIL_RETRY_PAGES), Step::Nothing);
        assert_eq!(pacer.after_commit(at + 2 * TAIL_RETRY_PAGES), Step::Copy);
        assert_eq!(pacer.restarts(), 0);
    }

    #[test]
    fn a_late_report_of_an_earlier_copy_does_not_undo_a_later_one() {
        let progress = Progress::default();
        let known = || {
            let state = progress.lock();
            (state.generation, state.copied)
        };
        progress.done(1, Some(all(500)));
        // The checkpointer reports on the previous log after the writer's
        // copy of this one was noted.
        progress.done(0, Some(all(2_000)));
        assert_eq!(known(), (1, 500));
        // A copy that went less far than one already noted.
        progress.done(1, Some(all(300)));
        assert_eq!(known(), (1, 500));
        progress.done(1, Some(all(800)));
        assert_eq!(known(), (1, 800));
    }

    #[test]
    fn without_a_checkpointer_the_writer_copies_the_log_itself() {
        let (mut pacer, _) = pacer();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES), Step::Wake(0));
        pacer.wake_failed();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 10), Step::Copy);
    }

    #[test]
    fn a_copy_of_an_earlier_log_counts_for_nothing() {
        let (mut pacer, progress) = pacer();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES), Step::Wake(0));
        // The log restarts (the checkpointer caught up while the writer
        // was idle) before the checkpointer reports.
        assert_eq!(pacer.after_commit(5), Step::Nothing);
        progress.done(0, Some(all(CHECKPOINT_PAGES)));
        // 1,100 pages of generation 1, none copied.
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES + 100), Step::Wake(1));
    }

    #[test]
    fn a_long_log_is_copied_by_the_writer_whatever_the_checkpointer_does() {
        let (mut pacer, _) = pacer();
        assert_eq!(pacer.after_commit(CHECKPOINT_PAGES), Step::Wake(0));
        assert_eq!(pacer.after_commit(WRITER_CHECKPOINT_PAGES), Step::Copy);
    }
}
