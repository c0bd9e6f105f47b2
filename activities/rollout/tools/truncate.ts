/**
 * Keeps a long observation's head and tail and says how much was elided, as SWE-agent does, so
 * the model still sees both how a command started and how it ended.
 */
export function truncateMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const half = Math.max(0, Math.floor(maxChars / 2));
  const elided = text.length - 2 * half;
  return (
    text.slice(0, half) +
    `\n<response clipped><NOTE>Observations should not exceed ${maxChars} characters. ${elided} characters were elided. ` +
    'Please try a different command that produces less output or use head/tail/grep/redirect the output to a file. ' +
    'Do not use interactive pagers.</NOTE>\n' +
    text.slice(text.length - half)
  );
}
