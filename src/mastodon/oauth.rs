//! OAuth 2 for Mastodon clients (docs/mastodon.md, "OAuth 2"): registering apps, the token
//! endpoint (authorization code with PKCE, password, client credentials), revocation and
//! the server's metadata. The login and consent page that hands out codes is a page of
//! the web surface (`web::authorize`).

use base64::Engine;
use poem::web::Data;
use poem::{handler, Body, Request, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::json;
use super::params::Params;
use crate::actions::login::password_is_theirs;
use crate::clock::unix_now;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{NewApp, OauthApp};

/// The redirect URI of clients that show the code to the user instead of receiving it.
pub const OUT_OF_BAND: &str = "urn:ietf:wg:oauth:2.0:oob";
/// Every scope a client may ask for, as the metadata lists them.
const SCOPES_SUPPORTED: [&str; 4] = ["read", "write", "follow", "push"];
/// Longest an app name, a website or a redirect URI may be.
const MAX_FIELD: usize = 2000;

/// `scope` (space- or `+`-separated, as forms and JSON send it) normalized to single
/// spaces; an empty one is `default`. A scope MiniTwit does not know is a 400.
pub fn parse_scopes(raw: Option<&str>, default: &str) -> AppResult<String> {
    let scopes: Vec<&str> = raw
        .unwrap_or("")
        .split(|c: char| c.is_whitespace() || c == '+' || c == ',')
        .filter(|s| !s.is_empty())
        .collect();
    if scopes.is_empty() {
        return Ok(default.to_owned());
    }
    for scope in &scopes {
        let top = scope.split(':').next().unwrap_or_default();
        let known = SCOPES_SUPPORTED.contains(scope)
            || (matches!(top, "read" | "write") && scope.len() > top.len() + 1);
        if !known {
            return Err(AppError::invalid(format!("The scope {scope} is not known")));
        }
    }
    let mut unique: Vec<&str> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !unique.contains(&scope) {
            unique.push(scope);
        }
    }
    Ok(unique.join(" "))
}

/// Whether every scope of `asked` is among `allowed` (a top-level scope allows its
/// sub-scopes).
pub fn scopes_within(asked: &str, allowed: &str) -> bool {
    asked.split_whitespace().all(|scope| {
        let top = scope.split(':').next().unwrap_or_default();
        allowed
            .split_whitespace()
            .any(|have| have == scope || have == top)
    })
}

/// `POST /api/v1/apps`: registers a client; the secret is in this answer only.
#[handler]
pub async fn create_app(req: &Request, body: Body, state: Data<&AppState>) -> AppResult<Response> {
    let params = Params::read(req, body).await?;
    let name = params.get("client_name").unwrap_or("").trim();
    if name.is_empty() {
        return Err(AppError::invalid("client_name is required"));
    }
    let redirect_uris: Vec<String> = params
        .list("redirect_uris")
        .iter()
        .flat_map(|raw| raw.split(['\n', ' ']))
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(str::to_owned)
        .collect();
    if redirect_uris.is_empty() {
        return Err(AppError::invalid("redirect_uris is required"));
    }
    for uri in &redirect_uris {
        if uri != OUT_OF_BAND && url::Url::parse(uri).is_err() {
            return Err(AppError::invalid("redirect_uris must be absolute URIs"));
        }
    }
    let website = params
        .get("website")
        .map(str::trim)
        .filter(|w| !w.is_empty());
    let too_long = name.len() > MAX_FIELD
        || website.is_some_and(|w| w.len() > MAX_FIELD)
        || redirect_uris.iter().any(|u| u.len() > MAX_FIELD);
    if too_long {
        return Err(AppError::invalid("a field is longer than 2000 bytes"));
    }
    let scopes = parse_scopes(params.get("scopes"), "read")?;
    let (app, secret) = state
        .store
        .create_app(NewApp {
            name,
            website,
            redirect_uris: &redirect_uris,
            scopes: &scopes,
        })
        .await?;
    Ok(json(&json!({
        "id": app.app_id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": scopes.split(' ').collect::<Vec<_>>(),
        "redirect_uri": redirect_uris.join("\n"),
        "redirect_uris": redirect_uris,
        "client_id": app.client_id,
        "client_secret": secret,
        "client_secret_expires_at": 0,
        "vapid_key": "",
    })))
}

/// An OAuth error answer: `{"error": code, "error_description": …}`.
fn oauth_error(status: u16, code: &str, description: &str) -> Response {
    Response::builder()
        .status(poem::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("application/json; charset=utf-8")
        .body(json!({"error": code, "error_description": description}).to_string())
}

fn invalid_client() -> Response {
    oauth_error(401, "invalid_client", "Client authentication failed")
}

fn invalid_grant() -> Response {
    oauth_error(
        400,
        "invalid_grant",
        "The provided authorization grant is invalid, expired, revoked, does not match the \
         redirection URI used in the authorization request, or was issued to another client.",
    )
}

/// The app `params` name with `client_id`, when `client_secret` is its secret.
async fn authenticated_app(state: &AppState, params: &Params) -> AppResult<Option<OauthApp>> {
    let (Some(client_id), Some(secret)) = (params.get("client_id"), params.get("client_secret"))
    else {
        return Ok(None);
    };
    Ok(state
        .store
        .app_by_client_id(client_id)
        .await?
        .filter(|app| app.secret_matches(secret)))
}

/// The token answer.
fn token_answer(token: &str, scopes: &str) -> Response {
    json(&json!({
        "access_token": token,
        "token_type": "Bearer",
        "scope": scopes,
        "created_at": unix_now(),
    }))
}

/// `POST /oauth/token`.
#[handler]
pub async fn issue_token(req: &Request, body: Body, state: Data<&AppState>) -> AppResult<Response> {
    let params = Params::read(req, body).await?;
    match params.get("grant_type").unwrap_or("") {
        "authorization_code" => code_grant(&state, &params).await,
        "password" => password_grant(&state, &params).await,
        "client_credentials" => {
            let Some(app) = authenticated_app(&state, &params).await? else {
                return Ok(invalid_client());
            };
            let scopes = parse_scopes(params.get("scope"), "read")?;
            if !scopes_within(&scopes, &app.scopes) {
                return Ok(oauth_error(
                    400,
                    "invalid_scope",
                    "The requested scope is invalid",
                ));
            }
            let token = state
                .store
                .create_token(Some(app.app_id), None, &scopes)
                .await?;
            Ok(token_answer(&token, &scopes))
        }
        _ => Ok(oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported",
        )),
    }
}

/// The authorization code grant: the code the consent page gave, for the client it was
/// given to and the redirect URI it was asked with; the PKCE verifier when it was asked
/// with a challenge, else the client secret.
async fn code_grant(state: &AppState, params: &Params) -> AppResult<Response> {
    let (Some(client_id), Some(code)) = (params.get("client_id"), params.get("code")) else {
        return Ok(invalid_grant());
    };
    let Some(app) = state.store.app_by_client_id(client_id).await? else {
        return Ok(invalid_client());
    };
    let Some(grant) = state.store.take_code(code).await? else {
        return Ok(invalid_grant());
    };
    let redirect_matches = params
        .get("redirect_uri")
        .is_none_or(|uri| uri == grant.redirect_uri);
    if grant.app_id != app.app_id || grant.expires_at < unix_now() || !redirect_matches {
        return Ok(invalid_grant());
    }
    let client_proven = match (&grant.challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => pkce_matches(challenge, verifier),
        (Some(_), None) => false,
        (None, _) => params
            .get("client_secret")
            .is_some_and(|secret| app.secret_matches(secret)),
    };
    if !client_proven {
        return Ok(invalid_grant());
    }
    let Some(user) = state.store.user_by_id(grant.user_id).await? else {
        return Ok(invalid_grant());
    };
    let token = state
        .store
        .create_token(Some(app.app_id), Some(&user), &grant.scopes)
        .await?;
    Ok(token_answer(&token, &grant.scopes))
}

/// Whether `verifier` hashes to the S256 `challenge` (RFC 7636).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let digest = Sha256::digest(verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
}

/// The password grant (a MiniTwit allowance for tools and tests): the app's credentials
/// and the user's, named by username or by an email that is theirs alone.
async fn password_grant(state: &AppState, params: &Params) -> AppResult<Response> {
    let Some(app) = authenticated_app(state, params).await? else {
        return Ok(invalid_client());
    };
    let scopes = parse_scopes(params.get("scope"), "read")?;
    if !scopes_within(&scopes, &app.scopes) {
        return Ok(oauth_error(
            400,
            "invalid_scope",
            "The requested scope is invalid",
        ));
    }
    let username = params.get("username").unwrap_or("");
    let password = params.get("password").unwrap_or("");
    // Mastodon names the user by email here (Mastodon.py's `log_in` asks for it).
    let user = match state.store.user_by_name(username).await? {
        Some(user) => Some(user),
        None => state.store.sole_user_with_email(username).await?,
    };
    let Some(user) = user else {
        return Ok(invalid_grant());
    };
    if !password_is_theirs(state, &user, password).await? {
        return Ok(invalid_grant());
    }
    let token = state
        .store
        .create_token(Some(app.app_id), Some(&user), &scopes)
        .await?;
    Ok(token_answer(&token, &scopes))
}

/// `POST /oauth/revoke`: the token stops working at once on every instance. Answers `{}`
/// whether or not the token was known (RFC 7009); a client that names itself must be
/// that token's client.
#[handler]
pub async fn revoke(req: &Request, body: Body, state: Data<&AppState>) -> AppResult<Response> {
    let params = Params::read(req, body).await?;
    let Some(token) = params.get("token") else {
        return Err(AppError::invalid("token is required"));
    };
    if params.get("client_id").is_some() {
        let app = authenticated_app(&state, &params).await?;
        let grant = state.store.token_grant(token).await?;
        if let (Some(grant), Some(app)) = (&grant, &app) {
            if grant.app_id != Some(app.app_id) {
                return Ok(oauth_error(
                    403,
                    "unauthorized_client",
                    "Not this client's token",
                ));
            }
        }
        if app.is_none() {
            return Ok(invalid_client());
        }
    }
    if let Some(grant) = state.store.token_grant(token).await? {
        state.store.revoke_token(token).await?;
        state.hub.logins().ended(&grant.key);
    }
    Ok(json(&json!({})))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[handler]
pub fn metadata(state: Data<&AppState>) -> Response {
    let base = &state.public_url;
    json(&json!({
        "issuer": format!("{base}/"),
        "service_documentation": format!("{base}/api/v1/openapi.json"),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_nest() {
        assert_eq!(
            parse_scopes(Some("read write+follow"), "read").expect("ok"),
            "read write follow"
        );
        assert_eq!(parse_scopes(None, "read").expect("ok"), "read");
        assert_eq!(
            parse_scopes(Some("read read:statuses"), "x").expect("ok"),
            "read read:statuses"
        );
        assert!(parse_scopes(Some("admin"), "read").is_err());
        assert!(parse_scopes(Some("read:"), "read").is_err());
        assert!(scopes_within(
            "read:statuses write",
            "read write follow push"
        ));
        assert!(!scopes_within("write", "read"));
    }

    #[test]
    fn pkce_s256_as_rfc_7636_appendix_b() {
        assert!(pkce_matches(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_matches(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "other"
        ));
    }
}
