fn main() {
    afl::fuzz!(|data: &[u8]| {
        switchboard_fuzz::sip_targets::sip_message(data);
    });
}
