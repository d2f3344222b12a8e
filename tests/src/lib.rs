//! deixis-tests: the one integration-test binary lives in `integration/`.
