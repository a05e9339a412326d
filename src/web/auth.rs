//! `/login`, `/register` and `/logout`: the classic forms, their error texts and flashes.
//! Their rate limits are declared on the router (`web::routes`).

use poem::session::Session;
use poem::web::Data;
use poem::{handler, Body, Response};

use super::extract::MaybeSessionUser;
use super::form::Form;
use super::session::{flash, log_in, log_out, redirect};
use super::{html, page_context};
use crate::actions::login::{check_password, LoginRefused};
use crate::actions::registration::{register_user, Registration};
use crate::error::AppError;
use crate::error::AppResult;
use crate::state::AppState;

#[handler]
pub async fn login_form(
    session: &Session,
    MaybeSessionUser(reader): MaybeSessionUser,
) -> AppResult<Response> {
    if reader.is_some() {
        return Ok(redirect("/"));
    }
    login_page(session, "", None)
}

/// `POST /login`: `Invalid username` / `Invalid password` on the form, else a fresh session.
#[handler]
pub async fn login(
    state: Data<&AppState>,
    session: &Session,
    MaybeSessionUser(reader): MaybeSessionUser,
    body: Body,
) -> AppResult<Response> {
    if reader.is_some() {
        return Ok(redirect("/"));
    }
    let form = Form::read(body).await?;
    let username = form.get("username");
    let user = match check_password(&state, username, form.get("password")).await? {
        Ok(user) => user,
        Err(LoginRefused::UnknownUser) => {
            return login_page(session, username, Some("Invalid username"))
        }
        Err(LoginRefused::WrongPassword) => {
            return login_page(session, username, Some("Invalid password"))
        }
    };
    log_in(&state, session, user.id).await?;
    flash(session, "You were logged in");
    Ok(redirect("/"))
}

fn login_page(session: &Session, username: &str, error: Option<&str>) -> AppResult<Response> {
    let mut ctx = page_context(None, session);
    ctx.insert("username", username);
    ctx.insert("error", &error);
    html("login.html", &ctx)
}

#[handler]
pub async fn register_form(
    session: &Session,
    MaybeSessionUser(reader): MaybeSessionUser,
) -> AppResult<Response> {
    if reader.is_some() {
        return Ok(redirect("/"));
    }
    register_page(session, &Form::empty(), None)
}

/// `POST /register`: the API's rules and texts (one code path), plus the repeated password.
#[handler]
pub async fn register(
    state: Data<&AppState>,
    session: &Session,
    MaybeSessionUser(reader): MaybeSessionUser,
    body: Body,
) -> AppResult<Response> {
    if reader.is_some() {
        return Ok(redirect("/"));
    }
    let form = Form::read(body).await?;
    let registration = Registration {
        username: form.get("username"),
        email: form.get("email"),
        password: form.get("password"),
        password_repeat: Some(form.get("password2")),
    };
    match register_user(&state, registration, None).await {
        Ok(_) => {
            flash(
                session,
                "You were successfully registered and can login now",
            );
            Ok(redirect("/login"))
        }
        // A broken rule is shown on the form, as the classic app does; anything else is an
        // error page.
        Err(AppError::Invalid(message)) => register_page(session, &form, Some(&message)),
        Err(e) => Err(e),
    }
}

fn register_page(session: &Session, form: &Form, error: Option<&str>) -> AppResult<Response> {
    let mut ctx = page_context(None, session);
    ctx.insert("username", form.get("username"));
    ctx.insert("email", form.get("email"));
    ctx.insert("error", &error);
    html("register.html", &ctx)
}

/// `GET /logout`: ends the session on the server, then says so on the public timeline.
#[handler]
pub async fn logout(state: Data<&AppState>, session: &Session) -> AppResult<Response> {
    log_out(&state, session).await?;
    flash(session, "You were logged out");
    Ok(redirect("/public"))
}
