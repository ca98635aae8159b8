/**
 * Modules of the public API load on first use, so that `require('resonode')`
 * and `resonode --help` (which reaches the API through `index.ts`) cost
 * little more than Node's own start-up, and the native addon is opened by
 * the first native-backed class or function used (issue 14).
 */

/**
 * A stand-in for the module `load()` returns: the first property read
 * loads it (Node's module cache makes later loads free). Only property reads
 * are forwarded, which is all `index.ts` does with it.
 *
 * Re-export from it as `get() { return standIn.name }` (a method returning
 * an identifier, a dot and the name; not an arrow function): the getter
 * shape Node's CommonJS export detection (cjs-module-lexer) recognises,
 * which gives ESM `import { name } from 'resonode'` its named exports.
 */
export function lazyModule<T extends object>(load: () => T): T {
  let loaded: T | undefined
  return new Proxy({} as T, { get: (_, key) => Reflect.get((loaded ??= load()), key) })
}
