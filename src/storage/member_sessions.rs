//! The member channel on disk: sign-in codes by phone, sessions by token hash, each
//! member's sessions (for staff to sign them out), and each store's online-booking policy.
//!
//! | tag | key                              | value                  |
//! |-----|----------------------------------|------------------------|
//! | `c` | normalised phone                 | PhoneCodes             |
//! | `l` | SHA-256 of the token (32)        | MemberSession          |
//! | `f` | member (8), token hash (32)      | (empty): the member's  |
//! | `z` | store (4)                        | OnlineBooking          |

use rocksdb::{Direction, IteratorMode};

use super::db::{Storage, StorageError};
use super::{codec, Write};
use crate::domain::ids::{MemberId, Phone, StoreId};
use crate::domain::member_session::{MemberSession, PhoneCodes, TokenHash};
use crate::domain::online_booking::OnlineBooking;

pub const TAG_CODES: u8 = b'c';
pub const TAG_SESSION: u8 = b'l';
pub const TAG_MEMBER_SESSIONS: u8 = b'f';
pub const TAG_ONLINE_BOOKING: u8 = b'z';

fn codes_key(phone: &Phone) -> Vec<u8> {
    let mut k = vec![TAG_CODES];
    k.extend_from_slice(phone.as_str().as_bytes());
    k
}

fn session_key(hash: &TokenHash) -> Vec<u8> {
    let mut k = vec![TAG_SESSION];
    k.extend_from_slice(hash);
    k
}

fn member_session_key(member: MemberId, hash: &TokenHash) -> Vec<u8> {
    let mut k = vec![TAG_MEMBER_SESSIONS];
    k.extend_from_slice(&member.get().to_be_bytes());
    k.extend_from_slice(hash);
    k
}

fn online_key(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_ONLINE_BOOKING];
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

pub fn codes(phone: &Phone, c: &PhoneCodes) -> Write {
    Write::put(codes_key(phone), codec::encode(c))
}

pub fn session_opened(s: &MemberSession) -> Vec<Write> {
    vec![
        Write::put(session_key(&s.token_hash), codec::encode(s)),
        Write::put(member_session_key(s.member, &s.token_hash), Vec::new()),
    ]
}

pub fn session_ended(member: MemberId, hash: &TokenHash) -> Vec<Write> {
    vec![
        Write::delete(session_key(hash)),
        Write::delete(member_session_key(member, hash)),
    ]
}

pub fn online_booking(store: StoreId, p: &OnlineBooking) -> Write {
    Write::put(online_key(store), codec::encode(p))
}

impl Storage {
    pub fn phone_codes(&self, phone: &Phone) -> Result<Option<PhoneCodes>, StorageError> {
        self.get_rec(&codes_key(phone))
    }

    pub fn member_session(&self, hash: &TokenHash) -> Result<Option<MemberSession>, StorageError> {
        self.get_rec(&session_key(hash))
    }

    /// The token hashes of `member`'s sessions on disk.
    pub fn member_sessions(&self, member: MemberId) -> Result<Vec<TokenHash>, StorageError> {
        let prefix = member_session_key(member, &[0; 32]);
        let prefix = &prefix[..9];
        let mut out = Vec::new();
        for item in self
            .db()
            .iterator(IteratorMode::From(prefix, Direction::Forward))
        {
            let (key, _) = item?;
            if !key.starts_with(prefix) || key.len() != 41 {
                break;
            }
            let mut hash = [0; 32];
            hash.copy_from_slice(&key[9..]);
            out.push(hash);
        }
        Ok(out)
    }

    pub fn online_booking(&self, store: StoreId) -> Result<OnlineBooking, StorageError> {
        Ok(self.get_rec(&online_key(store))?.unwrap_or_default())
    }
}
