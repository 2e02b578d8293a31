//! Personal API tokens: issued once (only the hash is kept), authenticated, listed and
//! revoked.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use super::*;
use crate::db::schema::{api_tokens, users};
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::error::{AppError, AppResult};
use crate::store::{new_id, now};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    #[serde(with = "crate::store::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "crate::store::ts::option")]
    pub revoked_at: Option<PrimitiveDateTime>,
}

/// A new token with its secret, which is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: ApiToken,
    pub secret: String,
}

/// Prefix of every personal API token.
pub const TOKEN_PREFIX: &str = "nnr_";

/// SHA-256 of a secret as stored (API tokens, calendar feed secrets).
pub(crate) fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `POST /api/v1/tokens` and `nachnutzung user token`: the new token's name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
}

impl Inspect for TokenInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("name", Kind::Name, &mut self.name);
    }
}

impl ApiToken {
    /// Issues a token for `user`.
    pub fn issue(
        conn: &mut DbConn,
        user: &User,
        input: &Checked<TokenInput>,
    ) -> AppResult<IssuedToken> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::field(
                "name",
                "Bitte das Token benennen (höchstens 100 Zeichen), z. B. „Skript Fachverfahren“.",
            ));
        }
        if user.disabled {
            return Err(AppError::forbidden(format!("{} ist gesperrt.", user.email)));
        }
        let secret = format!("{TOKEN_PREFIX}{}", crate::store::random_hex(32));
        let token = ApiToken {
            id: new_id(),
            user_id: user.id.clone(),
            name: name.to_string(),
            token_hash: token_hash(&secret),
            created_at: now(),
            revoked_at: None,
        };
        diesel::insert_into(api_tokens::table)
            .values(&token)
            .execute(conn)?;
        Ok(IssuedToken { token, secret })
    }

    /// The active user behind a presented token, if any.
    pub fn authenticate(conn: &mut DbConn, secret: &str) -> AppResult<Option<(ApiToken, User)>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let found: Option<(ApiToken, User)> = api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(token_hash(secret)))
            .filter(api_tokens::revoked_at.is_null())
            .filter(users::disabled.eq(false))
            .select((ApiToken::as_select(), User::as_select()))
            .first(conn)
            .optional()?;
        Ok(found)
    }

    pub fn of_user(conn: &mut DbConn, user_id: &str) -> AppResult<Vec<ApiToken>> {
        Ok(api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .select(ApiToken::as_select())
            .order(api_tokens::created_at)
            .load(conn)?)
    }

    /// Revokes one of `user_id`'s tokens (another user's token is "not found").
    pub fn revoke(conn: &mut DbConn, user_id: &str, id: &str) -> AppResult<()> {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq(id))
                .filter(api_tokens::user_id.eq(user_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::not_found(
                "Dieses Token gibt es nicht (oder es ist schon widerrufen).",
            ));
        }
        Ok(())
    }
}
