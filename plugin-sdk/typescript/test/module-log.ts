/**
 * Preloaded into a plugin process with `node --import` (through `NODE_OPTIONS`): registers
 * {@link ./module-log-hooks.ts}, which appends the URL of every module the process resolves to
 * the file named by `SY_MODULE_LOG`, so a test can tell which packages a plugin loaded.
 */

import { register } from "node:module";

register("./module-log-hooks.js", import.meta.url);
