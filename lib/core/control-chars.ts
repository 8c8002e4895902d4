/**
 * What ftchat counts as a control character, in one place: C0 but the tab
 * (U+0000-0008, U+000A-001F), DEL (U+007F) and C1 (U+0080-009F). These can break
 * a line, ring, erase or start an escape sequence that steers a terminal (C1
 * holds CSI, U+009B); a tab only moves to the next tab stop, and posts have
 * always taken it. A post holding one is refused (from a client or a peer); text
 * printed to a terminal or echoed in an error line shows each as '?'. Pure.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

export function hasControlChars(text: string): boolean {
  return CONTROL.test(text);
}

/** The text with each control character shown as '?'. */
export function withoutControlChars(text: string): string {
  return text.replace(CONTROLS, '?');
}
