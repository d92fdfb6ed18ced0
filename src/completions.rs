//! `sundown completions SHELL` and `sundown man`, generated from the
//! command line's own definition so they cannot drift from it, and the
//! hidden `sundown __names` the completion scripts call for component names.
//!
//! clap_complete writes static scripts; component names exist only in a
//! config, so bash, zsh and fish get a small function added that asks
//! `sundown __names [--config F]` for them (after `stop`, `start`,
//! `restart`, `logs`, and in bash also after `--only`, `--exit-with` and
//! `--completed`). clap_complete's own dynamic completion would do this for
//! every shell, but it is behind its `unstable-dynamic` feature, whose
//! interface may change in any release; elvish and PowerShell complete
//! commands and options only.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser as _;
use clap_complete::Shell;
use sundown::Config;

pub(crate) fn completions(mut cmd: clap::Command, shell: Shell) -> anyhow::Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sundown", &mut out);
    let script = String::from_utf8(out)?;
    let script = match shell {
        Shell::Bash => format!(
            "{}\n{BASH_NAMES}",
            script.replace("complete -F _sundown ", "complete -F _sundown_names ")
        ),
        Shell::Zsh => format!(
            "{ZSH_NAMES}\n{}",
            script.replace(
                "':name -- The component:_default'",
                "':name -- The component:_sundown_names'"
            )
        ),
        Shell::Fish => format!("{script}\n{FISH_NAMES}"),
        _ => script,
    };
    print!("{script}");
    Ok(0)
}

pub(crate) fn man(cmd: clap::Command) -> anyhow::Result<i32> {
    use std::io::Write as _;
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(0)
}

/// `sundown __names [--config F]`: not a subcommand of the parser, so that
/// the generated scripts and the man page do not offer it.
#[derive(clap::Parser, Debug)]
#[command(name = "sundown __names")]
struct Names {
    #[arg(long, short, default_value = "supervisor.toml")]
    config: PathBuf,
}

/// When `args` are `sundown __names …`, its exit code.
pub(crate) fn names_command(args: &[OsString]) -> Option<i32> {
    if args.get(1).is_none_or(|a| a != "__names") {
        return None;
    }
    Some(match Names::try_parse_from(&args[1..]) {
        Ok(n) => names(&n.config),
        Err(_) => 2,
    })
}

/// The config's component names, one per line. Quiet: a completion has
/// nowhere to show a problem, so a config that does not load prints nothing.
fn names(config: &Path) -> i32 {
    match Config::load_with(config, &crate::config_file::kinds()) {
        Ok(config) => {
            for c in &config.components {
                println!("{}", c.name);
            }
            0
        }
        Err(_) => 1,
    }
}

/// Wraps clap's `_sundown`: where a component name goes, the names of the
/// config on the line (`-c F`, `--config F`), else of `supervisor.toml`.
const BASH_NAMES: &str = r#"# Component names, from `sundown __names` (added by sundown to clap's script).
_sundown_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local valued=" -c --config --socket --only --report --log-format --exit-with --completed --timeout --format --as --svg --html --width --image --name --kind --mode -o --output --before "
    local i word sub="" config="" args=0 want=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if [[ "$valued" == *" $word "* ]]; then
            [[ "$word" == -c || "$word" == --config ]] && config="${COMP_WORDS[i+1]}"
            ((i++))
        elif [[ "$word" != -* ]]; then
            if [[ -z "$sub" ]]; then sub="$word"; else ((args++)); fi
        fi
    done
    case "$prev" in
        --only|--exit-with|--completed) want=1 ;;
        *) if [[ "$valued" == *" $prev "* ]]; then want=""
           elif [[ "$cur" != -* && $args -eq 0 ]]; then
               case "$sub" in stop|start|restart|logs) want=1 ;; esac
           fi ;;
    esac
    if [[ -n "$want" ]]; then
        local names
        names="$("${COMP_WORDS[0]}" __names ${config:+--config "$config"} 2>/dev/null)"
        COMPREPLY=( $(compgen -W "$names" -- "$cur") )
        return 0
    fi
    _sundown "$@"
}
"#;

const ZSH_NAMES: &str = r#"# Component names, from `sundown __names` (added by sundown to clap's script).
(( $+functions[_sundown_names] )) ||
_sundown_names() {
    local config=${opt_args[-c]:-${opt_args[--config]:-supervisor.toml}}
    local -a names
    names=(${(f)"$(sundown __names --config ${(Q)config} 2>/dev/null)"})
    _describe -t components 'component' names
}
"#;

const FISH_NAMES: &str = r#"# Component names, from `sundown __names` (added by sundown to clap's script).
function __fish_sundown_config
    set -l tokens (commandline -opc)
    set -l i (contains -i -- --config $tokens; or contains -i -- -c $tokens)
    if test -n "$i"; and test (count $tokens) -gt $i
        echo --config
        echo $tokens[(math $i + 1)]
    end
end
complete -c sundown -n "__fish_sundown_using_subcommand stop start restart logs" -f -a "(sundown __names (__fish_sundown_config) 2>/dev/null)" -d component
"#;
