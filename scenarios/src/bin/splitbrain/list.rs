//! `splitbrain list`: the scenarios, nemesis profiles and mutants, one line each.

use crate::exit::Exit;

pub fn list() -> Exit {
    for scenario in scenarios::catalogue() {
        println!("{:<18} {}", scenario.name, scenario.description);
    }
    println!();
    for profile in sim::Profile::ALL {
        println!("profile {:<10} {}", profile.name(), profile.describe());
    }
    println!();
    let width = zoo::Bug::ALL.iter().map(|b| b.name().len()).max().unwrap_or(0);
    for bug in zoo::Bug::ALL {
        println!("mutant {:<width$} {}", bug.name(), bug.describe());
    }
    Exit::Held
}
