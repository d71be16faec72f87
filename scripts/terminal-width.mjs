// The bundle's stand-in for the `string-width` package (yargs, cliui and wrap-ansi use it to lay
// out help text). The package builds a Unicode-sets emoji regex and an Intl.Segmenter when it is
// loaded: two thirds of rrkit's start-up, spent on every command, for help text that is ASCII.
// This one counts columns the way a terminal does for the text rrkit prints: escape sequences
// take none, combining marks and format characters none, East Asian wide characters two.

const escapeSequence = /\u001B(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\))/g;
const zeroWidth = /[\p{Mn}\p{Me}\p{Cf}]/u;

function isWide(codePoint) {
  return (
    (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    (codePoint >= 0x2e80 && codePoint <= 0xa4cf && codePoint !== 0x303f) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1f64f) ||
    (codePoint >= 0x1f900 && codePoint <= 0x1f9ff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd)
  );
}

export default function terminalWidth(text) {
  if (typeof text !== 'string' || text.length === 0) return 0;
  let width = 0;
  for (const character of text.replace(escapeSequence, '')) {
    const codePoint = character.codePointAt(0);
    if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0) || zeroWidth.test(character)) continue;
    width += isWide(codePoint) ? 2 : 1;
  }
  return width;
}
