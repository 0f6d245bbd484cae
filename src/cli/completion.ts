import { settings } from '../config.js';
import { UsageError } from './args.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print } from './output.js';

const client = ['--url', '--timeout', '--cacert', '--cert', '--key', '--json', '--help'];

/** Every command, its subcommands and its flags: the one table the three scripts come from. */
export const commandTable: Readonly<Record<string, { readonly subcommands: readonly string[]; readonly flags: readonly string[] }>> = {
  serve: { subcommands: [], flags: ['--config', '--limit', '--print-config', '--help', ...settings.map((s) => `--${s.flag}`)] },
  lock: { subcommands: [], flags: ['--ttl', '--wait', '--limit', '--grace', '--owner', '--lock-delay', '--mode', '--max-hold', '--priority', '--yield-grace-ms', ...client] },
  status: { subcommands: [], flags: client },
  release: { subcommands: [], flags: client },
  check: { subcommands: [], flags: ['--mode', ...client] },
  lease: { subcommands: ['grant', 'revoke', 'keepalive', 'list'], flags: ['--ttl', '--once', '--limit', ...client] },
  locks: { subcommands: ['list', 'waiters'], flags: ['--prefix', '--limit', '--after', '--all', ...client] },
  ring: { subcommands: ['lookup', 'nodes'], flags: ['--n', ...client] },
  watch: { subcommands: [], flags: ['--lock', '--prefix', '--ring', ...client] },
  health: { subcommands: [], flags: client },
  completion: { subcommands: ['bash', 'zsh', 'fish'], flags: [] },
  help: { subcommands: [], flags: [] },
  version: { subcommands: [], flags: [] },
};

const commands = Object.keys(commandTable);

function bash(): string {
  const cases = commands.map((c) => `    ${c}) subs="${commandTable[c]!.subcommands.join(' ')}"; flags="${commandTable[c]!.flags.join(' ')}" ;;`).join('\n');
  return `# lockring completion for bash: eval "$(lockring completion bash)"
_lockring() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" subs="" flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.join(' ')}" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ] && [[ "$cur" != -* ]]; then
    COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  fi
}
complete -o default -F _lockring lockring
`;
}

function zsh(): string {
  const cases = commands.map((c) => `    ${c}) subs=(${commandTable[c]!.subcommands.join(' ')}); flags=(${commandTable[c]!.flags.join(' ')}) ;;`).join('\n');
  return `#compdef lockring
# lockring completion for zsh: eval "$(lockring completion zsh)" (after compinit)
_lockring() {
  local -a subs flags
  if (( CURRENT == 2 )); then
    compadd -- ${commands.join(' ')}
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
  if (( CURRENT == 3 )) && (( \${#subs} > 0 )) && [[ "\${words[CURRENT]}" != -* ]]; then
    compadd -- $subs
  else
    compadd -- $flags
    _files
  fi
}
compdef _lockring lockring
`;
}

function fish(): string {
  const lines = ['# lockring completion for fish: lockring completion fish | source', 'complete -c lockring -f'];
  lines.push(`complete -c lockring -n '__fish_use_subcommand' -a '${commands.join(' ')}'`);
  for (const c of commands) {
    const { subcommands, flags } = commandTable[c]!;
    if (subcommands.length > 0) lines.push(`complete -c lockring -n '__fish_seen_subcommand_from ${c}' -a '${subcommands.join(' ')}'`);
    for (const flag of flags) lines.push(`complete -c lockring -n '__fish_seen_subcommand_from ${c}' -l ${flag.slice(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

const shells: Readonly<Record<string, () => string>> = { bash, zsh, fish };

/** `lockring completion bash|zsh|fish`: prints the shell's completion script. */
export async function completionCommand(argv: string[]): Promise<number> {
  const [shell, ...rest] = argv;
  if (shell === '--help' || shell === '-h') {
    print(helpFor('completion'));
    return exitCodes.ok;
  }
  const script = shell === undefined ? undefined : shells[shell];
  if (script === undefined) throw new UsageError(`expected bash, zsh or fish, got ${JSON.stringify(shell ?? '')}`, 'completion');
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, 'completion');
  process.stdout.write(script());
  return exitCodes.ok;
}
