//! The registry's delivery: who gets what, in which format, and the kick of a full queue.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::*;
use crate::realtime::format::FrameFormat;
use crate::realtime::queue::{QueueReceiver, Signal};

fn message(id: i64, author_id: i64, username: &str) -> TimelineMessage {
    TimelineMessage {
        message_id: id,
        author_id,
        username: username.into(),
        email: format!("{username}@x"),
        text: format!("m{id}"),
        pub_date: 0,
    }
}

fn drain(rx: &mut QueueReceiver) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    while let Ok(Some(o)) = rx.try_recv() {
        let v: serde_json::Value = serde_json::from_str(&o.frame).expect("json");
        out.push((o.id, v["stream"].as_str().expect("stream").to_owned()));
    }
    out
}

#[test]
fn each_stream_gets_what_it_should() {
    let metrics = Metrics::new();
    let reg = Registry::default();
    let (public, mut public_rx) = SocketHandle::new(16);
    let (bob, mut bob_rx) = SocketHandle::new(16);
    let (home, mut home_rx) = SocketHandle::new(16);
    reg.add(SubKey::Public, public, None);
    reg.add(SubKey::User(2), bob, None);
    let (_, must_load) = reg.add(SubKey::Home(1), home, None);
    assert!(must_load);
    // A follow seen while the followees load is not lost.
    reg.follow_changed(1, 3, true);
    reg.set_followees(1, vec![2]);

    reg.deliver(&message(1, 2, "bob"), 0, Position::default(), &metrics);
    reg.deliver(&message(2, 3, "carol"), 0, Position::default(), &metrics);
    reg.deliver(&message(3, 1, "alice"), 0, Position::default(), &metrics);
    reg.deliver(&message(4, 4, "dave"), 0, Position::default(), &metrics);
    reg.follow_changed(1, 2, false);
    reg.deliver(&message(5, 2, "bob"), 0, Position::default(), &metrics);

    assert_eq!(drain(&mut public_rx).len(), 5);
    assert_eq!(
        drain(&mut bob_rx),
        [(1, "user:bob".into()), (5, "user:bob".into())]
    );
    assert_eq!(
        drain(&mut home_rx),
        [(1, "home".into()), (2, "home".into()), (3, "home".into())]
    );
}

#[test]
fn a_full_queue_kicks_only_that_socket() {
    let metrics = Metrics::new();
    let reg = Registry::default();
    let (slow, mut slow_rx) = SocketHandle::new(2);
    let (fast, mut fast_rx) = SocketHandle::new(100);
    reg.add(SubKey::Public, slow.clone(), None);
    reg.add(SubKey::Public, fast.clone(), None);
    for id in 1..=10 {
        reg.deliver(&message(id, 1, "a"), 0, Position::default(), &metrics);
    }
    assert!(slow.is_slow());
    assert_eq!(
        slow_rx.try_recv().err(),
        Some(Signal::TooSlow),
        "closes before its queue"
    );
    assert!(!fast.is_slow());
    assert_eq!(drain(&mut fast_rx).len(), 10);
    assert_eq!(metrics.ws_slow_disconnects_total.get(), 1);
}

#[test]
fn removing_the_last_home_subscription_clears_the_index() {
    let reg = Registry::default();
    let (home, _rx) = SocketHandle::new(4);
    let (id, _) = reg.add(SubKey::Home(1), home, None);
    reg.set_followees(1, vec![2, 3]);
    reg.remove(SubKey::Home(1), id);
    assert!(reg.is_empty());
    assert!(reg.lock().followers.is_empty());
}

/// A format that says which stream and event a frame is for, and counts the frames
/// it builds.
#[derive(Default)]
struct Plain {
    built: AtomicUsize,
}

impl FrameFormat for Plain {
    fn message(&self, stream: &StreamName, message: &TimelineMessage, _: Position) -> String {
        self.built.fetch_add(1, Ordering::SeqCst);
        format!("{} update {}", stream.as_string(), message.message_id)
    }

    fn delete(&self, stream: &StreamName, id: i64, _: Position) -> String {
        self.built.fetch_add(1, Ordering::SeqCst);
        format!("{} delete {id}", stream.as_string())
    }
}

fn frames(rx: &mut QueueReceiver) -> Vec<Utf8Bytes> {
    let mut out = Vec::new();
    while let Ok(Some(o)) = rx.try_recv() {
        out.push(o.frame);
    }
    out
}

fn change(change_id: i64, hidden: bool, message: TimelineMessage) -> VisibilityChange {
    VisibilityChange {
        change_id,
        hidden,
        message,
    }
}

#[test]
fn each_subscription_gets_its_own_format() {
    let metrics = Metrics::new();
    let reg = Registry::default();
    let plain = Arc::new(Plain::default());
    let format: Format = Some(plain.clone());
    let (minitwit, mut minitwit_rx) = SocketHandle::new(16);
    let (other, mut other_rx) = SocketHandle::new(16);
    reg.add(SubKey::Public, minitwit, None);
    reg.add(SubKey::Public, other, format);
    let alice = message(7, 1, "alice");
    let position = Position {
        message: 7,
        change: Some(0),
    };
    reg.deliver(&alice, 0, position, &metrics);
    reg.visibility_changed(&change(1, true, alice.clone()), 0, position, &metrics);
    reg.visibility_changed(&change(2, false, alice.clone()), 0, position, &metrics);

    let avatar = crate::realtime::protocol::avatar_url(&alice.email);
    let shown = crate::realtime::protocol::message_frame("public", &alice, &avatar, Some(position));
    let hidden = crate::realtime::protocol::delete_frame("public", 7, position);
    let minitwit: Vec<String> = frames(&mut minitwit_rx)
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        minitwit,
        [shown.clone(), hidden, shown],
        "MiniTwit's frames, as before"
    );
    let other: Vec<String> = frames(&mut other_rx)
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        other,
        ["public update 7", "public delete 7", "public update 7"]
    );
}

#[test]
fn a_frame_is_built_once_per_stream_and_format() {
    let metrics = Metrics::new();
    let reg = Registry::default();
    let plain = Arc::new(Plain::default());
    let format: Format = Some(plain.clone());
    let mut receivers = Vec::new();
    for key in [
        SubKey::Public,
        SubKey::Public,
        SubKey::Public,
        SubKey::Home(1),
        SubKey::Home(2),
        SubKey::Home(2),
    ] {
        let (socket, rx) = SocketHandle::new(16);
        reg.add(key, socket, format.clone());
        receivers.push(rx);
    }
    let (minitwit, mut minitwit_rx) = SocketHandle::new(16);
    reg.add(SubKey::Public, minitwit, None);
    // Reader 2 follows reader 1: their homes both get 1's messages.
    reg.set_followees(1, Vec::new());
    reg.set_followees(2, vec![1]);

    assert_eq!(
        reg.deliver(&message(3, 1, "one"), 0, Position::default(), &metrics),
        7
    );
    assert_eq!(
        plain.built.load(Ordering::SeqCst),
        2,
        "one public, one home"
    );
    let got: Vec<Vec<Utf8Bytes>> = receivers.iter_mut().map(frames).collect();
    let (public, home) = got.split_at(3);
    for frames in public {
        assert_eq!(frames.as_slice(), ["public update 3"]);
        // The same bytes, not a copy each.
        assert_eq!(frames[0].as_ptr(), public[0][0].as_ptr());
    }
    for frames in home {
        assert_eq!(frames.as_slice(), ["home update 3"]);
        assert_eq!(frames[0].as_ptr(), home[0][0].as_ptr());
    }
    assert_eq!(frames(&mut minitwit_rx).len(), 1);
}
