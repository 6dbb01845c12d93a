//! The VM's id, as azure-init and cloud-init put it in keys.
//!
//! It is DMI's `product_uuid`, lower-cased. On Generation 1 VMs (BIOS: no
//! `/sys/firmware/efi` and no `/dev/efi`) the firmware reports the first
//! three fields in little-endian byte order, so they are byte-swapped to get
//! the id the host knows.

use std::path::Path;

/// The id used when none can be read: all zeros.
pub const UNKNOWN_VM_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Reads the VM id from the running system (`/`). `None` when DMI has no
/// readable, well-formed `product_uuid` (not a Hyper-V VM, or not root).
pub fn detect_vm_id() -> Option<String> {
    detect_vm_id_in(Path::new("/"))
}

/// Reads the VM id below `root`, which stands for `/` (for tests: a fake
/// sysfs tree).
///
/// ```
/// let root = tempfile::tempdir()?;
/// std::fs::create_dir_all(root.path().join("sys/class/dmi/id"))?;
/// std::fs::write(root.path().join("sys/class/dmi/id/product_uuid"), "12345678-9ABC-DEF0-1234-56789ABCDEF0\n")?;
/// // No EFI: a Generation 1 VM, first three fields byte-swapped.
/// assert_eq!(tracing_kvp::detect_vm_id_in(root.path()).as_deref(), Some("78563412-bc9a-f0de-1234-56789abcdef0"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn detect_vm_id_in(root: &Path) -> Option<String> {
    let raw = std::fs::read_to_string(root.join("sys/class/dmi/id/product_uuid")).ok()?;
    let uuid = raw.trim().to_ascii_lowercase();
    let fields: Vec<&str> = uuid.split('-').collect();
    let well_formed = fields.iter().map(|f| f.len()).eq([8, 4, 4, 4, 12])
        && fields
            .iter()
            .all(|f| f.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return None;
    }
    let gen2 = root.join("sys/firmware/efi").exists() || root.join("dev/efi").exists();
    if gen2 {
        return Some(uuid);
    }
    let swapped: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i < 3 {
                swap_bytes(f)
            } else {
                (*f).to_owned()
            }
        })
        .collect();
    Some(swapped.join("-"))
}

/// Reverses the byte order of a hex field: `12345678` -> `78563412`.
fn swap_bytes(hex: &str) -> String {
    let pairs: Vec<&str> = (0..hex.len()).step_by(2).map(|i| &hex[i..i + 2]).collect();
    pairs.into_iter().rev().collect()
}
