//! `/oauth/authorize`: the login and consent page of the Mastodon-compatible API's OAuth
//! (docs/mastodon.md, "OAuth 2"). It checks the app's request, asks the visitor to sign
//! in (or uses their session) and to allow the scopes, then hands the app a one-time code
//! by redirecting to its `redirect_uri` (or shows the code, for out-of-band clients).

use poem::http::header::CONTENT_SECURITY_POLICY;
use poem::session::Session;
use poem::web::Data;
use poem::{handler, Body, Request, Response};

use super::extract::MaybeSessionUser;
use super::form::Form;
use super::session::{log_in, redirect};
use super::{html, page_context};
use crate::actions::login::check_password;
use crate::browser_policy::PAGE_POLICY;
use crate::clock::unix_now;
use crate::error::{AppError, AppResult};
use crate::mastodon::{parse_scopes, scopes_within, OUT_OF_BAND};
use crate::state::AppState;
use crate::store::{AuthorizationCode, OauthApp, User};

/// How long a code may wait to be exchanged.
const CODE_LIFETIME_SECS: i64 = 600;

/// What an app asks for, checked against what it registered.
struct AuthorizeRequest {
    app: OauthApp,
    redirect_uri: String,
    scopes: String,
    state: String,
    challenge: Option<String>,
}

/// Reads and checks the request's fields (`get` reads the query or the form): a known
/// client, one of its redirect URIs, scopes it registered, `code` as the response type,
/// and S256 for a PKCE challenge. Anything wrong is a 400 page: with an unchecked
/// redirect URI there is nowhere safe to send the visitor.
async fn checked_request(
    state: &AppState,
    get: impl Fn(&str) -> String,
    response_type_required: bool,
) -> AppResult<AuthorizeRequest> {
    if response_type_required && get("response_type") != "code" {
        return Err(AppError::invalid("response_type must be code"));
    }
    let app = state
        .store
        .app_by_client_id(&get("client_id"))
        .await?
        .ok_or_else(|| AppError::invalid("Unknown client_id"))?;
    let asked_uri = get("redirect_uri");
    let redirect_uri = match (asked_uri.as_str(), app.redirect_uris.as_slice()) {
        ("", [only]) => only.clone(),
        (asked, registered) if registered.iter().any(|r| r == asked) => asked.to_owned(),
        _ => {
            return Err(AppError::invalid(
                "redirect_uri is not one the app registered",
            ))
        }
    };
    let scope = get("scope");
    let scopes = parse_scopes(Some(&scope), "read")?;
    if !scopes_within(&scopes, &app.scopes) {
        return Err(AppError::invalid("The app did not register these scopes"));
    }
    let challenge = Some(get("code_challenge")).filter(|c| !c.is_empty());
    if challenge.is_some() && get("code_challenge_method") != "S256" {
        return Err(AppError::invalid("code_challenge_method must be S256"));
    }
    Ok(AuthorizeRequest {
        app,
        redirect_uri,
        scopes,
        state: get("state"),
        challenge,
    })
}

/// The consent page, allowed to send its form on to the app's redirect URI.
fn consent_page(
    session: &Session,
    request: &AuthorizeRequest,
    visitor: Option<&User>,
    username: &str,
    error: Option<&str>,
) -> AppResult<Response> {
    let mut ctx = page_context(visitor, session);
    ctx.insert("app_name", &request.app.name);
    ctx.insert("client_id", &request.app.client_id);
    ctx.insert("redirect_uri", &request.redirect_uri);
    ctx.insert("scopes", &request.scopes);
    ctx.insert("state", &request.state);
    ctx.insert("code_challenge", request.challenge.as_deref().unwrap_or(""));
    ctx.insert(
        "code_challenge_method",
        if request.challenge.is_some() {
            "S256"
        } else {
            ""
        },
    );
    ctx.insert("signed_in_as", &visitor.map(|u| u.username.as_str()));
    ctx.insert("username", username);
    ctx.insert("error", &error);
    let mut res = html("authorize.html", &ctx)?;
    // The form's answer redirects to the app: a browser checks that redirect against
    // `form-action` too.
    let policy = PAGE_POLICY.replace(
        "form-action 'self'",
        &format!(
            "form-action 'self' {}",
            redirect_source(&request.redirect_uri)
        ),
    );
    if let Ok(value) = policy.parse() {
        res.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
    Ok(res)
}

/// The CSP source that allows `uri`: its origin, or its scheme for an app's own scheme.
fn redirect_source(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url.origin().ascii_serialization(),
        Ok(url) => format!("{}:", url.scheme()),
        Err(_) => String::new(),
    }
}

/// `GET /oauth/authorize`.
#[handler]
pub async fn authorize_page(
    req: &Request,
    session: &Session,
    state: Data<&AppState>,
    MaybeSessionUser(visitor): MaybeSessionUser,
) -> AppResult<Response> {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let request = checked_request(&state, get, true).await?;
    consent_page(session, &request, visitor.as_ref(), "", None)
}

/// `redirect_uri` with `params` added to its query.
fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return redirect_uri.to_owned(),
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in params {
            if !value.is_empty() {
                pairs.append_pair(name, value);
            }
        }
    }
    url.to_string()
}

/// `POST /oauth/authorize`: the visitor's answer. Signs them in first if the form carried
/// their credentials; then a code for the app, or `access_denied`.
#[handler]
pub async fn authorize(
    session: &Session,
    state: Data<&AppState>,
    MaybeSessionUser(visitor): MaybeSessionUser,
    body: Body,
) -> AppResult<Response> {
    let form = Form::read(body).await?;
    let request = checked_request(&state, |name| form.get(name).to_owned(), false).await?;
    if form.get("decision") == "Deny" {
        let target = with_query(
            &request.redirect_uri,
            &[("error", "access_denied"), ("state", &request.state)],
        );
        return Ok(redirect(&target));
    }
    let user = match visitor {
        Some(user) => user,
        None => {
            let username = form.get("username");
            match check_password(&state, username, form.get("password")).await? {
                Ok(user) => {
                    log_in(&state, session, user.id).await?;
                    user
                }
                Err(_) => {
                    let error = Some("Invalid username or password");
                    return consent_page(session, &request, None, username, error);
                }
            }
        }
    };
    let code = state
        .store
        .create_code(AuthorizationCode {
            app_id: request.app.app_id,
            user_id: user.id,
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes.clone(),
            challenge: request.challenge.clone(),
            expires_at: unix_now() + CODE_LIFETIME_SECS,
        })
        .await?;
    if request.redirect_uri == OUT_OF_BAND {
        let mut ctx = page_context(Some(&user), session);
        ctx.insert("app_name", &request.app.name);
        ctx.insert("code", &code);
        return html("authorized.html", &ctx);
    }
    let target = with_query(
        &request.redirect_uri,
        &[("code", &code), ("state", &request.state)],
    );
    Ok(redirect(&target))
}
