//! SQLite: API and agent tokens, kept as SHA-256 only.

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

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT sha256, name, agent, at_ms, revoked_at_ms FROM api_tokens ORDER BY at_ms, sha256",
            )?;
            let rows = stmt.query_map([], |r| {
                let sha: String = r.get(0)?;
                Ok(TokenInfo {
                    id: sha.chars().take(12).collect(),
                    name: r.get(1)?,
                    agent: r.get(2)?,
                    created_at_ms: r.get(3)?,
                    revoked_at_ms: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    fn revoke_api_tokens(&self, name: &str, at_ms: i64) -> StoreResult<usize> {
        let by_hash = name.len() >= 8 && name.bytes().all(|b| b.is_ascii_hexdigit());
        let prefix = format!("{}%", name.to_ascii_lowercase());
        let conn = self.writer.lock().expect("writer lock");
        Ok(conn.execute(
            "UPDATE api_tokens SET revoked_at_ms = ?2
             WHERE agent IS NULL AND revoked_at_ms IS NULL
               AND (name = ?1 OR (?3 AND sha256 LIKE ?4))",
            params![name, at_ms, by_hash, prefix],
        )?)
    }

    fn token_count(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM api_tokens WHERE agent IS NULL AND revoked_at_ms IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }
}
