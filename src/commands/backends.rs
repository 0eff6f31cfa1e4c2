//! `trainer backends`.

use crate::backend::list;

/// Prints each compiled backend, whether it is usable here, and its devices.
pub fn backends() {
    for row in list() {
        match row.devices {
            Ok(devices) => {
                crate::outln!("{:<8} usable", row.name);
                for d in devices {
                    crate::outln!("           {d}");
                }
            }
            Err(reason) => crate::outln!("{:<8} not usable: {reason}", row.name),
        }
    }
}
