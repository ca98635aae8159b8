/**
 * The one check of options objects: an unknown key (a typo such as
 * `processor` for `processors`) is refused instead of silently ignored.
 * Accepted-key lists are written with {@link keysOf} next to their options
 * interface, so the compiler keeps the two in sync.
 */
import { makeError } from './errors'

/**
 * Refuses every own key of `options` that is not in `accepted`; `undefined`
 * and `null` pass (no options). `where` names the constructor or method in
 * the message, e.g. `'StreamingPipeline'` or `'Library.scan()'`.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) naming the key and
 *   the accepted ones, or when `options` is not an object
 */
export function checkOptions(options: unknown, accepted: readonly string[], where: string): void {
  if (options === undefined || options === null) return
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`options\`: ${where} takes an options object, got ${Array.isArray(options) ? 'an array' : typeof options}`)
  }
  for (const key of Object.keys(options)) {
    if (!accepted.includes(key)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${key}\`: ${where} has no option \`${key}\` (accepted: ${accepted.join(', ')})`)
    }
  }
}

type Missing<T, K extends readonly PropertyKey[]> = Exclude<keyof T, K[number]>

/**
 * `keysOf<Options>()(['a', 'b'])` returns the list when it names exactly
 * the keys of `Options`; otherwise the compiler reports the missing ones.
 */
export function keysOf<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    keys: K & ([Missing<T, K>] extends [never] ? unknown : { missingKeys: Missing<T, K> }),
  ): K => keys
}
