fn main() {
    afl::fuzz!(|data: &[u8]| {
        switchboard_fuzz::server_targets::identity_token(data);
    });
}
