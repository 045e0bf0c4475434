//! List pages in both wire forms, assembled from the records' pre-encoded bytes.

use std::cmp::Ordering;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use referrals_fixtures::synthetic;
use serde_json::{Map, Value};

use super::continuation::{Continuation, Cursor, Form};
use super::query::{self, ListQuery, Selection, encode_value};
use super::response::Reply;
use super::store::{Record, Records, Store, encode};
use super::time::Instant;

/// Changes a list fault makes to the page.
#[derive(Debug, Default)]
pub(crate) struct ListFaults {
    /// No items, but a continuation to where the page would have started.
    pub(crate) empty_page: bool,
    /// The continuation asks for this same page again.
    pub(crate) repeat_token: bool,
    /// Origin (`scheme://host[:port]`) of the next link instead of the simulator's.
    pub(crate) next_origin: Option<String>,
    /// Leave out the comma between the first two items (or the final brace).
    pub(crate) invalid_json: bool,
    /// Answer as if the request had no `$filter`.
    pub(crate) ignore_filter: bool,
    /// Answer as a service of the 2018 form only: every `$` option ignored.
    pub(crate) classic_only: bool,
    /// Serve the referral with this id with this top-level field set to the number 7.
    pub(crate) mistyped: Option<(String, String)>,
}

/// `raw_query` without the parameters whose (decoded) name `drop` accepts.
fn without(raw_query: &str, drop: impl Fn(&str) -> bool) -> String {
    raw_query
        .split('&')
        .filter(|param| {
            let name = param.split('=').next().unwrap_or("");
            !drop(&percent_encoding::percent_decode_str(name).decode_utf8_lossy())
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET …/referrals` in either form.
pub(crate) fn list(
    store: &Store,
    raw_query: &str,
    headers: &HeaderMap,
    faults: &ListFaults,
) -> Reply {
    let listing = store.listing();
    let rewritten;
    let raw_query = if faults.classic_only {
        rewritten = without(raw_query, |name| name.starts_with('$'));
        rewritten.as_str()
    } else if faults.ignore_filter {
        rewritten = without(raw_query, |name| name == "$filter");
        rewritten.as_str()
    } else {
        raw_query
    };
    let query = match query::parse(
        raw_query,
        headers,
        listing.default_page_size,
        &listing.token_key,
    ) {
        Ok(query) => query,
        Err(reply) => return reply,
    };

    let (total, start, page) = {
        let records = store.read();
        let positions = positions(store, &records, &query);
        let total = positions.as_ref().map_or(records.len(), |p| p.len());
        // A `$top` total ends the listing at a position of the result set (the first request's
        // `$skip` + `$top`); the client counts it too.
        let limit = listing_end(&query, total);
        let start = match &query.after {
            None => query.offset.min(limit),
            Some(cursor) => first_after(
                &records,
                positions.as_deref().map(Vec::as_slice),
                &query,
                cursor,
            ),
        }
        .min(limit);
        let end = start.saturating_add(query.page_size).min(limit);
        let page: Vec<Arc<Record>> = if faults.empty_page {
            Vec::new()
        } else {
            match &positions {
                None => records.records()[start..end].to_vec(),
                Some(p) => p[start..end]
                    .iter()
                    .filter_map(|&i| records.records().get(i as usize).cloned())
                    .collect(),
            }
        };
        (total, start, page)
    };

    // The next page starts after the last item served (or where this one started, for the
    // faults that make the client ask again).
    let next = if faults.empty_page || faults.repeat_token {
        Some((query.offset, query.after.clone()))
    } else {
        let end = start.saturating_add(query.page_size);
        let after = page.last().map(|record| cursor_of(record, &query));
        (end < listing_end(&query, total)).then_some((end, after))
    };
    let next_token = next.map(|(offset, after)| {
        let page = if faults.repeat_token {
            query.page
        } else {
            query.page + 1
        };
        Continuation {
            form: query.form,
            offset,
            after,
            page,
            page_size: query.page_size,
            end: query.end,
            key: query.key.clone(),
        }
        .encode(&listing.token_key)
    });

    let items = items(&page, query.selection.select(), faults);
    let mut body = Vec::with_capacity(items.len() + 1024);
    match query.form {
        Form::Classic => {
            body.extend_from_slice(format!("{{\"totalCount\":{total},\"items\":").as_bytes());
            body.extend_from_slice(&items);
            if let Some(token) = next_token {
                let uri = match &faults.next_origin {
                    Some(origin) => format!("{origin}/v1.0/engagements/referrals?api-version=v1.0"),
                    None => "/referrals?api-version=v1.0".to_owned(),
                };
                body.extend_from_slice(b",\"links\":");
                body.extend_from_slice(&encode(&synthetic::classic_next_links(&uri, &token)));
            }
            body.extend_from_slice(b",\"attributes\":{\"objectType\":\"Collection\"}}");
        }
        Form::OData => {
            let context = format!("{}/v1.0/engagements/$metadata#referrals", listing.origin);
            body.extend_from_slice(b"{\"@odata.context\":");
            body.extend_from_slice(&encode(&Value::String(context)));
            if query.count {
                body.extend_from_slice(format!(",\"@odata.count\":{total}").as_bytes());
            }
            body.extend_from_slice(b",\"value\":");
            body.extend_from_slice(&items);
            if let Some(token) = next_token {
                let link = next_link(
                    &query,
                    faults.next_origin.as_deref().unwrap_or(&listing.origin),
                    &token,
                );
                body.extend_from_slice(b",\"@odata.nextLink\":");
                body.extend_from_slice(&encode(&Value::String(link)));
            }
            body.push(b'}');
        }
    }
    if faults.invalid_json && page.len() < 2 {
        body.pop();
    }
    let reply = Reply::json(StatusCode::OK, body);
    match query.page_size_applied {
        Some(size) => reply.header(
            http::header::HeaderName::from_static("preference-applied"),
            &format!("odata.maxpagesize={size}"),
        ),
        None => reply,
    }
}

/// Where the listing ends among the `total` matching referrals: at its `$top` (counted from
/// its `$skip`), else at the last one. `@odata.count` still counts every match.
fn listing_end(query: &ListQuery, total: usize) -> usize {
    query.end.map_or(total, |end| end.min(total))
}

/// `{origin}/v1.0/engagements/referrals?{the request's parameters}&$skiptoken={token}`.
fn next_link(query: &ListQuery, origin: &str, token: &str) -> String {
    let mut link = format!("{origin}/v1.0/engagements/referrals?");
    for param in &query.kept_params {
        link.push_str(param);
        link.push('&');
    }
    link.push_str("$skiptoken=");
    link.push_str(&encode_value(token));
    link
}

/// The JSON array of the page's items: the cached bytes joined, or projected on `$select`.
fn items(records: &[Arc<Record>], select: Option<&[String]>, faults: &ListFaults) -> Vec<u8> {
    let size = records.iter().map(|r| r.bytes.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(size);
    out.push(b'[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 && !(faults.invalid_json && i == 1) {
            out.push(b',');
        }
        let mistyped = faults
            .mistyped
            .as_ref()
            .filter(|(id, _)| record.facets.id.as_deref() == Some(id.as_str()));
        match (select, mistyped) {
            (None, None) => out.extend_from_slice(&record.bytes),
            (None, Some((_, field))) => out.extend_from_slice(&mistype(&record.bytes, field)),
            (Some(fields), _) => {
                let mut full = record.value();
                if let (Some((_, field)), Value::Object(map)) = (mistyped, &mut full) {
                    map.insert(field.clone(), Value::from(7));
                }
                let projected: Map<String, Value> = fields
                    .iter()
                    .filter_map(|f| full.get(f).map(|v| (f.clone(), v.clone())))
                    .collect();
                out.extend_from_slice(&encode(&Value::Object(projected)));
            }
        }
    }
    out.push(b']');
    out
}

/// Where `record` stands in the listing's order.
fn cursor_of(record: &Record, query: &ListQuery) -> Cursor {
    Cursor {
        keys: query
            .selection
            .order()
            .iter()
            .map(|(field, _)| field.of(&record.facets).map(Instant::nanos))
            .collect(),
        seq: record.seq,
    }
}

/// The index, in the result order, of the first item after `cursor`: the result is sorted by
/// the order's keys then by insertion sequence, so that is a binary search, whatever was
/// added or removed since the cursor's item was served.
fn first_after(
    records: &Records,
    positions: Option<&[u32]>,
    query: &ListQuery,
    cursor: &Cursor,
) -> usize {
    let order = query.selection.order();
    let not_after = |record: &Record| {
        let keys = order
            .iter()
            .zip(&cursor.keys)
            .map(|((field, descending), key)| {
                let ordering = field.of(&record.facets).cmp(&key.map(Instant::from_nanos));
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal);
        keys.then(record.seq.cmp(&cursor.seq)).is_le()
    };
    let all = records.records();
    match positions {
        None => all.partition_point(|record| not_after(record)),
        Some(positions) => positions.partition_point(|&index| {
            all.get(index as usize)
                .is_some_and(|record| not_after(record))
        }),
    }
}

/// A referral's JSON with its top-level `field` set to the number 7 (`Fault::MistypedField`).
pub(crate) fn mistype(bytes: &[u8], field: &str) -> Vec<u8> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut map)) => {
            map.insert(field.to_owned(), Value::from(7));
            encode(&Value::Object(map))
        }
        _ => bytes.to_vec(),
    }
}

/// Positions of the matching records in result order; `None` means every record in insertion
/// order. Computed once per query and store generation.
fn positions(store: &Store, records: &Records, query: &ListQuery) -> Option<Arc<Vec<u32>>> {
    if query.selection.is_everything() {
        return None;
    }
    Some(store.selection(&query.key, records.generation(), || {
        compute(records, &query.selection)
    }))
}

fn compute(records: &Records, selection: &Selection) -> Vec<u32> {
    let own = records.own_organization();
    let mut positions: Vec<u32> = records
        .records()
        .iter()
        .enumerate()
        .filter(|(_, r)| selection.matches(&r.facets, own))
        .map(|(i, _)| i as u32)
        .collect();
    let order = selection.order();
    if !order.is_empty() {
        let records = records.records();
        // A stable sort keeps insertion order among equal keys, so pages never overlap.
        positions.sort_by(|&a, &b| {
            let (a, b) = (&records[a as usize].facets, &records[b as usize].facets);
            order
                .iter()
                .map(|(field, descending)| {
                    let o = field.of(a).cmp(&field.of(b));
                    if *descending { o.reverse() } else { o }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    positions
}
