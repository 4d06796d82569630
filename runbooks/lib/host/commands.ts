// Pure builders of the commands the runbooks run on hosts: argv arrays in, one safely quoted
// shell line out. Nothing here touches a host, so all of it is unit-tested.
/**
 * Quote one argument for any POSIX shell (the SSH user's login shell parses the line, and it
 * may be dash): single quotes, each ' written as '\''. No bash-only $'...' forms.
 */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

export function shellLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command')
  return argv.map(shellQuote).join(' ')
}

/** Prefix for root: `sudo -n` fails instead of prompting when no passwordless sudo exists. */
export function withSudo(argv: readonly string[], sudo: boolean): string[] {
  return sudo ? ['sudo', '-n', '--', ...argv] : [...argv]
}

/** `sh -c SCRIPT sh ARGS...`: a fixed script with its inputs as positional arguments. */
export function shScript(script: string, ...args: string[]): string[] {
  return ['sh', '-c', script, 'sh', ...args]
}

/**
 * Write stdin to `path` atomically: a temp file in the same directory (umask 077, so never
 * readable by others while being written), chmod/chown, then rename over the target.
 */
export function atomicWriteArgv(path: string, mode: number, owner?: string): string[] {
  return shScript(
    'set -e; umask 077; t="$1.tmp.$$"; trap \'rm -f "$t"\' EXIT; cat > "$t"; chmod "$2" "$t"; ' +
      'if [ -n "$3" ]; then chown "$3" "$t"; fi; mv -f "$t" "$1"; trap - EXIT',
    path,
    mode.toString(8).padStart(4, '0'),
    owner ?? '',
  )
}

export function readFileArgv(path: string): string[] {
  return ['cat', '--', path]
}

/** Replace secrets in text meant for logs and error messages. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/(\/\/[^:/@\s]*:)[^@\s]+@/g, '$1***@')
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***')
  return out
}
