//! `trainer backends`.

use crate::backend::list;

/// Prints each compiled backend, whether it is usable here, and its devices.
pub fn backends(json: bool) {
    if json {
        for row in list() {
            let line = match row.devices {
                Ok(devices) => {
                    serde_json::json!({"name": row.name, "usable": true, "devices": devices})
                }
                Err(reason) => {
                    serde_json::json!({"name": row.name, "usable": false, "reason": reason})
                }
            };
            crate::outln!("{line}");
        }
        return;
    }
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
