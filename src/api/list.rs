//! Listing: `GET /v2/{project_id}/instances`, every page, put together and checked.
//!
//! The first page gives `instance_num`; the other pages are then read concurrently and put
//! together in offset order. The listing is bounded whatever the server says: never more pages
//! than `instance_num` implies, never more than [`MAX_PAGES`], and a server that ignores
//! `offset` (the same page again) is caught at the second page. No memory is reserved from
//! the server's word.

use std::collections::HashSet;

use futures_util::StreamExt;
use tracing::{debug, warn};

use super::LIST_LIMIT;
use super::client::Client;
use super::wire::{self, ListResponse};
use crate::error::{Error, Result};
use crate::model::Instance;

/// The most pages one listing reads: 1,000 pages of [`LIST_LIMIT`] = 1,000,000 instances. A
/// server claiming more, or still sending full pages after that many, fails the listing.
pub const MAX_PAGES: usize = 1000;

/// The most instances a listing can hold: [`MAX_PAGES`] full pages.
pub const MAX_INSTANCES: usize = MAX_PAGES * LIST_LIMIT;

/// An inconsistency worth reading the listing again for.
type Inconsistent = String;

/// Whether `page` holds exactly the instances of `previous` (a server ignoring `offset`).
fn repeats(previous: &[Instance], page: &[Instance]) -> bool {
    if page.is_empty() || page.len() != previous.len() {
        return false;
    }
    let before: HashSet<&str> = previous.iter().map(|i| i.id.as_str()).collect();
    page.iter().all(|i| before.contains(i.id.as_str()))
}

impl Client {
    /// Reads one page of the listing and parses it into compact [`Instance`]s as soon as it
    /// has arrived; the raw body is dropped before this returns.
    async fn list_page(&self, offset: usize) -> Result<ListResponse> {
        let query = vec![
            ("include_failure".to_owned(), "true".to_owned()),
            ("limit".to_owned(), LIST_LIMIT.to_string()),
            ("offset".to_owned(), offset.to_string()),
        ];
        let path = self.instances_path();
        let (url, answer) = self
            .send_with_retry(reqwest::Method::GET, &path, &query, None)
            .await?;
        let (url, answer) = self.check("GET", url, answer, "dcs:instance:list")?;
        // Parsed on a blocking thread: pages arriving together (several targets, concurrent
        // paging) are read on every core, not one after another on the runtime's thread.
        let body = answer.body.clone();
        let parsed = tokio::task::spawn_blocking(move || wire::parse_list(&body))
            .await
            .map_err(|e| Error::Internal(format!("parsing a listing page stopped: {e}")))?;
        let mut page = parsed.map_err(|e| {
            self.decode_error(
                "GET",
                &url,
                &answer,
                &format!("{e} (the page at offset {offset})"),
            )
        })?;
        // What the server says of its instances is server text too: never a secret printed.
        for i in &mut page.instances {
            for field in [&mut i.name, &mut i.status] {
                self.redactor.scrub_field(field);
            }
            if let Some(field) = &mut i.created_at {
                self.redactor.scrub_field(field);
            }
            for field in [&mut i.spec_code, &mut i.enterprise_project_id]
                .into_iter()
                .flatten()
            {
                self.redactor.scrub_shared(field);
            }
            for (k, v) in &mut i.tags {
                self.redactor.scrub_field(k);
                self.redactor.scrub_field(v);
            }
        }
        Ok(page)
    }

    /// Lists every instance of the project (`limit=1000`, `include_failure=true`),
    /// de-duplicated by id.
    ///
    /// N instances take exactly ceil(N/1000) requests (one when N <= 1000) in about two round
    /// trips. A listing whose pages do not add up to `instance_num` is read again; if it still
    /// does not add up, this fails rather than return a partial view. A listing that cannot be
    /// bounded (see the module) fails at once with [`Error::Listing`].
    pub async fn list_instances(&self) -> Result<Vec<Instance>> {
        const ATTEMPTS: usize = 3;
        let mut last_problem = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.list_once().await? {
                Ok(all) => return Ok(all),
                Err(problem) => {
                    warn!(attempt, "listing inconsistent, reading it again: {problem}");
                    last_problem = problem;
                }
            }
        }
        Err(Error::Listing(format!(
            "GET {}: the listing stayed inconsistent after {ATTEMPTS} attempts ({last_problem}); \
             refusing to plan on a partial view of the project",
            self.url(&self.instances_path(), "")
        )))
    }

    /// A listing error that no second reading can fix.
    fn unbounded(&self, why: String) -> Error {
        Error::Listing(format!(
            "GET {}: {why}; refusing to plan on a listing that cannot be bounded",
            self.url(&self.instances_path(), "")
        ))
    }

    /// One pass over all pages. The inner `Err` describes an inconsistency.
    async fn list_once(&self) -> Result<std::result::Result<Vec<Instance>, Inconsistent>> {
        let first = self.list_page(0).await?;
        let Some(total) = first.instance_num else {
            // Without a total the number of pages is unknown: read on until a short page.
            return self.list_rest_sequentially(first).await;
        };
        let total_usize = usize::try_from(total).unwrap_or(usize::MAX);
        if total_usize > MAX_INSTANCES {
            return Err(self.unbounded(format!(
                "instance_num is {total}, more than the {MAX_INSTANCES} instances ({MAX_PAGES} \
                 pages of {LIST_LIMIT}) this tool lists"
            )));
        }
        let mut all = first.instances;
        let mut previous_len = all.len();
        // An empty first page ends the listing (the count check below then decides).
        let offsets = if previous_len == 0 {
            0..0
        } else {
            LIST_LIMIT..total_usize
        };
        // Unordered, then taken in offset order: a slow page holds only its own slot (with
        // `buffered`, the pages after it would keep theirs until it arrived, and no new page
        // would start meanwhile). Every page, and every error, is still looked at in order.
        let mut pages = futures_util::stream::iter(offsets.step_by(LIST_LIMIT))
            .map(|offset| async move { (offset, self.list_page(offset).await) })
            .buffer_unordered(self.concurrency);
        let mut arrived = std::collections::BTreeMap::new();
        let mut next = LIST_LIMIT;
        loop {
            let (offset, page) = match arrived.remove(&next) {
                Some(page) => (next, page),
                None => match pages.next().await {
                    Some((offset, page)) => {
                        arrived.insert(offset, page);
                        continue;
                    }
                    None => break,
                },
            };
            next = next.saturating_add(LIST_LIMIT);
            let page = page?;
            if let Some(n) = page.instance_num
                && n != total
            {
                return Ok(Err(format!(
                    "instance_num changed from {total} to {n} between pages"
                )));
            }
            if page.instances.is_empty() {
                // Pages past this one would be empty too: stop reading them.
                return Ok(Err(format!(
                    "instance_num is {total} but the page at offset {offset} is empty"
                )));
            }
            let start = all.len().saturating_sub(previous_len);
            if repeats(&all[start..], &page.instances) {
                return Err(self.offset_ignored(offset, page.instances.len()));
            }
            previous_len = page.instances.len();
            all.extend(page.instances);
        }
        drop(pages);
        dedup_by_id(&mut all);
        // The capacity grew by doubling: give back what the listing does not fill.
        all.shrink_to_fit();
        if all.len() as u64 != total {
            return Ok(Err(format!(
                "instance_num is {total} but the pages held {} distinct instances",
                all.len()
            )));
        }
        Ok(Ok(all))
    }

    fn offset_ignored(&self, offset: usize, n: usize) -> Error {
        self.unbounded(format!(
            "the page at offset {offset} holds the same {n} instances as the page before it: \
             the server ignores `offset`"
        ))
    }

    /// The listing when the first page carries no `instance_num`: the next pages one by one,
    /// until a page holds fewer than `LIST_LIMIT` instances, at most [`MAX_PAGES`] in all.
    async fn list_rest_sequentially(
        &self,
        first: ListResponse,
    ) -> Result<std::result::Result<Vec<Instance>, Inconsistent>> {
        let mut all = first.instances;
        let mut count = all.len();
        let mut offset = 0;
        let mut pages = 1;
        while count == LIST_LIMIT {
            if pages >= MAX_PAGES {
                return Err(self.unbounded(format!(
                    "the answers carry no instance_num and the pages are still full after \
                     {MAX_PAGES} pages ({MAX_INSTANCES} instances, the most this tool lists)"
                )));
            }
            offset += LIST_LIMIT;
            pages += 1;
            let page = self.list_page(offset).await?;
            let start = all.len().saturating_sub(count);
            if repeats(&all[start..], &page.instances) {
                return Err(self.offset_ignored(offset, page.instances.len()));
            }
            count = page.instances.len();
            all.extend(page.instances);
        }
        dedup_by_id(&mut all);
        all.shrink_to_fit();
        Ok(Ok(all))
    }
}

/// Drops every instance whose id came earlier in `all`, keeping the first occurrence and the
/// order. Ids are borrowed, not copied, while looking for repeats.
fn dedup_by_id(all: &mut Vec<Instance>) {
    let repeats: HashSet<usize> = {
        let mut seen: HashSet<&str> = HashSet::with_capacity(all.len());
        all.iter()
            .enumerate()
            .filter(|(_, i)| !seen.insert(i.id.as_str()))
            .map(|(n, _)| n)
            .collect()
    };
    if repeats.is_empty() {
        return;
    }
    debug!(
        repeats = repeats.len(),
        "dropping repeated instances from the listing"
    );
    let mut n = 0;
    all.retain(|_| {
        let keep = !repeats.contains(&n);
        n += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, name: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            ..Instance::default()
        }
    }

    #[test]
    fn repeated_ids_keep_their_first_occurrence_and_the_order() {
        let mut all = vec![
            inst("a", "1"),
            inst("b", "2"),
            inst("a", "3"),
            inst("c", "4"),
            inst("b", "5"),
        ];
        dedup_by_id(&mut all);
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["1", "2", "4"]);
        let mut none = vec![inst("x", "1"), inst("y", "2")];
        dedup_by_id(&mut none);
        assert_eq!(none.len(), 2);
    }

    #[test]
    fn a_page_repeating_the_previous_one_is_recognised_in_any_order() {
        let a = [inst("a", ""), inst("b", "")];
        assert!(repeats(&a, &[inst("b", ""), inst("a", "")]));
        assert!(!repeats(&a, &[inst("b", ""), inst("c", "")]));
        assert!(!repeats(&a, &[inst("a", "")]));
        assert!(!repeats(&[], &[]));
    }
}
