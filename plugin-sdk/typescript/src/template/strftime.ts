/**
 * `strftime` formatting in UTC with chrono's specifiers (the Rust SDK's `date` filter), down to
 * the nanosecond: `%Y %C %y %G %g %q %m %b %h %B %d %e %a %A %w %u %U %W %V %j %H %k %I %l %M
 * %S %p %P %f %.f %.3f %.6f %.9f %3f %6f %9f %Z %z %:z %s %T %R %D %F %c %x %X %v %r %+ %n %t
 * %%`, with the padding modifiers `%-d` (none), `%_d` (spaces) and `%0e` (zeros). Any other
 * specifier makes the format invalid.
 */

/** A point in time: milliseconds since the epoch (for the calendar) plus the nanoseconds of its second. */
export interface Instant {
  ms: number;
  nanos: number;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

type Pad = "0" | " " | "";

function num(n: number, width: number, pad: Pad): string {
  const sign = n < 0 ? "-" : "";
  const digits = String(Math.abs(n));
  return pad === "" ? sign + digits : sign + digits.padStart(width, pad);
}

function dayOfYear(d: Date): number {
  return Math.round((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

/** ISO 8601 week-numbering year and week. */
function isoWeek(d: Date): { year: number; week: number } {
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3));
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000)) + 1;
  return { year, week };
}

function fraction(nanos: number, digits: number | "auto"): string {
  const nine = String(nanos).padStart(9, "0");
  if (digits !== "auto") return nine.slice(0, digits);
  if (nanos === 0) return "";
  return nanos % 1_000_000 === 0 ? nine.slice(0, 3) : nanos % 1000 === 0 ? nine.slice(0, 6) : nine;
}

type Field = (d: Date, t: Instant, pad: Pad | undefined) => string;

const n2 = (f: (d: Date) => number, defaultPad: Pad = "0", width = 2): Field => (d, _t, pad) => num(f(d), width, pad ?? defaultPad);

const FIELDS: Record<string, Field> = {
  Y: (d, _t, pad) => num(d.getUTCFullYear(), 4, pad ?? "0"),
  C: n2((d) => Math.floor(d.getUTCFullYear() / 100)),
  y: n2((d) => d.getUTCFullYear() % 100),
  G: (d, _t, pad) => num(isoWeek(d).year, 4, pad ?? "0"),
  g: n2((d) => isoWeek(d).year % 100),
  q: (d) => String(Math.floor(d.getUTCMonth() / 3) + 1),
  m: n2((d) => d.getUTCMonth() + 1),
  b: (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3),
  h: (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3),
  B: (d) => MONTHS[d.getUTCMonth()]!,
  d: n2((d) => d.getUTCDate()),
  e: n2((d) => d.getUTCDate(), " "),
  a: (d) => DAYS[d.getUTCDay()]!.slice(0, 3),
  A: (d) => DAYS[d.getUTCDay()]!,
  w: (d) => String(d.getUTCDay()),
  u: (d) => String(d.getUTCDay() || 7),
  U: n2((d) => Math.floor((dayOfYear(d) - 1 + 7 - d.getUTCDay()) / 7)),
  W: n2((d) => Math.floor((dayOfYear(d) - 1 + 7 - ((d.getUTCDay() + 6) % 7)) / 7)),
  V: n2((d) => isoWeek(d).week),
  j: n2(dayOfYear, "0", 3),
  H: n2((d) => d.getUTCHours()),
  k: n2((d) => d.getUTCHours(), " "),
  I: n2((d) => d.getUTCHours() % 12 || 12),
  l: n2((d) => d.getUTCHours() % 12 || 12, " "),
  M: n2((d) => d.getUTCMinutes()),
  S: n2((d) => d.getUTCSeconds()),
  f: (_d, t) => fraction(t.nanos, 9),
  p: (d) => (d.getUTCHours() < 12 ? "AM" : "PM"),
  P: (d) => (d.getUTCHours() < 12 ? "am" : "pm"),
  Z: () => "UTC",
  z: () => "+0000",
  s: (_d, t) => String(Math.floor(t.ms / 1000)),
  n: () => "\n",
  t: () => "\t",
  "%": () => "%",
};

const COMPOSITES: Record<string, string> = {
  T: "%H:%M:%S",
  R: "%H:%M",
  D: "%m/%d/%y",
  F: "%Y-%m-%d",
  c: "%a %b %e %H:%M:%S %Y",
  x: "%m/%d/%y",
  X: "%H:%M:%S",
  v: "%e-%b-%Y",
  r: "%I:%M:%S %p",
  "+": "%Y-%m-%dT%H:%M:%S%.f+00:00",
};

/** One specifier at `format[i]` (after `%`): its text and the index after it, or undefined. */
function specifier(format: string, i: number, t: Instant, d: Date): [string, number] | undefined {
  let pad: Pad | undefined;
  let j = i;
  const modifier = format[j];
  if (modifier === "-" || modifier === "_" || modifier === "0") {
    pad = modifier === "-" ? "" : modifier === "_" ? " " : "0";
    j++;
  }
  const rest = format.slice(j);
  const frac = /^(\.?)([369]?)f/.exec(rest);
  if (frac && (frac[1] || frac[2]) && pad === undefined) {
    const digits = frac[2] ? Number(frac[2]) : "auto";
    const text = fraction(t.nanos, digits);
    return [frac[1] && text ? "." + text : frac[1] ? "" : text, j + frac[0].length];
  }
  if (rest.startsWith(":z")) return ["+00:00", j + 2];
  const c = format[j];
  if (c === undefined) return undefined;
  const composite = COMPOSITES[c];
  if (composite !== undefined && pad === undefined) {
    const text = strftime(t, composite);
    return text === undefined ? undefined : [text, j + 1];
  }
  const field = FIELDS[c];
  return field ? [field(d, t, pad), j + 1] : undefined;
}

/** `t` formatted with `format`, or undefined when the format is not valid. */
export function strftime(t: Instant, format: string): string | undefined {
  const d = new Date(t.ms);
  let out = "";
  for (let i = 0; i < format.length; ) {
    if (format[i] !== "%") {
      out += format[i++];
      continue;
    }
    const found = specifier(format, i + 1, t, d);
    if (found === undefined) return undefined;
    out += found[0];
    i = found[1];
  }
  return out;
}
