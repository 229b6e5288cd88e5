//! Keys the server signs with, made at the first start (migration 0012).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use rand::RngCore;
use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// The 32-byte key named `name`, made now if there is none yet. Two
    /// nodes starting at once agree: the insert keeps whichever came first
    /// and both read that one back.
    pub async fn server_key(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(STANDARD.encode(fresh))
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        STANDARD
            .decode(row.try_get::<String, _>("value")?)
            .map_err(|e| StoreError::Corrupt(format!("server key {name}: {e}")))
    }
}
