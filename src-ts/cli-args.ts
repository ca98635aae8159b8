/**
 * Option parsers shared by the CLI's commands (commander `argParser`s): a
 * bad value is a usage error naming the option.
 */
import { InvalidArgumentError } from 'commander'

/** Parses a whole number >= `min` (default 1) for the option `name`. */
export function positiveInt(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number >= ${min}`)
    return n
  }
}
