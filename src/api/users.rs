//! `/api/v1/me` and `/api/v1/tokens` (one's own personal API tokens; every user) and
//! `/api/v1/users` (user management: admins and the bootstrap token).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, routes, Route, State};
use serde::Serialize;

use super::{body, Body, Caller, Staff};
use crate::actions::accounts::{CreatedUser, NewUser};
use crate::domain::account::Role;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::TokenId;
use crate::http::state::AppState;
use crate::store::user::{ApiToken, IssuedToken, TokenInput, User, UserView};

pub fn routes() -> Vec<Route> {
    routes![
        me,
        list_tokens,
        issue_token,
        revoke_token,
        list_users,
        create_user
    ]
}

/// Who the caller is.
#[derive(Debug, Serialize)]
struct Me {
    actor: String,
    auth_method: String,
    admin: bool,
    /// `None` for the bootstrap staff token.
    user: Option<UserView>,
}

/// Who the caller is; open to every authenticated caller.
#[get("/api/v1/me")]
async fn me(caller: Caller, state: &State<AppState>) -> AppResult<Json<Me>> {
    let user = match caller.user_id.clone() {
        Some(id) => Some(
            state
                .db
                .read(move |conn| User::find(conn, &id)?.view())
                .await?,
        ),
        None => None,
    };
    Ok(Json(Me {
        admin: caller.role.is_none_or(|r| r == Role::Admin),
        actor: caller.actor,
        auth_method: caller.auth_method,
        user,
    }))
}

fn own_user(caller: &Caller) -> AppResult<String> {
    caller.user_id.clone().ok_or_else(|| {
        AppError::new(ErrorKind::Bootstrap, "Das Bootstrap-Staff-Token hat keine eigenen Tokens: legen Sie einen Benutzer an (nachnutzung user add) und geben Sie ihm ein Token.",
        )
    })
}

#[get("/api/v1/tokens")]
async fn list_tokens(caller: Caller, state: &State<AppState>) -> AppResult<Json<Vec<ApiToken>>> {
    let user_id = own_user(&caller)?;
    Ok(Json(
        state
            .db
            .read(move |conn| ApiToken::of_user(conn, &user_id))
            .await?,
    ))
}

/// A new personal token; its secret is in this answer only.
#[post("/api/v1/tokens", data = "<input>")]
async fn issue_token(
    caller: Caller,
    state: &State<AppState>,
    input: Body<'_, TokenInput>,
) -> AppResult<(Status, Json<IssuedToken>)> {
    let user_id = own_user(&caller)?;
    let input = body(input)?;
    let issued = state
        .db
        .write(move |conn| {
            let user = User::find(conn, &user_id)?;
            ApiToken::issue(conn, &user, &input)
        })
        .await?;
    Ok((Status::Created, Json(issued)))
}

#[delete("/api/v1/tokens/<id>")]
async fn revoke_token(
    caller: Caller,
    state: &State<AppState>,
    id: Result<TokenId, AppError>,
) -> AppResult<Status> {
    let user_id = own_user(&caller)?;
    let id = id?;
    state
        .db
        .write(move |conn| ApiToken::revoke(conn, &user_id, &id))
        .await?;
    Ok(Status::NoContent)
}

#[get("/api/v1/users")]
async fn list_users(staff: Staff, state: &State<AppState>) -> AppResult<Json<Vec<UserView>>> {
    staff.require_admin()?;
    Ok(Json(state.db.read(User::list).await?))
}

/// A new user with an initial password (in this answer only), to be changed at first
/// login.
#[post("/api/v1/users", data = "<input>")]
async fn create_user(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, NewUser>,
) -> AppResult<(Status, Json<CreatedUser>)> {
    staff.require_admin()?;
    let input = body(input)?;
    let created = state
        .db
        .write(move |conn| input.create(conn, &staff.actor))
        .await?;
    Ok((Status::Created, Json(created)))
}
