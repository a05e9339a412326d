//! Which login each open `home` stream rests on, so that the stream ends with it: a
//! logout, or the session's expiry, closes the stream (websocket 4001, the SSE body ends)
//! within seconds on every instance (README.md, "Live updates"). A login is a browser
//! session, or an access token of the Mastodon-compatible API (docs/mastodon.md), whose
//! `user` stream ends when the token is revoked or dies with its user's password.
//!
//! A logout (or a revocation) on this instance ends its streams at once
//! ([`Logins::ended`], called by `web::session::log_out` and Mastodon's `/oauth/revoke`).
//! One on another instance is found by [`watch`]: every [`CHECK_EVERY`] it asks the
//! `sessions` table (and the tokens table) which of the logins behind this instance's open
//! `home` streams still live, in one query for each, and ends the others; a session's
//! expiry is known from the row's `expires_at` when the stream opens. Nothing goes through
//! Redis, so this works while Redis is down; with the database down streams keep running
//! until it answers again (no login is ended on a failed check).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::queue::SocketHandle;
use crate::clock::unix_now;
use crate::store::{Store, StoreResult};

/// How often [`watch`] checks the open logins: with the query's time, a logout on another
/// instance ends the streams here well within the 5 s of README.md.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long one check may wait for the database before it is dropped (and retried on the
/// next tick).
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A login as a stream keeps it: the row's key (the token's SHA-256, never the token),
/// when it expires, and which table holds it. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    key: Arc<str>,
    /// Unix seconds.
    expires_at: i64,
    credential: Credential,
}

/// What kind of login it is, i.e. where [`watch`] looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (`sessions`).
    Session,
    /// An access token of the Mastodon-compatible API (`oauth_tokens`).
    Token,
}

impl Login {
    /// A browser session's login.
    pub fn new(key: String, expires_at: i64) -> Login {
        Login {
            key: key.into(),
            expires_at,
            credential: Credential::Session,
        }
    }

    /// An access token's login: it has no expiry, it lives until revoked.
    pub fn token(key: String) -> Login {
        Login {
            key: key.into(),
            expires_at: i64::MAX,
            credential: Credential::Token,
        }
    }
}

/// This instance's open `home` streams by the login they rest on.
#[derive(Debug, Default)]
pub struct Logins {
    inner: Mutex<HashMap<Arc<str>, Streams>>,
}

/// The open streams of one login.
#[derive(Debug)]
struct Streams {
    expires_at: i64,
    credential: Credential,
    /// By the handle's address (unique while it lives), so a stream's hold finds itself.
    handles: HashMap<usize, Arc<SocketHandle>>,
}

impl Logins {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Streams>> {
        // A panic while holding the lock leaves a plain map behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ties the stream of `handle` to `login` until the returned hold is dropped: when the
    /// login ends, the stream is told [`super::queue::Signal::LoggedOut`]. A login
    /// already expired is told at once.
    pub fn hold(self: &Arc<Self>, login: &Login, handle: &Arc<SocketHandle>) -> LoginHold {
        let stream = address(handle);
        if login.expires_at <= unix_now() {
            handle.log_out();
        } else {
            self.lock()
                .entry(login.key.clone())
                .or_insert_with(|| Streams {
                    expires_at: login.expires_at,
                    credential: login.credential,
                    handles: HashMap::new(),
                })
                .handles
                .insert(stream, handle.clone());
        }
        LoginHold {
            logins: Arc::downgrade(self),
            key: login.key.clone(),
            stream,
        }
    }

    /// The login of session key `key` ended (logged out, expired): its streams here end.
    pub fn ended(&self, key: &str) {
        let ended = self.lock().remove(key);
        for handle in ended.iter().flat_map(|s| s.handles.values()) {
            handle.log_out();
        }
    }

    /// Ends the logins expired at `now`; returns the keys of the others, to check: the
    /// sessions' and the tokens'.
    fn expire(&self, now: i64) -> (Vec<String>, Vec<String>) {
        let mut logins = self.lock();
        let mut ended = Vec::new();
        logins.retain(|_, streams| {
            let live = streams.expires_at > now;
            if !live {
                ended.extend(streams.handles.drain().map(|(_, handle)| handle));
            }
            live
        });
        let (mut sessions, mut tokens) = (Vec::new(), Vec::new());
        for (key, streams) in logins.iter() {
            match streams.credential {
                Credential::Session => sessions.push(key.to_string()),
                Credential::Token => tokens.push(key.to_string()),
            }
        }
        drop(logins);
        for handle in ended {
            handle.log_out();
        }
        (sessions, tokens)
    }

    /// Logins with open streams here (for tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn address(handle: &Arc<SocketHandle>) -> usize {
    Arc::as_ptr(handle) as usize
}

/// A stream's tie to its login; unties it when dropped (the stream ended or left `home`).
#[derive(Debug)]
pub struct LoginHold {
    logins: Weak<Logins>,
    key: Arc<str>,
    stream: usize,
}

impl Drop for LoginHold {
    fn drop(&mut self) {
        let Some(logins) = self.logins.upgrade() else {
            return;
        };
        let mut logins = logins.lock();
        if let Some(streams) = logins.get_mut(&self.key) {
            streams.handles.remove(&self.stream);
            if streams.handles.is_empty() {
                logins.remove(&self.key);
            }
        }
    }
}

/// Every `every`, ends the expired logins of `logins` and those whose `sessions` row is gone
/// (a logout on any instance); stops once `logins` is dropped with its hub.
pub async fn watch(logins: Weak<Logins>, store: Store, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Said once per outage, not every second.
    let mut failing = false;
    loop {
        tick.tick().await;
        let now = unix_now();
        let (sessions, tokens) = match logins.upgrade() {
            Some(logins) => logins.expire(now),
            None => return,
        };
        if sessions.is_empty() && tokens.is_empty() {
            continue;
        }
        let check = live_logins(&store, &sessions, &tokens, now);
        let live = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(Ok(live)) => live,
            outcome => {
                if !failing {
                    let error = match outcome {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_owned(),
                    };
                    tracing::warn!(%error, "cannot check the logins of open home streams");
                }
                failing = true;
                continue;
            }
        };
        failing = false;
        let Some(logins) = logins.upgrade() else {
            return;
        };
        for key in sessions.iter().chain(&tokens) {
            if !live.contains(key) {
                logins.ended(key);
            }
        }
    }
}

/// Which of `sessions` and `tokens` (keys) still live at `now`: one query for each kind
/// that has any.
async fn live_logins(
    store: &Store,
    sessions: &[String],
    tokens: &[String],
    now: i64,
) -> StoreResult<HashSet<String>> {
    let mut live = HashSet::new();
    if !sessions.is_empty() {
        live = store.live_sessions(sessions, now).await?;
    }
    if !tokens.is_empty() {
        live.extend(store.live_tokens(tokens).await?);
    }
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::queue::Signal;

    #[test]
    fn an_ended_login_ends_only_its_streams() {
        let logins = Arc::new(Logins::default());
        let later = unix_now() + 3600;
        let (a, mut a_rx) = SocketHandle::new(4);
        let (b, mut b_rx) = SocketHandle::new(4);
        let _a = logins.hold(&Login::new("a".into(), later), &a);
        let _b = logins.hold(&Login::new("b".into(), later), &b);
        logins.ended("a");
        assert_eq!(a_rx.try_recv().err(), Some(Signal::LoggedOut));
        assert!(matches!(b_rx.try_recv(), Ok(None)));
        assert_eq!(logins.len(), 1);
    }

    #[test]
    fn expired_logins_end_and_holds_untie_when_dropped() {
        let logins = Arc::new(Logins::default());
        let now = unix_now();
        let (old, mut old_rx) = SocketHandle::new(4);
        let (soon, mut soon_rx) = SocketHandle::new(4);
        let (later, _later_rx) = SocketHandle::new(4);
        let _old = logins.hold(&Login::new("old".into(), now), &old);
        assert_eq!(old_rx.try_recv().err(), Some(Signal::LoggedOut), "at once");
        let _soon = logins.hold(&Login::new("soon".into(), now + 5), &soon);
        let later_hold = logins.hold(&Login::new("later".into(), now + 3600), &later);
        assert_eq!(
            logins.expire(now + 5),
            (vec!["later".to_owned()], Vec::new())
        );
        assert_eq!(soon_rx.try_recv().err(), Some(Signal::LoggedOut));
        drop(later_hold);
        assert!(logins.is_empty());
    }

    #[test]
    fn tokens_never_expire_and_are_checked_apart_from_sessions() {
        let logins = Arc::new(Logins::default());
        let now = unix_now();
        let (web, _web_rx) = SocketHandle::new(4);
        let (app, mut app_rx) = SocketHandle::new(4);
        let _web = logins.hold(&Login::new("cookie".into(), now + 60), &web);
        let _app = logins.hold(&Login::token("token".into()), &app);
        assert_eq!(
            logins.expire(now + 3600),
            (Vec::new(), vec!["token".to_owned()]),
            "the session expired, the token did not"
        );
        assert!(matches!(app_rx.try_recv(), Ok(None)));
        logins.ended("token");
        assert_eq!(app_rx.try_recv().err(), Some(Signal::LoggedOut));
    }
}
