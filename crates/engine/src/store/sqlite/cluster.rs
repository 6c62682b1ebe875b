//! A SQLite store serves one server: it is the only member and holds every lease (kept in
//! memory, for /api/v1/cluster).

use super::*;

impl ClusterStore for SqliteStore {
    fn shared(&self) -> bool {
        false
    }

    fn heartbeat(&self, me: &Member, _ttl_ms: i64) -> StoreResult<Vec<Member>> {
        let mut me = me.clone();
        me.heartbeat_at_ms = jiff::Timestamp::now().as_millisecond();
        Ok(vec![me])
    }

    fn leave(&self, _name: &str, _instance: &str) -> StoreResult<()> {
        Ok(())
    }

    fn lease(
        &self,
        job: &str,
        holder: &str,
        instance: &str,
        ttl_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let mut leases = self.leases.lock().expect("leases lock");
        let expires_at_ms = jiff::Timestamp::now().as_millisecond() + ttl_ms;
        leases.insert(
            job.to_string(),
            Lease {
                job: job.to_string(),
                holder: holder.to_string(),
                instance: instance.to_string(),
                epoch: 1,
                expires_at_ms,
            },
        );
        Ok(Some(1))
    }

    fn release(&self, job: &str, instance: &str) -> StoreResult<()> {
        let mut leases = self.leases.lock().expect("leases lock");
        if leases.get(job).is_some_and(|l| l.instance == instance) {
            leases.remove(job);
        }
        Ok(())
    }

    fn leases(&self) -> StoreResult<Vec<Lease>> {
        Ok(self
            .leases
            .lock()
            .expect("leases lock")
            .values()
            .cloned()
            .collect())
    }
}
