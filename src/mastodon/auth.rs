//! Who is calling the Mastodon-compatible API: the bearer token (an `Authorization`
//! header, or `access_token` in the query as streaming clients send it), what it grants,
//! and whether that covers what the call needs (docs/mastodon.md, "OAuth 2").

use poem::http::header::AUTHORIZATION;
use poem::Request;

use crate::error::{AppError, AppResult, Forbidden};
use crate::query::query_param;
use crate::state::AppState;
use crate::store::{Grant, User};

/// What a call needs a token's scopes to cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading timelines, accounts and statuses.
    Read,
    /// Posting and deleting statuses.
    Write,
    /// Following and unfollowing.
    Follow,
}

impl Need {
    /// Whether the space-separated `scopes` cover this need: a top-level scope covers its
    /// sub-scopes (`read` covers `read:statuses`), and `follow` is covered by `write`.
    pub fn allowed_by(self, scopes: &str) -> bool {
        scopes.split_whitespace().any(|scope| match self {
            Need::Read => scope == "read" || scope.starts_with("read:"),
            Need::Write => scope == "write" || scope == "write:statuses",
            Need::Follow => matches!(scope, "follow" | "write" | "write:follows"),
        })
    }
}

/// The token a request carries, if any: `Authorization: Bearer …`, else `?access_token=`.
pub fn bearer_token(req: &Request) -> Option<String> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    header
        .or_else(|| query_param(req, "access_token"))
        .filter(|t| !t.is_empty())
}

/// What the request's token grants; `None` without a token, 401 for a token that is not
/// (or no longer) valid.
pub async fn grant(req: &Request, state: &AppState) -> AppResult<Option<Grant>> {
    let Some(token) = bearer_token(req) else {
        return Ok(None);
    };
    match state.store.token_grant(&token).await? {
        Some(grant) => Ok(Some(grant)),
        None => Err(AppError::Unauthorized),
    }
}

/// The user of a token that covers `need`: 401 without a valid user token, 403 when its
/// scopes do not cover `need`.
pub async fn user(req: &Request, state: &AppState, need: Need) -> AppResult<(User, Grant)> {
    let grant = grant(req, state).await?.ok_or(AppError::Unauthorized)?;
    let Some(user) = grant.user.clone() else {
        // An app's own token acts for no user.
        return Err(AppError::Unauthorized);
    };
    if !need.allowed_by(&grant.scopes) {
        return Err(AppError::Forbidden(Forbidden::OutsideScopes));
    }
    Ok((user, grant))
}

/// The reader of a public read: nobody without a token; a given token must be valid and
/// cover `read`.
pub async fn optional_reader(req: &Request, state: &AppState) -> AppResult<Option<User>> {
    match grant(req, state).await? {
        None => Ok(None),
        Some(grant) if !Need::Read.allowed_by(&grant.scopes) => {
            Err(AppError::Forbidden(Forbidden::OutsideScopes))
        }
        Some(grant) => Ok(grant.user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_their_sub_scopes_and_nothing_else() {
        assert!(Need::Read.allowed_by("read write follow"));
        assert!(Need::Read.allowed_by("read:statuses"));
        assert!(!Need::Write.allowed_by("read"));
        assert!(!Need::Write.allowed_by("read follow push"));
        assert!(Need::Write.allowed_by("write:statuses"));
        assert!(Need::Follow.allowed_by("follow"));
        assert!(Need::Follow.allowed_by("write"));
        assert!(!Need::Follow.allowed_by("read push"));
        assert!(!Need::Read.allowed_by(""));
    }
}
