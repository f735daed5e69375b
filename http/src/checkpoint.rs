//! Checkpoint distributions (Pulp's checkpoints): a distribution with `checkpoint` set serves
//! its repository's checkpoint publications, each under `<base_path>/<timestamp>/`, where the
//! timestamp is the publication's creation second (`20261125T051004Z`). A timestamp between
//! two checkpoints redirects to the newest checkpoint made by then, so a client can ask for
//! "the repository as it was at T". The base path itself lists the checkpoints.
//!
//! [`pick`] is the whole rule, pure; the content app feeds it the checkpoints it indexed.

use pith_entities::time::{Micros, parse_checkpoint, to_checkpoint};

/// One checkpoint publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The publication.
    pub publication: String,
    /// The version it publishes.
    pub version: String,
    /// Its `pulp_created` (µs).
    pub created: Micros,
}

impl Checkpoint {
    /// Its directory name under the base path (`20261125T051004Z`).
    pub fn timestamp(&self) -> String {
        to_checkpoint(self.created)
    }
}

/// What a path below a checkpoint distribution's base path is.
#[derive(Debug, PartialEq, Eq)]
pub enum Pick<'a> {
    /// The base path: the listing of checkpoints.
    Listing,
    /// No such checkpoint (a malformed, future or too early timestamp).
    NotFound,
    /// A timestamp between checkpoints: go to this one's timestamp, same rest of the path.
    Redirect(&'a Checkpoint, &'a str),
    /// Serve `rest` from this checkpoint.
    Serve(&'a Checkpoint, &'a str),
}

/// Picks the checkpoint for `rel` (the path below the base path, `<timestamp>/<rest>`) from
/// `checkpoints` (oldest first) at `now`: the newest made at or before the end of the second
/// the timestamp names, as Pulp's content handler does.
pub fn pick<'a>(checkpoints: &'a [Checkpoint], rel: &'a str, now: Micros) -> Pick<'a> {
    if rel.is_empty() {
        return Pick::Listing;
    }
    let (stamp, rest) = rel.split_once('/').unwrap_or((rel, ""));
    let Some(asked) = parse_checkpoint(stamp) else {
        return Pick::NotFound;
    };
    if asked > now {
        return Pick::NotFound;
    }
    let end_of_second = asked + 999_999;
    let Some(c) = checkpoints
        .iter()
        .rev()
        .find(|c| c.created <= end_of_second)
    else {
        return Pick::NotFound;
    };
    if c.timestamp() == stamp {
        Pick::Serve(c, rest)
    } else {
        Pick::Redirect(c, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: Micros) -> Checkpoint {
        Checkpoint {
            publication: format!("p{us}"),
            version: format!("v{us}"),
            created: us,
        }
    }

    #[test]
    fn picks_as_pulp_does() {
        let second = 1_000_000;
        let t0 = 1_795_000_000 * second;
        let list = [at(t0 + 250_000), at(t0 + 10 * second)];
        let now = t0 + 100 * second;
        let ts = |us: Micros| to_checkpoint(us);
        assert_eq!(pick(&list, "", now), Pick::Listing);
        // The exact second of a checkpoint (it was made later within that second).
        let first = format!("{}/a/b.txt", ts(t0));
        assert_eq!(pick(&list, &first, now), Pick::Serve(&list[0], "a/b.txt"));
        let bare = ts(t0 + 10 * second);
        assert_eq!(pick(&list, &bare, now), Pick::Serve(&list[1], ""));
        // Between checkpoints: the older one, by redirect.
        let mid = format!("{}/x", ts(t0 + 5 * second));
        assert_eq!(pick(&list, &mid, now), Pick::Redirect(&list[0], "x"));
        let later = format!("{}/", ts(t0 + 50 * second));
        assert_eq!(pick(&list, &later, now), Pick::Redirect(&list[1], ""));
        // Before the first, in the future, or not a timestamp.
        assert_eq!(pick(&list, &ts(t0 - second), now), Pick::NotFound);
        assert_eq!(pick(&list, &ts(now + 2 * second), now), Pick::NotFound);
        assert_eq!(pick(&list, "latest/x", now), Pick::NotFound);
        assert_eq!(pick(&[], &ts(t0), now), Pick::NotFound);
    }
}
