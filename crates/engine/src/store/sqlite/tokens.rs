//! SQLite: aPI and agent tokens, kept as SHA-256 only.

use super::*;
use rusqlite::{OptionalExtension, params};

impl TokenStore for SqliteStore {
    fn add_token(&self, sha256_hex: &str, name: &str, at_ms: i64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO api_tokens (sha256, name, at_ms) VALUES (?1, ?2, ?3)",
            params![sha256_hex, name, at_ms],
        )?;
        Ok(())
    }

    fn token_exists(&self, sha256_hex: &str) -> StoreResult<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM api_tokens WHERE sha256 = ?1 AND agent IS NULL AND revoked_at_ms IS NULL",
                [sha256_hex],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n > 0)
    }

    fn add_agent_token(&self, sha256_hex: &str, agent: &str, at_ms: i64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO api_tokens (sha256, name, at_ms, agent) VALUES (?1, ?2, ?3, ?2)",
            params![sha256_hex, agent, at_ms],
        )?;
        Ok(())
    }

    fn agent_of_token(&self, sha256_hex: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row(
                "SELECT agent FROM api_tokens WHERE sha256 = ?1 AND agent IS NOT NULL AND revoked_at_ms IS NULL",
                [sha256_hex],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn revoke_agent_tokens(&self, agent: &str, at_ms: i64) -> StoreResult<usize> {
        let conn = self.writer.lock().expect("writer lock");
        Ok(conn.execute(
            "UPDATE api_tokens SET revoked_at_ms = ?2 WHERE agent = ?1 AND revoked_at_ms IS NULL",
            params![agent, at_ms],
        )?)
    }

    fn token_count(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM api_tokens WHERE agent IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }
}
