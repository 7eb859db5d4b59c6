use super::*;

fn list(n: usize) -> PickList {
    let rows: Vec<String> = (0..n)
        .map(|i| format!("c{i:02} us-east-1 ACTIVE"))
        .collect();
    PickList {
        header: "      NAME REGION STATUS".into(),
        search: rows.iter().map(|r| format!("{r} team=t{}", 0)).collect(),
        rows,
        ..PickList::default()
    }
}

fn keys(pick: &mut MultiPick, keys: &[Key]) -> Outcome {
    let mut outcome = Outcome::Open;
    for key in keys {
        outcome = pick.key(key);
    }
    outcome
}

fn typed(text: &str) -> Vec<Key> {
    text.chars().map(Key::Char).collect()
}

/// The rows drawn: the lines between the question and the help.
fn rows(frame: &Frame) -> Vec<&str> {
    let help = frame.lines.iter().position(|l| l.starts_with('[')).unwrap();
    frame.lines[2..help].iter().map(String::as_str).collect()
}

#[test]
fn space_picks_the_row_at_the_cursor_and_enter_accepts_in_list_order() {
    let mut pick = MultiPick::new(list(5), 10, false);
    let outcome = keys(
        &mut pick,
        &[
            Key::ArrowDown,
            Key::ArrowDown,
            Key::Char(' '),
            Key::ArrowUp,
            Key::ArrowUp,
            Key::Char(' '),
            Key::Enter,
        ],
    );
    assert_eq!(outcome, Outcome::Accept(vec![0, 2]));
    // Space again unpicks.
    let mut pick = MultiPick::new(list(5), 10, false);
    assert_eq!(
        keys(&mut pick, &[Key::Char(' '), Key::Char(' '), Key::Enter]),
        Outcome::Accept(vec![])
    );
}

#[test]
fn the_cursor_wraps_with_the_arrows_and_stops_with_page_keys() {
    let mut pick = MultiPick::new(list(30), 10, false);
    keys(&mut pick, &[Key::ArrowUp, Key::Char(' ')]);
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![29]));
    keys(
        &mut pick,
        &[
            Key::ArrowLeft,
            Key::ArrowDown,
            Key::PageDown,
            Key::Char(' '),
        ],
    );
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![10]));
    keys(
        &mut pick,
        &[
            Key::ArrowLeft,
            Key::PageDown,
            Key::PageDown,
            Key::PageDown,
            Key::Char(' '),
        ],
    );
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![29]));
    keys(
        &mut pick,
        &[Key::ArrowLeft, Key::Home, Key::PageUp, Key::Char(' ')],
    );
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![0]));
    keys(&mut pick, &[Key::ArrowLeft, Key::End, Key::Char(' ')]);
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![29]));
}

#[test]
fn typing_filters_every_word_and_right_picks_what_is_shown() {
    let mut pick = MultiPick::new(list(30), 10, false);
    keys(&mut pick, &typed("c1"));
    let frame = pick.frame("Which?", 80);
    assert_eq!(frame.lines[1], "? Which? c1");
    assert_eq!(frame.column, "? Which? c1".len());
    assert_eq!(rows(&frame).len(), 10, "{frame:?}");
    assert!(rows(&frame)[0].starts_with("> [ ] c10"), "{frame:?}");
    // A comma parts words (space picks); the tag is in the search text, not the row.
    keys(&mut pick, &typed("5,team=t0"));
    assert_eq!(
        rows(&pick.frame("Which?", 80)),
        ["> [ ] c15 us-east-1 ACTIVE"]
    );
    keys(&mut pick, &typed("x"));
    assert!(rows(&pick.frame("Which?", 80)).is_empty());
    for _ in 0.."5,team=t0x".len() {
        pick.key(&Key::Backspace);
    }
    assert_eq!(pick.key(&Key::ArrowRight), Outcome::Open);
    assert_eq!(
        pick.key(&Key::Enter),
        Outcome::Accept((10..20).collect::<Vec<_>>())
    );
    pick.key(&Key::ArrowLeft);
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![]));
}

#[test]
fn esc_is_back_and_ctrl_c_cancels() {
    let mut pick = MultiPick::new(list(3), 10, false);
    assert_eq!(pick.key(&Key::Escape), Outcome::Back);
    assert_eq!(pick.key(&Key::CtrlC), Outcome::Cancel);
}

#[test]
fn a_page_scrolls_with_the_cursor_and_marks_what_is_above_and_below() {
    let mut pick = MultiPick::new(list(30), 5, false);
    let frame = pick.frame("Q", 80);
    assert_eq!(
        rows(&frame),
        [
            "> [ ] c00 us-east-1 ACTIVE",
            "  [ ] c01 us-east-1 ACTIVE",
            "  [ ] c02 us-east-1 ACTIVE",
            "  [ ] c03 us-east-1 ACTIVE",
            "v [ ] c04 us-east-1 ACTIVE",
        ]
    );
    assert_eq!(frame.lines[0], "      NAME REGION STATUS");
    assert_eq!(frame.lines.last().unwrap(), &format!("[{HELP}]"));
    keys(&mut pick, &vec![Key::ArrowDown; 10]);
    let frame = pick.frame("Q", 80);
    assert_eq!(rows(&frame)[0], "^ [ ] c08 us-east-1 ACTIVE");
    assert_eq!(rows(&frame)[2], "> [ ] c10 us-east-1 ACTIVE");
    assert_eq!(rows(&frame)[4], "v [ ] c12 us-east-1 ACTIVE");
    pick.key(&Key::End);
    let frame = pick.frame("Q", 80);
    assert_eq!(rows(&frame)[0], "^ [ ] c25 us-east-1 ACTIVE");
    assert_eq!(rows(&frame)[4], "> [ ] c29 us-east-1 ACTIVE");
}

#[test]
fn no_line_is_as_wide_as_the_terminal() {
    let mut wide = list(3);
    wide.rows[1] = "x".repeat(200);
    wide.header = "h".repeat(200);
    wide.note = "n".repeat(200);
    let mut pick = MultiPick::new(wide, 10, false);
    keys(&mut pick, &typed(""));
    let frame = pick.frame(&"q".repeat(100), 40);
    assert!(
        frame.lines.iter().all(|l| l.chars().count() < 40),
        "{frame:?}"
    );
    assert!(frame.column < 40);
    assert!(rows(&frame)[1].ends_with('\u{2026}'));
}

#[test]
fn rows_filled_in_while_open_keep_the_filter_the_picks_and_the_cursor() {
    let mut before = list(4);
    before.rows[2] = "c02 us-east-1 \u{2026}".into();
    before.search[2] = before.rows[2].clone();
    before.note = "1 of 4 still being described".into();
    let mut pick = MultiPick::new(before, 10, false);
    keys(
        &mut pick,
        &[
            Key::Char(' '),
            Key::ArrowDown,
            Key::ArrowDown,
            Key::ArrowDown,
        ],
    );
    let frame = pick.frame("Q", 80);
    assert_eq!(rows(&frame)[2], "  [ ] c02 us-east-1 \u{2026}");
    assert_eq!(frame.lines.last().unwrap(), "1 of 4 still being described");
    pick.update(list(4));
    let frame = pick.frame("Q", 80);
    assert_eq!(rows(&frame)[0], "  [x] c00 us-east-1 ACTIVE");
    assert_eq!(rows(&frame)[2], "  [ ] c02 us-east-1 ACTIVE");
    assert_eq!(rows(&frame)[3], "> [ ] c03 us-east-1 ACTIVE");
    assert!(
        frame.lines.last().unwrap().starts_with('['),
        "no note: {frame:?}"
    );
}

#[test]
fn a_locked_row_cannot_be_picked() {
    let mut gone = list(3);
    gone.locked = vec![1];
    gone.picked = vec![0, 1];
    let mut pick = MultiPick::new(gone, 10, false);
    assert_eq!(
        keys(&mut pick, &[Key::ArrowDown, Key::Char(' '), Key::Enter]),
        Outcome::Accept(vec![0])
    );
    assert_eq!(
        keys(&mut pick, &[Key::ArrowRight, Key::Enter]),
        Outcome::Accept(vec![0, 2])
    );
    // A row picked before it turned out gone is dropped.
    let mut pick = MultiPick::new(list(3), 10, false);
    keys(&mut pick, &[Key::ArrowRight]);
    let mut now = list(3);
    now.locked = vec![2];
    pick.update(now);
    assert_eq!(pick.key(&Key::Enter), Outcome::Accept(vec![0, 1]));
}

#[test]
fn the_answer_is_the_picked_names_and_esc_leaves_back() {
    let pick = MultiPick::new(list(3), 10, false);
    assert_eq!(
        pick.answered("Which?", &[0, 2], 80),
        ["      NAME REGION STATUS", "\u{2714} Which? c00, c02"]
    );
    assert_eq!(pick.backed("Which?", 80)[1], "? Which? <back>");
}
