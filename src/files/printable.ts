/**
 * Text from outside rrkit (a path the user typed, a path or a value recorded in a log's
 * header) as it is shown in rrkit's one-line messages: control characters (C0, DEL, C1),
 * NUL included, and lone surrogates escaped as \xNN or \u{...}, so that a crafted name can
 * neither break the line nor drive the terminal.
 */
export function printable(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += `\\u{${code.toString(16)}}`;
    else if (char === '\\') out += '\\\\';
    else out += char;
  }
  return out;
}
