//! Apply progress: on a terminal, a line per resource at work with its elapsed
//! time, redrawn as it goes; otherwise a plain line per resource finished.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stack_engine::{Outcome, Progress};
use stack_language::{Address, Condition};
use stack_plan::Action;
use stack_provider::{Fetch, ProviderError};

/// `+ network.backend created (0.2s)`, or the failure.
pub fn finished_line(address: &Address, action: Action, outcome: &Outcome, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    match outcome {
        Outcome::Failed(error) => format!(
            "! {address} failed to {} after {seconds:.1}s: {}",
            verb(action),
            error
                .message
                .strip_prefix(&format!("{address}: "))
                .unwrap_or(&error.message)
        ),
        _ => format!("{} {address} {} ({seconds:.1}s)", symbol(action), past(action)),
    }
}

/// `<= redis:7 pulled (1.2s)`, or the failure.
fn fetched_line(fetch: &Fetch, result: &Result<(), ProviderError>, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    match result {
        Ok(()) => format!("<= {} pulled ({seconds:.1}s)", fetch.item),
        Err(error) => format!(
            "! {} failed to pull after {seconds:.1}s: {}",
            fetch.item, error.message
        ),
    }
}

pub fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::Read | Action::NoChange | Action::Unknown => " ",
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Read | Action::NoChange | Action::Unknown => "read",
    }
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Read | Action::NoChange | Action::Unknown => "unchanged",
    }
}

fn present(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Read | Action::NoChange | Action::Unknown => "reading",
    }
}

/// A line per resource finished, for logs and pipes.
pub struct Plain;

impl Progress for Plain {
    fn finished(&self, address: &Address, action: Action, outcome: &Outcome, elapsed: Duration) {
        println!("{}", finished_line(address, action, outcome, elapsed));
    }

    fn started(&self, _address: &Address, _action: Action) {}

    fn fetched(&self, fetch: &Fetch, result: &Result<(), ProviderError>, elapsed: Duration) {
        println!("{}", fetched_line(fetch, result, elapsed));
    }

    fn interrupted(&self) {
        println!("Interrupted: no new work starts; waiting for the running steps to finish.");
    }
}

/// What is at work now, drawn below the lines of what has finished.
pub struct Terminal {
    board: Arc<Mutex<Board>>,
    running: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Board {
    /// Resources at work, in the order they started.
    active: Vec<Active>,
    /// How many lines the last drawing took, to draw over them.
    drawn: usize,
}

struct Active {
    /// A resource's address, or what is pulled.
    label: String,
    doing: String,
    since: Instant,
}

impl Board {
    /// Clears the drawn lines, prints `lines` above, draws the active ones again.
    fn draw(&mut self, lines: &[String]) {
        let mut out = std::io::stdout().lock();
        // From the line's start: a `^C` echoed by the terminal moves the cursor.
        let _ = write!(out, "\r");
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        let _ = write!(out, "\x1b[J");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
        for active in &self.active {
            let _ = writeln!(
                out,
                "  … {} {} {:.1}s",
                active.label,
                active.doing,
                active.since.elapsed().as_secs_f64()
            );
        }
        self.drawn = self.active.len();
        let _ = out.flush();
    }

    fn set(&mut self, label: String, doing: String) {
        match self.active.iter_mut().find(|active| active.label == label) {
            Some(active) => active.doing = doing,
            None => self.active.push(Active {
                label,
                doing,
                since: Instant::now(),
            }),
        }
    }
}

impl Terminal {
    /// Starts redrawing the elapsed times ten times a second until dropped.
    pub fn start() -> Terminal {
        let board = Arc::new(Mutex::new(Board::default()));
        let running = Arc::new(AtomicBool::new(true));
        let ticker = {
            let board = Arc::clone(&board);
            let running = Arc::clone(&running);
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(mut board) = board.lock()
                        && !board.active.is_empty()
                    {
                        board.draw(&[]);
                    }
                }
            })
        };
        Terminal {
            board,
            running,
            ticker: Some(ticker),
        }
    }

    fn with_board(&self, change: impl FnOnce(&mut Board)) {
        if let Ok(mut board) = self.board.lock() {
            change(&mut board);
        }
    }
}

impl Progress for Terminal {
    fn waiting(&self, address: &Address, dependency: &Address, condition: Condition) {
        self.with_board(|board| {
            board.set(
                address.to_string(),
                format!("waiting for {dependency} to be {}", condition.as_str()),
            );
            board.draw(&[]);
        });
    }

    fn started(&self, address: &Address, action: Action) {
        self.with_board(|board| {
            board.set(address.to_string(), present(action).to_owned());
            board.draw(&[]);
        });
    }

    fn finished(&self, address: &Address, action: Action, outcome: &Outcome, elapsed: Duration) {
        self.with_board(|board| {
            let label = address.to_string();
            board.active.retain(|active| active.label != label);
            board.draw(&[finished_line(address, action, outcome, elapsed)]);
        });
    }

    fn fetching(&self, fetch: &Fetch, status: &str) {
        self.with_board(|board| {
            board.set(format!("<= {}", fetch.item), format!("pulling: {status}"));
            board.draw(&[]);
        });
    }

    fn fetched(&self, fetch: &Fetch, result: &Result<(), ProviderError>, elapsed: Duration) {
        self.with_board(|board| {
            let label = format!("<= {}", fetch.item);
            board.active.retain(|active| active.label != label);
            board.draw(&[fetched_line(fetch, result, elapsed)]);
        });
    }

    fn interrupted(&self) {
        self.with_board(|board| {
            board.draw(&[
                "Interrupted: no new work starts; waiting for the running steps to finish.".to_owned(),
            ]);
        });
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        self.with_board(|board| {
            board.active.clear();
            board.draw(&[]);
        });
    }
}
