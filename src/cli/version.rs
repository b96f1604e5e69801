//! `nnt --version`: the version, and the SIMD level of the machine and of the build
//! (the default build is portable: matrix products and the element-wise passes of
//! `train::simd` choose their code at run time).

use std::sync::OnceLock;

/// The widest SIMD level this machine offers, detected at run time.
pub fn runtime_simd() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            "avx512f"
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            "avx2+fma"
        } else if std::arch::is_x86_feature_detected!("sse2") {
            "sse2"
        } else {
            "none"
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "none"
    }
}

/// The widest SIMD level the binary was compiled to use everywhere.
pub fn compiled_simd() -> &'static str {
    if cfg!(target_feature = "avx512f") {
        "avx512f"
    } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        "avx2+fma"
    } else if cfg!(target_feature = "sse2") {
        "sse2"
    } else if cfg!(target_feature = "neon") {
        "neon"
    } else {
        "none"
    }
}

/// `0.2.0 (SIMD: avx512f; built for avx2+fma)`: what `--version` prints after the name.
pub fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (SIMD: {}; built for {})",
            env!("CARGO_PKG_VERSION"),
            runtime_simd(),
            compiled_simd()
        )
    })
}

/// The manual page (roff) of a command line: the top-level page, then every
/// visible command in full (synopsis, description, options, examples) in one page.
pub fn man_page(cmd: clap::Command, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut page = Vec::new();
    render_page(cmd, &mut page)?;
    // Each part starts with the same two string definitions; keep the first ones.
    let mut seen = std::collections::HashSet::new();
    for line in String::from_utf8_lossy(&page).lines() {
        let definition = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        if !definition || seen.insert(line.to_string()) {
            writeln!(out, "{}", roff_ascii(line))?;
        }
    }
    Ok(())
}

/// roff input is ASCII: any other character (`§`, `…`, `≥` in the help texts)
/// becomes groff's `\[uXXXX]` escape.
fn roff_ascii(line: &str) -> String {
    let mut s = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_ascii() {
            s.push(c);
        } else {
            s.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    s
}

fn render_page(cmd: clap::Command, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // The page names the release, not the machine it was generated on.
    let mut cmd = cmd.version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = sub.get_bin_name().unwrap_or(sub.get_name());
        writeln!(out, ".SS \"{}\"", name.replace('-', "\\-"))?;
        let mut part = Vec::new();
        let m = clap_mangen::Man::new(sub.clone());
        m.render_synopsis_section(&mut part)?;
        m.render_description_section(&mut part)?;
        m.render_options_section(&mut part)?;
        m.render_extra_section(&mut part)?;
        // A command's sections become paragraphs of its subsection.
        for line in String::from_utf8_lossy(&part).lines() {
            match line.strip_prefix(".SH ") {
                Some("SYNOPSIS") => {}
                Some("DESCRIPTION") => writeln!(out, ".PP")?,
                Some(title) => writeln!(out, ".PP\n\\fI{}\\fR", title_case(title))?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    man.render_extra_section(out)?;
    man.render_version_section(out)
}

fn title_case(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_levels() {
        let t = text();
        assert!(t.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(t.contains(runtime_simd()) && t.contains(compiled_simd()));
        #[cfg(target_arch = "x86_64")]
        {
            // x86-64 always has SSE2, at run time and in the build.
            assert_ne!(runtime_simd(), "none");
            assert_ne!(compiled_simd(), "none");
        }
    }
}
