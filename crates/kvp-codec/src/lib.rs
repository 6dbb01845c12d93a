//! The Hyper-V KVP pool-file record format, with nothing else attached.
//!
//! A pool file (`/var/lib/hyperv/.kvp_pool_N`) is a flat array of
//! [`RECORD_SIZE`]-byte records: a [`KEY_SIZE`]-byte key field then a
//! [`VALUE_SIZE`]-byte value field, each UTF-8 and NUL padded. There is no
//! header, count or checksum. This crate encodes and decodes those records
//! and knows the rules that keep a record readable by the host:
//!
//! - **Limits** ([`Limits`]): what the host really receives is at most 254
//!   UTF-16 code units of key and 1022 of value; [`Limits::SAFE`] (the
//!   default) enforces that, [`Limits::RAW`] only the field sizes.
//! - **Encoding** ([`encode()`], [`encode_chunk`]) writes into a caller's
//!   `[u8; RECORD_SIZE]` and never allocates; bad input is an
//!   [`EncodeError`] naming the field, the limit and the actual size.
//! - **Splitting** ([`split_value`]) cuts a long value at character
//!   boundaries into chunks that each fit, for keys `<key>|<i>`.
//! - **Decoding** ([`Record`], [`Records`]) is zero-copy, cuts each field at
//!   its first NUL as the kernel and `hv_kvp_daemon` do, and reports invalid
//!   UTF-8 and a trailing partial record instead of hiding them.
//! - **Keys**: [`KeyLayout`] builds `<prefix>|<vm_id>|<LEVEL>|<name>|<id>`
//!   (parts sanitised, the name shortened to fit) and [`KeyParts`] parses
//!   it back.
//! - **Reassembly** (`reassemble`, feature `alloc`) joins chunks back into
//!   logical records: `|<i>` chunks (ours and cloud-init's) and azure-init's
//!   older chunks that repeat one key.
//! - **Our record schema** ([`schema`]): the `name=value` value grammar,
//!   our field names, the id rule, and the value policy (chunks, the cut
//!   and its marker) that every writer of ours follows.
//!
//! The crate is `#![no_std]` and has no dependencies. See `docs/FORMAT.md`
//! in the repository for the format and the sources of each rule.
//!
//! ```
//! use kvp_codec::{decode, encode, Limits, RECORD_SIZE};
//!
//! let mut buf = [0u8; RECORD_SIZE];
//! encode("greeting", "héllo", &Limits::SAFE, &mut buf)?;
//!
//! let record = decode(&buf).next().expect("one record").expect("valid UTF-8");
//! assert_eq!((record.key, record.value), ("greeting", "héllo"));
//! # Ok::<(), kvp_codec::EncodeError>(())
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;

mod check;
mod cut;
mod decode;
mod encode;
mod error;
mod fnv;
mod key;
mod key_layout;
mod layout;
mod limits;
#[cfg(feature = "alloc")]
mod reassemble;
pub mod schema;
mod split;

pub use cut::prefix_within;
pub use decode::{DecodeError, Decoded, Mode, Record, Records, decode, decode_strict};
pub use encode::{encode, encode_chunk};
pub use error::EncodeError;
pub use fnv::Fnv1a;
pub use key::{KeyParts, Level, split_chunk_suffix};
pub use key_layout::{KeyLayout, KeyLayoutError, chunk_suffix_len, write_key_part};
pub use layout::{KEY_SIZE, RECORD_SIZE, VALUE_SIZE};
pub use limits::{Field, InvalidLimits, Limits, Unit, utf16_len};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use reassemble::{LogicalRecord, REASSEMBLY_WINDOW, Reassembled, Reassembler, reassemble};
pub use split::{Chunks, split_value};

/// The README's examples, run as doctests so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
