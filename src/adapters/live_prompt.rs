//! The cluster picker on the terminal, drawn again when its rows change without a key press:
//! keys are read on a thread of their own, one key only when the picker asks for one (so no
//! read is left waiting to take the next prompt's first key), and changed rows are drawn at
//! most every [`REDRAW`]. The picker's logic is cli/multi_pick.rs.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use console::{Key, Term};
use futures::StreamExt;
use futures::channel::mpsc;
use tokio::time::{Instant, sleep_until};

use super::prompt::{page_size, terminal_size};
use crate::cli::multi_pick::{Frame, MultiPick, Outcome};
use crate::error::{Error, Result};
use crate::ports::{LiveRows, Reply};

/// Rows changed are drawn at most this often (changes in between are drawn together).
const REDRAW: Duration = Duration::from_millis(40);

/// Ask `question` over `rows` (see `Prompt::pick_many_live`).
pub(crate) async fn pick_live(
    question: &str,
    rows: &impl LiveRows,
    color: bool,
) -> Result<Reply<Vec<usize>>> {
    let term = Term::stderr();
    let (_, mut width) = terminal_size();
    let list = rows.rows(width);
    let page = page_size(list.rows.len());
    let mut pick = MultiPick::new(list, page, color);
    let mut screen = Screen {
        term,
        drawn: false,
        mode: TtyMode::save(),
    };
    let mut keys = KeyReader::start().map_err(io_error)?;
    screen
        .draw(&pick.frame(question, width))
        .map_err(io_error)?;
    keys.ask();
    let mut changing = rows.changing();
    // When rows changed and are not drawn yet.
    let mut stale: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            key = keys.next() => {
                let key = key.map_err(io_error)?;
                let outcome = pick.key(&key);
                let (_, now) = terminal_size();
                let answer = match outcome {
                    Outcome::Open => None,
                    Outcome::Accept(picked) => {
                        screen.finish(&pick.answered(question, &picked, now)).map_err(io_error)?;
                        Some(Reply::Answer(picked))
                    }
                    Outcome::Back => {
                        screen.finish(&pick.backed(question, now)).map_err(io_error)?;
                        Some(Reply::Back)
                    }
                    Outcome::Cancel => {
                        screen.finish(&pick.backed(question, now)).map_err(io_error)?;
                        return Err(Error::Cancelled);
                    }
                };
                if let Some(answer) = answer {
                    return Ok(answer);
                }
                if now != width || stale.is_some() {
                    width = now;
                    stale = None;
                    pick.update(rows.rows(width));
                    changing = rows.changing();
                }
                screen.draw(&pick.frame(question, width)).map_err(io_error)?;
                keys.ask();
            }
            () = rows.changed(), if changing && stale.is_none() => {
                stale = Some(Instant::now() + REDRAW);
            }
            () = sleep_until(stale.unwrap_or_else(Instant::now)), if stale.is_some() => {
                stale = None;
                (_, width) = terminal_size();
                pick.update(rows.rows(width));
                changing = rows.changing();
                screen.draw(&pick.frame(question, width)).map_err(io_error)?;
            }
        }
    }
}

fn io_error(error: io::Error) -> Error {
    if error.kind() == io::ErrorKind::Interrupted {
        let _ = Term::stderr().show_cursor();
        return Error::Cancelled;
    }
    Error::Prompt(inquire::InquireError::IO(error))
}

/// The picker's lines on the terminal; between draws the cursor rests on the question line
/// (the frame's second), where typing shows.
struct Screen {
    term: Term,
    drawn: bool,
    mode: Option<TtyMode>,
}

impl Screen {
    /// To the frame's first line, cleared down to the end of the screen.
    fn home(&self, out: &mut String) {
        if self.drawn {
            out.push_str("\x1b[1A");
        }
        out.push_str("\r\x1b[J");
    }

    /// Lines are ended by `\r\n`: the key reader may have put the terminal in raw mode.
    fn draw(&mut self, frame: &Frame) -> io::Result<()> {
        let mut out = String::from("\x1b[?25l");
        self.home(&mut out);
        out.push_str(&frame.lines.join("\r\n"));
        let up = frame.lines.len().saturating_sub(2);
        if up > 0 {
            let _ = write!(out, "\x1b[{up}A");
        }
        out.push('\r');
        if frame.column > 0 {
            let _ = write!(out, "\x1b[{}C", frame.column);
        }
        out.push_str("\x1b[?25h");
        self.drawn = true;
        self.term.write_str(&out)
    }

    /// The frame replaced by `lines`, the cursor under them; nothing more is drawn.
    fn finish(&mut self, lines: &[String]) -> io::Result<()> {
        let mut out = String::new();
        self.home(&mut out);
        for line in lines {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("\x1b[?25h");
        self.drawn = false;
        self.term.write_str(&out)
    }
}

impl Drop for Screen {
    /// Left open (an error elsewhere ended the picker): the frame goes, the cursor shows, and
    /// the terminal's mode is put back (the key thread's read, still waiting, set it raw).
    fn drop(&mut self) {
        if self.drawn {
            let mut out = String::new();
            self.home(&mut out);
            out.push_str("\x1b[?25h");
            let _ = self.term.write_str(&out);
            if let Some(mode) = &self.mode {
                mode.restore();
            }
        }
    }
}

/// The terminal's mode as the picker found it, on the descriptor console reads keys from
/// (stdin when it is a terminal, else /dev/tty).
struct TtyMode {
    tty: Option<std::fs::File>,
    termios: rustix::termios::Termios,
}

impl TtyMode {
    fn save() -> Option<Self> {
        use std::io::IsTerminal;
        let tty = if io::stdin().is_terminal() {
            None
        } else {
            Some(std::fs::File::open("/dev/tty").ok()?)
        };
        let termios = match &tty {
            Some(file) => rustix::termios::tcgetattr(file),
            None => rustix::termios::tcgetattr(io::stdin()),
        }
        .ok()?;
        Some(TtyMode { tty, termios })
    }

    fn restore(&self) {
        let now = rustix::termios::OptionalActions::Now;
        let _ = match &self.tty {
            Some(file) => rustix::termios::tcsetattr(file, now, &self.termios),
            None => rustix::termios::tcsetattr(io::stdin(), now, &self.termios),
        };
    }
}

/// Reads one key each time it is asked to, on its own thread (console's read blocks); the
/// thread ends when the reader is dropped with no read asked for.
struct KeyReader {
    ask: std::sync::mpsc::Sender<()>,
    keys: mpsc::UnboundedReceiver<io::Result<Key>>,
}

impl KeyReader {
    fn start() -> io::Result<Self> {
        let (ask, asked) = std::sync::mpsc::channel::<()>();
        let (send, keys) = mpsc::unbounded();
        std::thread::Builder::new()
            .name("picker keys".into())
            .spawn(move || {
                let term = Term::stderr();
                while asked.recv().is_ok() {
                    // Raw: Ctrl-C is a key (the picker cancels), not a signal.
                    if send.unbounded_send(term.read_key_raw()).is_err() {
                        break;
                    }
                }
            })?;
        Ok(KeyReader { ask, keys })
    }

    fn ask(&self) {
        // The thread is gone only after a read failed, which `next` reports.
        let _ = self.ask.send(());
    }

    async fn next(&mut self) -> io::Result<Key> {
        self.keys
            .next()
            .await
            .unwrap_or_else(|| Err(io::Error::other("the terminal's key reader stopped")))
    }
}
