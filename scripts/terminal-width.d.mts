/** Terminal columns that `text` takes (see terminal-width.mjs). */
export default function terminalWidth(text: string): number;
