/**
 * The error thrown when no compiled addon loads: which platform package
 * resonode looked for and what to do. Kept apart from `errors.ts`, which
 * needs the addon.
 */

/** Platform packages that exist, by `<platform>-<arch>[-<abi>]`. */
export const PLATFORM_PACKAGES = ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-arm64', 'darwin-x64', 'win32-x64-msvc', 'win32-arm64-msvc']

/** This process's platform as platform packages are named (`linux-x64-gnu`, `darwin-arm64`, ...). */
export function platformId(): string {
  if (process.platform === 'linux') {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
    return `linux-${process.arch}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`
  }
  return `${process.platform}-${process.arch}${process.platform === 'win32' ? '-msvc' : ''}`
}

/** An `Error` with `code` `ERR_BINDING_NOT_FOUND` naming the missing package; the loader's error is its `cause`. */
export function bindingNotFound(cause: unknown): Error {
  const id = platformId()
  const pkg = `resonode-${id}`
  const known = PLATFORM_PACKAGES.includes(id)
  const message = known
    ? `resonode: the native addon for ${id} did not load: the package ${pkg} is missing or broken. ` +
      `npm installs it as an optional dependency of resonode; it is left out by --omit=optional / --no-optional ` +
      `or by a lock file made on another platform. Run \`npm install ${pkg}\`.`
    : `resonode: no prebuilt addon for ${id}; platforms with one: ${PLATFORM_PACKAGES.join(', ')}. Build from source: see the README.`
  const err = new Error(message, { cause }) as Error & { code: string }
  err.name = 'BindingNotFoundError'
  err.code = 'ERR_BINDING_NOT_FOUND'
  return err
}
