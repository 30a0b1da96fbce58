// Durations typed in the time bar, as the original UI took them: a number
// of minutes ("5"), or Go-like units ("30s", "5m", "2h30m", "1d").

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds in text; "now", "" and "0" are 0. Throws on anything else. */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase().replace(/\s+/g, '').replace(/ago$/, '');
  if (s === '' || s === 'now' || s === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 60);
  const re = /(\d+(?:\.\d+)?)([smhd])/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]];
    end = re.lastIndex;
  }
  if (end !== s.length || end === 0) throw new Error(`"${text}" is not a duration: write 30s, 5m, 2h30m or a number of minutes`);
  return Math.round(total);
}

/** Short text of a duration in seconds ("now", "45s", "5m", "2h30m"). */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return 'now';
  const parts: string[] = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (seconds >= n) {
      parts.push(`${Math.floor(seconds / n)}${u}`);
      seconds %= n;
    }
  }
  return parts.join('');
}
