//! `/api/msgs` and `/api/msgs/{username}`: read timelines and post messages.

use bytes::Bytes;
use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};
use serde::{Deserialize, Serialize, Serializer};

use super::auth::{Path, Secured, Simulator};
use super::documented::{
    Changed, Failure, Json, JsonAnswer, JsonBody, LenientInt, ReadErrors, WriteErrors,
};
use super::latest::Latest;
use super::{count, State};
use crate::actions::posting::post_message;
use crate::error::AppResult;
use crate::store::{NewestPage, Rendering, TimelineScope, User};

/// One message as the simulator reads it (the documented shape; [`Messages`] writes it
/// from the rows).
#[derive(Serialize, Object)]
struct ApiMessage {
    content: String,
    /// Unix seconds.
    pub_date: i64,
    user: String,
}

/// An [`ApiMessage`] borrowed from a row, so a cached page is written without copying it.
#[derive(Serialize)]
struct ApiMessageRef<'a> {
    content: &'a str,
    pub_date: i64,
    user: &'a str,
}

/// A timeline page as the simulator reads it: newest first, written straight from the
/// store's rows.
struct Messages(Option<NewestPage>);

impl Serialize for Messages {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = self.0.as_deref().unwrap_or_default();
        serializer.collect_seq(rows.iter().map(|m| ApiMessageRef {
            content: &m.text,
            pub_date: m.pub_date,
            user: &m.username,
        }))
    }
}

impl JsonAnswer for Messages {
    type Doc = Vec<ApiMessage>;
    const DESCRIPTION: &'static str = "Newest first.";

    /// The keys, quotes and date take under 64 bytes a message; escapes rarely add more.
    fn size_hint(&self) -> usize {
        let rows = self.0.as_deref().unwrap_or_default();
        2 + rows
            .iter()
            .map(|m| m.text.len() + m.username.len() + 64)
            .sum::<usize>()
    }

    /// Written once per cached page (and length) for every reader of it.
    fn to_json(&self) -> serde_json::Result<Bytes> {
        let Some(page) = &self.0 else {
            return Ok(Bytes::from_static(b"[]"));
        };
        page.rendered(Rendering::SimulatorMessages, |_| {
            let mut body = Vec::with_capacity(self.size_hint());
            serde_json::to_writer(&mut body, self)?;
            Ok(Bytes::from(body))
        })
    }
}

/// The body of a new message: empty, over 1000 characters or with a control character other
/// than a line feed, carriage return or tab is a 400. A CRLF or lone CR is stored as LF.
#[derive(Deserialize, Object)]
struct PostBody {
    content: String,
}

/// The newest `no` messages of `scope` (none at all for `no=0`, without asking the store).
async fn newest(state: &State<'_>, scope: TimelineScope, no: LenientInt) -> AppResult<Messages> {
    let no = count(no);
    if no == 0 {
        return Ok(Messages(None));
    }
    Ok(Messages(Some(state.store.newest_page(scope, no).await?)))
}

pub struct MessagesApi;

#[OpenApi]
impl MessagesApi {
    /// Everyone's messages, newest first.
    #[oai(path = "/msgs", method = "get")]
    async fn public_messages(
        &self,
        state: State<'_>,
        _auth: Secured<Simulator>,
        /// How many (default 100; a value that is not an integer means 100).
        no: Query<LenientInt>,
        #[oai(name = "latest")] _recorded: Latest,
    ) -> Result<Json<Messages>, Failure<ReadErrors>> {
        Ok(Json(newest(&state, TimelineScope::Public, no.0).await?))
    }

    /// One user's messages, newest first.
    #[oai(path = "/msgs/:username", method = "get")]
    async fn user_messages(
        &self,
        state: State<'_>,
        _auth: Secured<Simulator>,
        username: Path<User>,
        /// How many (default 100; a value that is not an integer means 100).
        no: Query<LenientInt>,
        #[oai(name = "latest")] _recorded: Latest,
    ) -> Result<Json<Messages>, Failure<ReadErrors>> {
        let scope = TimelineScope::User(username.0.id);
        Ok(Json(newest(&state, scope, no.0).await?))
    }

    /// Posts a message as this user.
    #[oai(path = "/msgs/:username", method = "post")]
    async fn post_message(
        &self,
        state: State<'_>,
        _auth: Secured<Simulator>,
        username: Path<User>,
        latest: Latest,
        body: JsonBody<PostBody>,
    ) -> Result<Changed, Failure<WriteErrors>> {
        let Path(author) = username;
        let body = body.parse()?;
        let posted = post_message(&state, &author, &body.content, latest.value()).await;
        latest.committed(posted)?;
        Ok(Changed::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_message_is_written_as_the_documented_one() {
        let owned = ApiMessage {
            content: "hi \"there\" ✓".into(),
            pub_date: 1_700_000_000,
            user: "Roger Histand".into(),
        };
        let borrowed = ApiMessageRef {
            content: &owned.content,
            pub_date: owned.pub_date,
            user: &owned.user,
        };
        assert_eq!(
            serde_json::to_string(&owned).ok(),
            serde_json::to_string(&borrowed).ok()
        );
    }
}
