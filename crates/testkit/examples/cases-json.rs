//! Prints the e2e and adversarial tables as one JSON object per line, for the kwctl bats flow
//! (`make e2e-tests-kwctl`).

fn main() -> anyhow::Result<()> {
    print!("{}", image_digest_testkit::cases::kwctl_table()?);
    Ok(())
}
