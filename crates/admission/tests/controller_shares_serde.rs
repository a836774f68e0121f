//! `PriorityShares` read from configuration goes through the same checks as its constructor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use perfstack_admission::{ConfigError, PriorityShares};

fn from_json(reserved: &str) -> Result<PriorityShares, serde_json::Error> {
    serde_json::from_str(&format!(r#"{{"reserved":{reserved}}}"#))
}

#[test]
fn valid_shares_round_trip_through_serde() {
    let s = PriorityShares::default();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<PriorityShares>(&json).unwrap(), s);
    let s = from_json("[0.0, 0.1, 0.1, 0.1, 0.2]").unwrap();
    assert_eq!(s, PriorityShares::new([0.0, 0.1, 0.1, 0.1, 0.2]).unwrap());
}

#[test]
fn invalid_shares_from_config_are_refused_like_the_constructor() {
    for (json, reserved) in [
        ("[0.0, -0.1, 0.1, 0.1, 0.2]", [0.0, -0.1, 0.1, 0.1, 0.2]),
        ("[0.0, 0.1, 1.0, 0.1, 0.2]", [0.0, 0.1, 1.0, 0.1, 0.2]),
        ("[0.0, 0.3, 0.3, 0.3, 0.3]", [0.0, 0.3, 0.3, 0.3, 0.3]),
        ("[2.0, 0.1, 0.1, 0.1, 0.1]", [2.0, 0.1, 0.1, 0.1, 0.1]),
    ] {
        let ctor: ConfigError = PriorityShares::new(reserved).unwrap_err();
        let err = from_json(json).expect_err(json);
        assert!(err.to_string().contains(&ctor.to_string()), "{json}: serde said {err}, constructor said {ctor}");
    }
}
