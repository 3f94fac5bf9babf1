/**
 * Module resolution hooks (see `module-log.ts`): every resolved URL, one a line, appended to
 * the file named by `SY_MODULE_LOG` (nothing without it).
 */

import { appendFileSync } from "node:fs";
import type { ResolveHook } from "node:module";

export const resolve: ResolveHook = async (specifier, context, next) => {
  const resolved = await next(specifier, context);
  const file = process.env["SY_MODULE_LOG"];
  if (file) appendFileSync(file, resolved.url + "\n");
  return resolved;
};
