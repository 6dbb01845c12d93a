//! Sizes of the on-disk record, as `hv_kvp_daemon` and the kernel define them
//! (`HV_KVP_EXCHANGE_MAX_KEY_SIZE`, `HV_KVP_EXCHANGE_MAX_VALUE_SIZE`).

/// Bytes in the key field of a record (`HV_KVP_EXCHANGE_MAX_KEY_SIZE`).
pub const KEY_SIZE: usize = 512;

/// Bytes in the value field of a record (`HV_KVP_EXCHANGE_MAX_VALUE_SIZE`).
pub const VALUE_SIZE: usize = 2048;

/// Bytes in one record: the key field followed by the value field.
pub const RECORD_SIZE: usize = KEY_SIZE + VALUE_SIZE;
