//! What comes in from the socket, as the loop hands it to the [`App`]: log
//! chunks of a follower since dropped, and a status that cannot be read
//! for a while.

use super::fixtures::{self, running};
use super::tests::screen;

#[test]
fn chunks_of_an_earlier_following_are_dropped_even_of_the_same_name() {
    let mut app = fixtures::app(None, running());
    // Selected A, then B, then A again, quicker than the first follower's
    // queued chunks (its backlog of A's log) were taken.
    let first_a = app.follow(Some("http".into()));
    let b = app.follow(Some("redis".into()));
    let second_a = app.follow(Some("http".into()));
    app.log(second_a, b"backlog 1\n");
    app.log(first_a, b"backlog 1\nbacklog 2\n");
    app.log(b, b"of redis\n");
    app.log(second_a, b"backlog 2\nnew\n");
    assert_eq!(app.logs.lines, ["backlog 1", "backlog 2", "new"]);
}

#[test]
fn a_status_not_read_is_said_in_the_footer_until_one_is() {
    let mut app = fixtures::app(None, running());
    app.say("restart api: done");
    app.trouble("s.sock: no answer within 10s");
    let shown = screen(&app);
    assert!(
        shown.contains("status: s.sock: no answer within 10s (trying again)"),
        "{shown}"
    );
    assert!(app.ended.is_none(), "the view goes on");
    app.status(running());
    let shown = screen(&app);
    assert!(!shown.contains("no answer"), "{shown}");
    assert!(shown.contains("restart api: done"), "{shown}");
}
