/**
 * `strftime` formatting in UTC, with chrono's specifiers (the Rust SDK's `date` filter):
 * `%Y %C %y %m %b %h %B %d %e %a %A %w %u %j %H %k %I %l %M %S %f %p %P %Z %z %:z %s %T %R %D
 * %F %c %x %X %n %t %%`. Any other specifier makes the format invalid.
 */

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const pad = (n: number, width = 2, fill = "0") => String(n).padStart(width, fill);

function dayOfYear(d: Date): number {
  return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

const SPECIFIERS: Record<string, (d: Date) => string> = {
  Y: (d) => String(d.getUTCFullYear()),
  C: (d) => pad(Math.floor(d.getUTCFullYear() / 100)),
  y: (d) => pad(d.getUTCFullYear() % 100),
  m: (d) => pad(d.getUTCMonth() + 1),
  b: (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3),
  h: (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3),
  B: (d) => MONTHS[d.getUTCMonth()]!,
  d: (d) => pad(d.getUTCDate()),
  e: (d) => pad(d.getUTCDate(), 2, " "),
  a: (d) => DAYS[d.getUTCDay()]!.slice(0, 3),
  A: (d) => DAYS[d.getUTCDay()]!,
  w: (d) => String(d.getUTCDay()),
  u: (d) => String(d.getUTCDay() || 7),
  j: (d) => pad(dayOfYear(d), 3),
  H: (d) => pad(d.getUTCHours()),
  k: (d) => pad(d.getUTCHours(), 2, " "),
  I: (d) => pad(d.getUTCHours() % 12 || 12),
  l: (d) => pad(d.getUTCHours() % 12 || 12, 2, " "),
  M: (d) => pad(d.getUTCMinutes()),
  S: (d) => pad(d.getUTCSeconds()),
  f: (d) => pad(d.getUTCMilliseconds() * 1_000_000, 9),
  p: (d) => (d.getUTCHours() < 12 ? "AM" : "PM"),
  P: (d) => (d.getUTCHours() < 12 ? "am" : "pm"),
  Z: () => "UTC",
  z: () => "+0000",
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  n: () => "\n",
  t: () => "\t",
  "%": () => "%",
};

const COMPOSITES: Record<string, string> = { T: "%H:%M:%S", R: "%H:%M", D: "%m/%d/%y", F: "%Y-%m-%d", c: "%a %b %e %H:%M:%S %Y", x: "%m/%d/%y", X: "%H:%M:%S" };

/** `date` formatted with `format`, or undefined when the format is not valid. */
export function strftime(date: Date, format: string): string | undefined {
  let out = "";
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== "%") {
      out += c;
      continue;
    }
    const spec = format[++i];
    if (spec === ":" && format[i + 1] === "z") {
      out += "+00:00";
      i++;
      continue;
    }
    if (spec === undefined) return undefined;
    const composite = COMPOSITES[spec];
    if (composite !== undefined) {
      out += strftime(date, composite)!;
      continue;
    }
    const f = SPECIFIERS[spec];
    if (f === undefined) return undefined;
    out += f(date);
  }
  return out;
}
