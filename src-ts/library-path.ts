/** Default library file, in the working directory. */
export const DEFAULT_LIBRARY_PATH = 'music_library.db'

/**
 * Whether a library string names a PostgreSQL server (`postgres://` or
 * `postgresql://`, any case) rather than a SQLite file path.
 */
export function isDatabaseUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s)
}
