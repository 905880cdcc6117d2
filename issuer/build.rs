//! Embeds the schema migrations: writes `$OUT_DIR/migrations.rs` with one
//! `(version, description, include_str!(file))` per file of
//! `migrations/sqlite` and `migrations/postgres`, by version, so that a new
//! file is applied without being listed anywhere (`src/store/migrations.rs`
//! includes the result).
//!
//! A file is `NNNN_some_description.sql`: the version is the number, the
//! description the rest with `_` read as a space (sqlx's own convention,
//! so the rows of `_sqlx_migrations` stay the same). Any other file name
//! fails the build rather than being skipped.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

/// One migration file.
struct File {
    version: i64,
    description: String,
    name: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=migrations");
    let mut code = String::new();
    for (constant, dir) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        writeln!(
            code,
            "/// Every file of `migrations/{dir}`: (version, description, SQL), by version.\n\
             const {constant}: &[(i64, &str, &str)] = &["
        )?;
        for File {
            version,
            description,
            name,
        } in scan(&Path::new("migrations").join(dir))?
        {
            writeln!(
                code,
                "    ({version}, {description:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/migrations/{dir}/\", {name:?}))),"
            )?;
        }
        writeln!(code, "];")?;
    }
    let out = std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?;
    std::fs::write(Path::new(&out).join("migrations.rs"), code)?;
    Ok(())
}

/// The migration files in `dir`, by version.
fn scan(dir: &Path) -> Result<Vec<File>, Box<dyn Error>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let name = entry?
            .file_name()
            .into_string()
            .map_err(|name| format!("{}: {name:?} is not UTF-8", dir.display()))?;
        if name.starts_with('.') {
            continue; // editor and version-control leftovers
        }
        let parsed = name
            .strip_suffix(".sql")
            .and_then(|stem| stem.split_once('_'))
            .filter(|(number, rest)| {
                !number.is_empty()
                    && number.bytes().all(|b| b.is_ascii_digit())
                    && !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        let Some((number, rest)) = parsed else {
            return Err(format!(
                "{}/{name}: expected NNNN_description.sql (lower case, digits and _)",
                dir.display()
            )
            .into());
        };
        found.push(File {
            version: number.parse()?,
            description: rest.replace('_', " "),
            name,
        });
    }
    found.sort_by_key(|f| f.version);
    if let Some(pair) = found.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(format!(
            "{}: version {} twice ({} and {})",
            dir.display(),
            pair[0].version,
            pair[0].name,
            pair[1].name
        )
        .into());
    }
    if found.is_empty() {
        return Err(format!("{}: no migrations", dir.display()).into());
    }
    Ok(found)
}
